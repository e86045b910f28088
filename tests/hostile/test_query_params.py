"""Hostile query strings: every malformed or invalid parameter is a 4xx problem+json, never a 5xx.

The matrix asserts the RFC 9457 shape from the contract (`type`, `title`, `status` equal to the
HTTP status, `detail`) and, for validation errors, an `errors` object naming the offending
parameter; no case may leak a partial answer. After it, inputs that review found at the edges:
calendars' limits, raw `+` in offsets, offsets PostgreSQL cannot hold, digits that are not
ASCII, media types with parameters.
"""

import pytest

from tests.support import assert_problem

NEARBY = "/v1/sites/nearby"


HERE = "lat=30.0176&lon=122.1069"  # the Dinghai East Gate station


LONG_Q = "a" * 101


CASES = [
    # GET /v1/sites/nearby: the point
    pytest.param(f"{NEARBY}?lon=122.1", 422, ("lat",), None, id="nearby-lat-missing"),
    pytest.param(f"{NEARBY}?lat=30.0", 422, ("lon",), None, id="nearby-lon-missing"),
    pytest.param(NEARBY, 422, ("lat",), None, id="nearby-lat-lon-missing"),
    pytest.param(f"{NEARBY}?lat=91&lon=122", 422, ("lat",), None, id="nearby-lat-91"),
    pytest.param(f"{NEARBY}?lat=-91&lon=122", 422, ("lat",), None, id="nearby-lat-minus-91"),
    pytest.param(f"{NEARBY}?lat=30&lon=181", 422, ("lon",), None, id="nearby-lon-181"),
    pytest.param(f"{NEARBY}?lat=abc&lon=122", 422, ("lat",), None, id="nearby-lat-abc"),
    pytest.param(f"{NEARBY}?lat=NaN&lon=122", 422, ("lat",), None, id="nearby-lat-NaN"),
    pytest.param(f"{NEARBY}?lat=nan&lon=122", 422, ("lat",), None, id="nearby-lat-nan"),
    pytest.param(f"{NEARBY}?lat=Infinity&lon=122", 422, ("lat",), None, id="nearby-lat-Infinity"),
    pytest.param(f"{NEARBY}?lat=-inf&lon=122", 422, ("lat",), None, id="nearby-lat-minus-inf"),
    pytest.param(f"{NEARBY}?lat=1e999&lon=122", 422, ("lat",), None, id="nearby-lat-1e999"),
    pytest.param(
        f"{NEARBY}?lat=122.1&lon=30.0", 422, ("lat",), "swapped", id="nearby-lat-lon-swapped"
    ),
    # radius and limit
    pytest.param(f"{NEARBY}?{HERE}&radius=0", 422, ("radius",), None, id="nearby-radius-0"),
    pytest.param(f"{NEARBY}?{HERE}&radius=-5", 422, ("radius",), None, id="nearby-radius-neg"),
    pytest.param(f"{NEARBY}?{HERE}&radius=50001", 422, ("radius",), None, id="nearby-radius-50001"),
    pytest.param(f"{NEARBY}?{HERE}&radius=NaN", 422, ("radius",), None, id="nearby-radius-NaN"),
    pytest.param(f"{NEARBY}?{HERE}&limit=0", 422, ("limit",), None, id="nearby-limit-0"),
    pytest.param(f"{NEARBY}?{HERE}&limit=101", 422, ("limit",), None, id="nearby-limit-101"),
    pytest.param(f"{NEARBY}?{HERE}&limit=x", 422, ("limit",), None, id="nearby-limit-x"),
    pytest.param(f"{NEARBY}?{HERE}&limit=2.5", 422, ("limit",), None, id="nearby-limit-2.5"),
    # shared filters
    pytest.param(f"{NEARBY}?{HERE}&kind=bar", 422, ("kind",), "bar", id="nearby-kind-unknown"),
    pytest.param(f"{NEARBY}?{HERE}&kind=", 422, ("kind",), None, id="nearby-kind-empty"),
    pytest.param(
        f"{NEARBY}?{HERE}&amenities=jacuzzi",
        422,
        ("amenities",),
        "jacuzzi",
        id="nearby-amenities-unknown",
    ),
    pytest.param(
        f"{NEARBY}?{HERE}&any_amenities=jacuzzi",
        422,
        ("any_amenities",),
        "jacuzzi",
        id="nearby-any-amenities-unknown",
    ),
    pytest.param(f"{NEARBY}?{HERE}&crs=epsg3857", 422, ("crs",), None, id="nearby-crs-unknown"),
    pytest.param(
        f"{NEARBY}?{HERE}&open_at=garbage", 422, ("open_at",), None, id="nearby-open-at-garbage"
    ),
    pytest.param(
        f"{NEARBY}?{HERE}&open_at=2026-11-30T10:00:00",
        422,
        ("open_at",),
        None,
        id="nearby-open-at-no-offset",
    ),
    pytest.param(
        f"{NEARBY}?{HERE}&open_at=2030-01-01T00:00:00%2B08:00",
        422,
        ("open_at",),
        "horizon",
        id="nearby-open-at-beyond-horizon",
    ),
    pytest.param(
        f"{NEARBY}?{HERE}&open_now=maybe", 422, ("open_now",), None, id="nearby-open-now-maybe"
    ),
    pytest.param(
        f"{NEARBY}?{HERE}&open_now=true&open_at=2026-11-30T10:00:00%2B08:00",
        422,
        ("open_now", "open_at"),
        None,
        id="nearby-open-now-with-open-at",
    ),
    pytest.param(f"{NEARBY}?{HERE}&q=", 422, ("q",), None, id="nearby-q-empty"),
    pytest.param(f"{NEARBY}?{HERE}&q={LONG_Q}", 422, ("q",), None, id="nearby-q-101-chars"),
    pytest.param(f"{NEARBY}?{HERE}&q=a%00b", 422, ("q",), None, id="nearby-q-nul-byte"),
    pytest.param(f"{NEARBY}?{HERE}&org=Bad%20Code!", 422, ("org",), None, id="nearby-org-bad"),
    # cursors
    pytest.param(f"{NEARBY}?{HERE}&cursor=!!!", 422, ("cursor",), None, id="nearby-cursor-junk"),
    pytest.param(
        f"{NEARBY}?{HERE}&cursor=eyJ4IjoxfQ",
        422,
        ("cursor",),
        None,
        id="nearby-cursor-foreign-json",
    ),
    # unknown parameters are typos, not silently ignored
    pytest.param(f"{NEARBY}?{HERE}&foo=1", 422, ("foo",), None, id="nearby-unknown-param"),
    pytest.param("/v1/sites?foo=1", 422, ("foo",), None, id="sites-unknown-param"),
    pytest.param("/v1/sites/1?foo=1", 422, ("foo",), None, id="site-unknown-param"),
    pytest.param("/v1/amenities?foo=1", 422, ("foo",), None, id="amenities-unknown-param"),
    # GET /v1/sites
    pytest.param("/v1/sites?bbox=120,30,121", 422, ("bbox",), None, id="sites-bbox-3-numbers"),
    pytest.param("/v1/sites?bbox=120,30,121,31,5", 422, ("bbox",), None, id="sites-bbox-5-numbers"),
    pytest.param("/v1/sites?bbox=a,b,c,d", 422, ("bbox",), None, id="sites-bbox-not-numbers"),
    pytest.param(
        "/v1/sites?bbox=120,31,121,30", 422, ("bbox",), None, id="sites-bbox-south-gt-north"
    ),
    pytest.param("/v1/sites?bbox=120,30,121,95", 422, ("bbox",), None, id="sites-bbox-lat-95"),
    pytest.param("/v1/sites?bbox=120,30,200,31", 422, ("bbox",), None, id="sites-bbox-lon-200"),
    pytest.param("/v1/sites?bbox=NaN,30,121,31", 422, ("bbox",), None, id="sites-bbox-NaN"),
    pytest.param("/v1/sites?limit=1001", 422, ("limit",), None, id="sites-limit-1001"),
    pytest.param("/v1/sites?f=xml", 422, ("f",), None, id="sites-f-xml"),
    pytest.param(
        "/v1/sites?updated_since=garbage",
        422,
        ("updated_since",),
        None,
        id="sites-updated-since-garbage",
    ),
    pytest.param("/v1/sites?kind=bar", 422, ("kind",), None, id="sites-kind-unknown"),
    pytest.param("/v1/sites?q=a%00b", 422, ("q",), None, id="sites-q-nul-byte"),
    # GET /v1/sites/{id}/hours
    pytest.param("/v1/sites/1/hours?days=0", 422, ("days",), None, id="hours-days-0"),
    pytest.param("/v1/sites/1/hours?days=32", 422, ("days",), None, id="hours-days-32"),
    pytest.param("/v1/sites/1/hours?from=garbage", 422, ("from",), None, id="hours-from-garbage"),
    # unknown resources
    pytest.param("/v1/sites/abc", 404, (), None, id="site-id-not-a-number"),
    pytest.param("/v1/sites/999999999", 404, (), None, id="site-id-unknown"),
    pytest.param("/v1/sites/999999999/hours", 404, (), None, id="hours-site-unknown"),
]


