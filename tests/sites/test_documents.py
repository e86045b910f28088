"""`sites.doc` and `orgs.doc` (schema/versions/0011_site_documents.py): the Site of API.md.

The reference here renders a site's columns in Python, as the service did before the
documents existed; the stored documents must equal orjson's bytes of it, after every kind
of write, and the API must send the site with its org and location joined in.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
import sqlalchemy as sa

from service.core import clock
from service.sites import store
from tests.conftest import FROZEN_NOW, HORIZON_DAYS

ZONES = (
    "Asia/Shanghai", "Asia/Urumqi", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns",
    "Australia/Lord_Howe", "Pacific/Chatham", "Pacific/Kiritimati", "America/Los_Angeles",
    "Europe/Dublin", "UTC",
)  # fmt: skip

INSTANTS = (
    datetime(2026, 11, 30, 4, 0, 0, 999_999, tzinfo=UTC),  # microseconds are cut, not rounded
    datetime(2026, 3, 8, 9, 59, 59, tzinfo=UTC),  # the second before Los Angeles springs ahead
    datetime(2026, 3, 8, 10, 0, 0, tzinfo=UTC),
    datetime(2026, 4, 4, 15, 30, tzinfo=UTC),  # Lord Howe's half-hour DST ends
    datetime(1999, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
    datetime(1890, 6, 1, 0, 0, tzinfo=UTC),  # local mean time: offsets with seconds
    datetime(1, 1, 1, 0, 0, tzinfo=UTC) + timedelta(days=1),
)


def reference(conn, site_id: int) -> bytes:
    """The site's members but `org` and `location`, from its columns, rendered by Python."""
    r = conn.execute(sa.text("SELECT * FROM sites WHERE id = :id"), {"id": site_id}).one()
    return orjson.dumps(
        {
            "id": r.id,
            "kind": r.kind,
            "name": r.name,
            "name_en": r.name_en,
            "external_id": r.external_id,
            "address": r.address,
            "amenities": r.amenities,
            "opening_hours": r.opening_hours,
            "timezone": r.timezone,
            "workday_swaps": r.workday_swaps,
            "special_days": orjson.loads(r.special_days),
            "status": r.status,
            "closed_until": r.closed_until.isoformat() if r.closed_until else None,
            "closure_reason": r.closure_reason,
            "area_m2": float(r.area_m2) if r.area_m2 is not None else None,
            "star_rating": r.star_rating,
            "phone": r.phone,
            "description": r.description,
            "updated_at": clock.rfc3339(r.updated_at, r.timezone),
            "version": r.version,
        }
    )


def stored(conn, site_id: int) -> bytes:
    """The site's document, closed (it is stored without its closing brace)."""
    doc = conn.scalar(sa.text("SELECT doc FROM sites WHERE id = :id"), {"id": site_id})
    assert not doc.endswith("}")
    return (doc + "}").encode()


TEXTS = (
    "工会驿站（定海）「户外劳动者」",
    'quote " backslash \\ slash / tab \t newline \n',
    "controls \x01\x08\x0c\x1f del \x7f",
    "emoji 🍜 astral 𠀀 line sep \u2028 para \u2029",
)


@pytest.mark.parametrize("text", TEXTS, ids=("cjk", "escapes", "controls", "astral"))
def test_text_is_escaped_as_orjson_escapes_it(conn, make_site, text):
    site_id = make_site(
        30.0, 122.1, name=text.replace("\x00", "")[:200], address=text, description=text
    )
    assert stored(conn, site_id) == reference(conn, site_id)


def test_every_member_and_null(conn, make_site):
    full = make_site(
        30.0,
        122.1,
        kind="home",
        name_en="Workers' home",
        address="定海区人民北路 1 号",
        amenities=["wifi", "microwave", "toilet"],
        timezone="Asia/Urumqi",
        status="temporarily_closed",
        area_m2=Decimal("99999999.9"),
        star_rating=5,
        phone="+86 580 1234567",
        description="三星级职工之家",
    )
    bare = make_site(
        30.0, 122.2, opening_hours=None, external_id=None, area_m2=Decimal("0.1"), amenities=[]
    )
    for site_id in (full, bare):
        assert stored(conn, site_id) == reference(conn, site_id)
    assert orjson.loads(stored(conn, bare))["opening_hours"] is None


@pytest.mark.parametrize("zone", ZONES)
def test_updated_at_in_the_sites_zone(conn, make_site, zone):
    site_id = make_site(30.0, 122.1, timezone=zone)
    for t in INSTANTS:
        conn.execute(
            sa.text("UPDATE sites SET updated_at = :t WHERE id = :id"), {"t": t, "id": site_id}
        )
        assert stored(conn, site_id) == reference(conn, site_id), t


def test_api_update_and_delete_rewrite_it(conn, make_site):
    site_id = make_site(30.0, 122.1, name="旧名")
    later = FROZEN_NOW + timedelta(hours=1)
    version = store.update(
        conn, site_id, 1, {"name": "新名", "amenities": ["wifi"]}, None, None, later,
        HORIZON_DAYS,
    )  # fmt: skip
    doc = orjson.loads(stored(conn, site_id))
    assert (doc["name"], doc["amenities"], doc["version"]) == ("新名", ["wifi"], version)
    assert stored(conn, site_id) == reference(conn, site_id)
    assert store.delete(conn, site_id, version, None, later)
    assert stored(conn, site_id) == reference(conn, site_id)


def test_a_write_outside_the_api_is_reflected(conn, make_site):
    site_id = make_site(30.0, 122.1)
    write = sa.text("UPDATE sites SET phone = '110', star_rating = 3 WHERE id = :id")
    conn.execute(write, {"id": site_id})
    doc = orjson.loads(stored(conn, site_id))
    assert (doc["phone"], doc["star_rating"]) == ("110", 3)
    assert stored(conn, site_id) == reference(conn, site_id)


