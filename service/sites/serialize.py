"""Core rows to the documented Site shape, as JSON for orjson to send (the fast path).

PostgreSQL keeps each site's and org's JSON (`sites.doc`, `orgs.doc`: schema/versions/
0011_site_documents.py); this joins them and adds what depends on the request: the
location in the datum asked for, distance and open state. tests/sites/test_schemas.py checks the
results against the marshmallow schemas in `schemas.py`, which stay the documented shape.
"""

import hashlib
import operator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import orjson

from service.core.cache import cached
from service.core.clock import rfc3339, zone
from service.geo import datums as datum
from service.hours import calendar, evaluate, special, text
from service.hours.calendar import Calendar
from service.sites import open_queries


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


def _members(
    doc: str, org_doc: str, head: dict | None, text: str = "", tail: dict | None = None
) -> orjson.Fragment:
    """The site's stored members (an object left open), its org's, `head` members, members
    already written as JSON text (`text`, no braces) and `tail` members, closed."""
    parts = [doc, ',"org":', org_doc]
    for more in (orjson.dumps(head).decode()[1:-1] if head else "", text,
                 orjson.dumps(tail).decode()[1:-1] if tail else ""):  # fmt: skip
        if more:
            parts += [",", more]
    parts.append("}")
    return orjson.Fragment("".join(parts))


_OPEN_FIELDS = (
    "status",
    "opening_hours",
    "timezone",
    "workday_swaps",
    "special_days",
    "closed_until",
    "closure_reason",
    "hours_pattern_id",
)  # fmt: skip  (open_queries.OPEN_COLUMNS and the pattern; a lateral adds open_lo, open_hi)
_NOT_OFFICIAL = (
    "{year} 年的放假安排尚未公布，法定节假日仅计元旦、劳动节、国庆节 "
    "(the {year} holiday notice is not loaded: PH counts only New Year, Labour Day and "
    "National Day)"
)
_SPECIAL = "特殊营业安排 (special hours)"


def reading(conn, at: datetime, lang: str, rows=()) -> "Reading":
    """The Reading of a request at `at` for these rows: the calendar comes from the process
    cache, the intervals of the rows' local days from one query for their patterns."""
    # Rows of nearby and one site carry their day's intervals (a lateral); a list's come here.
    listed = [r for r in rows if "day_lo" not in _fields(r)]
    patterns = {values(r, ("hours_pattern_id",))[0] for r in listed} - {None}
    days = open_queries.day_intervals(conn, sorted(patterns), at) if patterns else {}
    return Reading(at, cached("calendar", lambda: calendar.read(conn)), lang, days)


@dataclass(frozen=True)
class Reading:
    """What a read's open states and hours texts depend on beside the rows: the instant, the
    statutory calendar (for reasons), the language of `hours_text` and each pattern's
    intervals around `at` (for `today`). `memo` keeps, for the request, the members written
    for each distinct hours state: a page of 250 sites has a few dozen."""

    at: datetime
    calendar: Calendar
    lang: str = "zh"
    days: dict = field(default_factory=dict)
    memo: dict = field(default_factory=dict)


def reopens_at(closed_until: date, tz: str) -> datetime:
    """00:00 of `closed_until` in the site's zone: when a temporary closure ends."""
    return evaluate.wall(closed_until, time(), zone(tz))


def _upcoming(row, reading: Reading, pattern: int | None) -> tuple:
    """(lo, hi) of the site's first interval not over at `reading.at`, or (None, None): from
    the row's lateral (nearby, by id) or from the page's intervals (lists)."""
    if "open_lo" in _fields(row):
        return values(row, ("open_lo", "open_hi"))
    for lo, hi in reading.days.get(pattern, ()):
        if hi is None or hi > reading.at:
            return lo, hi
    return None, None


def _day(row, reading: Reading, pattern: int | None):
    """The (lo, hi) intervals around the site's local day: the row's own, or the page's."""
    if "day_lo" in _fields(row):
        los, his = values(row, ("day_lo", "day_hi"))
        return list(zip(los or (), his or (), strict=True))
    return reading.days.get(pattern, ())


def open_state(row, reading: Reading) -> dict:
    """is_open, next_change, today and reason at `reading.at`, from the site's materialised
    intervals (its pattern already holds PH, make-up days, special days and the closure)."""
    (status, hours, tz, swaps, special_text, closed_until, closure_reason,
     pattern) = values(row, _OPEN_FIELDS)  # fmt: skip
    open_lo, open_hi = _upcoming(row, reading, pattern)
    at = reading.at
    if status == "temporarily_closed" and closed_until is not None:
        if at >= reopens_at(closed_until, tz):
            status = "active"
    if status != "active":
        next_open = rfc3339(open_lo, tz) if open_lo is not None and closed_until else None
        return {"is_open": False, "next_change": next_open, "today": "off",
                "reason": closure_reason}  # fmt: skip
    if hours is None:
        return {"is_open": None, "next_change": None, "today": None, "reason": None}
    local = at.astimezone(zone(tz))
    state = {
        "is_open": False,
        "next_change": None,
        "today": _today(local, _day(row, reading, pattern)),
        "reason": _reason(hours, swaps, special_text, local.date(), reading.calendar),
    }
    if open_lo is None:  # no open interval left within the horizon
        return state
    if open_lo <= at:
        state.update(is_open=True, next_change=rfc3339(open_hi, tz) if open_hi else None)
    else:
        state["next_change"] = rfc3339(open_lo, tz)
    return state


