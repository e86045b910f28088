"""Core rows to the documented Site shape, as JSON for orjson to send (the fast path).

PostgreSQL keeps each site's and org's JSON (`sites.doc`, `orgs.doc`: schema/versions/
0011_site_documents.py); this joins them and adds what depends on the request: the
location in the datum asked for, distance and open state. tests/sites/test_schemas.py checks the
results against the marshmallow schemas in `schemas.py`, which stay the documented shape.
"""

import operator
from datetime import datetime
from functools import lru_cache

import orjson

from service.core.clock import rfc3339
from service.geo import datums as datum


def location(lat: float, lon: float, crs: str) -> dict[str, float]:
    if crs != "wgs84":
        lat, lon = datum.from_wgs84(lat, lon, crs)
    return {"lat": round(lat, 7), "lon": round(lon, 7)}


# Rows are read by position: a Row's attribute access cost ~2 us per name, one itemgetter
# over the row ~1 us for all of them.
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


_SITE_FIELDS = ("id", "doc", "org_doc", "geometry_doc")  # queries.SITE_COLUMNS


def _point(geometry_doc: str) -> tuple[float, float]:
    """(lat, lon) from the stored GeoJSON Point, already to 7 decimals: every answer in WGS-84
    writes the coordinates PostgreSQL wrote there, GeoJSON pages made by it included."""
    lon, lat = orjson.loads(geometry_doc)["coordinates"]
    return lat, lon


def _members(doc: str, org_doc: str, members: dict) -> orjson.Fragment:
    """The site's stored members (an object left open), its org's and more, closed."""
    if not members:
        return orjson.Fragment(f'{doc},"org":{org_doc}}}')
    return orjson.Fragment(f'{doc},"org":{org_doc},{orjson.dumps(members).decode()[1:]}')


def site(row, crs: str = "wgs84", extra: dict | None = None) -> orjson.Fragment:
    """The Site of API.md: the documents PostgreSQL keeps for the site and its org
    (schema/versions/0011_site_documents.py), the `location` in `crs` and `extra` members,
    as JSON that orjson sends as it is."""
    _, doc, org_doc, geometry_doc = values(row, _SITE_FIELDS)
    loc = location(*_point(geometry_doc), crs)
    return _members(doc, org_doc, {"location": loc, **(extra or {})})


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


def nearby_site(row, now: datetime, crs: str) -> orjson.Fragment:
    (distance_m,) = values(row, ("distance_m",))
    extra = {"distance_m": round(distance_m, 1), "open_state": open_state(row, now)}
    return site(row, crs, extra)


def features(rows) -> orjson.Fragment:
    """A JSON array of the (id, feature) rows of queries.sites_page(features=True)."""
    return orjson.Fragment("[" + ",".join([row[1] for row in rows]) + "]")


def feature(row, crs: str, extra: dict | None = None) -> dict:
    """A GeoJSON Feature: the site's point, its document as properties (with `extra`)."""
    id_, doc, org_doc, geometry_doc = values(row, _SITE_FIELDS)
    loc = location(*_point(geometry_doc), crs)
    return {
        "type": "Feature",
        "id": id_,
        "geometry": {"type": "Point", "coordinates": [loc["lon"], loc["lat"]]},
        "properties": _members(doc, org_doc, extra or {}),
    }


def etag(site_id: int, version: int, crs: str) -> str:
    """A site's ETag: it changes whenever the representation does (a new version, a datum)."""
    return f"{site_id}-{version}" + ("" if crs == "wgs84" else f"-{crs}")


def distance_position(row) -> dict:
    """Where a page in distance order continues after `row` (pagination.BY_DISTANCE)."""
    return {"d": row.distance_m, "i": row.id}
