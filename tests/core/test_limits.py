"""Hard limits: body sizes, rows per import, page sizes, statement timeouts, connection budget.

Each limit is probed on both sides (just within: accepted; just beyond: a 4xx problem, nothing
written). docs/reliability.md lists every limit with its default, setting and test.
"""

import io
import json
import math
import re
import time
import uuid
from contextlib import contextmanager

import flask
import psycopg2
import pytest
import sqlalchemy as sa
from flask.cli import ScriptInfo
from werkzeug.test import EnvironBuilder, run_wsgi_app

from service import create_app
from service.access import tokens, users
from service.core.db import connections_per_engine, make_engine
from service.core.settings import Config, TestConfig
from service.ops import serving
from service.ops.cli import main
from tests import support
from tests.conftest import FROZEN_NOW, HORIZON_DAYS, sites_locked
from tests.support import assert_problem

DINGHAI = {"lat": 30.0176, "lon": 122.1069}


def site_body(**fields) -> dict:
    return {
        "kind": "station",
        "name": "限额测试驿站",
        "external_id": f"LIM-{uuid.uuid4().hex[:10]}",
        "location": {"lat": 30.01, "lon": 122.10},
        "opening_hours": "24/7",
        **fields,
    }


def padded(body: dict, size: int) -> bytes:
    """`body` as JSON, padded with trailing whitespace (still valid JSON) to `size` bytes."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def count_sites(conn) -> int:
    return conn.scalar(sa.text("SELECT count(*) FROM sites"))


# --- request bodies -------------------------------------------------------------------------


@pytest.fixture()
def admin(bearer):
    return bearer("zj", "admin")


def test_a_json_body_just_within_max_content_length_is_accepted(client, conn, admin):
    limit = Config.MAX_CONTENT_LENGTH
    response = client.post(
        "/v1/sites",
        data=padded(site_body(), limit),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_json_body_over_max_content_length_is_413_and_writes_nothing(
    client, conn, admin, make_site, method
):
    site_id = make_site(30.0, 122.0)
    before = count_sites(conn)
    version = conn.scalar(sa.text("SELECT version FROM sites WHERE id = :i"), {"i": site_id})
    path = "/v1/sites" if method == "POST" else f"/v1/sites/{site_id}"
    body = site_body() if method == "POST" else {"name": "改过的名字"}
    response = client.open(
        path,
        method=method,
        data=padded(body, Config.MAX_CONTENT_LENGTH + 1),
        headers={**admin, "Content-Type": "application/json", "If-Match": "*"},
    )
    assert_problem(response, 413)
    assert count_sites(conn) == before
    assert conn.scalar(sa.text("SELECT version FROM sites WHERE id = :i"), {"i": site_id}) == (
        version
    )


def test_a_rider_report_over_max_content_length_is_413(client, conn, make_site):
    site_id = make_site(30.0, 122.0)
    body = {"category": "amenity_missing", "comment": "坏了"}
    response = client.post(
        f"/v1/sites/{site_id}/reports",
        data=padded(body, Config.MAX_CONTENT_LENGTH + 1),
        content_type="application/json",
    )
    assert_problem(response, 413)
    assert (
        conn.scalar(sa.text("SELECT count(*) FROM reports WHERE site_id = :i"), {"i": site_id}) == 0
    )


IMPORT_HEADER = "external_id,kind,name,lat,lon\n"


def import_csv(n: int, tag: str) -> bytes:
    lines = [f"{tag}-{i},station,限额导入{i},29.9,121.{600 + i}" for i in range(n)]
    return (IMPORT_HEADER + "\n".join(lines) + "\n").encode()


def imported(conn, tag: str) -> int:
    return conn.scalar(
        sa.text("SELECT count(*) FROM sites WHERE external_id LIKE :p"), {"p": f"{tag}-%"}
    )


@contextmanager
def setting(app, **values):
    old = {k: app.config[k] for k in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(old)


def post_import(client, headers, body: bytes, multipart: bool = False, **query):
    query = {"org": "zj.nb", **query}
    if multipart:
        data = {"file": (io.BytesIO(body), "stations.csv", "text/csv")}
        return client.post("/v1/imports", data=data, headers=headers, query_string=query)
    return client.post(
        "/v1/imports",
        data=body,
        headers={**headers, "Content-Type": "text/csv"},
        query_string=query,
    )


@pytest.mark.parametrize("multipart", [False, True], ids=["raw", "multipart"])
def test_an_import_over_import_max_bytes_is_413_and_writes_nothing(
    client, app, conn, admin, multipart
):
    tag = f"LIMB{uuid.uuid4().hex[:6]}"
    body = import_csv(40, tag)
    # The multipart envelope adds a few hundred bytes to the file.
    with setting(app, IMPORT_MAX_BYTES=len(body) + (600 if multipart else 0)):
        within = post_import(client, admin, body, multipart, dry_run="true")
        assert within.status_code == 200, within.get_json()
        assert within.get_json()["created"] == 40
        bigger = import_csv(41, tag)
        assert_problem(post_import(client, admin, bigger + b"x" * 600, multipart), 413)
    assert imported(conn, tag) == 0


@pytest.mark.parametrize("dry_run", ["false", "true"])
def test_an_import_over_import_max_rows_is_413_and_writes_nothing(
    client, app, conn, admin, dry_run
):
    tag = f"LIMR{uuid.uuid4().hex[:6]}"
    with setting(app, IMPORT_MAX_ROWS=5):
        body = assert_problem(post_import(client, admin, import_csv(6, tag), dry_run=dry_run), 413)
        assert "5" in body["detail"]
        assert imported(conn, tag) == 0
        at_limit = post_import(client, admin, import_csv(5, tag), dry_run=dry_run)
        assert at_limit.status_code == 200, at_limit.get_json()
    assert imported(conn, tag) == (5 if dry_run == "false" else 0)


# --- page sizes -------------------------------------------------------------------------------


@pytest.fixture()
def listed(client, conn, admin):
    """Every list endpoint with enough items for two pages of one; name -> (path, query)."""
    near = {"lat": DINGHAI["lat"], "lon": DINGHAI["lon"] + 0.001}
    created = client.post("/v1/sites", json=site_body(location=near), headers=admin)
    assert created.status_code == 201, created.get_json()
    site_id, etag = created.get_json()["id"], created.headers["ETag"]
    changed = client.patch(
        f"/v1/sites/{site_id}", json={"name": "改名驿站"}, headers={**admin, "If-Match": etag}
    )
    assert changed.status_code == 200, changed.get_json()
    for category in ("amenity_missing", "other"):
        report = {"category": category, "comment": "测试"}
        assert client.post(f"/v1/sites/{site_id}/reports", json=report).status_code == 201
    return {
        "sites": ("/v1/sites", {}),
        "nearby": ("/v1/sites/nearby", dict(DINGHAI)),
        "changes": ("/v1/changes", {}),
        "reports": ("/v1/reports", {}),
        "history": (f"/v1/sites/{site_id}/history", {}),
        "ogc-items": ("/ogc/collections/sites/items", {}),
    }


# The contract's maxima (../shared/API.md; OGC API: `limit` in the collection's parameters).
PAGE_MAXIMA = {
    "sites": 1000,
    "nearby": 100,
    "changes": 1000,
    "reports": 200,
    "history": 200,
    "ogc-items": 1000,
}


def items_of(body: dict) -> list:
    return body["features"] if "features" in body else body["items"]


def has_next(body: dict) -> bool:
    if "links" in body:
        return any(link["rel"] == "next" for link in body["links"])
    return body["next"] is not None


@pytest.mark.parametrize("name", sorted(PAGE_MAXIMA))
def test_every_list_endpoint_pages_at_its_limit(client, admin, listed, name):
    path, query = listed[name]
    one = client.get(path, query_string={**query, "limit": 1}, headers=admin)
    assert one.status_code == 200, one.get_json()
    assert len(items_of(one.get_json())) == 1
    assert has_next(one.get_json())
    most = client.get(path, query_string={**query, "limit": PAGE_MAXIMA[name]}, headers=admin)
    assert most.status_code == 200, most.get_json()
    assert 1 < len(items_of(most.get_json())) <= PAGE_MAXIMA[name]


@pytest.mark.parametrize("name", sorted(set(PAGE_MAXIMA) - {"ogc-items"}))
def test_a_limit_over_the_maximum_is_a_422_naming_limit(client, admin, listed, name):
    path, query = listed[name]
    response = client.get(
        path, query_string={**query, "limit": PAGE_MAXIMA[name] + 1}, headers=admin
    )
    assert "limit" in assert_problem(response, 422)["errors"]


def test_ogc_serves_a_limit_over_the_maximum_as_the_maximum(client, listed):
    """OGC API - Features: a server may serve a larger `limit` as its maximum (Part 1, 7.15.3)."""
    path, _ = listed["ogc-items"]
    response = client.get(path, query_string={"limit": 10**6})
    assert response.status_code == 200
    assert len(response.get_json()["features"]) <= PAGE_MAXIMA["ogc-items"]
    spec = client.get("/openapi.json").get_json()
    limit = next(
        p
        for p in spec["paths"]["/ogc/collections/sites/items"]["get"]["parameters"]
        if p["name"] == "limit"
    )
    assert limit["schema"]["maximum"] == PAGE_MAXIMA["ogc-items"]


@pytest.mark.parametrize(
    "path, query",
    [
        ("/v1/sites/nearby", {**DINGHAI, "radius": 50001}),
        ("/ogc/collections/sites/items", {"nearest": "122.1069,30.0176", "radius": 50001}),
    ],
)
def test_a_radius_over_50_km_is_refused(client, path, query):
    response = client.get(path, query_string=query)
    status = 400 if path.startswith("/ogc") else 422  # OGC API answers bad parameters with 400
    assert "radius" in json.dumps(assert_problem(response, status))


def test_the_whole_world_as_a_bbox_is_one_bounded_page(client):
    """The bbox area is not limited: every page is (limit <= 1000), and so is each statement."""
    response = client.get("/v1/sites", query_string={"bbox": "-180,-90,180,90", "limit": 1000})
    assert response.status_code == 200
    assert 200 < len(response.get_json()["items"]) <= 1000
    wrapped = client.get("/v1/sites", query_string={"bbox": "180,-90,-180,90", "limit": 10})
    assert wrapped.status_code == 200 and len(wrapped.get_json()["items"]) <= 10


# --- statement timeout --------------------------------------------------------------------------
#
# An app with a 300 ms statement timeout on the session database, whose request is made slow by
# an ACCESS EXCLUSIVE lock on `sites` held from another connection. The session database is
# this test process's own (one per xdist worker) and tests run one at a time in it, so the lock
# (released at the end of each test) stalls no one else. The token is committed (the app's own
# connections must see it) and deleted afterwards.

TIMEOUT_MS = 300


@pytest.fixture(scope="module")
def slow_app(database_url):
    config = type(
        "SlowConfig",
        (TestConfig,),
        {
            "DATABASE_URL": database_url,
            "NOW": lambda: FROZEN_NOW,
            "HOURS_HORIZON_DAYS": HORIZON_DAYS,
            "DB_STATEMENT_TIMEOUT_MS": TIMEOUT_MS,
            "IMPORT_STATEMENT_TIMEOUT_MS": TIMEOUT_MS,
        },
    )
    app = create_app(config)
    engine = make_engine(database_url, pool_size=1, statement_timeout_ms=0)
    name = f"limits-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        user_id = users.ensure_user(conn, "zj", name, "admin")
        token_id, token = tokens.create_token(conn, user_id, FROZEN_NOW)
        site_id = conn.scalar(sa.text("SELECT id FROM sites WHERE name = '定海区东门劳动者驿站'"))
    try:
        yield app, {"Authorization": f"Bearer {token}"}, site_id
    finally:
        for e in set(app.extensions["yizhan.db"].values()) - {None}:
            e.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM api_tokens WHERE id = :t"), {"t": token_id})
            conn.execute(sa.text("DELETE FROM users WHERE id = :u"), {"u": user_id})
        engine.dispose()


def tile_of(lat: float, lon: float, z: int) -> str:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"/v1/tiles/{z}/{x}/{y}.mvt"


def slow_requests(site_id: int) -> dict:
    """name -> (method, path, keyword arguments of the test client's open)."""
    csv = import_csv(3, f"LIMT{uuid.uuid4().hex[:6]}")
    report = {"category": "other", "comment": "锁住了"}
    return {
        "nearby": ("GET", "/v1/sites/nearby", {"query_string": DINGHAI}),
        "list": ("GET", "/v1/sites", {"query_string": {"limit": 5}}),
        "search": ("GET", "/v1/sites", {"query_string": {"q": "东门"}}),
        "one": ("GET", f"/v1/sites/{site_id}", {}),
        "hours": ("GET", f"/v1/sites/{site_id}/hours", {}),
        "tile": ("GET", tile_of(DINGHAI["lat"], DINGHAI["lon"], 12), {}),
        "changes": ("GET", "/v1/changes", {}),
        "ogc-items": ("GET", "/ogc/collections/sites/items", {"query_string": {"limit": 5}}),
        "ogc-item": ("GET", f"/ogc/collections/sites/items/{site_id}", {}),
        "report": ("POST", f"/v1/sites/{site_id}/reports", {"json": report}),
        "reports": ("GET", "/v1/reports", {"admin": True}),
        "history": ("GET", f"/v1/sites/{site_id}/history", {"admin": True}),
        "create": ("POST", "/v1/sites", {"admin": True, "json": site_body()}),
        "patch": ("PATCH", f"/v1/sites/{site_id}", {"admin": True, "json": {"phone": "123"}}),
        "delete": ("DELETE", f"/v1/sites/{site_id}", {"admin": True}),
        "import": (
            "POST",
            "/v1/imports",
            {
                "admin": True,
                "data": csv,
                "content_type": "text/csv",
                "query_string": {"org": "zj.nb"},
            },
        ),
    }


SLOW = sorted(slow_requests(1))


@pytest.mark.parametrize("name", SLOW)
def test_a_statement_over_the_timeout_is_a_503_and_the_app_recovers(slow_app, database_url, name):
    app, admin_headers, site_id = slow_app
    client = app.test_client()
    etag = client.get(f"/v1/sites/{site_id}").headers["ETag"]
    method, path, kwargs = slow_requests(site_id)[name]
    kwargs = dict(kwargs)
    headers = dict(admin_headers) if kwargs.pop("admin", False) else {}
    if method in ("PATCH", "DELETE"):
        headers["If-Match"] = etag
    engine = make_engine(database_url, pool_size=1, statement_timeout_ms=0)
    try:
        with engine.connect() as conn:
            state = conn.execute(
                sa.text("SELECT count(*), max(version) FROM sites WHERE deleted_at IS NULL")
            ).one()
        with sites_locked(database_url):
            response = client.open(path, method=method, headers=headers, **kwargs)
        body = assert_problem(response, 503)
        assert response.headers["Retry-After"].isdigit()
        text = response.get_data(as_text=True).lower()
        for leak in ("select", "sites", "statement", "cancel", "psycopg2", "traceback"):
            assert leak not in text, text
        assert body["type"].endswith("database-unavailable")
        with engine.connect() as conn:
            after = conn.execute(
                sa.text("SELECT count(*), max(version) FROM sites WHERE deleted_at IS NULL")
            ).one()
        assert tuple(after) == tuple(state)  # nothing written
        # The same app (its pools, its connections) answers the next request.
        again = client.get(f"/v1/sites/{site_id}")
        assert again.status_code == 200
        assert again.headers["ETag"] == etag
    finally:
        engine.dispose()


def test_the_import_statement_timeout_is_its_own_setting(slow_app, database_url):
    """IMPORT_STATEMENT_TIMEOUT_MS, not DB_STATEMENT_TIMEOUT_MS, bounds an import's statements."""
    app, admin_headers, _ = slow_app
    client = app.test_client()
    csv = import_csv(3, f"LIMI{uuid.uuid4().hex[:6]}")
    with setting(app, IMPORT_STATEMENT_TIMEOUT_MS=5000), sites_locked(database_url):
        started = time.monotonic()
        response = client.post(
            "/v1/imports",
            data=csv,
            headers={**admin_headers, "Content-Type": "text/csv"},
            query_string={"org": "zj.nb", "dry_run": "true"},
        )
        waited = time.monotonic() - started
    assert_problem(response, 503)
    assert waited >= 4.5  # waited for the import's 5 s, not the 300 ms of other statements


# --- connection budget -----------------------------------------------------------------------


def test_connections_per_engine_matches_the_engines_pool(database_url):
    engine = make_engine(database_url, pool_size=3)
    try:
        assert connections_per_engine(3) == engine.pool.size() + engine.pool._max_overflow
    finally:
        engine.dispose()


@pytest.fixture()
def serve(monkeypatch, database_url):
    """Run `yizhan serve ARGS` with settings; returns (result, the argv it would exec or None)."""

    def run(*args: str, **settings):
        execs = []
        monkeypatch.setattr("service.ops.cli.os.execv", lambda path, argv: execs.append(argv))
        config = {"DATABASE_URL": database_url, **settings}
        runner = create_app(config).test_cli_runner()
        result = runner.invoke(
            main, ["serve", *args], obj=ScriptInfo(create_app=lambda: create_app(config))
        )
        return result, (execs[0] if execs else None)

    return run


@pytest.fixture(scope="module")
def available(database_url) -> int:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SHOW max_connections")
        total = int(cur.fetchone()[0])
        cur.execute("SHOW superuser_reserved_connections")
        return total - int(cur.fetchone()[0])


def test_serve_starts_when_the_pools_fit(serve, available):
    workers = available // connections_per_engine(5)
    result, argv = serve("--workers", str(workers), "--bind", "127.0.0.1", DB_POOL_SIZE=5)
    assert result.exit_code == 0, result.output
    assert argv is not None and f"--workers={workers}" in argv


def test_serve_refuses_pools_larger_than_max_connections(serve, available):
    workers = available // connections_per_engine(5) + 1
    result, argv = serve("--workers", str(workers), DB_POOL_SIZE=5)
    assert result.exit_code != 0
    assert argv is None
    needed = workers * connections_per_engine(5)
    assert f"may open {needed} connections" in result.output
    assert f"allows {available}" in result.output
    assert "Traceback" not in result.output


def test_a_replica_on_the_same_server_doubles_the_need(serve, available, database_url):
    workers = available // connections_per_engine(5)  # fits alone, not twice
    result, argv = serve("--workers", str(workers), DB_POOL_SIZE=5)
    assert result.exit_code == 0
    result, argv = serve(
        "--workers", str(workers), DB_POOL_SIZE=5, DATABASE_REPLICA_URL=database_url
    )
    assert result.exit_code != 0 and argv is None
    assert f"may open {2 * workers * connections_per_engine(5)} connections" in result.output


def test_a_replica_on_another_server_has_its_own_budget(database_url):
    url = database_url.replace("127.0.0.1", "localhost")
    needs = serving.connection_needs(
        {"DATABASE_URL": database_url, "DATABASE_REPLICA_URL": url, "DB_POOL_SIZE": 4}, 3
    )
    assert sorted(n for _, n in needs.values()) == [24, 24]


def test_serve_starts_when_the_database_cannot_be_asked(serve, caplog):
    result, argv = serve("--workers", "3", DATABASE_URL="postgresql://postgres@127.0.0.1:1/nothing")
    assert result.exit_code == 0, result.output
    assert argv is not None
    assert "could not check max_connections on 127.0.0.1:1" in caplog.text


# --- gunicorn ------------------------------------------------------------------------------------


def test_serve_runs_gunicorn_with_timeouts_and_request_limits(serve):
    result, argv = serve("--workers", "2", "--port", "8123", "--bind", "127.0.0.1")
    assert result.exit_code == 0, result.output
    options = dict(a[2:].split("=", 1) for a in argv[2:])
    assert argv[1] == "service.ops.wsgi:app"
    assert options["bind"] == "127.0.0.1:8123"
    assert options["workers"] == "2"
    assert options["worker-class"] == "service.ops.worker.ProblemSyncWorker"  # sync, problems
    # Workers stuck longer than an import's statements can run are killed and replaced.
    assert int(options["timeout"]) * 1000 > Config.IMPORT_STATEMENT_TIMEOUT_MS
    assert int(options["graceful-timeout"]) <= 30
    assert 1 <= int(options["keep-alive"]) <= 10
    assert int(options["limit-request-line"]) == serving.LIMIT_REQUEST_LINE <= 8190
    assert 20 <= int(options["limit-request-fields"]) <= 100
    assert int(options["limit-request-field_size"]) <= 8190
    assert int(options["max-requests"]) > 0


def post_chunked(client, path: str, body: bytes, headers: dict, query: dict):
    """POST `body` as a server sees a chunked upload: no Content-Length, input terminated."""
    environ = EnvironBuilder(
        path=path, method="POST", headers=headers, query_string=query, input_stream=io.BytesIO(body)
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    body, status, response_headers = run_wsgi_app(client.application, environ, buffered=True)
    return flask.Response(b"".join(body), status, response_headers)


def test_a_chunked_import_over_import_max_bytes_is_413_not_cut_short(client, app, conn, admin):
    """A body without Content-Length must not be read up to the limit and parsed truncated.

    The first IMPORT_MAX_BYTES of this file end exactly at a row's end: Werkzeug alone would
    hand the view that prefix, and the import would write 40 of its 41 rows.
    """
    tag = f"LIMC{uuid.uuid4().hex[:6]}"
    body, prefix = import_csv(41, tag), import_csv(40, tag)
    assert body.startswith(prefix)
    headers = {**admin, "Content-Type": "text/csv"}
    with setting(app, IMPORT_MAX_BYTES=len(prefix)):
        response = post_chunked(client, "/v1/imports", body, headers, {"org": "zj.nb"})
        assert_problem(response, 413)
        assert imported(conn, tag) == 0
        exact = post_chunked(client, "/v1/imports", prefix, headers, {"org": "zj.nb"})
        assert exact.status_code == 200, exact.get_json()
    assert imported(conn, tag) == 40


# --- the reference nginx in front ------------------------------------------------------------

NGINX = support.ROOT / "deploy" / "nginx.conf"


def nginx_blocks() -> tuple[str, str]:
    """(the server block without its locations, the /v1/imports location) of deploy/nginx.conf."""
    text = re.sub(r"#.*", "", NGINX.read_text())
    imports = re.search(r"location = /v1/imports \{(.*?)\}", text, re.DOTALL)
    assert imports, "deploy/nginx.conf has no `location = /v1/imports` block"
    return re.sub(r"location [^{]*\{.*?\}", "", text, flags=re.DOTALL), imports.group(1)


def directive(block: str, name: str) -> str:
    values = re.findall(rf"^\s*{name}\s+([^;]+);", block, re.MULTILINE)
    assert len(values) == 1, f"{name}: {values}"
    return values[0].strip()


def nginx_bytes(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    return int(value[:-1]) * units[value[-1].lower()] if value[-1].isalpha() else int(value)


def test_nginx_body_limits_match_the_apps():
    server, imports = nginx_blocks()
    assert nginx_bytes(directive(server, "client_max_body_size")) == Config.MAX_CONTENT_LENGTH
    assert nginx_bytes(directive(imports, "client_max_body_size")) == Config.IMPORT_MAX_BYTES
    # nginx must wait for an import at least as long as its statements may run.
    read = directive(imports, "proxy_read_timeout")
    assert int(read.removesuffix("s")) * 1000 > Config.IMPORT_STATEMENT_TIMEOUT_MS


def test_nginx_buffers_slow_clients_and_bounds_headers():
    server, _ = nginx_blocks()
    assert directive(server, "proxy_buffering") == "on"  # responses: a slow reader holds nginx
    assert directive(server, "proxy_request_buffering") == "on"  # bodies: read whole first
    for timeout in ("client_body_timeout", "client_header_timeout", "send_timeout"):
        assert int(directive(server, timeout).removesuffix("s")) <= 60
    number, size = directive(server, "large_client_header_buffers").split()
    assert nginx_bytes(size) <= serving.LIMIT_REQUEST_FIELD_SIZE + 2  # gunicorn's own limit
    # The client address: replaced, never appended to what the client sent.
    assert directive(server, "proxy_set_header X-Forwarded-For") == "$remote_addr"
