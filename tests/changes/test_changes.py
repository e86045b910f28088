"""The change feed on committed data: snapshot, tombstones, and the out-of-order commit race.

These tests commit (the feed only shows ended transactions, so a test's own open
transaction would hide its changes) and remove what they created.
"""

import time
import uuid

import psycopg2
import pytest
import sqlalchemy as sa

from service.sites import store
from tests.conftest import FROZEN_NOW, HORIZON_DAYS, db_engine

ORG = "zj.ls"


@pytest.fixture()
def committed(app):
    """Create committed sites; they (and their log rows) are removed afterwards."""
    engine = db_engine(app)
    made: list[int] = []
    with engine.connect() as conn:
        org_id = conn.scalar(sa.text("SELECT id FROM orgs WHERE code = :c"), {"c": ORG})

    def site(conn, name: str = "同步测试驿站") -> int:
        data = {
            "kind": "station",
            "name": name,
            "external_id": f"CF-{uuid.uuid4().hex[:10]}",
            "location": {"lat": 28.45, "lon": 119.92},
            "opening_hours": "24/7",
        }
        site_id = store.create(conn, org_id, data, None, FROZEN_NOW, HORIZON_DAYS)
        made.append(site_id)
        return site_id

    yield site
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM site_audit WHERE site_id = ANY(:i)"), {"i": made})
        conn.execute(sa.text("DELETE FROM change_log WHERE site_id = ANY(:i)"), {"i": made})
        conn.execute(sa.text("DELETE FROM sites WHERE id = ANY(:i)"), {"i": made})


def feed(client, **params) -> dict:
    r = client.get("/v1/changes", query_string=params)
    assert r.status_code == 200, r.json
    return r.json


def feed_until(client, since: str, wanted: int, **params) -> dict:
    """Poll the feed after `since` until it holds `wanted` items.

    A writing transaction still open in this database holds changes back until it ends;
    they are delayed, never skipped.
    """
    deadline = time.monotonic() + 20
    while True:
        page = feed(client, since=since, **params)
        if len(page["items"]) >= wanted or time.monotonic() > deadline:
            return page
        time.sleep(0.02)


def follow(client, page: dict) -> tuple[list[dict], str]:
    """All items through `next`, and the last next_cursor."""
    items = list(page["items"])
    while page["next"]:
        page = client.get(page["next"]).json
        items.extend(page["items"])
    return items, page["next_cursor"]


def test_snapshot_pages_through_every_live_site(app):
    client = app.test_client()
    items, cursor = follow(client, feed(client, limit=100))
    with db_engine(app).connect() as conn:
        live = conn.scalar(sa.text("SELECT count(*) FROM sites WHERE deleted_at IS NULL"))
        closed = conn.scalar(sa.text("SELECT count(*) FROM sites WHERE status = 'closed'"))
    assert closed > 0  # closed sites are hidden from search but not from the feed
    assert len(items) == live == len({i["id"] for i in items})
    assert all(i["op"] == "upsert" and i["site"]["id"] == i["id"] for i in items)
    assert cursor


def test_changes_after_the_snapshot_cursor(app, committed):
    client = app.test_client()
    cursor = feed(client, limit=1)["next_cursor"]
    engine = db_engine(app)
    with engine.begin() as conn:
        a = committed(conn, "新驿站甲")
        b = committed(conn, "新驿站乙")
    page = feed_until(client, cursor, 2)
    assert [(i["id"], i["op"]) for i in page["items"]] == [(a, "upsert"), (b, "upsert")]
    assert page["items"][0]["site"]["name"] == "新驿站甲"
    # Nothing new: the same cursor comes back, no items.
    again = feed(client, since=page["next_cursor"])
    assert again["items"] == [] and again["next_cursor"] == page["next_cursor"]

    with engine.begin() as conn:
        store.update(conn, a, 1, {"name": "改名一"}, None, None, FROZEN_NOW, HORIZON_DAYS)
        store.update(conn, a, 2, {"name": "改名二"}, None, None, FROZEN_NOW, HORIZON_DAYS)
        store.delete(conn, b, 1, None, FROZEN_NOW)
    page = feed_until(client, page["next_cursor"], 2)
    by_id = {i["id"]: i for i in page["items"]}
    assert len(page["items"]) == 2  # two updates of `a` collapse into one item
    assert by_id[a]["site"]["name"] == "改名二"
    assert by_id[b] == {"id": b, "op": "delete", "site": None}  # the tombstone


def test_changes_page_through_next(app, committed):
    client = app.test_client()
    cursor = feed(client, limit=1)["next_cursor"]
    with db_engine(app).begin() as conn:
        made = [committed(conn) for _ in range(5)]
    items, _ = follow(client, feed_until(client, cursor, 2, limit=2))
    assert [i["id"] for i in items] == made


