"""GET /v1/tiles/{z}/{x}/{y}.mvt: positions, properties, filters, clusters, datums, caching.

Tiles are decoded with mapbox_vector_tile. Its decoder flips y by default (MVT y grows
downwards, its GeoJSON output upwards), so every decode here passes y_coord_down=True and
compares with pixel rows counted from the tile's top. Expected positions come from the Web
Mercator formulas below and the fixture coordinates, never from the service's code.
"""

import json
import math
import random
from datetime import date, datetime
from zoneinfo import ZoneInfo

import mapbox_vector_tile
import pytest
import sqlalchemy as sa

from service.geo.datums import out_of_china, wgs84_to_gcj02
from service.tiles import queries
from tests import support

FIXTURES = support.FIXTURES
SITES = json.loads((FIXTURES / "demo_sites.json").read_text("utf-8"))
LISTED = [s for s in SITES if s["status"] != "closed"]
EXTENT = 4096
CELL = 64
MVT = "application/vnd.mapbox-vector-tile"
DINGHAI = (30.0176, 122.1069)  # DEMO-DH-0001, Mo-Su 09:00-21:00; "now" is Monday 12:00


# --- Web Mercator, independently --------------------------------------------------------


def global_pixel(lat: float, lon: float, z: int) -> tuple[float, float]:
    """Pixel position on the whole zoom-z map (EXTENT units per tile, y down)."""
    n = 2**z
    phi = math.radians(lat)
    gx = (lon + 180) / 360 * n * EXTENT
    gy = (1 - math.log(math.tan(phi) + 1 / math.cos(phi)) / math.pi) / 2 * n * EXTENT
    return gx, gy


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    gx, gy = global_pixel(lat, lon, z)
    return int(gx // EXTENT), int(gy // EXTENT)


def local_pixel(lat: float, lon: float, z: int, x: int, y: int) -> tuple[float, float]:
    gx, gy = global_pixel(lat, lon, z)
    return gx - x * EXTENT, gy - y * EXTENT


# --- the client side ---------------------------------------------------------------------


def get_tile(client, z, x, y, headers=None, **params):
    return client.get(f"/v1/tiles/{z}/{x}/{y}.mvt", query_string=params, headers=headers)


def features(client, z, x, y, **params) -> list[dict]:
    r = get_tile(client, z, x, y, **params)
    if r.status_code == 204:
        return []
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == MVT
    layers = mapbox_vector_tile.decode(r.data, default_options={"y_coord_down": True})
    assert set(layers) == {"sites"}
    assert layers["sites"]["extent"] == EXTENT
    return layers["sites"]["features"]


def site_feature(client, site_id, z, x, y, **params) -> dict | None:
    found = [f for f in features(client, z, x, y, **params) if f["properties"].get("id") == site_id]
    assert len(found) <= 1
    return found[0] if found else None


def dinghai_tile(z):
    return (z, *tile_of(*DINGHAI, z))


# --- one point per site at high zoom -----------------------------------------------------


@pytest.mark.parametrize("z", [14, 16])
def test_site_is_drawn_at_its_pixel(client, dinghai_id, z):
    """The Dinghai East Gate station sits where the Mercator formulas put it."""
    _, x, y = dinghai_tile(z)
    feature = site_feature(client, dinghai_id, z, x, y)
    assert feature is not None
    assert feature["geometry"]["type"] == "Point"
    px, py = feature["geometry"]["coordinates"]
    want_x, want_y = local_pixel(*DINGHAI, z, x, y)
    assert abs(px - want_x) <= 1 and abs(py - want_y) <= 1, ((px, py), (want_x, want_y))


def test_site_properties(client, dinghai_id):
    """id (also the feature id), kind, name and is_open; no star_rating when unrated."""
    feature = site_feature(client, dinghai_id, *dinghai_tile(16))
    assert feature["id"] == dinghai_id
    assert feature["properties"] == {
        "id": dinghai_id,
        "kind": "station",
        "name": "定海区东门劳动者驿站",
        "is_open": True,
    }


def _today(hours: str) -> dict:
    """A special day on the frozen clock's date (Monday 2026-11-30)."""
    return {"from": "2026-11-30", "to": "2026-11-30", "hours": hours, "reason": None}


OPEN_CASES = [
    pytest.param({"opening_hours": "Mo-Su 09:00-21:00"}, True, id="open-now"),
    pytest.param({"opening_hours": "Mo-Su 13:00-21:00"}, False, id="opens-later"),
    pytest.param({"opening_hours": "Sa,Su 09:00-21:00"}, False, id="weekend-only"),
    pytest.param({"opening_hours": "24/7", "status": "temporarily_closed"}, False, id="temp"),
    pytest.param({"opening_hours": None, "status": "temporarily_closed"}, False, id="temp-no-h"),
    pytest.param({"opening_hours": None}, None, id="no-hours"),
    pytest.param({"opening_hours": "24/7", "special_days": [_today("off")]}, False, id="sp-off"),
    pytest.param(
        {"opening_hours": "Mo-Su 20:00-21:00", "special_days": [_today("10:00-16:00")]},
        True,
        id="special-spans",
    ),
    pytest.param(
        {"status": "temporarily_closed", "closed_until": date(2026, 12, 2)},
        False,
        id="closed-until",
    ),
]


@pytest.mark.parametrize(("fields", "is_open"), OPEN_CASES)
def test_is_open_at_request_time(client, make_site, fields, is_open):
    """True/false from the materialised hours at request time; absent (null) without hours."""
    lat, lon = 29.61, 121.43
    site_id = make_site(lat, lon, **fields)
    feature = site_feature(client, site_id, 16, *tile_of(lat, lon, 16))
    assert feature["properties"].get("is_open") is is_open


@pytest.mark.parametrize("stars", [None, 1, 4])
def test_star_rating_only_when_rated(client, make_site, stars):
    lat, lon = 29.62, 121.44
    site_id = make_site(lat, lon, kind="home", star_rating=stars)
    props = site_feature(client, site_id, 16, *tile_of(lat, lon, 16))["properties"]
    assert props.get("star_rating") == stars
    assert ("star_rating" in props) is (stars is not None)


# --- the shared filters decide what is drawn ---------------------------------------------

FILTER_CASES = [
    pytest.param({}, True, id="none"),
    pytest.param({"kind": "station"}, True, id="kind-station"),
    pytest.param({"kind": "home,facility"}, False, id="kind-other"),
    pytest.param({"amenities": "wifi,fridge"}, True, id="amenities-has-all"),
    pytest.param({"amenities": "wifi,gym"}, False, id="amenities-lacks-one"),
    pytest.param({"any_amenities": "gym,wifi"}, True, id="any-has-one"),
    pytest.param({"any_amenities": "gym,library"}, False, id="any-has-none"),
    pytest.param({"org": "zj.zs"}, True, id="org-parent"),
    pytest.param({"org": "zj.zs.dh"}, True, id="org-own"),
    pytest.param({"org": "zj.hz"}, False, id="org-other"),
    pytest.param({"q": "东门"}, True, id="q-match"),
    pytest.param({"q": "西门"}, False, id="q-no-match"),
    pytest.param({"open_now": "true"}, True, id="open-now"),
    pytest.param({"open_at": "2026-11-30T20:59:00+08:00"}, True, id="open-at-2059"),
    pytest.param({"open_at": "2026-11-30T21:00:00+08:00"}, False, id="open-at-2100"),
    pytest.param({"open_at": "2026-11-30T12:59:00Z"}, True, id="open-at-utc"),
]


@pytest.mark.parametrize(("params", "drawn"), FILTER_CASES)
def test_filters_decide_what_is_drawn(client, dinghai_id, params, drawn):
    assert (site_feature(client, dinghai_id, *dinghai_tile(16), **params) is not None) is drawn


@pytest.mark.parametrize(
    ("open_at", "drawn"),
    [("2026-11-30T20:59:00+08:00", True), ("2026-11-30T21:00:00+08:00", False)],
)
def test_open_at_on_a_new_site(client, make_site, open_at, drawn):
    lat, lon = 29.63, 121.45
    site_id = make_site(lat, lon, opening_hours="Mo-Su 09:00-21:00")
    found = site_feature(client, site_id, 16, *tile_of(lat, lon, 16), open_at=open_at)
    assert (found is not None) is drawn


def test_closed_sites_are_not_drawn(client, make_site):
    lat, lon = 29.64, 121.46
    site_id = make_site(lat, lon, status="closed")
    assert site_feature(client, site_id, 16, *tile_of(lat, lon, 16)) is None


def test_edge_column_tiles_find_their_sites(client, make_site):
    """Tiles of the first column (x=0) see their own sites: their margin must not wrap."""
    lat, lon = 0.5, -179.99
    site_id = make_site(lat, lon)
    z, x, y = 12, *tile_of(lat, lon, 12)
    assert x == 0
    assert site_feature(client, site_id, z, x, y) is not None


# --- clusters at low zoom ----------------------------------------------------------------


def kind_is(*kinds):
    return lambda s: s["kind"] in kinds


def expected_cells(z, x, y, pred=None, crs="wgs84") -> dict:
    """Listed fixture sites in tile z/x/y (left/top edges in, right/bottom out), by cell."""
    cells: dict = {}
    for s in LISTED:
        if pred is not None and not pred(s):
            continue
        lat, lon = s["location"]["lat"], s["location"]["lon"]
        if crs == "gcj02":
            lat, lon = wgs84_to_gcj02(lat, lon)
        px, py = local_pixel(lat, lon, z, x, y)
        if 0 <= px < EXTENT and 0 <= py < EXTENT:
            cells.setdefault((int(px // CELL), int(py // CELL)), []).append(s)
    return cells


ZHEJIANG_TILES = [(0, 0, 0), (6, 53, 26), (7, 106, 52), (7, 107, 52), (7, 106, 53), (7, 107, 53)]
CLUSTER_CASES = [
    pytest.param({}, None, "wgs84", id="all"),
    pytest.param({"kind": "home"}, kind_is("home"), "wgs84", id="kind-home"),
    pytest.param({"kind": "station,facility"}, kind_is("station", "facility"), "wgs84", id="two"),
    pytest.param({"crs": "gcj02"}, None, "gcj02", id="gcj02"),
]


@pytest.mark.parametrize(("params", "pred", "crs"), CLUSTER_CASES)
@pytest.mark.parametrize(("z", "x", "y"), ZHEJIANG_TILES)
def test_cluster_counts_match_the_fixtures(client, z, x, y, params, pred, crs):
    """One point per cell holding sites, inside it, with the number of listed sites there."""
    want = expected_cells(z, x, y, pred, crs)
    got = {}
    for f in features(client, z, x, y, **params):
        px, py = f["geometry"]["coordinates"]
        assert 0 <= px < EXTENT and 0 <= py < EXTENT
        assert f["properties"]["cluster"] is True
        cell = (px // CELL, py // CELL)
        assert cell not in got, "two points for one cell"
        got[cell] = f["properties"]
    assert {c: p["count"] for c, p in got.items()} == {c: len(s) for c, s in want.items()}
    for cell, members in want.items():
        kinds = {s["kind"] for s in members}
        assert got[cell].get("kind") == (kinds.pop() if len(kinds) == 1 else None)
    total = sum(len(s) for s in want.values())
    assert sum(p["count"] for p in got.values()) == total


@pytest.mark.parametrize("params", [{}, {"kind": "home"}, {"amenities": "wifi"}])
def test_z6_tile_counts_every_listed_site(client, params):
    """The z6 tile over Zhejiang holds every listed demo site; its four children at z7
    split them without counting any twice."""
    parent = sum(f["properties"]["count"] for f in features(client, 6, 53, 26, **params))
    children = sum(
        f["properties"]["count"]
        for x in (106, 107)
        for y in (52, 53)
        for f in features(client, 7, x, y, **params)
    )
    want = sum(1 for s in LISTED if all(_matches(s, k, v) for k, v in params.items()))
    assert parent == children == want > 0


def _matches(site, key, value) -> bool:
    if key == "kind":
        return site["kind"] in value.split(",")
    if key == "amenities":
        return set(value.split(",")) <= set(site["amenities"])
    raise AssertionError(key)


def test_cluster_counts_follow_new_sites(client, make_site):
    before = sum(f["properties"]["count"] for f in features(client, 7, 107, 52))
    make_site(30.2, 121.9)
    make_site(30.2, 121.9, status="temporarily_closed")  # listed, so counted
    make_site(30.2, 121.9, status="closed")  # not listed
    after = sum(f["properties"]["count"] for f in features(client, 7, 107, 52))
    assert after == before + 2


# --- GCJ-02 ------------------------------------------------------------------------------


def test_gcj02_moves_the_point_by_the_datum_shift(client, dinghai_id):
    """At z16 the GCJ-02 tile draws Dinghai where Amap would: shifted by the datum."""
    z = 16
    wgs, gcj = DINGHAI, wgs84_to_gcj02(*DINGHAI)
    drawn = {}
    for crs, point in (("wgs84", wgs), ("gcj02", gcj)):
        x, y = tile_of(*point, z)
        feature = site_feature(client, dinghai_id, z, x, y, crs=crs)
        assert feature is not None, crs
        px, py = feature["geometry"]["coordinates"]
        drawn[crs] = (x * EXTENT + px, y * EXTENT + py)
    (gx0, gy0), (gx1, gy1) = global_pixel(*wgs, z), global_pixel(*gcj, z)
    dx, dy = drawn["gcj02"][0] - drawn["wgs84"][0], drawn["gcj02"][1] - drawn["wgs84"][1]
    assert abs(dx - (gx1 - gx0)) <= 1.5 and abs(dy - (gy1 - gy0)) <= 1.5
    assert math.hypot(dx, dy) > 1000  # hundreds of metres: a real shift, not rounding


def _random_points(n: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    points = [(rng.uniform(0.0, 60.0), rng.uniform(68.0, 142.0)) for _ in range(n)]
    # On and around the edges of the shifted area, and reference cities.
    points += [(0.8293, 100.0), (55.8271, 100.0), (30.0, 72.004), (30.0, 137.8347)]
    points += [(0.8292, 100.0), (55.8272, 100.0), (30.0, 72.003), (30.0, 137.8348)]
    points += [(39.915, 116.404), (31.23, 121.47), (22.54, 114.06), DINGHAI, (-33.9, 18.4)]
    return points


def test_sql_gcj02_matches_python(conn):
    """The migration's wgs84_to_gcj02 agrees with service.geo.datums to 1e-9 degrees, SRID kept."""
    points = _random_points(3000, seed=20261130)
    rows = conn.execute(
        sa.text(
            "SELECT ST_Y(g), ST_X(g), ST_SRID(g) FROM ("
            " SELECT i, wgs84_to_gcj02(ST_SetSRID(ST_MakePoint(lon, lat), 4326)) AS g"
            " FROM unnest(CAST(:lats AS float8[]), CAST(:lons AS float8[]))"
            " WITH ORDINALITY AS p(lat, lon, i)) q ORDER BY i"
        ),
        {"lats": [p[0] for p in points], "lons": [p[1] for p in points]},
    ).all()
    assert len(rows) == len(points)
    shifted = 0
    for (lat, lon), (g_lat, g_lon, srid) in zip(points, rows, strict=True):
        want_lat, want_lon = wgs84_to_gcj02(lat, lon)
        assert abs(g_lat - want_lat) < 1e-9 and abs(g_lon - want_lon) < 1e-9, (lat, lon)
        assert srid == 4326
        shifted += not out_of_china(lat, lon)
    assert 1000 < shifted < len(points)  # both sides of the edge were exercised


def test_sql_tile_coordinates_match_mercator(conn):
    points = _random_points(500, seed=7)
    zooms = [0, 5, 12, 22]
    rows = conn.execute(
        sa.text(
            "SELECT web_mercator_tile_x(lon, z), web_mercator_tile_y(lat, z) FROM"
            " unnest(CAST(:lats AS float8[]), CAST(:lons AS float8[])) WITH ORDINALITY"
            " AS p(lat, lon, i), unnest(CAST(:zooms AS int[])) WITH ORDINALITY AS q(z, j)"
            " ORDER BY i, j"
        ),
        {"lats": [p[0] for p in points], "lons": [p[1] for p in points], "zooms": zooms},
    ).all()
    want = [global_pixel(lat, lon, z) for lat, lon in points for z in zooms]
    for (tx, ty), (gx, gy) in zip(rows, want, strict=True):
        assert abs(tx * EXTENT - gx) < 1e-4 and abs(ty * EXTENT - gy) < 1e-4  # pixels


def test_gcj02_reach_and_gradient_bounds():
    """The constants the candidate window rests on: how far and how fast GCJ-02 shifts."""
    rng = random.Random(3)
    h = 1e-6
    reach = gradient = 0.0
    for _ in range(20000):
        lat, lon = rng.uniform(0.84, 55.8), rng.uniform(72.01, 137.8)
        g_lat, g_lon = wgs84_to_gcj02(lat, lon)
        reach = max(reach, abs(g_lat - lat), abs(g_lon - lon))
        for d_lat, d_lon in ((h, 0.0), (0.0, h)):
            n_lat, n_lon = wgs84_to_gcj02(lat + d_lat, lon + d_lon)
            gradient = max(
                gradient,
                abs((n_lat - lat - d_lat) - (g_lat - lat)) / h,
                abs((n_lon - lon - d_lon) - (g_lon - lon)) / h,
            )
    assert 0.005 < reach < queries.GCJ02_REACH
    assert 0.003 < gradient < queries.GCJ02_GRADIENT


@pytest.mark.parametrize("z", [8, 10, 12, 14, 16, 18, 22])
def test_gcj02_candidate_window_holds_every_drawn_site(z):
    """For any site, the tile where GCJ-02 draws it searches a box that contains it."""
    rng = random.Random(z)
    points = [(rng.uniform(0.9, 55.7), rng.uniform(72.1, 137.7)) for _ in range(3000)]
    points += [(rng.uniform(29.5, 31.5), rng.uniform(120.0, 122.5)) for _ in range(1000)]
    margin = 0.0 if z < queries.CLUSTER_BELOW_ZOOM else queries.BUFFER / EXTENT
    for lat, lon in points:
        g_lat, g_lon = wgs84_to_gcj02(lat, lon)
        x, y = tile_of(g_lat, g_lon, z)
        west, south, east, north = queries.tile_bounds(z, x, y, margin)
        w = queries.gcj02_window(z, x, y, margin)
        slack = w["slack"]
        assert west + w["shift_lon"] - slack <= lon <= east + w["shift_lon"] + slack
        assert south + w["shift_lat"] - slack <= lat <= north + w["shift_lat"] + slack
        if z >= 12:
            assert slack < 0.002  # the window stays about as small as the tile


# --- responses: empty, caching headers, errors ---------------------------------------------


def test_tile_headers(client):
    r = get_tile(client, *dinghai_tile(14))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == MVT
    assert r.headers["Cache-Control"] == "public, max-age=60"
    assert r.headers["ETag"].startswith('"')


@pytest.mark.parametrize(("z", "lat", "lon"), [(3, 0.0, -150.0), (8, 0.0, -150.0), (16, 0, -150)])
def test_empty_tile_is_204(client, z, lat, lon):
    r = get_tile(client, z, *tile_of(lat, lon, z))
    assert r.status_code == 204
    assert r.data == b""
    assert r.headers["Cache-Control"] == "public, max-age=60"


@pytest.mark.parametrize("z", [7, 16])
def test_etag_and_if_none_match(client, z):
    _, x, y = dinghai_tile(z)
    first = get_tile(client, z, x, y)
    etag = first.headers["ETag"]
    again = get_tile(client, z, x, y, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    other = get_tile(client, z, x, y, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.data == first.data
    filtered = get_tile(client, z, x, y, kind="station", any_amenities="wifi,gym")
    assert filtered.status_code == 200
    assert (filtered.headers["ETag"] == etag) is (filtered.data == first.data)


BAD_TILES = [
    pytest.param(23, 0, 0, "z", id="z-too-big"),
    pytest.param(-1, 0, 0, "z", id="z-negative"),
    pytest.param(0, 1, 0, "x", id="x-beyond-z0"),
    pytest.param(0, 0, 1, "y", id="y-beyond-z0"),
    pytest.param(3, 8, 0, "x", id="x-beyond"),
    pytest.param(3, 0, 8, "y", id="y-beyond"),
    pytest.param(3, -1, 0, "x", id="x-negative"),
    pytest.param(22, 0, 2**22, "y", id="y-beyond-z22"),
    pytest.param(99999999999999999999, 0, 0, "z", id="z-huge"),
]


@pytest.mark.parametrize(("z", "x", "y", "field"), BAD_TILES)
def test_tile_outside_the_grid_is_422(client, z, x, y, field):
    r = get_tile(client, z, x, y)
    assert r.status_code == 422
    assert r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["status"] == 422
    assert set(body["errors"]) == {field}


BAD_PARAMS = [
    pytest.param({"crs": "bd09"}, "crs", "Baidu", id="bd09"),
    pytest.param({"crs": "utm"}, "crs", "wgs84", id="crs-unknown"),
    pytest.param({"bbox": "1,2,3,4"}, "bbox", "Unknown", id="unknown-param"),
    pytest.param({"kind": "hotel"}, "kind", "hotel", id="bad-kind"),
    pytest.param({"amenities": "jacuzzi"}, "amenities", "jacuzzi", id="bad-amenity"),
    pytest.param(
        {"open_now": "true", "open_at": "2026-11-30T12:00:00+08:00"},
        "open_at",
        "exclusive",
        id="open-now-and-at",
    ),
    pytest.param({"open_at": "2026-11-30T12:00:00"}, "open_at", "offset", id="naive-time"),
]


@pytest.mark.parametrize(("params", "field", "words"), BAD_PARAMS)
def test_bad_parameters_are_422(client, params, field, words):
    r = get_tile(client, *dinghai_tile(10), **params)
    assert r.status_code == 422
    assert r.mimetype == "application/problem+json"
    errors = r.get_json()["errors"]
    assert field in errors
    assert any(words in m for m in errors[field]), errors


def test_non_numeric_tile_is_404(client):
    assert client.get("/v1/tiles/a/0/0.mvt").status_code == 404


# --- the low-zoom cache ------------------------------------------------------------------


def test_low_zoom_tiles_are_cached_briefly(app, client, make_site, monkeypatch):
    """With CACHE_SECONDS set, a low-zoom tile is reused; high zoom and open_now are not."""
    monkeypatch.setitem(app.config, "CACHE_SECONDS", 30)
    monkeypatch.setitem(app.extensions, "yizhan.caches", {})
    lat, lon = 29.65, 121.47
    low = get_tile(client, 7, *tile_of(lat, lon, 7)).data
    low_open = get_tile(client, 7, *tile_of(lat, lon, 7), open_now="true").data
    site_id = make_site(lat, lon)
    assert get_tile(client, 7, *tile_of(lat, lon, 7)).data == low  # cached
    assert get_tile(client, 7, *tile_of(lat, lon, 7), open_now="true").data != low_open
    assert site_feature(client, site_id, 16, *tile_of(lat, lon, 16)) is not None


# --- the document ------------------------------------------------------------------------


def test_openapi_documents_the_tile(client):
    spec = client.get("/openapi.json").get_json()
    op = spec["paths"]["/v1/tiles/{z}/{x}/{y}.mvt"]["get"]
    assert op["summary"]
    assert op["responses"]["200"]["content"][MVT]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    assert "204" in op["responses"] and "422" in op["responses"]
    params = [*spec["paths"]["/v1/tiles/{z}/{x}/{y}.mvt"].get("parameters", [])]
    params += op.get("parameters", [])
    names = {p.get("name") for p in params}
    filters = {"kind", "amenities", "any_amenities", "open_now", "open_at", "q", "org", "crs"}
    assert filters | {"z", "x", "y"} <= names


def test_a_closure_that_ended_is_drawn_open(client, make_site, app, monkeypatch):
    """Closed until 12-02: open from 00:00 that day in its zone, by its materialised hours."""
    lat, lon = 29.61, 121.43
    site_id = make_site(lat, lon, status="temporarily_closed", closed_until=date(2026, 12, 2))
    tile = tile_of(lat, lon, 16)
    assert site_feature(client, site_id, 16, *tile)["properties"]["is_open"] is False
    later = datetime(2026, 12, 2, 0, 0, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    monkeypatch.setitem(app.config, "NOW", lambda: later)
    assert site_feature(client, site_id, 16, *tile)["properties"]["is_open"] is True
