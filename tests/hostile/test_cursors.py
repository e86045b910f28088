"""Cursors from outside: reused with another query, edited by hand, pointing out of range.

A cursor is opaque but not trusted: each is bound to its query's fingerprint and its position
is re-validated, so a forged one is a 422 on `cursor` (or `since`), never a 500.
"""

import base64
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from tests.support import assert_problem, forged_cursor

NEARBY = "/v1/sites/nearby"


HERE = "lat=30.0176&lon=122.1069"  # the Dinghai East Gate station


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
    cursor = forged_cursor(position, {"limit": "2"})
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
    cursor = forged_cursor(position, params)
    assert_problem(client.get(f"{NEARBY}?{HERE}&limit=2&cursor={cursor}"), 422, ("cursor",))


def test_out_of_range_ids_are_4xx(client, editor):
    assert client.get("/v1/sites/9223372036854775808").status_code == 404
    assert client.get("/v1/sites/0").status_code == 404
    r = client.get("/v1/reports", query_string={"site_id": 2**63}, headers=editor)
    assert_problem(r, 422, "site_id")
    cursor = forged_cursor({"i": 2**63}, {"limit": "1"})
    r = client.get("/v1/reports", query_string={"limit": "1", "cursor": cursor}, headers=editor)
    assert_problem(r, 422, "cursor")
    params = {"lat": "29.9", "lon": "121.5"}
    cursor = forged_cursor({"i": 2**63, "d": 1.0}, params)
    r = client.get("/v1/sites/nearby", query_string={**params, "cursor": cursor})
    assert_problem(r, 422, "cursor")


def test_a_change_cursor_cannot_point_beyond_every_transaction(client):
    forged = base64.urlsafe_b64encode(orjson.dumps({"x": -1, "s": -1})).decode().rstrip("=")
    assert_problem(client.get("/v1/changes", query_string={"since": forged}), 422, "since")
