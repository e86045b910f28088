"""China's statutory calendar: the days off (`holiday`) and make-up working days (`workday`, 调休)
of each year's State Council notice, in `calendar_days` (schema/versions/0012_calendar.py).

A year is *official* when its notice is loaded: from `fixtures/calendar/YYYY.csv` (2004-2026
ship with Yizhan; `yizhan db upgrade` and `yizhan seed` load the ones missing) or with
`yizhan calendar load FILE` the day a new notice comes out. A year that is not loaded has only
the holidays fixed by date (New Year, Labour Day, National Day); the festivals of the lunar
calendar and the make-up days cannot be known before the notice.
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property, lru_cache
from importlib import resources

import sqlalchemy as sa

from service.core.models import CalendarDay, CalendarYear
from service.core.params import CONTROL

KINDS = ("holiday", "workday")
HEADER = ["date", "kind", "name"]
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CalendarError(ValueError):
    """A calendar file that cannot be loaded; the message names the line."""


@dataclass(frozen=True)
class Day:
    day: date
    kind: str
    name: str


def fixed_days(year: int) -> list[Day]:
    """The holidays a year has whatever its notice says: 元旦 (Jan 1), 劳动节 (May 1; May 1-3 before
    2008, May 1-2 from 2025) and 国庆节 (Oct 1-3), as the 全国年节及纪念日放假办法 fixes them."""
    labour = 3 if year < 2008 else 2 if year >= 2025 else 1
    return [
        Day(date(year, 1, 1), "holiday", "元旦"),
        *(Day(date(year, 5, d), "holiday", "劳动节") for d in range(1, labour + 1)),
        *(Day(date(year, 10, d), "holiday", "国庆节") for d in range(1, 4)),
    ]


def parse(text: str, year: int | None = None) -> tuple[int, list[Day]]:
    """(notice year, days) of a `date,kind,name` CSV; every line is checked before any is used.

    The notice year is `year`, or else the year most of its dates fall in; a notice may also
    list days of the December before (a New Year block), no other year's.
    """
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or [c.strip() for c in rows[0]] != HEADER:
        raise CalendarError(f"line 1: the header must be {','.join(HEADER)}")
    days: list[Day] = []
    seen: dict[date, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 3:
            raise CalendarError(f"line {number}: expected date,kind,name, got {len(row)} fields")
        raw_day, kind, name = (c.strip() for c in row)
        try:
            if not _ISO_DATE.fullmatch(raw_day):
                raise ValueError
            day = date.fromisoformat(raw_day)
        except ValueError:
            raise CalendarError(f"line {number}: {raw_day!r} is not a date (YYYY-MM-DD)") from None
        if kind not in KINDS:
            raise CalendarError(f"line {number}: kind {kind!r} is neither holiday nor workday")
        if not name or len(name) > 50 or CONTROL.search(name):
            raise CalendarError(f"line {number}: the name must be 1 to 50 printable characters")
        if day in seen:
            raise CalendarError(f"line {number}: {day} is already on line {seen[day]}")
        seen[day] = number
        days.append(Day(day, kind, name))
    if not days:
        raise CalendarError("the file lists no days")
    if year is None:
        years = [d.day.year for d in days]
        year = max(set(years), key=years.count)
    for d in days:
        if not (d.day.year == year or (d.day.year == year - 1 and d.day.month == 12)):
            raise CalendarError(
                f"line {seen[d.day]}: {d.day} is outside {year} (and its December before)"
            )
    if not 1949 <= year <= 2200:
        raise CalendarError(f"the year {year} is out of range (1949..2200)")
    return year, days


def store_year(conn: sa.Connection, year: int, days: list[Day], source: str) -> None:
    """Replace the year's days in the caller's transaction: readers see the old year or the new
    one, never half of it. A day another year's notice already lists is refused."""
    conn.execute(sa.delete(CalendarYear).where(CalendarYear.year == year))  # cascades
    taken = conn.execute(
        sa.select(CalendarDay.day, CalendarDay.year).where(
            CalendarDay.day.in_([d.day for d in days])
        )
    ).all()
    if taken:
        day, other = taken[0]
        raise CalendarError(f"{day} is already in the notice of {other}")
    conn.execute(sa.insert(CalendarYear).values(year=year, source=source, days=len(days)))
    conn.execute(
        sa.insert(CalendarDay),
        [{"day": d.day, "year": year, "kind": d.kind, "name": d.name} for d in days],
    )


