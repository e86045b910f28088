"""Guards on query plans and statement counts, on 1e5 synthetic sites in a database of its own.

Cheap and deterministic: EXPLAIN (no ANALYZE) of the statements the public endpoints send
must use the spatial indexes, with no sequential scan of `sites` and no parallel plan; and
each public request sends a fixed number of SQL statements once warm.
"""

import re
import time

import pytest
import sqlalchemy as sa

from service import create_app
from service.core.db import make_engine
from service.core.settings import TestConfig
from service.sites import filters, queries
from service.tiles import queries as tile_queries
from tests.conftest import FROZEN_NOW, synthetic_database

SIZE = 100_000


@pytest.fixture(scope="module")
def big_url():
    with synthetic_database("yizhan_test_plans", SIZE, 7) as url:
        engine = make_engine(url, pool_size=1, statement_timeout_ms=0)
        with engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            # A sample of every row (target 1000 reads 300,000): the same statistics, so
            # the same plans, on every run; autovacuum must not re-sample them meanwhile.
            auto.execute(sa.text("SET default_statistics_target = 1000"))
            auto.execute(sa.text("ALTER TABLE sites SET (autovacuum_enabled = false)"))
            auto.execute(sa.text("VACUUM ANALYZE sites"))
        engine.dispose()
        yield url


@pytest.fixture(scope="module")
def big_app(big_url):
    app = create_app(
        type(
            "Cfg",
            (TestConfig,),
            {"DATABASE_URL": big_url, "NOW": lambda: FROZEN_NOW, "CACHE_SECONDS": 300},
        )
    )
    yield app
    app.extensions["yizhan.db"]["primary"].dispose()


def plan_of(conn, stmt: str, params: tuple = ()) -> str:
    rows = conn.exec_driver_sql("EXPLAIN " + stmt, params).all()
    return "\n".join(r[0] for r in rows)


def assert_indexed(plan: str, index: str) -> None:
    assert index in plan, plan
    assert not re.search(r"Seq Scan on sites\b", plan), plan
    assert "Parallel" not in plan and "Gather" not in plan, plan


FILTERS = [
    filters.Filters(),
    filters.Filters(amenities_all=["microwave", "wifi"], open_at=FROZEN_NOW),
    filters.Filters(amenities_all=["cinema"]),
    filters.Filters(kinds=["home"], org="zj", q="驿站"),
]


@pytest.mark.parametrize(
    "search, index",
    [
        (FILTERS[0], "sites_geog_keys_gist"),
        (FILTERS[1], "sites_geog_keys_gist"),
        (FILTERS[2], "sites_geog_keys_gist"),  # absent: the radius bounds the KNN scan
        (FILTERS[3], "sites_search_grams"),  # a rare text match drives it, bounded by q
    ],
    ids=["none", "2-amenities-open", "absent", "mixed"],
)
def test_nearby_uses_an_index(big_app, search, index):
    params = {
        **search.params(),
        "lat": 31.23,
        "lon": 121.47,
        "scan_radius": 3020.0,
        "now": FROZEN_NOW,
        "k": 25,
        "radius": 3000.0,
        "want": 21,
    }
    prepared = queries._nearby_statement(frozenset(search.params()), False, False)
    plan = explain_prepared(big_app, prepared, params)
    assert_indexed(plan, index)
    if index == "sites_geog_keys_gist":
        # A streaming KNN scan (ordered by the index), not every site in the radius sorted:
        # that slip (a hash semi-join for open_at) once made nearby 3x slower.
        assert "Order By: (geog <->" in plan, plan
        # The filters are tested in the index, not on each candidate's heap row: a heap
        # filter read ~1,800 random pages per 2-amenity open-now search at 1e6 sites.
        index_cond = re.search(r"using sites_geog_keys_gist .*\n\s*Index Cond: (.*)", plan)
        for tested, key_test in (
            ("amenities_all", "filter_keys @> "),
            ("open_at", "filter_keys && "),
        ):
            assert (key_test in index_cond.group(1)) == (tested in search.params()), plan