@pytest.mark.parametrize(("url", "status", "fields", "message"), CASES)
def test_bad_input_is_a_problem(client, url, status, fields, message):
    """Each bad request is a 4xx problem+json naming the offending parameter."""
    body = assert_problem(client.get(url), status, fields)
    if message is not None:
        texts = [m for f in fields for m in body["errors"].get(f, [])]
        assert any(message in str(t) for t in texts), body


@pytest.mark.parametrize(
    "start",
    [
        pytest.param("9999-12-31T00:00:00%2B08:00", id="year-9999"),
        pytest.param("0001-01-01T00:00:00%2B08:00", id="year-1"),
    ],
)
def test_hours_window_at_the_edge_of_time_is_not_a_5xx(client, dinghai_id, start):
    """A `from` near the calendar's limits is answered (200) or refused (422 naming from)."""
    response = client.get(f"/v1/sites/{dinghai_id}/hours?from={start}&days=31")
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code != 200:
        assert_problem(response, 422, ("from", "days"))


def test_unencoded_plus_in_open_at_is_accepted(client):
    """`open_at=...+08:00` sent raw arrives as a space; it still means +08:00."""
    response = client.get(f"{NEARBY}?{HERE}&open_at=2026-11-30T10:00:00+08:00")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    encoded = client.get(f"{NEARBY}?{HERE}&open_at=2026-11-30T10:00:00%2B08:00")
    assert response.get_json() == encoded.get_json()