def _today(local: datetime, spans) -> str:
    """The local day's open spans, `09:00-12:00,14:00-18:00`: a span begun the day before
    starts at 00:00, one running into the next day shows its real end (`20:00-02:00`), one
    that lasts the rest of the day ends at 24:00; `off` when none."""
    tz = local.tzinfo
    start = datetime.combine(local.date(), time(), tz)
    end = datetime.combine(local.date() + timedelta(days=1), time(), tz)
    after = datetime.combine(local.date() + timedelta(days=2), time(), tz)
    pieces = []
    for lo, hi in spans:
        if lo >= end or (hi is not None and hi <= start):
            continue
        if hi is None or hi >= (end if lo < start else after):
            last = "24:00"
        else:
            last = hi.astimezone(tz).strftime("%H:%M")
            last = "24:00" if hi == end else last
        pieces.append(f"{max(lo, start).astimezone(tz):%H:%M}-{last}")
    return ",".join(pieces) or "off"


def _reason(hours: str, swaps: bool, special_text: str, day: date, cal: Calendar) -> str | None:
    """What decides the local date `day`: a special day, a make-up working day the site
    swaps, a holiday its PH rules see, or a year whose notice is not loaded."""
    entry = special.on(special.load(special_text), day)
    if entry is not None:
        return entry.reason or _SPECIAL
    listed = cal.on(day)
    if swaps and listed is not None and listed.kind == "workday":
        return listed.name
    if evaluate.has_ph(hours):
        if listed is not None and listed.kind == "holiday":
            return listed.name
        if day.year not in cal.official:
            return _NOT_OFFICIAL.format(year=day.year)
    return None


_CLOSED_TEMPORARILY = ',"status":"temporarily_closed"'


def _request_members(row, reading: Reading | None, doc: str) -> tuple[str, str]:
    """The document (its status `active` once a closure ended) and the members that depend
    on the request, open_state and hours_text, as JSON text without braces."""
    if reading is None:
        return doc, ""
    # Sites of one pattern and state share their members (their intervals are the pattern's).
    key = values(row, _OPEN_FIELDS)
    found = reading.memo.get(key)
    if found is None:
        status, hours, tz, closed_until = key[0], key[1], key[2], key[5]
        reopened = (
            status == "temporarily_closed"
            and closed_until is not None
            and reading.at >= reopens_at(closed_until, tz)
        )
        members = {
            "open_state": open_state(row, reading),
            "hours_text": text.describe(hours, reading.lang),
        }
        found = reading.memo[key] = (reopened, orjson.dumps(members).decode()[1:-1])
    reopened, members_text = found
    if reopened:
        # Safe as text: inside a JSON string every quote is escaped, so this sequence is
        # only ever the member itself.
        doc = doc.replace(_CLOSED_TEMPORARILY, ',"status":"active"', 1)
    return doc, members_text


def site(
    row, crs: str = "wgs84", extra: dict | None = None, reading: Reading | None = None
) -> orjson.Fragment:
    """The Site of API.md: the documents PostgreSQL keeps for the site and its org
    (schema/versions/0011_site_documents.py), the `location` in `crs`, with `reading` its
    open state and hours text, and `extra` members, as JSON that orjson sends as it is."""
    _, doc, org_doc, geometry_doc = values(row, _SITE_FIELDS)
    loc = location(*_point(geometry_doc), crs)
    doc, members = _request_members(row, reading, doc)
    return _members(doc, org_doc, {"location": loc}, members, extra)


def nearby_site(row, reading: Reading, crs: str) -> orjson.Fragment:
    (distance_m,) = values(row, ("distance_m",))
    return site(row, crs, {"distance_m": round(distance_m, 1)}, reading)


def features(rows, reading: Reading) -> orjson.Fragment:
    """A JSON array of the (id, feature) rows of queries.sites_page(features=True): each
    Feature as PostgreSQL wrote it, its properties closed after the request's members."""
    parts = []
    for row in rows:
        feature_text, members = _request_members(row, reading, row[1])
        parts.append(f"{feature_text},{members}}}}}" if members else f"{feature_text}}}}}")
    return orjson.Fragment("[" + ",".join(parts) + "]")


def feature(row, crs: str, extra: dict | None = None, reading: Reading | None = None) -> dict:
    """A GeoJSON Feature: the site's point, its document as properties (with the request's
    members and `extra`)."""
    id_, doc, org_doc, geometry_doc = values(row, _SITE_FIELDS)
    loc = location(*_point(geometry_doc), crs)
    doc, members = _request_members(row, reading, doc)
    return {
        "type": "Feature",
        "id": id_,
        "geometry": {"type": "Point", "coordinates": [loc["lon"], loc["lat"]]},
        "properties": _members(doc, org_doc, None, members, extra),
    }


def etag(site_id: int, version: int, crs: str, body: orjson.Fragment | None = None) -> str:
    """A site's ETag: it changes whenever the representation does (a new version, a datum,
    and with `body`, what the clock and the language change: open state, hours text).
    It starts `{id}-{version}`, which is what If-Match compares."""
    tag = f"{site_id}-{version}" + ("" if crs == "wgs84" else f"-{crs}")
    if body is not None:
        tag += "-" + hashlib.blake2b(orjson.dumps(body), digest_size=6).hexdigest()
    return tag


def distance_position(row) -> dict:
    """Where a page in distance order continues after `row` (pagination.BY_DISTANCE)."""
    return {"d": row.distance_m, "i": row.id}
