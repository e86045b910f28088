"""Materialised opening hours: each distinct hours definition's open intervals.

A definition (a *pattern*) is what decides when a site is open: its `opening_hours`, zone,
`workday_swaps`, special days and the date a closure ends (schema/versions/0013).

`open_now`/`open_at` in SQL become "the site's pattern has an interval containing
t", answered from a table of a few thousand rows instead of evaluating the
OSM grammar per candidate. The intervals cover a rolling horizon: from one day
before the last refresh to `HOURS_HORIZON_DAYS` (+1 of slack) after it.
`yizhan hours refresh` rolls it forward; run it daily (cron or a systemd timer).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from service.core.models import HoursHorizon, HoursPattern, HoursPatternInterval, Site
from service.hours import calendar, evaluate, special

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Horizon:
    valid_from: datetime
    valid_until: datetime
    refreshed_at: datetime

    def covers(self, t: datetime) -> bool:
        return self.valid_from <= t < self.valid_until


def window(now: datetime, days: int) -> tuple[datetime, datetime]:
    """From UTC midnight of yesterday to `days` + 1 days after today."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1), today + timedelta(days=days + 1)


def current_horizon(conn: sa.Connection) -> Horizon | None:
    row = conn.execute(
        sa.select(HoursHorizon.valid_from, HoursHorizon.valid_until, HoursHorizon.refreshed_at)
    ).first()
    return Horizon(*row) if row else None


@dataclass(frozen=True)
class Definition:
    """A site's hours as a pattern: everything that decides when it is open."""

    opening_hours: str
    timezone: str
    workday_swaps: bool = False
    special_days: str = "[]"  # special.canonical
    closed_until: date | None = None

    @classmethod
    def of(cls, site: dict) -> "Definition | None":
        """From a site's writable values; None without opening_hours. A closure's end counts
        only while the site is temporarily closed."""
        if not site.get("opening_hours"):
            return None
        closing = site.get("status") == "temporarily_closed"
        return cls(
            site["opening_hours"],
            site["timezone"],
            bool(site.get("workday_swaps")),
            site.get("special_days") or "[]",
            site.get("closed_until") if closing else None,
        )

    def intervals(
        self, start: datetime, end: datetime, cal: calendar.Calendar
    ) -> list[tuple[datetime, datetime | None]]:
        """evaluate.open_intervals of this definition over [start, end)."""
        return evaluate.open_intervals(
            self.opening_hours,
            self.timezone,
            start,
            end,
            cal.holidays_around(start, end),
            workdays=cal.workdays_around(start, end),
            swaps=self.workday_swaps,
            special=special.load(self.special_days),
            closed_until=self.closed_until,
        )


_COLUMNS = (
    HoursPattern.id,
    HoursPattern.opening_hours,
    HoursPattern.timezone,
    HoursPattern.workday_swaps,
    HoursPattern.special_days,
    HoursPattern.closed_until,
)


def _definition(row) -> Definition:
    return Definition(*row[1:])


def calendar_for(conn: sa.Connection, horizon: Horizon) -> calendar.Calendar:
    return calendar.read(conn, horizon.valid_from, horizon.valid_until)


def _write_intervals(
    conn: sa.Connection,
    pattern_id: int,
    definition: Definition,
    horizon: Horizon,
    cal: calendar.Calendar,
) -> int:
    conn.execute(
        sa.delete(HoursPatternInterval).where(HoursPatternInterval.pattern_id == pattern_id)
    )
    spans = definition.intervals(horizon.valid_from, horizon.valid_until, cal)
    if spans:
        # One statement for all of them (an executemany is a round trip per row).
        conn.execute(
            sa.text(
                "INSERT INTO hours_pattern_intervals (pattern_id, during) "
                "SELECT :pid, tstzrange(lo, hi, '[)') FROM unnest("
                "CAST(:los AS timestamptz[]), CAST(:his AS timestamptz[])) AS t(lo, hi)"
            ),
            {"pid": pattern_id, "los": [lo for lo, _ in spans], "his": [hi for _, hi in spans]},
        )
    return len(spans)


