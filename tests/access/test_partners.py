"""Partner keys, quotas (memory and Redis), trusted proxies and CORS."""

import os
import subprocess
import sys
import uuid
import weakref
from contextlib import closing

import psycopg2
import pytest
import redis
import sqlalchemy as sa

from service import create_app
from service.access import partners
from service.core.db import db, make_engine
from service.core.settings import TestConfig
from tests.conftest import FROZEN_NOW

NEARBY = "/v1/sites/nearby?lat=30.0176&lon=122.1069"
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture()
def make_app(app, conn):
    """A second app on the test database and transaction, with some settings changed."""
    made = []

    def make(**settings):
        other = create_app(
            type("Cfg", (TestConfig,), {"DATABASE_URL": app.config["DATABASE_URL"], **settings})
        )
        db.bind(other, conn)
        made.append(other)
        return other.test_client()

    yield make
    for other in made:
        other.extensions["yizhan.db"]["primary"].dispose()


def key(conn, per_minute=1000) -> tuple[int, str]:
    return partners.create(conn, f"map-app-{uuid.uuid4().hex[:6]}", per_minute)


def test_a_partner_key_is_counted_per_day(client, conn):
    key_id, token = key(conn)
    for _ in range(3):
        r = client.get(NEARBY, headers={"X-API-Key": token})
        assert r.status_code == 200
    requests = conn.scalar(
        sa.text("SELECT requests FROM partner_key_usage WHERE key_id = :k"), {"k": key_id}
    )
    assert requests == 3


@pytest.mark.parametrize("bad", ["yzk_nope", "", "  "])
def test_unknown_keys_are_401(client, bad):
    r = client.get(NEARBY, headers={"X-API-Key": bad})
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/problem+json"


def test_a_revoked_key_is_401(client, conn):
    key_id, token = key(conn)
    assert client.get(NEARBY, headers={"X-API-Key": token}).status_code == 200
    partners.revoke(conn, key_id, FROZEN_NOW)
    assert client.get(NEARBY, headers={"X-API-Key": token}).status_code == 401


