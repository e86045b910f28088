"""Test fixtures: a throwaway PostGIS database per test run, one rolled-back transaction per test.

The database is created from TEST_DATABASE_URL's server (default: DATABASE_URL's, or
the local default), migrated, seeded with the demo fixtures at a frozen "now", and
dropped at the end, so parallel runs and leftovers cannot interfere.
"""

import os
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg2
import pytest
import sqlalchemy as sa
from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT, parse_dsn
from werkzeug.serving import make_server

from schema import migrate
from service import create_app
from service.access import tokens, users
from service.core.db import db, make_engine
from service.core.settings import DEFAULT_DATABASE_URL, TestConfig
from service.ops import seeding
from service.sites.store import upsert_site

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 2026-11-30, 12:00 in Shanghai: every test sees this as "now".
FROZEN_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=SHANGHAI)
HORIZON_DAYS = 14


def _server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or os.environ.get(
        "DATABASE_URL", DEFAULT_DATABASE_URL
    )


def _admin_connection(url: str):
    conn = psycopg2.connect(**{**parse_dsn(url), "dbname": "postgres"})
    conn.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
    return conn


@contextmanager
def throwaway_database(prefix: str, load):
    """A new, migrated database on the test server; `load(conn)` fills it; dropped at the end."""
    base = _server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _admin_connection(base)
    with admin.cursor() as cur:
        cur.execute(
            sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(name)
            )
        )
    dsn = parse_dsn(base)
    url = "postgresql://{user}{pw}@{host}:{port}/{dbname}".format(
        user=dsn.get("user", "postgres"),
        pw=f":{dsn['password']}" if dsn.get("password") else "",
        host=dsn.get("host", "127.0.0.1"),
        port=dsn.get("port", "5432"),
        dbname=name,
    )
    try:
        migrate.upgrade(url)
        engine = make_engine(url, pool_size=1, statement_timeout_ms=0)
        with engine.begin() as conn:
            load(conn)
        engine.dispose()
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        admin.close()


# Heap order against geohash order: the share of neighbouring rows (by ctid) that are in
# geohash order. Random order gives about one half; sorted rows give 1.
IN_ORDER = sa.text(
    """
    SELECT avg((next_hash >= hash)::int)
    FROM (SELECT ST_GeoHash(geom, 10) AS hash,
                 lead(ST_GeoHash(geom, 10)) OVER (ORDER BY ctid) AS next_hash
          FROM sites) AS pairs
    WHERE next_hash IS NOT NULL
    """
)


@contextmanager
def synthetic_database(prefix: str, size: int, seed: int):
    """A throwaway database: the demo data and `size` synthetic sites (fixtures/synthetic.py)."""
    from fixtures import synthetic

    def load(conn):
        seeding.load_demo(conn, FROZEN_NOW, HORIZON_DAYS)
        synthetic.load(conn, size, seed, FROZEN_NOW, HORIZON_DAYS)

    with throwaway_database(prefix, load) as url:
        yield url


@contextmanager
def sites_locked(database_url):
    """`sites` locked by another committed-data connection until the block ends: every
    statement that touches it waits (and runs into its statement timeout)."""
    holder = psycopg2.connect(database_url)
    try:
        with holder.cursor() as cur:
            cur.execute("LOCK TABLE sites IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        holder.rollback()
        holder.close()


def pytest_collection_modifyitems(items):
    """Every item gets a node id of its own. schemathesis names its items
    `test_contract[GET /v1/sites]` but gives all of them the node id `...::test_contract`, and
    pytest-xdist's `--dist loadfile` keys its queue by node id: 24 of the 25 operations were
    dropped without a word (schemathesis 4.32 under pytest 9.2). A duplicate left after this
    is an error, not a silent loss."""
    for item in items:
        if "[" in item.name and not item.nodeid.endswith("]"):
            # pytest 9 builds a node id from the name and the callspec; these have no callspec
            item._id = item._id.with_params(item.name.partition("[")[2].removesuffix("]"))
    seen: dict[str, int] = {}
    for item in items:
        seen[item.nodeid] = seen.get(item.nodeid, 0) + 1
    twice = [nodeid for nodeid, n in seen.items() if n > 1]
    if twice:
        raise pytest.UsageError(f"tests collected under the same node id: {twice[:5]}")


@pytest.fixture(scope="session")
def database_url():
    def demo(conn):
        seeding.load_demo(conn, FROZEN_NOW, HORIZON_DAYS)

    with throwaway_database("yizhan_test", demo) as url:
        yield url


@pytest.fixture(scope="module")
def server(app):
    """The session app (committed demo data) on a real threaded HTTP server, local port."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


@pytest.fixture(scope="session")
def app(database_url):
    run_config = type(
        "RunConfig",
        (TestConfig,),
        {
            "DATABASE_URL": database_url,
            "NOW": lambda: FROZEN_NOW,
            "HOURS_HORIZON_DAYS": HORIZON_DAYS,
        },
    )
    app = create_app(run_config)
    yield app
    for engine in set(app.extensions["yizhan.db"].values()) - {None}:
        engine.dispose()


@pytest.fixture()
def conn(app):
    """A connection in a transaction that every request of the test shares; rolled back."""
    engine = db_engine(app)
    with engine.connect() as connection:
        outer = connection.begin()
        db.bind(app, connection)
        try:
            yield connection
        finally:
            db.bind(app, None)
            outer.rollback()


def db_engine(app) -> sa.Engine:
    return app.extensions["yizhan.db"]["primary"]


@pytest.fixture()
def client(app, conn):
    app.extensions.pop("yizhan.limits", None)  # each test starts with fresh rate limits
    return app.test_client()


@pytest.fixture()
def make_site(conn):
    """Insert a site inside the test's transaction; returns its id."""
    counter = iter(range(1, 10_000))

    def make(lat: float, lon: float, **fields) -> int:
        org_id = conn.scalar(
            sa.text("SELECT id FROM orgs WHERE code = :c"), {"c": fields.pop("org", "zj")}
        )
        data = {
            "kind": "station",
            "name": f"测试驿站 {next(counter)}",
            "external_id": f"TEST-{uuid.uuid4().hex[:12]}",
            "opening_hours": "24/7",
            "location": {"lat": lat, "lon": lon},
            **fields,
        }
        site_id, outcome = upsert_site(conn, org_id, data, FROZEN_NOW, HORIZON_DAYS)
        assert outcome == "created"
        return site_id

    return make


@pytest.fixture()
def bearer(conn):
    """`bearer(org, role)`: an Authorization header for a new user of that org and role."""

    def make(org: str, role: str, **token_options) -> dict:
        user_id = users.ensure_user(conn, org, f"{role}-{uuid.uuid4().hex[:8]}", role)
        _, token = tokens.create_token(conn, user_id, FROZEN_NOW, **token_options)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture()
def yizhan(app, conn):
    """Run `yizhan ARGS...` on the test app, inside the test's transaction."""
    from flask.cli import ScriptInfo

    from service.ops.cli import main

    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))


@pytest.fixture()
def editor(bearer):
    """An editor of the Ningbo union (zj.nb)."""
    return bearer("zj.nb", "editor")


@pytest.fixture()
def dinghai_id(client) -> int:
    """The id of the Dinghai East Gate station (external_id DEMO-DH-0001)."""
    items = client.get("/v1/sites", query_string={"q": "东门"}).get_json()["items"]
    ids = [s["id"] for s in items if s["external_id"] == "DEMO-DH-0001"]
    assert len(ids) == 1, items
    return ids[0]
