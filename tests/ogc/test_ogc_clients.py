"""The OGC API - Features endpoints as real clients see them: GDAL/OGR's OAPIF driver and OWSLib.

The session app (its demo data is committed) is served over HTTP on 127.0.0.1 from a
background thread; GDAL's command-line tools and OWSLib then read it like any other
OGC API. Every subprocess and HTTP call has a timeout, so a broken server fails fast.
"""

import json
import os
import re
import shutil
import subprocess

import pytest
import requests
import sqlalchemy as sa
from owslib.ogcapi.features import Features

from service.core.db import make_engine
from tests import support

FIXTURES = support.FIXTURES
DEMO_SITES = json.loads((FIXTURES / "demo_sites.json").read_text(encoding="utf-8"))
LISTED = {s["external_id"]: s for s in DEMO_SITES if s["status"] != "closed"}
DINGHAI = "DEMO-DH-0001"
DINGHAI_LON, DINGHAI_LAT = 122.1069, 30.0176
TIMEOUT = 120  # seconds for one client command; the whole demo set takes ~2 s
HTTP_TIMEOUT = 20


@pytest.fixture(scope="module")
def gdal() -> None:
    """GDAL's command-line tools must be there: a skip would hide a missing install."""
    missing = [tool for tool in ("ogrinfo", "ogr2ogr") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"GDAL command-line tools missing ({', '.join(missing)}); `make test` installs "
            "them (scripts/ensure-debian-packages.sh gdal-bin)."
        )


@pytest.fixture(scope="module")
def ogc_url(server) -> str:
    return f"{server}/ogc"


@pytest.fixture(scope="module")
def listed_ids(database_url) -> dict[str, int]:
    """external_id -> id of every listed site, straight from the database."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT external_id, id FROM sites "
                    "WHERE deleted_at IS NULL AND status <> 'closed'"
                )
            ).all()
    finally:
        engine.dispose()
    return dict(rows)


def gdal_env() -> dict[str, str]:
    """Only 127.0.0.1, no proxy, no retries, short timeouts, no PROJ network grids."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    }
    env.update(
        NO_PROXY="127.0.0.1,localhost",
        GDAL_HTTP_TIMEOUT="30",
        GDAL_HTTP_CONNECTTIMEOUT="5",
        GDAL_HTTP_MAX_RETRY="0",
        GDAL_HTTP_PROXY="",
        PROJ_NETWORK="OFF",
    )
    return env


def run(*args: str) -> str:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=TIMEOUT, env=gdal_env(), check=False
    )
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-2000:]}{result.stderr}"
    return result.stdout


def features_by_external_id(ogrinfo_output: str) -> dict[str, tuple[int, float, float]]:
    """external_id -> (FID, lon, lat) from the feature dumps of `ogrinfo -al`."""
    found = {}
    for block in re.split(r"\nOGRFeature\(sites\):", ogrinfo_output)[1:]:
        fid = re.match(r"(\d+)", block)
        ext = re.search(r"^\s+external_id \(String\) = (.+)$", block, re.M)
        point = re.search(r"POINT \((-?[\d.]+) (-?[\d.]+)\)", block)
        assert fid and ext and point, block[:500]
        found[ext.group(1).strip()] = (int(fid.group(1)), float(point[1]), float(point[2]))
    return found


@pytest.mark.usefixtures("gdal")
def test_ogrinfo_summary_lists_the_sites_layer_with_every_listed_site(ogc_url):
    """`ogrinfo -so` finds layer `sites` and counts every listed demo site, following `next`."""
    out = run("ogrinfo", "-ro", "-al", "-so", f"OAPIF:{ogc_url}")
    assert re.search(r"^Layer name: sites$", out, re.M), out
    count = re.search(r"^Feature Count: (\d+)$", out, re.M)
    assert count and int(count.group(1)) == len(LISTED), out
    assert re.search(r"^Geometry: Point$", out, re.M), out
    extent = re.search(r"^Extent: \(([-\d.]+), ([-\d.]+)\) - \(([-\d.]+), ([-\d.]+)\)", out, re.M)
    assert extent, out
    west, south, east, north = (float(v) for v in extent.groups())
    lons = [s["location"]["lon"] for s in LISTED.values()]
    lats = [s["location"]["lat"] for s in LISTED.values()]
    assert west == pytest.approx(min(lons), abs=1e-6)
    assert east == pytest.approx(max(lons), abs=1e-6)
    assert south == pytest.approx(min(lats), abs=1e-6)
    assert north == pytest.approx(max(lats), abs=1e-6)


@pytest.mark.usefixtures("gdal")
def test_ogrinfo_reads_every_feature_with_its_id_and_coordinates(ogc_url, listed_ids):
    """All listed sites come back once each: FID = site id, fixture coordinates."""
    out = run("ogrinfo", "-ro", "-al", f"OAPIF:{ogc_url}", "sites")
    found = features_by_external_id(out)
    assert set(found) == set(LISTED)
    assert out.count("\nOGRFeature(") == len(LISTED)  # no duplicates across pages
    assert found[DINGHAI] == (listed_ids[DINGHAI], DINGHAI_LON, DINGHAI_LAT)
    for ext, (fid, lon, lat) in found.items():
        loc = LISTED[ext]["location"]
        assert fid == listed_ids[ext], ext
        assert (lon, lat) == pytest.approx((loc["lon"], loc["lat"]), abs=1e-7), ext


