"""The fast path (Core rows + orjson) returns exactly the documented marshmallow shapes.

`service/sites/serialize.py` builds plain dicts for speed; the schemas in
`service/sites/schemas.py` remain the documented response shape (and feed /openapi.json).
Every item served must load with its schema without errors and carry exactly the schema's
declared keys, nested objects included.
"""

import math
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from marshmallow import Schema, fields

from service.amenities.routes import AmenitySchema
from service.sites.schemas import (
    HoursSchema,
    Interval,
    LatLon,
    NearbySiteSchema,
    OpenState,
    OrgRef,
    SiteSchema,
)

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
SHANGHAI_OFFSET = timedelta(hours=8)
GEOJSON = "application/geo+json"

NEARBY_QUERIES = [
    pytest.param("lat=30.0176&lon=122.1069", id="dinghai"),
    pytest.param("lat=30.25&lon=120.17&radius=10000&limit=100", id="hangzhou-100"),
    pytest.param("lat=29.88&lon=121.55&radius=20000&kind=station&amenities=wifi", id="ningbo"),
    pytest.param("lat=30.25&lon=120.17&radius=20000&open_now=true", id="open-now"),
    pytest.param(
        "lat=30.25&lon=120.17&radius=20000&open_at=2026-12-01T22:30:00%2B08:00", id="open-at"
    ),
    pytest.param("lat=30.0176&lon=122.1069&radius=50000&q=驿站&crs=gcj02", id="q-gcj02"),
    pytest.param("lat=30.25&lon=120.17&radius=50000&org=zj.hz&crs=bd09", id="org-bd09"),
]
SITES_QUERIES = [
    pytest.param("limit=1000", id="all"),
    pytest.param("bbox=120.0,30.1,120.4,30.4&limit=50", id="bbox"),
    pytest.param("kind=home,facility&crs=gcj02", id="kinds-gcj02"),
    pytest.param("open_now=true&any_amenities=toilet,wifi", id="open-now-any"),
]


def declared_keys(schema: Schema) -> set[str]:
    """The keys a schema dumps: each field's data_key, else its name."""
    return {f.data_key or name for name, f in schema.fields.items()}


def assert_matches(schema: Schema, item: dict) -> None:
    """Loads without errors and has exactly the declared keys, recursing into nested schemas."""
    errors = schema.validate(item)
    assert not errors, f"{type(schema).__name__}: {errors} in {item}"
    assert set(item) == declared_keys(schema), (
        f"{type(schema).__name__}: missing {declared_keys(schema) - set(item)}, "
        f"extra {set(item) - declared_keys(schema)}"
    )
    for name, field in schema.fields.items():
        value = item.get(field.data_key or name)
        if value is None:
            continue
        if isinstance(field, fields.Nested):
            nested = field.schema
            for element in value if field.many else [value]:
                assert_matches(nested, element)
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            for element in value:
                assert_matches(field.inner.schema, element)


def decimals(value: float) -> int:
    text = repr(float(value))
    assert "e" not in text.lower() or value == 0, f"{value} should print without exponent"
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


def assert_rfc3339(text: str, offset: timedelta | None = None) -> datetime:
    assert isinstance(text, str) and RFC3339.match(text), f"{text!r} is not RFC 3339"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None
    if offset is not None:
        assert parsed.utcoffset() == offset, f"{text} should have offset {offset}"
    return parsed


def assert_site_types(item: dict) -> None:
    """Coordinates as floats with at most 7 decimals; updated_at in the site's zone."""
    loc = item["location"]
    for axis in ("lat", "lon"):
        assert isinstance(loc[axis], float), f"{axis} should be a JSON float: {loc}"
        assert math.isfinite(loc[axis])
        assert decimals(loc[axis]) <= 7, f"{axis}={loc[axis]!r} has more than 7 decimals"
    assert -90 <= loc["lat"] <= 90 and -180 <= loc["lon"] <= 180
    offset = SHANGHAI_OFFSET if item["timezone"] == "Asia/Shanghai" else None
    assert_rfc3339(item["updated_at"], offset)
    assert isinstance(item["id"], int) and isinstance(item["version"], int)
    assert all(isinstance(a, str) for a in item["amenities"])


@pytest.fixture()
def ids(client) -> dict[str, int]:
    """external_id -> id of every listed site."""
    items = client.get("/v1/sites?limit=1000").get_json()["items"]
    return {s["external_id"]: s["id"] for s in items}


