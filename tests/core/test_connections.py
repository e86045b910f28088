"""Pooled connections: one round trip per public read, and lost connections replaced.

A public read runs in autocommit (no BEGIN before it, no ROLLBACK after it) and a busy
connection is not pinged before use; an idle one is, so a connection the server dropped
while it sat in the pool never reaches a request. These tests use the app's real engines
(not the rolled-back test connection) on the session's committed demo data.
"""

import socket
import time

import psycopg2
import pytest
import sqlalchemy as sa

from service.core import db as database
from service.core.db import db
from tests.conftest import db_engine

NEARBY = "/v1/sites/nearby?lat=30.0176&lon=122.1069&radius=5000"


def backend_pid(app) -> int:
    with app.app_context(), db.reading() as conn:
        return conn.scalar(sa.text("SELECT pg_backend_pid()"))


def terminate(app, pid: int) -> None:
    """End that backend from a connection of its own (not from the app's pool)."""
    args = db_engine(app).url.translate_connect_args(username="user", database="dbname")
    admin = psycopg2.connect(**args)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert cur.fetchone()[0]
            deadline = time.monotonic() + 5
            while True:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
                if not cur.fetchone()[0]:
                    return
                assert time.monotonic() < deadline, "the backend did not go away"
                time.sleep(0.02)
    finally:
        admin.close()


@pytest.fixture()
def one_connection(app):
    """The engine's pool holds one idle connection; it is emptied again afterwards."""
    engine = db_engine(app)
    engine.dispose()
    yield engine
    engine.dispose()


def test_a_read_is_autocommit_and_leaves_the_connection_transactional(app, one_connection):
    with app.app_context():
        with db.reading() as conn:
            first = conn.scalar(sa.text("SELECT transaction_timestamp() = statement_timestamp()"))
            conn.execute(sa.text("SELECT pg_sleep(0.01)"))
            # In a transaction block the second statement would start after the transaction.
            second = conn.scalar(sa.text("SELECT transaction_timestamp() = statement_timestamp()"))
            assert first and second
        with db.writing() as conn:  # the same pooled connection, back in transactional mode
            conn.execute(sa.text("SELECT pg_sleep(0.01)"))
            assert not conn.scalar(
                sa.text("SELECT transaction_timestamp() = statement_timestamp()")
            )
    assert one_connection.pool.checkedin() == 1


def test_a_connection_dropped_while_idle_is_replaced_before_use(app, one_connection):
    client = app.test_client()
    pid = backend_pid(app)
    terminate(app, pid)
    (record,) = list(one_connection.pool._pool.queue)  # the idle _ConnectionRecord
    record.info["yizhan.idle_since"] -= database.PING_AFTER_IDLE_S + 1  # it sat idle
    r = client.get(NEARBY)
    assert r.status_code == 200, r.get_json()
    assert backend_pid(app) != pid


def test_a_busy_connection_is_not_pinged_and_a_lost_one_costs_one_503(app, one_connection):
    """Without the idle ping a dropped connection fails the one request that holds it;
    that invalidates the pool, so the next request reconnects."""
    client = app.test_client()
    terminate(app, backend_pid(app))
    r = client.get(NEARBY)
    assert r.status_code == 503 and r.mimetype == "application/problem+json"
    assert "Retry-After" in r.headers
    assert client.get(NEARBY).status_code == 200


def test_a_silent_database_host_is_noticed_by_tcp_keepalives(app):
    """The options are on the socket itself (read back with getsockopt): libpq sets them on
    TCP connections, and a database host that went dark mid-statement costs a request ~11 s,
    not the kernel's default keepalive time (2 h 11 min)."""
    engine = db_engine(app)
    assert engine.url.host and not engine.url.host.startswith("/")  # TCP: keepalives apply
    with engine.connect() as conn:
        raw = socket.socket(fileno=conn.connection.dbapi_connection.fileno())
        try:
            options = {
                "keepalive": raw.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                "idle": raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                "interval": raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                "count": raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                "user_timeout_ms": raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
            }
        finally:
            raw.detach()  # the socket stays libpq's
    assert options == {
        "keepalive": 1,
        "idle": database.KEEPALIVE_IDLE_S,
        "interval": database.KEEPALIVE_INTERVAL_S,
        "count": database.KEEPALIVE_COUNT,
        "user_timeout_ms": 0,  # not set: it would also end a COPY held up by a lock
    }
    noticed_after = database.KEEPALIVE_IDLE_S + database.KEEPALIVE_COUNT * (
        database.KEEPALIVE_INTERVAL_S
    )
    assert noticed_after <= 15  # seconds: well within gunicorn's 150 s worker timeout