def fixture_years() -> dict[int, str]:
    """The notices shipped in fixtures/calendar/: year -> CSV text."""
    folder = resources.files("fixtures").joinpath("calendar")
    return {
        int(f.name.removesuffix(".csv")): f.read_text("utf-8")
        for f in folder.iterdir()
        if f.name.endswith(".csv")
    }


def load_fixtures(conn: sa.Connection) -> int:
    """Load every shipped year that is not in the database yet; returns how many were."""
    loaded = set(conn.scalars(sa.select(CalendarYear.year)))
    added = 0
    for year, text in sorted(fixture_years().items()):
        if year not in loaded:
            store_year(conn, *parse(text, year), source=f"fixtures/calendar/{year}.csv")
            added += 1
    return added


@dataclass(frozen=True)
class Calendar:
    """The listed days of a span of dates (or of every year) and the years that are official."""

    days: tuple[Day, ...]
    official: frozenset[int]

    def between(self, first: date, last: date) -> list[Day]:
        """Every day in [first, last], the fixed-date holidays of years not loaded included."""
        days = [d for d in self.days if first <= d.day <= last]
        for year in range(first.year, last.year + 1):
            if year not in self.official:
                days += [d for d in fixed_days(year) if first <= d.day <= last]
        return sorted(days, key=lambda d: d.day)

    def holidays_around(self, start: datetime, end: datetime) -> frozenset[date]:
        """The dates `PH` stands for that an evaluation of [start, end) needs, in any zone's
        local dates: a day of margin each side, and the day before for hours past midnight."""
        return self._around(start, end, "holiday")

    def workdays_around(self, start: datetime, end: datetime) -> frozenset[date]:
        """The make-up working days (调休上班) of [start, end), with the same margins."""
        return self._around(start, end, "workday")

    def _around(self, start: datetime, end: datetime, kind: str) -> frozenset[date]:
        first, last = _shift(start.date(), -2), _shift(end.date(), 1)
        return frozenset(d.day for d in self.between(first, last) if d.kind == kind)

    @cached_property
    def _by_day(self) -> dict[date, Day]:
        return {d.day: d for d in self.days}

    def on(self, day: date) -> Day | None:
        """What the calendar says of one date: a listed day, or a fixed-date holiday of a year
        that is not official, or None."""
        if day.year in self.official:
            return self._by_day.get(day)
        return _fixed_by_day(day.year).get(day)


@lru_cache(maxsize=64)
def _fixed_by_day(year: int) -> dict[date, Day]:
    return {d.day: d for d in fixed_days(year)}


def _shift(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:  # the calendar's ends (year 1, year 9999)
        return date.min if days < 0 else date.max


def official_years(conn: sa.Connection) -> frozenset[int]:
    return frozenset(conn.scalars(sa.select(CalendarYear.year)))


def read(
    conn: sa.Connection, start: datetime | None = None, end: datetime | None = None
) -> Calendar:
    """The calendar around [start, end) (see Calendar.holidays_around), or all of it."""
    query = sa.select(CalendarDay.day, CalendarDay.kind, CalendarDay.name).order_by(CalendarDay.day)
    if start is not None and end is not None:
        first, last = _shift(start.date(), -2), _shift(end.date(), 1)
        query = query.where(CalendarDay.day.between(first, last))
    return Calendar(tuple(Day(*r) for r in conn.execute(query)), official_years(conn))


def year_of(conn: sa.Connection, year: int) -> tuple[bool, list[Day]]:
    """(official, days) of a notice year, as GET /v1/holidays lists it."""
    if year in official_years(conn):
        rows = conn.execute(
            sa.select(CalendarDay.day, CalendarDay.kind, CalendarDay.name)
            .where(CalendarDay.year == year)
            .order_by(CalendarDay.day)
        ).all()
        return True, [Day(*r) for r in rows]
    return False, fixed_days(year)
