"""Time for requests: the request's "now", time zones, and instants written as RFC 3339."""

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import orjson
from flask import current_app

from service.core.settings import DEFAULT_TIMEZONE


def now() -> datetime:
    """The request's notion of "now" (tests freeze it through the NOW setting)."""
    clock = current_app.config.get("NOW")
    return clock() if clock else datetime.now(UTC)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def rfc3339(t: datetime | None, tz: str = DEFAULT_TIMEZONE) -> str | None:
    """`t` in the zone `tz` to the second, with its offset: `isoformat(timespec="seconds")`,
    which orjson writes the same (checked over 200k instants and six zones) in a third of
    the time."""
    if t is None:
        return None
    local = t.astimezone(zone(tz))
    if local.utcoffset().seconds % 60:  # local mean time before ~1900 (+08:05:43): orjson
        return local.isoformat(timespec="seconds")  # would round the offset to the minute
    return orjson.dumps(local, option=orjson.OPT_OMIT_MICROSECONDS)[1:-1].decode()


def to_utc(t: datetime) -> datetime:
    """The same instant in UTC: PostgreSQL refuses offsets beyond ±15:59, RFC 3339 does not.

    An instant just outside Python's years 1..9999 once in UTC (0001-01-01T00:00:02+02:00)
    is still a valid RFC 3339 date-time: it becomes the first or last representable instant,
    which compares the same with every stored time.
    """
    try:
        return t.astimezone(UTC)
    except OverflowError:
        return (datetime.min if t.year == 1 else datetime.max).replace(tzinfo=UTC)