def test_unencoded_plus_in_hours_from_is_accepted(client, dinghai_id):
    """The same tolerance for `from` on the hours endpoint."""
    url = f"/v1/sites/{dinghai_id}/hours?days=1&from=2026-11-30T00:00:00"
    raw = client.get(f"{url}+08:00")
    encoded = client.get(f"{url}%2B08:00")
    assert raw.status_code == 200, raw.get_data(as_text=True)
    assert raw.get_json() == encoded.get_json()


@pytest.mark.parametrize(
    "url",
    [
        "/v1/sites?updated_since=2026-01-01T00:00:00%2B16:00",
        "/v1/sites?open_at=2026-12-01T04:00:00%2B23:59",
        "/v1/sites/nearby?lat=30&lon=122&open_at=2026-12-01T04:00:00%2B16:00",
        "/v1/tiles/5/26/13.mvt?open_at=2026-12-01T04:00:00%2B16:00",
        "/ogc/collections/sites/items?datetime=2026-01-01T00:00:00-20:00/..",
        "/ogc/collections/sites/items?datetime=9999-12-31T23:59:59-23:59",
    ],
)
def test_utc_offsets_beyond_postgresql_range_are_not_500(client, url):
    """RFC 3339 allows offsets up to ±23:59; PostgreSQL only ±15:59: instants become UTC."""
    r = client.get(url)
    assert r.status_code < 500, r.get_data(as_text=True)


def test_offset_plus_16_means_the_same_instant(client):
    a = client.get("/v1/sites", query_string={"open_at": "2026-12-01T20:00:00+16:00"})
    b = client.get("/v1/sites", query_string={"open_at": "2026-12-01T04:00:00+00:00"})
    assert a.status_code == b.status_code == 200
    assert [i["id"] for i in a.json["items"]] == [i["id"] for i in b.json["items"]]


@pytest.mark.parametrize(
    "url, status",
    [
        ("/v1/sites/%D9%A1", 404),
        ("/v1/sites/%EF%BC%91", 404),
        ("/ogc/collections/sites/items/%EF%BC%91", 404),
        ("/v1/tiles/%EF%BC%95/%EF%BC%92%EF%BC%96/%EF%BC%91%EF%BC%93.mvt", 404),
        ("/v1/sites/nearby?lat=%EF%BC%93%EF%BC%90&lon=122", 422),
        ("/v1/sites?limit=%EF%BC%91", 422),
        ("/ogc/collections/sites/items?bbox=%EF%BC%91,2,3,4", 400),
        ("/v1/sites?bbox=1_0,0,20,1", 422),
        ("/v1/sites?bbox=%201,0,2,1", 422),
        ("/ogc/collections/sites/items?bbox=1,2,a,3,4,b", 400),
    ],
)
def test_numbers_are_ascii_plain_decimals(client, url, status):
    r = client.get(url)
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == "application/problem+json"


def test_geojson_by_accept_header_with_parameters(client):
    r = client.get("/v1/sites?limit=1", headers={"Accept": "application/geo+json; charset=utf-8"})
    assert r.headers["Content-Type"].startswith("application/geo+json")
    assert r.json["type"] == "FeatureCollection"


def test_an_empty_tile_has_no_content_type(client):
    r = client.get("/v1/tiles/22/0/0.mvt")
    assert r.status_code == 204 and "Content-Type" not in r.headers