def test_key_quota_answers_429_with_retry_after(client, conn):
    _, token = key(conn, per_minute=3)
    codes = [client.get(NEARBY, headers={"X-API-Key": token}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get(NEARBY, headers={"X-API-Key": token})
    assert r.headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.headers["Access-Control-Allow-Origin"] == "*"  # a browser can read the 429


def test_anonymous_quota_is_per_client_address(make_app):
    client = make_app(ANON_PER_MINUTE=2)
    a = {"REMOTE_ADDR": "203.0.113.1"}
    codes = [client.get(NEARBY, environ_base=a).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client.get(NEARBY, environ_base={"REMOTE_ADDR": "203.0.113.2"}).status_code == 200
    assert client.get("/healthz", environ_base=a).status_code == 200  # probes are not limited


def test_x_forwarded_for_counts_only_through_trusted_proxies(make_app):
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    untrusting = make_app(ANON_PER_MINUTE=1)
    spoofed = [
        untrusting.get(NEARBY, environ_base=proxy, headers={"X-Forwarded-For": f"198.51.100.{i}"})
        for i in (1, 2)
    ]
    assert [r.status_code for r in spoofed] == [200, 429]  # the header is ignored
    trusting = make_app(ANON_PER_MINUTE=1, TRUSTED_PROXIES=1)
    forwarded = [
        trusting.get(
            NEARBY, environ_base=proxy, headers={"X-Forwarded-For": f"evil, 198.51.100.{i}"}
        )
        for i in (1, 2, 1)
    ]
    # Two real clients behind one proxy; the left-most (client-written) entry is not trusted.
    assert [r.status_code for r in forwarded] == [200, 200, 429]


def test_partner_keys_are_not_admin_credentials(client, conn):
    _, token = key(conn)
    body = {"kind": "station", "name": "x", "location": {"lat": 30, "lon": 120}}
    assert client.post("/v1/sites", json=body, headers={"X-API-Key": token}).status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.post("/v1/sites", json=body, headers=bearer).status_code == 401


def test_cors_on_public_reads_only(client, bearer):
    public = client.get(NEARBY, headers={"Origin": "https://map.example"})
    assert public.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in public.headers
    admin = client.get(
        "/v1/orgs", headers={**bearer("zj", "viewer"), "Origin": "https://x.example"}
    )
    assert admin.status_code == 200 and "Access-Control-Allow-Origin" not in admin.headers


@pytest.mark.parametrize(
    "path, method, allowed",
    [
        ("/v1/sites/nearby", "GET", True),
        ("/v1/sites", "GET", True),
        ("/v1/sites/1/reports", "POST", True),
        ("/v1/sites", "POST", False),
        ("/v1/sites/1", "PATCH", False),
        ("/v1/imports", "POST", False),
        ("/v1/reports", "GET", False),
    ],
)
def test_preflight(client, path, method, allowed):
    r = client.options(
        path,
        headers={
            "Origin": "https://map.example",
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert r.status_code == 204
    assert ("Access-Control-Allow-Origin" in r.headers) is allowed
    if allowed:
        assert "X-API-Key" in r.headers["Access-Control-Allow-Headers"]


def test_redis_counters_are_shared_between_instances(make_app):
    address = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    first = make_app(ANON_PER_MINUTE=2, REDIS_URL=REDIS)
    second = make_app(ANON_PER_MINUTE=2, REDIS_URL=REDIS)
    env = {"REMOTE_ADDR": address}
    codes = [
        first.get(NEARBY, environ_base=env).status_code,
        second.get(NEARBY, environ_base=env).status_code,
        first.get(NEARBY, environ_base=env).status_code,
    ]
    assert codes == [200, 200, 429]
    client = redis.Redis.from_url(REDIS)
    keys = client.keys(f"yizhan:rl:anon:{address}:*")
    assert keys and int(client.get(keys[0])) == 3
    client.delete(*keys)


def test_an_unreachable_redis_does_not_take_reads_down(make_app):
    client = make_app(ANON_PER_MINUTE=1, REDIS_URL="redis://127.0.0.1:1/0")
    assert [client.get(NEARBY).status_code for _ in range(3)] == [200, 200, 200]


@pytest.fixture()
def committed_key(database_url):
    """A partner key the server's own connections see (committed), deleted afterwards."""
    engine = make_engine(database_url, pool_size=1, statement_timeout_ms=0)
    with engine.begin() as conn:
        key_id, token = key(conn)
    try:
        yield key_id, token
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM partner_key_usage WHERE key_id = :k"), {"k": key_id})
            conn.execute(sa.text("DELETE FROM partner_keys WHERE id = :k"), {"k": key_id})
        engine.dispose()


def usage_of(database_url, key_id) -> int | None:
    with closing(psycopg2.connect(database_url)) as reader, reader.cursor() as cur:
        cur.execute("SELECT sum(requests) FROM partner_key_usage WHERE key_id = %s", (key_id,))
        return cur.fetchone()[0]


def test_counts_the_database_does_not_take_are_kept_for_the_next_flush(database_url, committed_key):
    key_id, token = committed_key
    app = create_app(
        type(
            "Cfg",
            (TestConfig,),
            {
                "DATABASE_URL": database_url,
                "USAGE_FLUSH_SECONDS": 0,
                "DB_STATEMENT_TIMEOUT_MS": 300,
            },
        )
    )
    client, headers = app.test_client(), {"X-API-Key": token}
    try:
        assert client.get(NEARBY, headers=headers).status_code == 200
        assert usage_of(database_url, key_id) == 1
        holder = psycopg2.connect(database_url)  # writes to the usage table wait, then time out
        try:
            with holder.cursor() as cur:
                cur.execute("LOCK TABLE partner_key_usage IN EXCLUSIVE MODE")
            # The reads are served; their counts wait in the worker.
            assert [client.get(NEARBY, headers=headers).status_code for _ in range(2)] == [200] * 2
            assert app.extensions["yizhan.usage"].pending
        finally:
            holder.rollback()
            holder.close()
        assert client.get(NEARBY, headers=headers).status_code == 200
        assert usage_of(database_url, key_id) == 4  # none lost
        assert not app.extensions["yizhan.usage"].pending
    finally:
        app.extensions["yizhan.db"]["primary"].dispose()


def test_a_worker_flushes_its_counts_when_it_exits(make_app, conn):
    key_id, token = key(conn)
    client = make_app(USAGE_FLUSH_SECONDS=3600)
    for _ in range(3):
        assert client.get(NEARBY, headers={"X-API-Key": token}).status_code == 200
    usage = sa.text("SELECT requests FROM partner_key_usage WHERE key_id = :k")
    assert conn.scalar(usage, {"k": key_id}) is None  # not due yet
    partners._flush_at_exit(weakref.ref(client.application))  # what atexit calls
    assert conn.scalar(usage, {"k": key_id}) == 3


def test_a_process_that_exits_writes_the_counts_it_held(database_url, committed_key):
    """The atexit hook itself: a process serves two keyed reads, then ends normally."""
    key_id, token = committed_key
    code = (
        "from service import create_app\n"
        "client = create_app().test_client()\n"
        f"headers = {{'X-API-Key': {token!r}}}\n"
        "for _ in range(2):\n"
        f"    assert client.get({NEARBY!r}, headers=headers).status_code == 200\n"
    )
    env = {**os.environ, "DATABASE_URL": database_url, "USAGE_FLUSH_SECONDS": "3600"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert usage_of(database_url, key_id) == 2


def test_a_batch_the_database_can_never_take_is_dropped_not_retried(make_app, conn, caplog):
    """Another error than an unavailable database (here a key that does not exist, a foreign
    key violation) is logged and its counts dropped: retrying it would fail every flush."""
    client = make_app(USAGE_FLUSH_SECONDS=0)
    usage = client.application.extensions["yizhan.usage"]
    with client.application.test_request_context():
        usage.count(2**31 - 1)  # no such key
    assert not usage.pending
    assert "partner usage dropped: 1 keys" in caplog.text
    key_id, token = key(conn)  # the next flush is not held up by it
    assert client.get(NEARBY, headers={"X-API-Key": token}).status_code == 200
    requests = sa.text("SELECT requests FROM partner_key_usage WHERE key_id = :k")
    assert conn.scalar(requests, {"k": key_id}) == 1
