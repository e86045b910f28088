"""Core rows to plain dicts in the documented Site shape (the fast path for orjson).

tests/test_schemas.py checks these dicts against the marshmallow schemas in
`schemas.py`, which stay the documented shape.
"""

import operator
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import orjson

from service import crs as datum


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def rfc3339(t: datetime | None, tz: str) -> str | None:
    """`t` in the zone `tz` to the second, with its offset: `isoformat(timespec="seconds")`,
    which orjson writes the same (checked over 200k instants and six zones) in a third of
    the time."""
    if t is None:
        return None
    local = t.astimezone(zone(tz))
    if local.utcoffset().seconds % 60:  # local mean time before ~1900 (+08:05:43): orjson
        return local.isoformat(timespec="seconds")  # would round the offset to the minute
    return orjson.dumps(local, option=orjson.OPT_OMIT_MICROSECONDS)[1:-1].decode()


def location(lat: float, lon: float, crs: str) -> dict[str, float]:
    if crs != "wgs84":
        lat, lon = datum.from_wgs84(lat, lon, crs)
    return {"lat": round(lat, 7), "lon": round(lon, 7)}


# The columns of queries.SITE_COLUMNS, read by position: a Row's attribute access cost
# ~2 us per name (40 us a site, most of a 250-feature GeoJSON page's Python time),
# one itemgetter over the row ~1 us for all of them.
_SITE_FIELDS = (
    "id", "kind", "name", "name_en", "org_code", "org_name", "external_id", "address",
    "lat", "lon", "amenities", "opening_hours", "timezone", "status", "area_m2",
    "star_rating", "phone", "description", "updated_at", "version",
)  # fmt: skip


@lru_cache(maxsize=128)
def _getter(fields: tuple[str, ...], names: tuple[str, ...]):
    positions = [fields.index(n) for n in names]
    if len(positions) == 1:  # itemgetter of one index returns the item, not a 1-tuple
        (i,) = positions
        return lambda row: (row[i],)
    return operator.itemgetter(*positions)


# The column names of the last result seen: the rows of one page share their result's
# metadata, and `row._fields` builds a new tuple on every call (~15 us; 3 calls a site made
# it a tenth of a 20-site nearby request). One tuple swap, so threads at worst recompute.
_last_fields: tuple = (None, ())


def _fields(row) -> tuple[str, ...]:
    global _last_fields
    meta, fields = _last_fields
    if row._parent is not meta:
        fields = row._fields
        _last_fields = (row._parent, fields)
    return fields


def values(row, names: tuple[str, ...]) -> tuple:
    """These columns of a Core row, by position (the query's column order is looked up once)."""
    return _getter(_fields(row), names)(row)


def site(row, crs: str = "wgs84") -> dict:
    (
        id_, kind, name, name_en, org_code, org_name, external_id, address, lat, lon,
        amenities, opening_hours, tz, status, area_m2, star_rating, phone, description,
        updated_at, version,
    ) = values(row, _SITE_FIELDS)  # fmt: skip
    return {
        "id": id_,
        "kind": kind,
        "name": name,
        "name_en": name_en,
        "org": {"code": org_code, "name": org_name},
        "external_id": external_id,
        "address": address,
        "location": location(lat, lon, crs),
        "amenities": amenities,
        "opening_hours": opening_hours,
        "timezone": tz,
        "status": status,
        "area_m2": float(area_m2) if area_m2 is not None else None,
        "star_rating": star_rating,
        "phone": phone,
        "description": description,
        "updated_at": rfc3339(updated_at, tz),
        "version": version,
    }


_OPEN_FIELDS = ("status", "opening_hours", "timezone", "open_lo", "open_hi")


def open_state(row, now: datetime) -> dict:
    """From the first materialised interval of the site's pattern that is not over yet."""
    status, opening_hours, tz, open_lo, open_hi = values(row, _OPEN_FIELDS)
    if status != "active":
        return {"is_open": False, "next_change": None}
    if opening_hours is None:
        return {"is_open": None, "next_change": None}
    if open_lo is None:  # no open interval left within the horizon
        return {"is_open": False, "next_change": None}
    if open_lo <= now:
        return {"is_open": True, "next_change": rfc3339(open_hi, tz)}
    return {"is_open": False, "next_change": rfc3339(open_lo, tz)}


def nearby_site(row, now: datetime, crs: str) -> dict:
    item = site(row, crs)
    (distance_m,) = values(row, ("distance_m",))
    item["distance_m"] = round(distance_m, 1)
    item["open_state"] = open_state(row, now)
    return item


def feature(row, crs: str) -> dict:
    props = site(row, crs)
    loc = props.pop("location")
    return {
        "type": "Feature",
        "id": props["id"],
        "geometry": {"type": "Point", "coordinates": [loc["lon"], loc["lat"]]},
        "properties": props,
    }
