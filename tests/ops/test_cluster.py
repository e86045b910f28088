"""`yizhan db cluster`: sites rewritten in spatial order, same rows, same indexes, vacuumed.

In a database of its own: CLUSTER rewrites the table and commits, which the shared test
database (one transaction per test, rolled back) must not see.
"""

import pytest
import sqlalchemy as sa
from flask.cli import ScriptInfo

from service import create_app
from service.core.db import make_engine
from service.core.settings import TestConfig
from service.ops.cli import main
from tests.conftest import IN_ORDER, synthetic_database

SIZE = 3000

ROWS = sa.text(
    "SELECT count(*), md5(string_agg(id || ':' || ST_AsText(geom) || ':' || version || ':' "
    "|| array_to_string(filter_keys, ','), ';' ORDER BY id)) FROM sites"
)
INDEXES = sa.text(
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'sites' ORDER BY indexname"
)


@pytest.fixture(scope="module")
def cluster_url():
    with synthetic_database("yizhan_test_cluster", SIZE, 11) as url:
        yield url


def test_cluster_orders_sites_spatially_and_keeps_everything_else(cluster_url):
    engine = make_engine(cluster_url, pool_size=1, statement_timeout_ms=0)
    try:
        with engine.connect() as conn:
            before = conn.execute(ROWS).one(), conn.execute(INDEXES).all()
            assert conn.scalar(IN_ORDER) < 0.7  # loaded in no spatial order
        config = type("ClusterConfig", (TestConfig,), {"DATABASE_URL": cluster_url})
        app = create_app(config)
        result = app.test_cli_runner().invoke(
            main, ["db", "cluster"], obj=ScriptInfo(create_app=lambda: app)
        )
        assert result.exit_code == 0, result.output
        assert f"sites clustered in spatial order: {SIZE + 227}" in result.output
        with app.extensions["yizhan.db"]["primary"].connect() as pooled:  # the one it used
            assert pooled.scalar(sa.text("SHOW maintenance_work_mem")) != "1GB"
            assert pooled.scalar(sa.text("SHOW statement_timeout")) != "0"
        for app_engine in set(app.extensions["yizhan.db"].values()) - {None}:
            app_engine.dispose()
        with engine.connect() as conn:
            assert conn.scalar(IN_ORDER) == 1
            assert (conn.execute(ROWS).one(), conn.execute(INDEXES).all()) == before
            vacuumed = conn.execute(
                sa.text(
                    "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL "
                    "FROM pg_stat_user_tables WHERE relname = 'sites'"
                )
            ).one()
            assert tuple(vacuumed) == (True, True)
    finally:
        engine.dispose()