def test_org_documents(conn):
    rename = sa.text("UPDATE orgs SET name = :name WHERE code = 'zj'")
    conn.execute(rename, {"name": '浙江省总工会 "新" \\ 联合会\t'})
    rows = conn.execute(sa.text("SELECT code::text AS code, name, doc FROM orgs")).all()
    assert len(rows) > 40
    for r in rows:
        assert r.doc.encode() == orjson.dumps({"code": r.code, "name": r.name}), r.code


def test_the_api_joins_org_and_location(conn, client, make_site):
    site_id = make_site(45.7512, 126.6381, org="zj.hz", name="哈尔滨测试驿站")
    conn.execute(sa.text("UPDATE orgs SET name = '杭州市总工会（新）' WHERE code = 'zj.hz'"))
    expected = orjson.loads(reference(conn, site_id))
    expected["org"] = {"code": "zj.hz", "name": "杭州市总工会（新）"}
    expected["location"] = {"lat": 45.7512, "lon": 126.6381}
    per_request = ("distance_m", "open_state", "hours_text")

    def stored_part(item: dict) -> dict:
        return {k: v for k, v in item.items() if k not in per_request}

    got = client.get(f"/v1/sites/{site_id}").json
    assert stored_part(got) == expected
    assert list(got)[-4:] == ["org", "location", "open_state", "hours_text"]
    near = client.get("/v1/sites/nearby?lat=45.7512&lon=126.6381&radius=10").json["items"]
    assert [stored_part(i) for i in near] == [expected]
    assert near[0]["open_state"] == got["open_state"]
    listed = client.get("/v1/sites?bbox=126.63,45.75,126.64,45.76&f=geojson").json["features"]
    mine = [f for f in listed if f["id"] == site_id]
    assert stored_part(mine[0]["properties"]) == {
        k: v for k, v in expected.items() if k != "location"
    }
    assert mine[0]["properties"]["open_state"] == got["open_state"]
    assert mine[0]["geometry"]["coordinates"] == [126.6381, 45.7512]


def test_every_demo_site(conn):
    ids = conn.scalars(sa.text("SELECT id FROM sites ORDER BY id")).all()
    assert len(ids) > 200
    for site_id in ids:
        assert stored(conn, site_id) == reference(conn, site_id), site_id


POINTS = (
    (30.0176, 122.1069, 30.0176, 122.1069),
    (-33.8688, 151.2093, -33.8688, 151.2093),
    (89.99999999, -179.99999999, 90.0, -180.0),
    (0.0, 0.0, 0.0, 0.0),
    (1e-7, -1e-7, 1e-7, -1e-7),
    (4e-8, -6e-8, 0.0, -1e-7),
    # Halves at the 8th decimal go away from zero, as written (the doubles lie just below).
    (30.12345675, -120.98765435, 30.1234568, -120.9876544),
    (45.123456789012, 126.987654321098, 45.1234568, 126.9876543),
)


@pytest.mark.parametrize("lat,lon,lat7,lon7", POINTS)
def test_coordinates_to_seven_decimals(conn, client, make_site, lat, lon, lat7, lon7):
    site_id = make_site(lat, lon)
    text = conn.scalar(sa.text("SELECT geometry_doc FROM sites WHERE id = :id"), {"id": site_id})
    assert orjson.loads(text) == {"type": "Point", "coordinates": [lon7, lat7]}
    assert client.get(f"/v1/sites/{site_id}").json["location"] == {"lat": lat7, "lon": lon7}


def test_every_demo_point_within_half_a_unit_of_the_seventh_decimal(conn):
    rows = conn.execute(sa.text("SELECT geometry_doc, ST_Y(geom), ST_X(geom) FROM sites")).all()
    for text, lat, lon in rows:
        lon7, lat7 = orjson.loads(text)["coordinates"]
        assert abs(lat7 - lat) <= 0.5e-7 + 1e-12 and abs(lon7 - lon) <= 0.5e-7 + 1e-12, text
        assert (round(lat7, 7), round(lon7, 7)) == (lat7, lon7)


def test_geojson_pages_from_postgresql_equal_those_built_in_python(conn, client, make_site):
    """The WGS-84 page is made whole by PostgreSQL; another datum goes through Python, whose
    features, converted back, must be the same sites with the same properties."""
    make_site(30.0170001, 122.1060009, name='边界 \\ "测试"', description="\x01")
    url = "/v1/sites?bbox=121.0,29.5,123.0,30.5&f=geojson&limit=100"
    stored = client.get(url).json["features"]
    built = client.get(url + "&crs=gcj02").json["features"]
    assert len(stored) > 5
    assert [f["id"] for f in stored] == [f["id"] for f in built]
    assert [f["properties"] for f in stored] == [f["properties"] for f in built]
    ogc = client.get("/ogc/collections/sites/items?bbox=121.0,29.5,123.0,30.5&limit=100").json
    assert ogc["features"] == stored
    assert ogc["numberReturned"] == len(stored)


def test_the_writers_float_settings_do_not_change_coordinates(conn, make_site):
    """A generated column must not depend on the session that writes the row."""
    conn.execute(sa.text("SET LOCAL extra_float_digits = -10"))  # float8 text: 5 digits
    site_id = make_site(30.0176123, 122.1069456)
    text = conn.scalar(sa.text("SELECT geometry_doc FROM sites WHERE id = :id"), {"id": site_id})
    assert text == '{"type":"Point","coordinates":[122.1069456,30.0176123]}'
