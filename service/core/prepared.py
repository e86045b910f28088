"""Server-side prepared statements for the hot read paths.

Planning the nearby query cost PostgreSQL ~1.7 ms (PostGIS selectivity estimates
over several CTEs), about as much as running it. psycopg2 has no prepared
statements, so a Core statement is compiled once with `$n` placeholders and sent
as `PREPARE` the first time each pooled connection runs it; later calls are
`EXECUTE name(...)`. Results are plain DBAPI values (no SQLAlchemy result
processing), which is what the fast serialisers want.

Not for use behind a transaction-pooling PgBouncer (prepared statements live in
the server session).
"""

import hashlib
import itertools

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg2 as pg_psycopg2
from sqlalchemy.sql.sqltypes import NullType

_DIALECT = pg_psycopg2.dialect(paramstyle="numeric_dollar")
_counter = itertools.count(1)


class Prepared:
    """A Core statement compiled once, executed as a named prepared statement."""

    def __init__(self, stmt: sa.Executable) -> None:
        compiled = stmt.compile(dialect=_DIALECT)
        sql = str(compiled)
        self.names: list[str] = list(compiled.positiontup)
        self.defaults = {n: compiled.params.get(n) for n in self.names}
        types = [self._pg_type(compiled.binds[n].type) for n in self.names]
        digest = hashlib.sha1(sql.encode()).hexdigest()[:10]
        self.name = f"yz_{next(_counter)}_{digest}"
        self.prepare_sql = f"PREPARE {self.name} ({', '.join(types)}) AS {sql}"
        placeholders = ", ".join(["%s"] * len(self.names))
        self.execute_sql = (
            f"EXECUTE {self.name}({placeholders})" if self.names else (f"EXECUTE {self.name}")
        )

    @staticmethod
    def _pg_type(type_) -> str:
        if isinstance(type_, NullType):
            return "unknown"  # let PostgreSQL infer it from the context
        return type_.compile(dialect=_DIALECT)

    def all(self, conn: sa.Connection, params: dict) -> list[sa.Row]:
        prepared = conn.connection.info.setdefault("yizhan.prepared", set())
        if self.name not in prepared:
            conn.exec_driver_sql(self.prepare_sql.replace("%", "%%"))
            prepared.add(self.name)
        values = tuple(params[n] if n in params else self.defaults[n] for n in self.names)
        return conn.exec_driver_sql(self.execute_sql, values).all()
