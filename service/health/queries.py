"""What readiness asks the database: the schema's migration version."""

import sqlalchemy as sa


def migration_version(conn: sa.Connection) -> str | None:
    """The applied Alembic revision, or None before the first migration."""
    if not conn.scalar(sa.text("SELECT to_regclass('alembic_version') IS NOT NULL")):
        return None
    return conn.scalar(sa.text("SELECT max(version_num) FROM alembic_version"))