@pytest.mark.usefixtures("gdal")
def test_ogrinfo_spatial_filter_is_sent_as_bbox(ogc_url):
    """`-spat` around Dinghai: GDAL's bbox request returns the station and only nearby ones."""
    west, south, east, north = 122.09, 30.0, 122.12, 30.03
    out = run(
        "ogrinfo", "-ro", "-al", "-spat", str(west), str(south), str(east), str(north),
        f"OAPIF:{ogc_url}", "sites",
    )  # fmt: skip
    found = features_by_external_id(out)
    expected = {
        ext
        for ext, s in LISTED.items()
        if west <= s["location"]["lon"] <= east and south <= s["location"]["lat"] <= north
    }
    assert DINGHAI in expected
    assert set(found) == expected
    assert found[DINGHAI][1:] == pytest.approx((DINGHAI_LON, DINGHAI_LAT), abs=1e-7)


@pytest.mark.usefixtures("gdal")
def test_ogr2ogr_copies_the_collection_to_geojson(ogc_url, listed_ids, tmp_path):
    """ogr2ogr writes every listed site with its id and coordinates, as in the fixtures."""
    target = tmp_path / "sites.geojson"
    run("ogr2ogr", "-f", "GeoJSON", str(target), f"OAPIF:{ogc_url}", "sites")
    collection = json.loads(target.read_text(encoding="utf-8"))
    features = collection["features"]
    assert len(features) == len(LISTED)
    by_ext = {}
    for feature in features:
        props = feature["properties"]
        by_ext[props["external_id"]] = feature
        assert feature["geometry"]["type"] == "Point"
    assert set(by_ext) == set(LISTED)
    for ext, feature in by_ext.items():
        assert feature["properties"]["id"] == listed_ids[ext], ext
        assert feature.get("id", listed_ids[ext]) == listed_ids[ext], ext
        lon, lat = feature["geometry"]["coordinates"][:2]
        loc = LISTED[ext]["location"]
        assert (lon, lat) == pytest.approx((loc["lon"], loc["lat"]), abs=1e-7), ext
        assert feature["properties"]["name"] == LISTED[ext]["name"]


# --- OWSLib ---------------------------------------------------------------------------


@pytest.fixture()
def owslib(monkeypatch, ogc_url):
    """OWSLib's Features client; requests without an explicit timeout get one."""
    original = requests.Session.request

    def request_with_timeout(self, method, url, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = HTTP_TIMEOUT
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request_with_timeout)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return Features(ogc_url, timeout=HTTP_TIMEOUT)


def test_owslib_lists_the_sites_collection(owslib):
    """Landing page, conformance and collections as OWSLib reads them."""
    assert owslib.feature_collections() == ["sites"]
    conformance = owslib.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    collection = owslib.collection("sites")
    assert collection["id"] == "sites" and collection["itemType"] == "feature"
    assert owslib.api()["openapi"].startswith("3.0")


def test_owslib_reads_items_with_bbox_and_limit(owslib):
    """bbox and limit through OWSLib: at most `limit` features, all inside the box."""
    box = [121.9, 29.9, 122.4, 30.2]  # Zhoushan
    inside = {
        ext
        for ext, s in LISTED.items()
        if box[0] <= s["location"]["lon"] <= box[2] and box[1] <= s["location"]["lat"] <= box[3]
    }
    assert len(inside) > 3
    page = owslib.collection_items("sites", bbox=box, limit=3)
    assert page["type"] == "FeatureCollection"
    assert page["numberReturned"] == len(page["features"]) == 3
    assert {f["properties"]["external_id"] for f in page["features"]} <= inside
    assert any(link["rel"] == "next" for link in page["links"])
    everything = owslib.collection_items("sites", bbox=box, limit=1000)
    assert {f["properties"]["external_id"] for f in everything["features"]} == inside
    assert not any(link["rel"] == "next" for link in everything["links"])


def test_owslib_reads_dinghai_station_by_id_with_its_coordinates(owslib, listed_ids):
    """DEMO-DH-0001 by its feature id, and within a bbox, at lon 122.1069, lat 30.0176."""
    feature = owslib.collection_item("sites", str(listed_ids[DINGHAI]))
    assert feature["id"] == listed_ids[DINGHAI]
    assert feature["properties"]["external_id"] == DINGHAI
    assert feature["geometry"]["coordinates"] == pytest.approx([DINGHAI_LON, DINGHAI_LAT])
    page = owslib.collection_items("sites", bbox=[122.10, 30.01, 122.11, 30.02], limit=10)
    found = {f["properties"]["external_id"]: f for f in page["features"]}
    assert found[DINGHAI]["geometry"]["coordinates"] == pytest.approx([DINGHAI_LON, DINGHAI_LAT])
