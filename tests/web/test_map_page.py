"""The built-in map page at `/`: its headers and assets, then the page itself in a browser.

The browser part serves the session app (its demo data is committed) over HTTP on
127.0.0.1 from a background thread and drives Debian's chromium with playwright-core
(tests/web/map_page.mjs, once per module); the tests below assert on what it saw. `make test`
installs both (scripts/ensure-browser.sh). The screenshots stay in web/test-artifacts/.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from service.web import routes
from tests import support

ROOT = support.ROOT
SCRIPT = ROOT / "tests" / "web" / "map_page.mjs"
ARTIFACTS = ROOT / "web" / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
PLAYWRIGHT = ROOT / "web" / "node_modules" / "playwright-core"
TIMEOUT = 120  # seconds for the whole browser run; it takes ~10 s
STATION_NAME = "定海区东门劳动者驿站"
STATION_RGB = (0xE8, 0x59, 0x0C)  # the station colour in map.js, drawn fully opaque when open
BACKGROUND_RGB = (0xE9, 0xEE, 0xF2)


# --- headers and assets -------------------------------------------------------------------


@pytest.fixture(scope="module")
def web(app):
    return app.test_client()


def test_the_page_is_html_with_security_headers(web):
    response = web.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    directives = [d.split() for d in response.headers["Content-Security-Policy"].split(";")]
    csp = {name: " ".join(values) for name, *values in directives}
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"  # no inline script, no eval
    assert csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self'"
    assert csp["worker-src"] == "'self'"  # MapLibre's module workers, from /static/maplibre/
    assert csp["frame-ancestors"] == "'none'"
    allowed = " ".join(csp.values()).split()
    assert set(allowed) <= {"'self'", "'none'", "data:", "blob:"}, allowed
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    page = response.get_data(as_text=True)
    assert "<script>" not in page and " style=" not in page  # the CSP would block them
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere
    assert "/static/maplibre/maplibre-gl.css" in page
    assert "/static/web/map.js" in page


@pytest.mark.parametrize(
    "path, mimetype",
    [
        ("/static/maplibre/maplibre-gl.mjs", "text/javascript"),
        ("/static/maplibre/maplibre-gl-worker.mjs", "text/javascript"),
        ("/static/maplibre/maplibre-gl.css", "text/css"),
        ("/static/web/map.js", "text/javascript"),
        ("/static/web/map.css", "text/css"),
    ],
)
def test_assets_are_served_from_this_origin(web, path, mimetype):
    response = web.get(path)
    assert response.status_code == 200, "run `npm ci --prefix web` (scripts/ensure-browser.sh)"
    assert response.mimetype == mimetype
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert len(response.get_data()) > 1000
    response.close()


@pytest.mark.parametrize(
    "path",
    [
        "/static/maplibre/package.json",
        "/static/maplibre/maplibre-gl.mjs.map",
        "/static/maplibre/..%2Fpackage.json",
        "/static/maplibre/maplibre-gl-dev.mjs",
    ],
)
def test_only_the_needed_maplibre_files_are_served(web, path):
    assert web.get(path).status_code == 404


def test_without_maplibre_the_page_says_how_to_install_it(web, monkeypatch, tmp_path):
    monkeypatch.setattr(routes, "MAPLIBRE_DIST", tmp_path)
    assert "make install" in web.get("/").get_data(as_text=True)
    response = web.get("/static/maplibre/maplibre-gl.mjs")
    assert response.status_code == 404
    assert "npm ci --prefix web" in response.get_json()["detail"]


def test_the_page_stays_out_of_the_openapi_document(web):
    spec = web.get("/openapi.json").get_json()
    assert "/" not in spec["paths"]
    assert not any(p.startswith("/static") for p in spec["paths"])
    assert "web" not in {t["name"] for t in spec.get("tags", [])}
    assert "sites" in {t["name"] for t in spec.get("tags", [])}


# --- the page in a browser ----------------------------------------------------------------


@pytest.fixture(scope="module")
def station_id(server) -> int:
    """The Dinghai East Gate station's id, found as a user would: by searching 东门."""
    response = requests.get(f"{server}/v1/sites", params={"q": "东门"}, timeout=20)
    response.raise_for_status()
    ids = [s["id"] for s in response.json()["items"] if s["name"] == STATION_NAME]
    assert len(ids) == 1, response.json()
    return ids[0]


