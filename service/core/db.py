"""The database: engines for the primary and a replica, and connections handed to views."""

import functools
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask, current_app

logger = logging.getLogger(__name__)


def sqlalchemy_url(url: str) -> str:
    """libpq-style URLs (postgresql://, postgres://) on the psycopg2 driver.

    SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; this stack uses psycopg2.
    """
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme) :]
    return url


def connections_per_engine(pool_size: int) -> int:
    """Connections one engine may hold at once: its pool and as many overflow connections
    (`yizhan serve` checks workers x this against the server's max_connections)."""
    return 2 * pool_size


CONNECT_TIMEOUT_S = 3  # libpq's connect_timeout: healthy local connections take milliseconds
# A pooled connection idle longer than this is pinged before use (a firewall or a database
# restart may have dropped it). Busy connections are not: SQLAlchemy's `pool_pre_ping`
# pings on every checkout, a round trip that cost more than the nearby query's Python
# work. A connection lost while busy fails one statement (a 503), which invalidates the
# worker's whole pool, so the next request reconnects.
PING_AFTER_IDLE_S = 10.0
# A database host that goes dark while a statement runs (a network fault, a failover whose
# old primary vanished) sends no FIN, and the query it was sent is already acknowledged:
# libpq would wait on the socket for as long as the kernel's default keepalive takes to give
# up (2 h 11 min), and the worker would hang until gunicorn's 150 s timeout. TCP keepalives
# on libpq's side notice a silent peer after KEEPALIVE_IDLE_S + KEEPALIVE_COUNT x
# KEEPALIVE_INTERVAL_S (11 s): the statement fails, the request is a 503 and the pool
# reconnects. A live server's kernel answers the probes, so long statements (imports, up
# to 120 s) are not cut short, and a live server answers a read within
# DB_STATEMENT_TIMEOUT_MS (5 s). Not TCP_USER_TIMEOUT: it would also end a COPY into a
# backend that stops reading for that long (waiting on a lock), which is not a dead host.
KEEPALIVE_IDLE_S = 5
KEEPALIVE_INTERVAL_S = 2
KEEPALIVE_COUNT = 3


def make_engine(url: str, pool_size: int = 5, statement_timeout_ms: int = 5000) -> sa.Engine:
    """An engine whose connections suit this workload on a small machine.

    Parallel plans made PostGIS queries many times slower on 2 cores, and a
    runaway statement must not hold a worker: both are set per connection.
    """
    # JIT compilation added 10-30 ms to large tile queries that run in 35 ms without it.
    options = " ".join(
        [
            "-c max_parallel_workers_per_gather=0",
            "-c jit=off",
            f"-c statement_timeout={statement_timeout_ms}",
        ]
    )
    engine = sa.create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=connections_per_engine(pool_size) - pool_size,
        pool_recycle=1800,
        # Without a connect timeout libpq waits for ever on a database host that went silent
        # (network fault), and so would every sync worker: this makes it a quick 503.
        connect_args={
            "options": options,
            "application_name": "yizhan",
            "connect_timeout": CONNECT_TIMEOUT_S,
            "keepalives": 1,
            "keepalives_idle": KEEPALIVE_IDLE_S,
            "keepalives_interval": KEEPALIVE_INTERVAL_S,
            "keepalives_count": KEEPALIVE_COUNT,
        },
    )
    sa.event.listen(engine.pool, "checkin", _note_checkin)
    sa.event.listen(engine.pool, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


def _note_checkin(dbapi_connection, record) -> None:
    if record is not None:
        record.info["yizhan.idle_since"] = time.monotonic()


def _ping_if_idle(dialect, dbapi_connection, record, proxy) -> None:
    idle_since = record.info.get("yizhan.idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return
    try:
        dialect.do_ping(dbapi_connection)  # SQLAlchemy's own ping (SELECT 1)
        dialect.do_rollback(dbapi_connection)  # end the transaction the ping opened
    except Exception as exc:
        # The pool discards this connection and checks out (or opens) another.
        raise sa.exc.DisconnectionError() from exc


class Database:
    """Engines for the primary and (optionally) a read replica.

    Views never touch engines directly: `reading()` and `writing()` hand out a
    connection. Tests can `bind()` one external connection so every request
    runs inside the test's transaction and is rolled back afterwards.
    """

    def init_app(self, app: Flask) -> None:
        cfg = app.config
        primary = make_engine(
            cfg["DATABASE_URL"], cfg["DB_POOL_SIZE"], cfg["DB_STATEMENT_TIMEOUT_MS"]
        )
        replica = primary
        if cfg.get("DATABASE_REPLICA_URL"):
            replica = make_engine(
                cfg["DATABASE_REPLICA_URL"], cfg["DB_POOL_SIZE"], cfg["DB_STATEMENT_TIMEOUT_MS"]
            )
        app.extensions["yizhan.db"] = {"primary": primary, "replica": replica, "bound": None}

    @staticmethod
    def engine(role: str = "primary") -> sa.Engine:
        return current_app.extensions["yizhan.db"][role]

    @staticmethod
    def bind(app: Flask, connection: sa.Connection | None) -> None:
        app.extensions["yizhan.db"]["bound"] = connection

    @staticmethod
    def _bound_connection() -> sa.Connection | None:
        return current_app.extensions["yizhan.db"]["bound"]

    @contextmanager
    def reading(self, primary: bool = False) -> Iterator[sa.Connection]:
        """A connection for read-only queries: the replica when configured.

        `primary=True` for reads that must see writes at once (admin views, which an
        admin reads right after a change; a replica lags by some milliseconds).
        """
        bound = self._bound_connection()
        if bound is not None:
            with bound.begin_nested():  # a failing statement must not poison the test
                yield bound
            return
        engine = self.engine("primary" if primary else "replica")
        with engine.connect() as conn:
            # Autocommit: no BEGIN before the first statement and no ROLLBACK when the
            # connection goes back to the pool (two round trips per request); each statement
            # still sees its own snapshot, as under READ COMMITTED. Set on the driver, not with
            # SQLAlchemy's isolation_level option, whose reset sends a SET on every checkin.
            driver = conn.connection.dbapi_connection
            driver.autocommit = True
            try:
                yield conn
            finally:
                try:
                    driver.autocommit = False
                except Exception:  # broken: it must not go back to the pool in autocommit
                    conn.invalidate()

    @contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """A connection in a transaction on the primary, committed on success."""
        bound = self._bound_connection()
        if bound is not None:
            with bound.begin_nested():
                yield bound
            return
        with self.engine("primary").begin() as conn:
            yield conn


db = Database()


def statement_timeout(conn: sa.Connection, ms: int) -> None:
    """Let this transaction's statements run `ms` milliseconds (0: no limit), not the
    per-request limit of reads: for imports and bulk commands."""
    conn.execute(sa.text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(ms)})