def test_no_change_is_skipped_when_commits_happen_out_of_order(app, committed):
    """T1 starts and writes first, T2 writes and commits first, then T1 commits.

    A reader that moved a plain sequence cursor past T2's row would never see T1's row
    (its sequence number is lower). The feed holds T2's row back until T1 has ended.
    """
    client = app.test_client()
    engine = db_engine(app)
    cursor = feed(client, limit=1)["next_cursor"]
    with engine.connect() as c1, engine.connect() as c2:
        t1 = c1.begin()
        first = committed(c1, "先开始后提交")
        t2 = c2.begin()
        second = committed(c2, "后开始先提交")
        t2.commit()

        seen = feed(client, since=cursor)
        assert seen["items"] == []  # T2's change waits for T1, rather than overtaking it
        with engine.connect() as probe:
            naive = probe.scalar(sa.text("SELECT max(seq) FROM change_log"))
        t1.commit()

    with engine.connect() as probe:
        t1_seq = probe.scalar(
            sa.text("SELECT seq FROM change_log WHERE site_id = :i"), {"i": first}
        )
    assert t1_seq < naive  # the race is real: a sequence cursor at `naive` skips T1's row

    page = feed_until(client, seen["next_cursor"], 2)
    assert {i["id"] for i in page["items"]} == {first, second}


def test_two_open_writers_hold_the_feed_until_both_end(app, committed):
    """With two writers open, the newer one's xid lies above pg_snapshot_xmax (the latest
    completed xid + 1). Widened as if from the previous epoch it once made the boundary
    negative, which as xid8 wraps to the top: the feed served a later commit and moved its
    cursor past both open writers, whose changes were then skipped for good."""
    client = app.test_client()
    engine = db_engine(app)
    cursor = feed(client, limit=1)["next_cursor"]
    with engine.connect() as c1, engine.connect() as c2, engine.connect() as c3:
        t1 = c1.begin()
        first = committed(c1, "甲开着")  # xid A
        t3 = c3.begin()
        third = committed(c3, "丙先提交")  # xid C > A
        # Not from the app's pool (the test config allows 4 connections; the feed needs one).
        args = engine.url.translate_connect_args(username="user", database="dbname")
        c4 = psycopg2.connect(**args)
        try:
            with c4.cursor() as cur:
                cur.execute("SELECT pg_current_xact_id()")  # xid D = C + 1, stays open
            t2 = c2.begin()
            second = committed(c2, "乙也开着")  # xid B > D
            t3.commit()  # the cap is now C + 1: B lies above it
            seen = feed(client, since=cursor)
        finally:
            c4.rollback()
            c4.close()
        assert seen["items"] == []  # held back by the open writers A and B
        t2.commit()
        t1.commit()
    page = feed_until(client, seen["next_cursor"], 3)
    assert {i["id"] for i in page["items"]} == {first, second, third}


def test_a_transaction_in_another_database_does_not_hold_the_feed(app, committed):
    """Only a transaction holding an xid in this database can still add a change here.

    An open transaction with an xid in another database of the same server (a bulk load,
    another app's migration) pins `pg_snapshot_xmin`; the feed must not wait for it.
    """
    client = app.test_client()
    engine = db_engine(app)
    cursor = feed(client, limit=1)["next_cursor"]
    args = engine.url.translate_connect_args(username="user", database="dbname")
    elsewhere = psycopg2.connect(**{**args, "dbname": "postgres"})
    try:
        with elsewhere.cursor() as cur:
            cur.execute("SELECT pg_current_xact_id()::text")  # takes an xid, stays open
            held = int(cur.fetchone()[0])
        with engine.begin() as conn:
            made = committed(conn, "不等别的库")
        with engine.connect() as probe:
            xmin = int(probe.scalar(sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())")))
        assert xmin <= held  # a boundary at pg_snapshot_xmin would hold the change back
        page = feed(client, since=cursor)  # at once: no polling
        assert [(i["id"], i["op"]) for i in page["items"]] == [(made, "upsert")]
    finally:
        elsewhere.rollback()
        elsewhere.close()


@pytest.mark.parametrize(
    "params, field",
    [
        ({"since": "!!!"}, "since"),
        ({"since": "eyJ4IjoxfQ"}, "since"),  # {"x":1}: no "s"
        ({"since": "eyJ4IjoxLCJzIjotNX0"}, "since"),  # {"x":1,"s":-5}
        ({"snapshot": "eyJhIjoiMSIsIngiOjF9"}, "snapshot"),  # "a" is a string
        ({"since": "eyJ4IjoxLCJzIjotMX0", "snapshot": "eyJhIjoxLCJ4IjoxfQ"}, "since"),
        ({"limit": 1001}, "limit"),
    ],
)
def test_bad_cursors_are_422(client, params, field):
    r = client.get("/v1/changes", query_string=params)
    assert r.status_code == 422 and field in r.json["errors"]
