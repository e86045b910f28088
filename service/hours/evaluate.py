"""Opening hours in the OpenStreetMap `opening_hours` syntax, evaluated in a site's zone.

opening-hours-py does the parsing and the evaluation. Two traps of that library shape this
module: called without a time it takes the machine's naive clock as wall time in the site's
zone, and it rejects datetimes whose tzinfo is `datetime.timezone.utc`. So every call here
passes an explicit time converted to the site's own `ZoneInfo`.

`PH` means the holidays of Yizhan's own calendar (hours/calendar.py), not the library's: its
list for China has one day per festival, no Qingming and no make-up days. The library is
built without a country, so `PH` never matches by itself; on a local day D that is a holiday
(or follows one, for hours that run past midnight), the expression is evaluated once more with
`PH` replaced by the weekday tokens of the holidays among D-1 and D. On D those tokens are true
exactly where `PH` is, so every rule decides as it would with `PH` known; the two days have
different weekdays, so no other day of the evaluated window is touched.

Then each local date that something else decides is replaced whole, from 00:00 to 24:00: a
make-up working day (调休上班) of a site with `workday_swaps` takes the weekly rules' Monday
of its week, a special day its own spans (hours/special.py), in that order, so a special day
wins. A closure until a date removes everything before 00:00 of that date.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import opening_hours

from service.core.settings import DEFAULT_TIMEZONE
from service.hours import messages
from service.hours.special import SpecialDay

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


WEEKDAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
# `PH` as a selector: not inside a word, not inside a "comment" (even number of quotes before).
_PH = re.compile(r'(?<![A-Za-z])PH(?![A-Za-z])(?=(?:[^"]*"[^"]*")*[^"]*\Z)')


def explain(expression: str) -> str | None:
    """None when `expression` is valid, else a message saying where it breaks."""
    try:
        _parse(expression, DEFAULT_TIMEZONE)
        if has_ph(expression):
            _parse(_with_ph_as(expression, ("Mo",)), DEFAULT_TIMEZONE)
    except HoursError as exc:
        if has_ph(expression) and _parse_ok(expression):
            return (
                "不支持 PH 加减天数（PH +1 day），请直接写出日期 "
                "(PH with a day offset is not supported; write the dates instead)"
            )
        return str(exc)
    return None


def _parse_ok(expression: str) -> bool:
    try:
        _parse(expression, DEFAULT_TIMEZONE)
    except HoursError:
        return False
    return True


def has_ph(expression: str) -> bool:
    return _PH.search(expression) is not None


def _with_ph_as(expression: str, weekdays: tuple[str, ...]) -> str:
    return _PH.sub(",".join(weekdays), expression)


@lru_cache(maxsize=4096)
def _parse(expression: str, tz: str) -> opening_hours.OpeningHours:
    if not expression.strip():
        raise HoursError("营业时间为空 (opening_hours is empty)")
    try:
        return opening_hours.OpeningHours(
            expression,
            timezone=ZoneInfo(tz),
            max_interval_days=_MAX_INTERVAL_DAYS,
        )
    except (SyntaxError, opening_hours.ParserError) as exc:
        raise HoursError(messages.parser_message(expression, str(exc))) from None


def open_intervals(
    expression: str,
    tz: str,
    start: datetime,
    end: datetime,
    holidays: frozenset[date] = frozenset(),
    *,
    workdays: frozenset[date] = frozenset(),
    swaps: bool = False,
    special: tuple[SpecialDay, ...] = (),
    closed_until: date | None = None,
) -> list[tuple[datetime, datetime | None]]:
    """Open intervals overlapping [start, end), merged, clipped to the window.

    `holidays` are the local dates `PH` stands for (at least those of the window and the day
    before it), `workdays` the make-up working days, used when `swaps`; `special` entries
    and `closed_until` (the local date a closure ends) decide their dates. The end of the
    last interval is None when the site never closes again (for example "24/7"), so callers
    can say "no next change" instead of inventing one. Times are aware datetimes in the
    site's zone.
    """
    zone = ZoneInfo(tz)
    oh = _parse(expression, tz)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    spans = _open_spans(oh, local_start, local_end)
    if has_ph(expression) and holidays:
        spans = _overlay_holidays(expression, tz, spans, local_start, local_end, holidays)
    first, last = local_start.date(), local_end.date()
    if swaps:
        for day in sorted(d for d in workdays if first <= d <= last):
            monday = day - timedelta(days=day.weekday())
            lo, hi = _day_bounds(monday, zone)
            hours = [
                (_moved(a, monday, day), _moved(b, monday, day)) for a, b in _open_spans(oh, lo, hi)
            ]
            spans = _replace_day(spans, day, hours, local_start, local_end)
    for e in special:
        day = max(e.first, first)
        while day <= min(e.last, last):
            lo, _ = _day_bounds(day, zone)
            hours = [(_at(day, a, zone), _at(day, b, zone)) for a, b in e.spans]
            spans = _replace_day(spans, day, hours, local_start, local_end)
            day += timedelta(days=1)
    if closed_until is not None:
        reopen, _ = _day_bounds(closed_until, zone)
        spans = [(max(a, reopen), b) for a, b in spans if b > reopen]
    merged: list[list[datetime]] = []
    for lo, hi in sorted(spans):
        if merged and merged[-1][1] >= lo:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    result: list[tuple[datetime, datetime | None]] = [(lo, hi) for lo, hi in merged]
    unending = result and result[-1][1] >= local_end and oh.next_change(result[-1][0]) is None
    if unending and not any(e.last >= last for e in special):
        result[-1] = (result[-1][0], None)
    return result


def wall(day: date, at: time, zone) -> datetime:
    """`at` on the local date `day`, as a real instant: where that wall-clock time does not
    exist (America/Santiago jumps from 00:00 to 01:00), the first one after the gap. The
    opening-hours library refuses the nonexistent ones."""
    return datetime.combine(day, at, zone).astimezone(UTC).astimezone(zone)


def _at(day: date, minutes: int, zone) -> datetime:
    """`minutes` after the wall-clock midnight of `day` (1440: the next midnight)."""
    return wall(
        day + timedelta(days=minutes // 1440), time(minutes % 1440 // 60, minutes % 60), zone
    )


def _day_bounds(day: date, zone) -> tuple[datetime, datetime]:
    """[00:00, 24:00) of a local date, as aware datetimes (wall-clock midnights)."""
    return wall(day, time(), zone), wall(day + timedelta(days=1), time(), zone)


def _moved(t: datetime, source: date, day: date) -> datetime:
    """The wall-clock time `t` of the local date `source` (24:00 included), on `day`."""
    offset = t.replace(tzinfo=None) - datetime.combine(source, time())
    moved = datetime.combine(day, time()) + offset
    return wall(moved.date(), moved.time(), t.tzinfo)


def _replace_day(
    spans: list[tuple[datetime, datetime]],
    day: date,
    hours: list[tuple[datetime, datetime]],
    local_start: datetime,
    local_end: datetime,
) -> list[tuple[datetime, datetime]]:
    """`spans` with the local date `day` (00:00 to 24:00) decided by `hours` alone."""
    lo, hi = _day_bounds(day, local_start.tzinfo)
    outside = [
        piece
        for a, b in spans
        for piece in ((a, min(b, lo)), (max(a, hi), b))
        if piece[0] < piece[1]
    ]
    inside = [(max(a, local_start), min(b, local_end)) for a, b in hours]
    return outside + [(a, b) for a, b in inside if a < b]


def _open_spans(
    oh: opening_hours.OpeningHours, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime]]:
    return [
        (a, b or hi)
        for a, b, state, _comment in oh.intervals(lo, hi)
        if state == opening_hours.State.OPEN
    ]


def _overlay_holidays(
    expression: str,
    tz: str,
    spans: list[tuple[datetime, datetime]],
    local_start: datetime,
    local_end: datetime,
    holidays: frozenset[date],
) -> list[tuple[datetime, datetime]]:
    """Each local day that is a holiday or follows one, evaluated with PH known, in place of
    what the evaluation without PH said about that day."""
    zone = local_start.tzinfo
    first, last = local_start.date(), local_end.date()
    touched = sorted(d for h in holidays for d in (h, h + timedelta(days=1)) if first <= d <= last)
    for day in dict.fromkeys(touched):
        lo = max(local_start, datetime.combine(day, time(), zone))
        hi = min(local_end, datetime.combine(day + timedelta(days=1), time(), zone))
        if lo >= hi:
            continue
        weekdays = tuple(
            WEEKDAYS[d.weekday()] for d in (day - timedelta(days=1), day) if d in holidays
        )
        variant = _parse(_with_ph_as(expression, weekdays), tz)
        outside = [
            piece
            for a, b in spans
            for piece in ((a, min(b, lo)), (max(a, hi), b))
            if piece[0] < piece[1]
        ]
        spans = outside + _open_spans(variant, lo, hi)
    return spans
