"""Opening hours in the OpenStreetMap `opening_hours` syntax, evaluated in a site's zone.

opening-hours-py does the parsing and the calendar (public holidays by country).
Two traps of that library shape this module: called without a time it takes
the machine's naive clock as wall time in the site's zone, and it rejects
datetimes whose tzinfo is `datetime.timezone.utc`. So every call here passes
an explicit time converted to the site's own `ZoneInfo`.

China's adjusted working days (调休, a Sunday worked in exchange for a holiday)
are not in the library's calendar: "PH" covers the holidays themselves only.
"""

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import opening_hours

from service.core.settings import DEFAULT_TIMEZONE

# Intervals are asked for at most this far ahead in one call; beyond it the
# library is slow on expressions that never change.
_MAX_INTERVAL_DAYS = 400


class HoursError(ValueError):
    """An opening_hours expression that does not parse."""


@lru_cache(maxsize=1)
def timezones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1024)
def _usable_zone(name: str) -> bool:
    """Known to the system and usable by opening-hours-py ("Factory" and "localtime" are not)."""
    if name not in timezones():
        return False
    try:
        opening_hours.OpeningHours("24/7", timezone=ZoneInfo(name))
    except (TypeError, ValueError):
        return False
    return True


def check_timezone(name: str) -> None:
    if not _usable_zone(name):
        raise HoursError(f"unknown IANA time zone {name!r}")


def explain(expression: str) -> str | None:
    """None when `expression` is valid, else a message saying where it breaks."""
    try:
        _parse(expression, DEFAULT_TIMEZONE, "CN")
    except HoursError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=4096)
def _parse(expression: str, tz: str, country: str) -> opening_hours.OpeningHours:
    if not expression.strip():
        raise HoursError("opening_hours is empty")
    try:
        return opening_hours.OpeningHours(
            expression,
            timezone=ZoneInfo(tz),
            country=country,
            max_interval_days=_MAX_INTERVAL_DAYS,
        )
    except (SyntaxError, opening_hours.ParserError) as exc:
        raise HoursError(_short_parser_message(str(exc))) from None


def _short_parser_message(text: str) -> str:
    """Turn the pest parser's multi-line report into one line with the column."""
    # The report reads: "Failed to parse expression:  --> 1:7 | ... = expected EOI, ...".
    position = ""
    expected = ""
    for line in text.splitlines():
        line = line.strip()
        if "-->" in line:
            position = line.split("-->", 1)[1].strip()
        elif line.startswith("= "):
            expected = line[2:]
    if position:
        column = position.split(":")[-1]
        return f"invalid opening_hours syntax at character {column}: {expected}".rstrip(": ")
    return "invalid opening_hours syntax"


def open_intervals(
    expression: str, tz: str, start: datetime, end: datetime, country: str = "CN"
) -> list[tuple[datetime, datetime | None]]:
    """Open intervals overlapping [start, end), merged, clipped to the window.

    The end of the last interval is None when the site never closes again (for
    example "24/7"), so callers can say "no next change" instead of inventing one.
    Times are aware datetimes in the site's zone.
    """
    zone = ZoneInfo(tz)
    oh = _parse(expression, tz, country)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    merged: list[list[datetime]] = []
    for lo, hi, state, _comment in oh.intervals(local_start, local_end):
        if state != opening_hours.State.OPEN:
            continue
        hi = hi or local_end
        if merged and merged[-1][1] >= lo:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    result: list[tuple[datetime, datetime | None]] = [(lo, hi) for lo, hi in merged]
    if result and result[-1][1] >= local_end and oh.next_change(result[-1][0]) is None:
        result[-1] = (result[-1][0], None)
    return result