@pytest.mark.parametrize("query", NEARBY_QUERIES)
def test_nearby_items_match_nearby_site_schema(client, query):
    """Every nearby item is a NearbySiteSchema: Site fields + distance_m + open_state."""
    response = client.get(f"/v1/sites/nearby?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"items", "next"}
    assert body["items"], "the query should find demo sites"
    for item in body["items"]:
        assert_matches(NearbySiteSchema(), item)
        assert_site_types(item)
        assert isinstance(item["distance_m"], int | float) and item["distance_m"] >= 0
        assert decimals(item["distance_m"]) <= 1, item["distance_m"]
        state = item["open_state"]
        assert state["is_open"] in (True, False, None)
        if state["next_change"] is not None:
            assert_rfc3339(state["next_change"], SHANGHAI_OFFSET)


@pytest.mark.parametrize("query", SITES_QUERIES)
def test_sites_items_match_site_schema(client, query):
    """Every /v1/sites item (JSON) is exactly a SiteSchema."""
    response = client.get(f"/v1/sites?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"items", "next"}
    assert body["items"]
    for item in body["items"]:
        assert_matches(SiteSchema(), item)
        assert_site_types(item)


@pytest.mark.parametrize(
    "external_id",
    [
        pytest.param("DEMO-DH-0001", id="station"),
        pytest.param("DEMO-DY-0001", id="home-no-hours"),
        pytest.param("DEMO-LH-0001", id="facility-PH-off"),
        pytest.param("DEMO-HZ-0005", id="24-7"),
        pytest.param("DEMO-HZ-0041", id="temporarily-closed"),
    ],
)
@pytest.mark.parametrize("crs", ["wgs84", "gcj02"])
def test_site_by_id_matches_site_schema(client, ids, external_id, crs):
    """GET /v1/sites/{id} is exactly a SiteSchema, in either datum."""
    response = client.get(f"/v1/sites/{ids[external_id]}?crs={crs}")
    assert response.status_code == 200
    item = response.get_json()
    assert_matches(SiteSchema(), item)
    assert_site_types(item)
    assert item["external_id"] == external_id


def test_closed_site_by_id_matches_site_schema(client, conn):
    """A permanently closed site (hidden from lists, so found in the database) too."""
    site_id = conn.scalar(
        sa.text("SELECT id FROM sites WHERE external_id = 'DEMO-HZ-0010' AND status = 'closed'")
    )
    assert site_id is not None
    item = client.get(f"/v1/sites/{site_id}").get_json()
    assert_matches(SiteSchema(), item)
    assert_site_types(item)
    assert item["status"] == "closed"


@pytest.mark.parametrize(
    ("external_id", "query"),
    [
        pytest.param("DEMO-DH-0001", "", id="default-window"),
        pytest.param("DEMO-LH-0001", "?from=2026-09-30T00:00:00%2B08:00&days=10", id="PH"),
        pytest.param("DEMO-HZ-0005", "?days=1", id="24-7"),
        pytest.param("DEMO-HZ-0041", "?days=3", id="temporarily-closed"),
        pytest.param("DEMO-DY-0001", "?days=3", id="no-hours"),
    ],
)
def test_hours_match_hours_schema(client, ids, external_id, query):
    """GET /v1/sites/{id}/hours is exactly an HoursSchema of Intervals in the site's zone."""
    response = client.get(f"/v1/sites/{ids[external_id]}/hours{query}")
    assert response.status_code == 200
    body = response.get_json()
    assert_matches(HoursSchema(), body)
    for interval in body["intervals"]:
        assert set(interval) == declared_keys(Interval())
        start = assert_rfc3339(interval["start"], SHANGHAI_OFFSET)
        end = assert_rfc3339(interval["end"], SHANGHAI_OFFSET)
        assert start < end


def test_amenities_match_amenity_schema(client):
    """GET /v1/amenities items are exactly AmenitySchema."""
    body = client.get("/v1/amenities").get_json()
    assert set(body) == {"items", "next"}
    for item in body["items"]:
        assert_matches(AmenitySchema(), item)


def test_nested_schemas_are_what_items_carry():
    """The nested shapes used above are the documented ones (guards the helper itself)."""
    site = SiteSchema()
    assert site.fields["org"].schema.__class__ is OrgRef
    assert site.fields["location"].schema.__class__ is LatLon
    assert NearbySiteSchema().fields["open_state"].schema.__class__ is OpenState


@pytest.mark.parametrize(
    "how",
    [
        pytest.param({"query": "&f=geojson"}, id="f-geojson"),
        pytest.param({"headers": {"Accept": GEOJSON}}, id="accept-header"),
    ],
)
@pytest.mark.parametrize("crs", ["wgs84", "bd09"])
def test_geojson_matches_the_json_form(client, how, crs):
    """A FeatureCollection whose features are the JSON items: id, [lon, lat], properties."""
    base = f"/v1/sites?bbox=120.0,30.1,120.4,30.4&limit=50&crs={crs}"
    json_items = client.get(base).get_json()["items"]
    assert json_items
    response = client.get(base + how.get("query", ""), headers=how.get("headers", {}))
    assert response.status_code == 200
    assert response.mimetype == GEOJSON
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    features = body["features"]
    assert [f["id"] for f in features] == [s["id"] for s in json_items]
    property_keys = declared_keys(SiteSchema()) - {"location"}  # the geometry carries it
    for feature, item in zip(features, json_items, strict=True):
        assert feature["type"] == "Feature"
        assert feature["id"] == feature["properties"]["id"]
        assert feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        assert [lon, lat] == [item["location"]["lon"], item["location"]["lat"]]
        assert set(feature["properties"]) == property_keys
        assert feature["properties"] == {k: v for k, v in item.items() if k != "location"}
