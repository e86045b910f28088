"""Reads on the replica, writes and read-after-write views on the primary.

Two layers. The routing tests give the app a replica engine of its own (to the same database)
and count connection checkouts per engine: public reads must take only the replica, admin
views, the change feed and the CLI listings only the primary. The proof test runs
scripts/replica_proof.py, which builds a real PostgreSQL 15 streaming replica and two app
instances and shows the same through HTTP with replay paused (docs/scaling.md).
"""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.cli import ScriptInfo

from service import create_app
from service.access import tokens, users
from service.core.settings import TestConfig
from service.ops import seeding
from service.ops.cli import main
from tests import support
from tests.conftest import FROZEN_NOW, HORIZON_DAYS, throwaway_database

ROOT = support.ROOT


@pytest.fixture(scope="module")
def routed():
    """An app whose replica is a separate engine; `checkouts` counts connections per engine."""
    facts = {}

    def load(conn):
        seeding.load_demo(conn, FROZEN_NOW, HORIZON_DAYS)
        user_id = users.ensure_user(conn, "zj", "routing-admin", "admin")
        facts["token"] = tokens.create_token(conn, user_id, FROZEN_NOW)[1]
        facts["site"] = conn.scalar(sa.text("SELECT min(id) FROM sites"))

    with throwaway_database("yizhan_test_routing", load) as url:
        config = type(
            "RoutedConfig",
            (TestConfig,),
            {
                "DATABASE_URL": url,
                "DATABASE_REPLICA_URL": url,
                "NOW": lambda: FROZEN_NOW,
                "HOURS_HORIZON_DAYS": HORIZON_DAYS,
            },
        )
        app = create_app(config)
        engines = app.extensions["yizhan.db"]
        assert engines["replica"] is not engines["primary"]
        checkouts = {"primary": 0, "replica": 0}
        for role in checkouts:

            def count(*_, role=role):
                checkouts[role] += 1

            sa.event.listen(engines[role], "checkout", count)
        try:
            yield app, checkouts, facts
        finally:
            for role in checkouts:
                engines[role].dispose()


def _run(routed, path: str, admin: bool) -> tuple[int, dict]:
    app, checkouts, facts = routed
    for role in checkouts:
        checkouts[role] = 0
    headers = {"Authorization": f"Bearer {facts['token']}"} if admin else {}
    status = app.test_client().get(path.format(site=facts["site"]), headers=headers).status_code
    return status, dict(checkouts)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/sites/nearby?lat=30.0176&lon=122.1069&open_now=true",
        "/v1/sites?bbox=121,29,123,31&amenities=wifi",
        "/v1/sites?q=东门",
        "/v1/sites/{site}",
        "/v1/sites/{site}/hours",
        "/v1/tiles/14/13749/6759.mvt",
        "/v1/amenities",
        "/ogc/collections/sites/items?limit=2",
        "/ogc/collections/sites/items/{site}",
        "/readyz",
    ],
)
def test_public_reads_take_the_replica_only(routed, path):
    status, used = _run(routed, path, admin=False)
    assert status in (200, 204)
    assert used["replica"] >= 1 and used["primary"] == 0, used


@pytest.mark.parametrize(
    "path",
    [
        # an admin sends back the ETag it read as If-Match: it must not lag its own write
        "/v1/sites/{site}",
        "/v1/sites/{site}/history",
        "/v1/orgs",
        "/v1/reports",
    ],
)
def test_admin_reads_take_the_primary_only(routed, path):
    status, used = _run(routed, path, admin=True)
    assert status == 200
    assert used["primary"] >= 1 and used["replica"] == 0, used


def test_change_feed_takes_the_primary_only(routed):
    # A replica's snapshot boundary (pg_snapshot_xmin) is not the primary's.
    status, used = _run(routed, "/v1/changes?limit=5", admin=False)
    assert status == 200
    assert used["primary"] >= 1 and used["replica"] == 0, used


@pytest.mark.parametrize("command", [("tokens", "list"), ("keys", "list")])
def test_cli_listings_take_the_primary_only(routed, command):
    app, checkouts, _ = routed
    for role in checkouts:
        checkouts[role] = 0
    result = app.test_cli_runner().invoke(
        main, list(command), obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 0, result.output
    assert checkouts["primary"] >= 1 and checkouts["replica"] == 0, checkouts


def test_real_streaming_replica_proof(tmp_path):
    """scripts/replica_proof.py on a real PostgreSQL 15 primary and hot standby."""
    report_file = tmp_path / "proof.json"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, ROOT / "scripts" / "replica_proof.py", "--json", report_file],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=200,
    )
    seconds = time.monotonic() - started
    assert report_file.exists(), done.stderr[-3000:]
    report = json.loads(report_file.read_text())
    failed = [c for c in report["checks"] if not c["ok"]]
    # Each failed check in full: pytest shortens a long repr in the assertion message.
    why = "\n".join(f"{c['name']}: {c['detail']}" for c in failed)
    assert done.returncode == 0 and report["ok"] and not failed, why + "\n" + done.stderr[-3000:]
    names = {c["name"] for c in report["checks"]}
    for expected in (
        "standby streams from the primary",
        "(a) public reads run on the standby (pg_stat_database)",
        "(a) public reads do not see the site while replay is paused",
        "(a) after resume the site appears through both instances",
        "(b) the write went to the primary",
        "(b) the standby refuses writes",
        "(c) admin GET of the site reads the primary (current ETag)",
        "(c) admin history reads the primary",
        "(c) the change feed reads the primary",
        "(c) a new org is listed at once",
        "(c) a rider report is visible to the admin at once",
        "(c) token checks read the primary",
    ):
        assert expected in names
    reads = report["measurements"]["public_reads"]
    # One autocommit statement per read, none when a per-process cache answers it.
    assert reads["standby_transactions"] >= reads["requests"] * 3 // 4
    assert reads["primary_transactions"] < reads["requests"] // 4
    assert set(report["measurements"]["resume_to_visible_ms"]) == {"app1", "app2"}
    lag = report["measurements"]["write_to_public_read_ms"]
    assert lag["seen"] == lag["writes"] and lag["max"] < 5000
    # Every server stopped and its directory removed.
    assert not Path(report["measurements"]["workdir"]).exists()
    for port in report["measurements"]["ports"]:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
    print(f"replica proof: {seconds:.1f} s")