def find_pattern(conn: sa.Connection, definition: Definition) -> int | None:
    # In the terms of the unique index hours_patterns_definition (md5 of the special days,
    # closed_until by = or IS NULL), so that it finds the row: compared as plain text, every
    # pattern of the same rules was read (a 50,000-pattern load slowed quadratically).
    closes = HoursPattern.closed_until
    return conn.scalar(
        sa.select(HoursPattern.id).where(
            HoursPattern.opening_hours == definition.opening_hours,
            HoursPattern.timezone == definition.timezone,
            HoursPattern.workday_swaps == definition.workday_swaps,
            sa.func.md5(HoursPattern.special_days) == sa.func.md5(definition.special_days),
            HoursPattern.special_days == definition.special_days,
            closes.is_(None)
            if definition.closed_until is None
            else closes == definition.closed_until,
        )
    )


def pattern_id(conn: sa.Connection, definition: Definition, now: datetime, days: int) -> int:
    """The id of the pattern for a definition, creating and materialising it if new."""
    found = find_pattern(conn, definition)
    if found is not None:
        return found
    horizon = current_horizon(conn) or _set_horizon(conn, now, days)
    new_id = conn.scalar(
        insert(HoursPattern)
        .values(**vars(definition))
        .on_conflict_do_nothing()
        .returning(HoursPattern.id)
    )
    if new_id is None:  # created by a concurrent writer after our select
        return pattern_id(conn, definition, now, days)
    _write_intervals(conn, new_id, definition, horizon, calendar_for(conn, horizon))
    return new_id


def _set_horizon(conn: sa.Connection, now: datetime, days: int) -> Horizon:
    valid_from, valid_until = window(now, days)
    values = {"valid_from": valid_from, "valid_until": valid_until, "refreshed_at": now}
    conn.execute(
        insert(HoursHorizon)
        .values(singleton=True, **values)
        .on_conflict_do_update(index_elements=[HoursHorizon.singleton], set_=values)
    )
    return Horizon(valid_from, valid_until, now)


def refresh(conn: sa.Connection, now: datetime, days: int) -> dict[str, int]:
    """Roll the horizon forward and recompute every pattern; drop unused patterns."""
    # NOT EXISTS, an anti-join on sites_hours_pattern: `NOT IN (SELECT ...)` was a plain
    # subplan once the sites' pattern ids outgrew work_mem, one scan per pattern (50,000
    # patterns at 1e6 sites ran for minutes).
    used = sa.select(Site.id).where(Site.hours_pattern_id == HoursPattern.id).exists()
    dropped = conn.execute(sa.delete(HoursPattern).where(~used)).rowcount
    horizon = _set_horizon(conn, now, days)
    patterns = conn.execute(sa.select(*_COLUMNS)).all()
    intervals = 0
    cal = calendar_for(conn, horizon)
    for row in patterns:
        intervals += _write_intervals(conn, row.id, _definition(row), horizon, cal)
    logger.info("hours refreshed: %d patterns, %d intervals", len(patterns), intervals)
    return {"patterns": len(patterns), "intervals": intervals, "dropped": dropped}


def refresh_holiday_patterns(conn: sa.Connection) -> int:
    """Recompute the patterns the calendar decides (PH in the rules, or make-up days swapped)
    over the current horizon, after a calendar load; returns how many. Nothing to do before
    the first materialisation."""
    horizon = current_horizon(conn)
    if horizon is None:
        return 0
    cal = calendar_for(conn, horizon)
    candidates = conn.execute(
        sa.select(*_COLUMNS).where(
            sa.or_(
                HoursPattern.opening_hours.contains("PH", autoescape=True),
                HoursPattern.workday_swaps,
            )
        )
    )
    patterns = [p for p in candidates if p.workday_swaps or evaluate.has_ph(p.opening_hours)]
    for row in patterns:
        _write_intervals(conn, row.id, _definition(row), horizon, cal)
    return len(patterns)
