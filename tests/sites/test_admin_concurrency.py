"""Concurrent writers on committed data: one ETag wins once; one Idempotency-Key creates once.

These tests do not use the rolled-back `conn` fixture: each request runs in its own
pooled connection and transaction, as in production. They clean up after themselves.
"""

import threading
import uuid

import pytest
import sqlalchemy as sa

from service.access import tokens, users
from tests.conftest import FROZEN_NOW, db_engine

ORG = "zj.tz.lh"


@pytest.fixture()
def committed(app):
    """A token of a fresh editor, committed; everything it created is removed afterwards."""
    engine = db_engine(app)
    name = f"concurrency-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        user_id = users.ensure_user(conn, ORG, name, "editor")
        _, token = tokens.create_token(conn, user_id, FROZEN_NOW)
    yield {"Authorization": f"Bearer {token}"}
    with engine.begin() as conn:
        sites = "SELECT site_id FROM site_audit WHERE user_id = :u"
        conn.execute(sa.text("DELETE FROM idempotency_keys WHERE user_id = :u"), {"u": user_id})
        ids = [r[0] for r in conn.execute(sa.text(sites), {"u": user_id})]
        conn.execute(sa.text("DELETE FROM site_audit WHERE site_id = ANY(:ids)"), {"ids": ids})
        conn.execute(sa.text("DELETE FROM sites WHERE id = ANY(:ids)"), {"ids": ids})
        conn.execute(sa.text("DELETE FROM api_tokens WHERE user_id = :u"), {"u": user_id})
        conn.execute(sa.text("DELETE FROM users WHERE id = :u"), {"u": user_id})


def run_together(app, n: int, request) -> list:
    """Run `request(client)` in n threads released at the same moment."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        results[i] = request(client)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def new_site(external_id: str) -> dict:
    return {
        "kind": "station",
        "name": "并发测试驿站",
        "external_id": external_id,
        "location": {"lat": 28.85, "lon": 121.14},
    }


def test_two_patches_with_one_etag_one_wins(app, committed):
    client = app.test_client()
    site = client.post("/v1/sites", json=new_site("C-1"), headers=committed).json
    match = {**committed, "If-Match": f'"{site["id"]}-1"'}
    results = run_together(
        app,
        2,
        lambda c: c.patch(
            f"/v1/sites/{site['id']}", json={"name": uuid.uuid4().hex}, headers=match
        ),
    )
    assert sorted(r.status_code for r in results) == [200, 412]
    winner = next(r for r in results if r.status_code == 200)
    assert client.get(f"/v1/sites/{site['id']}").json["name"] == winner.json["name"]
    assert client.get(f"/v1/sites/{site['id']}").json["version"] == 2


def test_ten_patches_with_if_match_star_all_apply(app, committed):
    """RFC 9110: `If-Match: *` matches any current representation. Ten at once: none is a
    412 or a 5xx, each applies in turn (the row lock orders them) and the history has each."""
    client = app.test_client()
    site = client.post("/v1/sites", json=new_site("C-STAR"), headers=committed).json
    star = {**committed, "If-Match": "*"}
    names = [f"并发改名 {i}" for i in range(10)]
    results = run_together(
        app,
        10,
        lambda c: c.patch(f"/v1/sites/{site['id']}", json={"name": names.pop()}, headers=star),
    )
    assert [r.status_code for r in results] == [200] * 10, [r.get_json() for r in results]
    assert sorted(r.json["version"] for r in results) == list(range(2, 12))
    history = client.get(f"/v1/sites/{site['id']}/history", headers=committed).json["items"]
    renamed = [h for h in history if h["action"] == "update"]
    assert sorted(h["version"] for h in renamed) == list(range(2, 12))
    final = client.get(f"/v1/sites/{site['id']}").json
    assert final["version"] == 11
    assert final["name"] == max(results, key=lambda r: r.json["version"]).json["name"]


def test_a_delete_with_if_match_star_among_patches(app, committed):
    """Five `*` patches and one `*` delete at once: each patch applies (200) or finds the site
    gone (404), the delete applies (204); nothing is a 412 or a 5xx."""
    client = app.test_client()
    site = client.post("/v1/sites", json=new_site("C-STAR-D"), headers=committed).json
    url, star = f"/v1/sites/{site['id']}", {**committed, "If-Match": "*"}
    calls = [lambda c: c.delete(url, headers=star)] + [
        lambda c: c.patch(url, json={"name": uuid.uuid4().hex}, headers=star)
    ] * 5
    results = run_together(app, 6, lambda c: calls.pop()(c))
    codes = sorted(r.status_code for r in results)
    assert codes.count(204) == 1 and set(codes) <= {200, 204, 404}, codes
    assert client.get(url).status_code == 404


def test_concurrent_retries_with_one_idempotency_key_create_one_site(app, committed):
    headers = {**committed, "Idempotency-Key": uuid.uuid4().hex}
    results = run_together(
        app, 4, lambda c: c.post("/v1/sites", json=new_site("C-2"), headers=headers)
    )
    assert [r.status_code for r in results] == [201] * 4
    assert len({r.json["id"] for r in results}) == 1
    with db_engine(app).connect() as conn:
        n = conn.scalar(
            sa.text("SELECT count(*) FROM sites WHERE external_id = 'C-2' AND deleted_at IS NULL")
        )
    assert n == 1


def test_a_killed_import_leaves_no_row(app, committed):
    """The database connection of a running import is killed mid-INSERT: 503, zero rows."""
    lines = ["external_id,kind,name,lat,lon,amenities"]
    lines += [f"K-{i},station,被中断的导入{i},28.8,121.1,wifi" for i in range(30_000)]
    body = ("\n".join(lines) + "\n").encode()
    result = {}

    def run() -> None:
        result["response"] = app.test_client().post(
            "/v1/imports",
            data=body,
            query_string={"org": ORG},
            headers={**committed, "Content-Type": "text/csv"},
        )

    worker = threading.Thread(target=run)
    worker.start()
    killed = False
    with db_engine(app).connect() as watcher:
        for _ in range(3000):  # up to ~30 s
            pid = watcher.scalar(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                    "AND datname = current_database() "
                    "AND query LIKE '%INSERT INTO sites%import_rows%' AND state = 'active'"
                )
            )
            if pid:
                killed = watcher.scalar(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                break
            watcher.commit()
            threading.Event().wait(0.01)
    worker.join(timeout=60)
    assert killed
    response = result["response"]
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    with db_engine(app).connect() as conn:
        left = conn.scalar(sa.text("SELECT count(*) FROM sites WHERE external_id LIKE 'K-%'"))
    assert left == 0
