"""How `yizhan serve` runs gunicorn, and the connection budget it checks before starting.

Each sync worker serves one request at a time and holds its own SQLAlchemy pools (one for
the primary, one for the replica when DATABASE_REPLICA_URL is set), each of up to
`connections_per_engine(DB_POOL_SIZE)` connections. `workers` times that must fit in what
the database server allows non-superusers, or bursts end in "too many clients" errors.
"""

import logging
import os
from dataclasses import dataclass

import sqlalchemy as sa

from service.core.db import connections_per_engine, sqlalchemy_url

logger = logging.getLogger(__name__)

# Seconds. A 100,000-row import takes ~20 s and its statements stop at
# IMPORT_STATEMENT_TIMEOUT_MS (120 s), so a worker silent for longer than TIMEOUT is stuck.
TIMEOUT = 150
GRACEFUL_TIMEOUT = 20
KEEP_ALIVE = 5
# Request line and headers: gunicorn answers 400 beyond these, before the app sees anything.
# A request line holds the longest legal URL (q, cursor and filters) with room to spare.
LIMIT_REQUEST_LINE = 4094
LIMIT_REQUEST_FIELDS = 50
LIMIT_REQUEST_FIELD_SIZE = 8190


def default_workers() -> int:
    return 2 * (os.cpu_count() or 1) + 1


def gunicorn_args(gunicorn: str, workers: int, host: str, port: int) -> list[str]:
    """The gunicorn command line `yizhan serve` execs."""
    return [
        gunicorn,
        "service.ops.wsgi:app",
        f"--bind={host}:{port}",
        f"--workers={workers}",
        "--worker-class=service.ops.worker.ProblemSyncWorker",  # sync; refusals as problems
        f"--timeout={TIMEOUT}",
        f"--graceful-timeout={GRACEFUL_TIMEOUT}",
        f"--keep-alive={KEEP_ALIVE}",
        f"--limit-request-line={LIMIT_REQUEST_LINE}",
        f"--limit-request-fields={LIMIT_REQUEST_FIELDS}",
        f"--limit-request-field_size={LIMIT_REQUEST_FIELD_SIZE}",
        "--max-requests=20000",
        "--max-requests-jitter=2000",
        "--access-logfile=-",
        "--logger-class=service.ops.accesslog.RedactingLogger",  # no credential in a log line
    ]


@dataclass(frozen=True)
class Budget:
    server: str  # host:port
    needed: int  # connections all workers may open at once
    available: int | None  # max_connections minus reserved slots; None: not reachable

    @property
    def fits(self) -> bool:
        return self.available is None or self.needed <= self.available


def connection_needs(cfg, workers: int) -> dict[str, tuple[str, int]]:
    """Per database server (host:port): (a URL to ask it, connections the workers may open).

    A replica on the same server as the primary adds its pools to the same budget.
    """
    per_worker = connections_per_engine(cfg["DB_POOL_SIZE"])
    needs: dict[str, tuple[str, int]] = {}
    for url in (cfg["DATABASE_URL"], cfg.get("DATABASE_REPLICA_URL")):
        if not url:
            continue
        parsed = sa.engine.make_url(sqlalchemy_url(url))
        server = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
        ask, before = needs.get(server, (url, 0))
        needs[server] = (ask, before + workers * per_worker)
    return needs


def available_connections(url: str) -> int:
    """max_connections minus the slots reserved for superusers (and, on PostgreSQL 16+,
    for roles with pg_use_reserved_connections)."""
    engine = sa.create_engine(
        sqlalchemy_url(url), poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5}
    )
    try:
        with engine.connect() as conn:
            return conn.scalar(
                sa.text(
                    "SELECT current_setting('max_connections')::int"
                    " - current_setting('superuser_reserved_connections')::int"
                    " - coalesce(current_setting('reserved_connections', true), '0')::int"
                )
            )
    finally:
        engine.dispose()


def connection_budgets(cfg, workers: int) -> list[Budget]:
    budgets = []
    for server, (url, needed) in connection_needs(cfg, workers).items():
        try:
            available = available_connections(url)
        except sa.exc.DBAPIError as exc:
            logger.warning(
                "could not check max_connections on %s (%s); starting anyway",
                server,
                exc.__class__.__name__,
            )
            available = None
        budgets.append(Budget(server, needed, available))
    return budgets
