"""Alembic environment: migrations run online against DATABASE_URL (or the URL given)."""

import sqlalchemy as sa
from alembic import context

from service.core.db import sqlalchemy_url

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `yizhan db upgrade`.")
run_migrations_online()
