"""The bad-input matrix: every malformed or invalid request is a 4xx problem+json, never a 5xx.

Each case asserts the RFC 9457 shape from the contract (`type`, `title`, `status` equal to
the HTTP status, `detail`) and, for validation errors, an `errors` object naming the
offending parameter. No case may leak a partial answer (an `items` list) or a server error.
"""

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from service.core import pagination as cursors

PROBLEM_JSON = "application/problem+json"
NEARBY = "/v1/sites/nearby"
HERE = "lat=30.0176&lon=122.1069"  # the Dinghai East Gate station
LONG_Q = "a" * 101


@pytest.fixture()
def dinghai_id(client) -> int:
    """The id of the Dinghai East Gate station (external_id DEMO-DH-0001)."""
    items = client.get("/v1/sites?limit=1000").get_json()["items"]
    return next(s["id"] for s in items if s["external_id"] == "DEMO-DH-0001")


def assert_problem(response, status: int, fields: tuple[str, ...] = ()) -> dict:
    """A problem+json body with the given status; for validation, `errors` names a field."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    for key in ("type", "title", "status", "detail"):
        assert key in body, f"problem lacks {key!r}: {body}"
    assert body["status"] == response.status_code
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert "items" not in body and "features" not in body  # never a partial answer
    if fields:
        assert isinstance(body.get("errors"), dict), body
        assert set(fields) & set(body["errors"]), f"errors should name one of {fields}: {body}"
    return body


# (url, expected status, accepted error keys, substring the field's message must contain)
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


def test_cursor_reused_with_a_different_lat_is_rejected(client):
    """A cursor is bound to its query: reusing it from another point is a 422 on cursor."""
    first = client.get(f"{NEARBY}?{HERE}&limit=2")
    assert first.status_code == 200
    next_url = first.get_json()["next"]
    assert next_url, "the demo data has more than two sites near Dinghai"
    cursor = parse_qs(urlsplit(next_url).query)["cursor"][0]
    # The cursor is valid for its own query...
    assert client.get(f"{NEARBY}?{HERE}&limit=2&cursor={cursor}").status_code == 200
    # ...and not for a neighbouring point.
    moved = client.get(f"{NEARBY}?lat=30.02&lon=122.1069&limit=2&cursor={cursor}")
    assert_problem(moved, 422, ("cursor",))


def test_sites_cursor_reused_with_other_filters_is_rejected(client):
    """A /v1/sites cursor reused with another filter is a 422 on cursor."""
    first = client.get("/v1/sites?limit=2")
    cursor = parse_qs(urlsplit(first.get_json()["next"]).query)["cursor"][0]
    other = client.get(f"/v1/sites?limit=2&kind=home&cursor={cursor}")
    assert_problem(other, 422, ("cursor",))


def _forged_cursor(position: dict, params: dict) -> str:
    """A cursor with the right query fingerprint but a tampered position."""
    payload = {**position, "q": cursors.fingerprint(params)}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "position",
    [
        pytest.param({"i": True}, id="id-true"),
        pytest.param({"i": "7"}, id="id-string"),
        pytest.param({"i": None}, id="id-null"),
    ],
)
def test_tampered_sites_cursor_is_a_422(client, position):
    """A cursor whose position was edited by hand is bad input (422), not a server error."""
    cursor = _forged_cursor(position, {"limit": "2"})
    assert_problem(client.get(f"/v1/sites?limit=2&cursor={cursor}"), 422, ("cursor",))


@pytest.mark.parametrize(
    "position",
    [
        pytest.param({"d": "x", "i": 1}, id="distance-string"),
        pytest.param({"d": 1.0, "i": None}, id="id-null"),
    ],
)
def test_tampered_nearby_cursor_is_a_422(client, position):
    """A nearby cursor with an edited position is a 422 on cursor."""
    params = {"lat": "30.0176", "lon": "122.1069", "limit": "2"}
    cursor = _forged_cursor(position, params)
    assert_problem(client.get(f"{NEARBY}?{HERE}&limit=2&cursor={cursor}"), 422, ("cursor",))


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


def test_post_to_a_read_only_resource_is_a_405_problem_with_allow(client):
    """POST /v1/amenities: 405 problem+json with an Allow header listing GET."""
    response = client.post("/v1/amenities", json={"code": "jacuzzi"})
    assert_problem(response, 405)
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert "GET" in allowed and "POST" not in allowed