@pytest.mark.parametrize(
    "url, index",
    [
        ("/v1/sites?bbox=121.4,31.2,121.5,31.3&limit=250", "sites_pt_gist"),
        ("/v1/sites?bbox=100,20,125,45&amenities=cinema", "sites_amenities_gin"),
        ("/v1/sites?q=东门", "sites_search_grams"),
    ],
)
def test_list_queries_use_an_index(big_app, url, index):
    """The statements GET /v1/sites sends, captured and explained."""
    statements = capture(big_app, url)
    selects = [s for s in statements if "FROM sites" in s[0] and "LIMIT" in s[0]]
    assert selects, statements
    with big_app.extensions["yizhan.db"]["primary"].connect() as conn:
        plan = plan_of(conn, *selects[-1])
    assert_indexed(plan, index)


BOXES = {
    "street": (121.4, 31.2, 121.5, 31.3),  # ~0.3% of all sites
    "city": (120.97, 30.73, 121.97, 31.73),  # ~10%
    "antimeridian": (179.5, -20.0, -179.5, -15.0),
    "empty": (60.0, -60.0, 61.0, -59.0),
}


@pytest.mark.parametrize(
    "box, runs",
    [
        # A small share: the page's ids from the point index alone, no site row read.
        ("street", "Index Only Scan using sites_pt_gist"),
        ("antimeridian", "Bitmap Index Scan on sites_pt_gist"),  # two boxes: a BitmapOr
        # A city: walking ids in order meets 250 sites in the box long before the index
        # would have listed all ~10,000 of them; each id's point is in the walked index.
        ("city", "Index Only Scan using sites_listed_id_pt"),
    ],
)
def test_box_lists_run_the_branch_that_fits(big_app, box, runs):
    w, s, e, n = BOXES[box]
    statements = capture(big_app, f"/v1/sites?bbox={w},{s},{e},{n}&limit=250")
    (select,) = [st for st in statements if "FROM sites" in st[0] and "LIMIT" in st[0]]
    with big_app.extensions["yizhan.db"]["primary"].connect() as conn:
        plan = "\n".join(
            r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE) " + select[0], select[1])
        )
    ran = [line for line in plan.splitlines() if runs in line]
    assert ran and "never executed" not in ran[0], plan
    if "Index Only" in runs:
        assert "Heap Fetches: 0" in plan, plan
    assert not re.search(r"Seq Scan on sites\b", plan), plan


@pytest.mark.parametrize("box", sorted(BOXES))
def test_box_lists_equal_a_plain_coordinate_test(big_app, box):
    w, s, e, n = BOXES[box]
    r = big_app.test_client().get(f"/v1/sites?bbox={w},{s},{e},{n}&limit=250")
    assert r.status_code == 200, r.json
    in_lon = "(ST_X(geom) >= :w OR ST_X(geom) <= :e)" if w > e else "ST_X(geom) BETWEEN :w AND :e"
    with big_app.extensions["yizhan.db"]["primary"].connect() as conn:
        expected = conn.scalars(
            sa.text(
                "SELECT id FROM sites WHERE deleted_at IS NULL AND status <> 'closed' "
                f"AND {in_lon} AND ST_Y(geom) BETWEEN :s AND :n ORDER BY id LIMIT 250"
            ),
            {"w": w, "s": s, "e": e, "n": n},
        ).all()
    assert [item["id"] for item in r.json["items"]] == expected
    assert (len(expected) == 250) == (box in ("street", "city"))


