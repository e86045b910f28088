"""The console in a real browser (headless Debian chromium, playwright-core): a clerk logs in,
creates a station from a pair pasted from Amap (GCJ-02), sees a bad field's message, lists and
filters sites, logs out. tests/console/console_flow.mjs drives it; screenshots are kept in
web/test-artifacts/console/ (and copied to docs/console/ for the README)."""

import json
import os
import shutil
import subprocess
import uuid

import pytest
import requests
import sqlalchemy as sa

from service.access import accounts, users
from service.core.db import make_engine
from service.geo import datums
from tests import support
from tests.conftest import FROZEN_NOW

SCRIPT = support.ROOT / "tests" / "console" / "console_flow.mjs"
ARTIFACTS = support.ROOT / "web" / "test-artifacts" / "console"
PAIR = "121.549387,29.872213"  # Amap writes lon,lat; GCJ-02
PASSWORD = "控制台-浏览器-测试-2026"


@pytest.fixture(scope="module")
def seen(server, database_url):
    """Runs the browser once against the session app; the user it makes is removed after."""
    engine = make_engine(database_url, pool_size=1, statement_timeout_ms=0)
    name = f"browser-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        user_id = users.ensure_user(conn, "zj.nb", name, "editor")
        accounts.set_password(conn, user_id, PASSWORD, FROZEN_NOW)
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: run scripts/ensure-browser.sh (make test does)")
    try:
        result = subprocess.run(
            [node, str(SCRIPT), server, name, PASSWORD, PAIR, str(ARTIFACTS)],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
            check=False,
        )
        lines = result.stdout.strip().splitlines()
        assert lines, f"no output from {SCRIPT.name}\n{result.stderr[-3000:]}"
        out = json.loads(lines[-1])
        if result.returncode != 0:
            pytest.fail(json.dumps(out, ensure_ascii=False)[:4000])
        with engine.begin() as conn:
            out["stored"] = (
                conn.execute(
                    sa.text(
                        "SELECT ST_Y(geom) AS lat, ST_X(geom) AS lon, opening_hours, amenities, "
                        "(SELECT u.name FROM site_audit a JOIN users u ON u.id = a.user_id "
                        " WHERE a.site_id = s.id) AS author FROM sites s WHERE id = :id"
                    ),
                    {"id": out["siteId"]},
                )
                .one()
                ._asdict()
            )
        yield out
    finally:
        with engine.begin() as conn:
            ids = conn.scalars(sa.text("SELECT id FROM sites WHERE name = '浏览器新建驿站'")).all()
            for table in ("site_audit", "change_log"):
                conn.execute(
                    sa.text(f"DELETE FROM {table} WHERE site_id = ANY(:ids)"), {"ids": ids}
                )
            conn.execute(sa.text("DELETE FROM sites WHERE id = ANY(:ids)"), {"ids": ids})
            conn.execute(sa.text("DELETE FROM users WHERE name = :n"), {"n": name})
        engine.dispose()


def test_the_pages_load_clean(seen):
    assert seen["pageErrors"] == [] and seen["console"] == []
    # the wrong password and the refused form, nothing else
    assert seen["statuses"] == ["401 POST /admin/login", "422 POST /admin/sites/new"]
    assert seen["cspViolations"] == []
    assert seen["external"] == []  # nothing from another origin: htmx and MapLibre are ours


def test_login_is_required_and_a_wrong_password_is_told(seen):
    assert seen["redirectedTo"] == "/admin/login"
    assert "用户名或密码错误" in seen["wrongPassword"]
    assert "概览" in seen["dashboardTitle"]


def test_a_pasted_gcj02_pair_is_shown_moved_and_stored_in_wgs84(seen):
    lat, lon = datums.to_wgs84(29.872213, 121.549387, "gcj02")
    assert f"{lat:.7f}" in seen["converted"] and f"{lon:.7f}" in seen["converted"]
    assert (seen["pinLat"], seen["pinLon"]) == pytest.approx((lat, lon), abs=1e-7)
    stored = seen["stored"]
    assert (stored["lat"], stored["lon"]) == pytest.approx((lat, lon), abs=1e-7)
    assert stored["opening_hours"] == seen["generated"]
    assert stored["amenities"] == ["microwave"]
    assert stored["author"].startswith("browser-")  # the console user, in the API's audit


def test_a_bad_field_is_told_beside_it_and_nothing_typed_is_lost(seen):
    assert "第" in seen["hoursError"] and "例如" in seen["hoursError"]
    assert seen["keptName"] == "浏览器新建驿站" and seen["keptPair"] == PAIR
    assert seen["saved"] == "已保存"


def test_the_hours_editor_builds_the_string_and_previews_it(seen, server):
    assert seen["generated"] == "Mo-Fr 09:00-18:00; Sa 10:00-14:00; PH off"
    # from the frozen Monday 2026-11-30: a week as the API will answer it
    assert seen["previewRows"][0] == "11-30 周一 09:00-18:00"
    assert seen["previewRows"][5] == "12-05 周六 10:00-14:00"
    assert seen["previewRows"][6] == "12-06 周日 休息"
    site = requests.get(f"{server}/v1/sites/{seen['siteId']}", timeout=20).json()
    assert site["open_state"] == {
        "is_open": True,
        "next_change": "2026-11-30T18:00:00+08:00",
        "today": "09:00-18:00",
        "reason": None,
    }
    assert site["hours_text"] == "周一至周五 09:00-18:00；周六 10:00-14:00；法定节假日休息"


def test_the_list_finds_and_htmx_filters_it(seen):
    assert seen["listed"] is True
    assert seen["filteredByHtmx"] == "home"  # the URL follows the filter (hx-push-url)


def test_logout_ends_the_session(seen):
    assert seen["afterLogout"] == "/admin/login"
