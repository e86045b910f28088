"""SQL statements and SQL time per request, measured in-process.

The Flask app runs in this process (Flask's test client: no HTTP server); SQLAlchemy's
before/after_cursor_execute events time every statement its engines send, and the pool's
ping (of a connection idle over 10 s, before use; it bypasses those events) is
counted too, and so is the rollback that resets a connection returned to the pool. No
pg_stat_statements: the shared server cannot be restarted to load it.
"""

import statistics
import time
from collections import Counter

import sqlalchemy as sa

from bench import inprocess
from bench.workload import yizhan_path


class SqlMeter:
    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.pings = 0
        self.ping_seconds = 0.0
        self.rollbacks = 0
        self.rollback_seconds = 0.0
        self.texts: Counter[str] = Counter()

    def attach(self, engine: sa.Engine) -> None:
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)
        dialect = engine.dialect
        ping, rollback = dialect.do_ping, dialect.do_rollback

        def counted_ping(dbapi_connection):
            t0 = time.perf_counter()
            try:
                return ping(dbapi_connection)
            finally:
                self.pings += 1
                self.ping_seconds += time.perf_counter() - t0

        def counted_rollback(dbapi_connection):
            t0 = time.perf_counter()
            try:
                return rollback(dbapi_connection)
            finally:
                self.rollbacks += 1
                self.rollback_seconds += time.perf_counter() - t0

        dialect.do_ping, dialect.do_rollback = counted_ping, counted_rollback

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench.t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.seconds += time.perf_counter() - conn.info.pop("bench.t0")
        self.count += 1
        self.texts[" ".join(statement.split())[:70]] += 1


def measure(url: str, sequences: dict[str, list[tuple]], n: int) -> dict[str, dict]:
    """Per kind, per request over its first n requests: statements, pre-pings and rollbacks
    and their ms, and the whole request's ms (mean and median)."""
    app = inprocess.app_for(url)
    meter = SqlMeter()
    for engine in inprocess.engines(app):
        meter.attach(engine)
    client = app.test_client()
    results = {}
    for kind, seq in sequences.items():
        paths = [yizhan_path(r) for r in seq[:n]]
        for path in paths[:20]:  # warm: connections, prepared statements, caches
            client.get(path)
        meter.count = meter.pings = meter.rollbacks = 0
        meter.seconds = meter.ping_seconds = meter.rollback_seconds = 0.0
        meter.texts.clear()
        times = []
        for path in paths:
            t0 = time.perf_counter()
            r = client.get(path)
            times.append(time.perf_counter() - t0)
            if r.status_code >= 400:
                raise RuntimeError(f"{path}: {r.status_code} {r.data[:300]!r}")
        k = len(paths)
        results[kind] = {
            "requests": k,
            "statements": meter.count / k,
            "pings": meter.pings / k,
            "sql_ms": meter.seconds * 1000 / k,
            "ping_ms": meter.ping_seconds * 1000 / k,
            "rollbacks": meter.rollbacks / k,
            "rollback_ms": meter.rollback_seconds * 1000 / k,
            "total_ms": sum(times) * 1000 / k,
            "median_ms": statistics.median(times) * 1000,
            "top": meter.texts.most_common(3),
        }
    inprocess.dispose(app)
    return results