def capture(app, url: str) -> list[tuple[str, tuple | dict]]:
    """Every SQL statement (and its parameters) one request sends."""
    engine = app.extensions["yizhan.db"]["primary"]
    seen: list[tuple[str, tuple | dict]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = app.test_client().get(url)
        assert response.status_code in (200, 204), response.get_data(as_text=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


# A list sends its statement and then one for the intervals of its page's patterns
# (open_state: open_queries.day_intervals); nearby and one site read theirs in the statement.
@pytest.mark.parametrize(
    "url, expected",
    [
        ("/v1/sites/nearby?lat=31.23&lon=121.47", 1),
        ("/v1/sites/nearby?lat=31.23&lon=121.47&open_now=true&amenities=wifi", 1),
        ("/v1/sites?bbox=121.4,31.2,121.5,31.3", 2),
        ("/v1/sites/1", 1),
        ("/v1/sites/1/hours", 1),
        ("/v1/amenities", 1),
        ("/v1/tiles/14/13720/6694.mvt", 1),
        ("/v1/tiles/14/13720/6694.mvt?open_now=true", 1),
        ("/v1/sites?bbox=121.4,31.2,121.5,31.3&f=geojson", 2),
        ("/v1/sites?bbox=121.4,31.2,121.5,31.3&crs=gcj02", 2),
        ("/v1/sites?q=shanghai&limit=5", 2),
        ("/v1/sites/1?crs=bd09", 1),
        ("/v1/sites/nearby?lat=31.23&lon=121.47&crs=gcj02&kind=station", 1),
        ("/ogc", 0),
        ("/ogc/conformance", 0),
        ("/ogc/collections", 0),
        ("/ogc/collections/sites", 0),
        ("/ogc/collections/sites/items?bbox=121.4,31.2,121.5,31.3", 2),
        ("/ogc/collections/sites/items/1", 1),
        ("/healthz", 0),
        ("/readyz", 3),  # the schema's presence and version, the hours horizon
    ],
)
def test_statements_per_request_once_warm(big_app, url, expected):
    capture(big_app, url)  # warm: prepares statements, fills the horizon/frequency caches
    statements = capture(big_app, url)
    assert len(statements) == expected, [s for s, _ in statements]


def test_statements_of_the_change_feed(big_app, big_url):
    """A first call: a fresh snapshot, its cap, the first page; a snapshot page: the page; a
    call with `since`: a fresh snapshot, its cap, the log since, and the sites it names, if
    any (a poll with nothing new sends no fourth statement)."""
    first = big_app.test_client().get("/v1/changes").json
    assert len(capture(big_app, "/v1/changes")) == 3
    snapshot_page = first["next"].split("/v1/changes", 1)[1]
    capture(big_app, "/v1/changes" + snapshot_page)
    assert len(capture(big_app, "/v1/changes" + snapshot_page)) == 1
    since = "/v1/changes?since=" + first["next_cursor"]
    capture(big_app, since)
    assert len(capture(big_app, since)) == 3
    engine = make_engine(big_url, pool_size=1, statement_timeout_ms=0)
    try:
        with engine.begin() as conn:  # a change the feed reports: the log names site 1
            conn.execute(sa.text("UPDATE sites SET version = version WHERE id = 1"))
    finally:
        engine.dispose()
    # The feed serves a change once every transaction that began before it has ended (an
    # ANALYZE by autovacuum, say): wait for that, then count.
    deadline = time.monotonic() + 30
    while not big_app.test_client().get(since).json["items"]:
        assert time.monotonic() < deadline, "the change never reached the feed"
        time.sleep(0.1)
    statements = capture(big_app, since)
    assert len(statements) == 4, [s for s, _ in statements]
    assert big_app.test_client().get(since).json["items"][0]["id"] == 1


def test_a_rider_report_is_one_statement(big_app):
    engine = big_app.extensions["yizhan.db"]["primary"]
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    body = {"category": "other", "comment": "statement count"}
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = big_app.test_client().post("/v1/sites/1/reports", json=body)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert len(seen) == 1 and seen[0].startswith("INSERT INTO reports"), seen


@pytest.mark.parametrize("search", FILTERS[:3], ids=["none", "2-amenities-open", "absent"])
def test_tile_queries_use_the_geometry_index(big_app, search):
    params = {**search.params(), "z": 14, "x": 13720, "y": 6694, "now": FROZEN_NOW}
    plan = explain_prepared(
        big_app, tile_queries._statement(frozenset(search.params()), False, "wgs84"), params
    )
    assert_indexed(plan, "sites_geom_gist")


def explain_prepared(app, prepared, params: dict) -> str:
    """EXPLAIN of a prepared statement on a fresh connection, with the request's values."""
    values = tuple(params.get(n, prepared.defaults[n]) for n in prepared.names)
    with app.extensions["yizhan.db"]["primary"].connect() as conn:
        known = conn.connection.info.setdefault("yizhan.prepared", set())
        if prepared.name not in known:  # a pooled connection may have prepared it already
            conn.exec_driver_sql(prepared.prepare_sql.replace("%", "%%"))
            known.add(prepared.name)
        placeholders = ", ".join(["%s"] * len(values))
        return plan_of(conn, f"EXECUTE {prepared.name}({placeholders})", values)
