"""Core rows to plain dicts in the documented Site shape (the fast path for orjson).

tests/test_schemas.py checks these dicts against the marshmallow schemas in
`schemas.py`, which stay the documented shape.
"""

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from service import crs as datum


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def rfc3339(t: datetime | None, tz: str) -> str | None:
    if t is None:
        return None
    return t.astimezone(zone(tz)).isoformat(timespec="seconds")


def location(lat: float, lon: float, crs: str) -> dict[str, float]:
    if crs != "wgs84":
        lat, lon = datum.from_wgs84(lat, lon, crs)
    return {"lat": round(lat, 7), "lon": round(lon, 7)}


def site(row, crs: str = "wgs84") -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "name_en": row.name_en,
        "org": {"code": row.org_code, "name": row.org_name},
        "external_id": row.external_id,
        "address": row.address,
        "location": location(row.lat, row.lon, crs),
        "amenities": row.amenities,
        "opening_hours": row.opening_hours,
        "timezone": row.timezone,
        "status": row.status,
        "area_m2": float(row.area_m2) if row.area_m2 is not None else None,
        "star_rating": row.star_rating,
        "phone": row.phone,
        "description": row.description,
        "updated_at": rfc3339(row.updated_at, row.timezone),
        "version": row.version,
    }


def open_state(row, now: datetime) -> dict:
    """From the first materialised interval of the site's pattern that is not over yet."""
    if row.status != "active":
        return {"is_open": False, "next_change": None}
    if row.opening_hours is None:
        return {"is_open": None, "next_change": None}
    if row.open_lo is None:  # no open interval left within the horizon
        return {"is_open": False, "next_change": None}
    if row.open_lo <= now:
        return {"is_open": True, "next_change": rfc3339(row.open_hi, row.timezone)}
    return {"is_open": False, "next_change": rfc3339(row.open_lo, row.timezone)}


def nearby_site(row, now: datetime, crs: str) -> dict:
    item = site(row, crs)
    item["distance_m"] = round(row.distance_m, 1)
    item["open_state"] = open_state(row, now)
    return item


def feature(row, crs: str) -> dict:
    props = site(row, crs)
    loc = props.pop("location")
    return {
        "type": "Feature",
        "id": row.id,
        "geometry": {"type": "Point", "coordinates": [loc["lon"], loc["lat"]]},
        "properties": props,
    }