@pytest.fixture(scope="module")
def seen(server, station_id) -> dict:
    """What tests/web/map_page.mjs saw of the page; a missing browser fails (a skip hides it)."""
    node = shutil.which("node")
    missing = [
        what
        for what, ok in (
            ("node", node),
            (str(CHROMIUM), CHROMIUM.exists()),
            (str(PLAYWRIGHT), PLAYWRIGHT.is_dir()),
        )
        if not ok
    ]
    if missing:
        pytest.fail(f"Missing {', '.join(missing)}: run scripts/ensure-browser.sh (make test does)")
    result = subprocess.run(
        [node, str(SCRIPT), server, str(station_id), str(ARTIFACTS)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, f"no output from {SCRIPT.name}\n{result.stderr[-3000:]}"
    seen = json.loads(lines[-1])
    if result.returncode != 0 or "error" in seen:
        brief = {k: seen.get(k) for k in ("error", "pending", "console", "failed", "httpErrors")}
        pytest.fail(f"{json.dumps(brief, ensure_ascii=False)}\nlast tiles: {seen['tiles'][-10:]}")
    print(f"map page screenshots: {seen['screenshot']} {seen.get('clustersScreenshot')}")
    return seen


def close(rgb, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, expected, strict=True))


def test_the_page_loads_without_errors_or_failed_requests(seen):
    assert seen["status"] == 200
    assert seen["console"] == []
    assert seen["pageErrors"] == []
    assert seen["failed"] == []
    assert seen["httpErrors"] == []
    assert seen["cspViolations"] == []
    assert seen["external"] == []  # offline: no CDN, glyphs or sprites


def test_it_opens_where_the_query_string_says(seen):
    assert seen["view"]["zoom"] == pytest.approx(15)
    assert seen["view"]["center"]["lat"] == pytest.approx(30.0176, abs=1e-6)
    assert seen["view"]["center"]["lng"] == pytest.approx(122.1069, abs=1e-6)


def test_the_station_is_drawn_where_it_is(seen, station_id):
    assert seen["station"] == {
        "id": station_id,
        "name": STATION_NAME,
        "kind": "station",
        "is_open": True,  # Monday 12:00, Mo-Su 09:00-21:00
    }
    assert seen["stationOffsetPx"] < 2  # map.project of the fixture vs the feature
    assert station_id in seen["idsAtStation"]
    assert close(seen["colourAtStation"], STATION_RGB), seen["colourAtStation"]
    assert {s["kind"] for s in seen["sites"]} == {"station", "home", "facility"}


def test_unticking_station_removes_the_stations(seen, station_id):
    without = seen["withoutStations"]
    assert "kind=home%2Cfacility" in without["tile"]
    assert without["kinds"] == ["facility", "home"]
    assert station_id not in without["idsAtStation"]
    assert close(without["colourAtStation"], BACKGROUND_RGB, 12), without["colourAtStation"]


def test_open_now_and_amenities_filter_the_tiles(seen, station_id):
    assert "open_now=true" in seen["openNow"]["tile"]
    assert seen["openNow"]["open"] == [True]
    assert station_id in seen["openNow"]["ids"]
    assert "amenities=microwave" in seen["microwave"]["tile"]
    assert station_id in seen["microwave"]["ids"]
    assert len(seen["microwave"]["ids"]) < len(seen["sites"])


def test_the_amenity_picker_lists_the_vocabulary(seen, server):
    vocabulary = requests.get(f"{server}/v1/amenities", timeout=20).json()["items"]
    assert len(seen["amenityLabels"]) == len(vocabulary)
    microwave = next(a for a in vocabulary if a["code"] == "microwave")
    assert f"{microwave['label']} {microwave['label_en']}" in seen["amenityLabels"]


def test_a_click_on_the_station_shows_its_details(seen):
    panel = seen["panel"]
    assert seen["panelVisible"]
    assert panel["site-name"] == STATION_NAME
    assert panel["site-name-en"] == "Dinghai East Gate Worker Station"
    assert panel["site-kind"] == "户外劳动者驿站 Station"
    assert panel["site-open"] == "开放中 Open now"
    assert panel["site-hours"] == "09:00–21:00"
    assert panel["site-opening-hours"] == "Mo-Su 09:00-21:00"
    assert "微波炉 Microwave oven" in panel["site-amenities"]
    assert panel["site-address"]
    assert panel["site-org"]
    assert Path(seen["screenshot"]).stat().st_size > 10_000


def test_the_default_view_shows_clusters_of_zhejiang(seen):
    assert seen["defaultView"]["zoom"] == pytest.approx(7)
    assert seen["defaultView"]["center"]["lat"] == pytest.approx(29.9, abs=1e-6)
    assert seen["defaultView"]["center"]["lng"] == pytest.approx(120.6, abs=1e-6)
    assert seen["sitesAtZoom7"] == 0
    assert seen["clusters"] and all(c["cluster"] is True for c in seen["clusters"])
    assert max(c["count"] for c in seen["clusters"]) > 1
    assert seen["clusterPopup"].startswith(f"{seen['clusterCount']} 个站点 sites")
    assert seen["zoomAfterClusterClick"] > 7
