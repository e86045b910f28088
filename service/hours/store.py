"""Materialised opening hours: each distinct (expression, zone) pattern's open intervals.

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
from service.hours import calendar, evaluate

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


def holidays_for(conn: sa.Connection, horizon: Horizon) -> frozenset[date]:
    cal = calendar.read(conn, horizon.valid_from, horizon.valid_until)
    return cal.holidays_around(horizon.valid_from, horizon.valid_until)


def _write_intervals(
    conn: sa.Connection,
    pattern_id: int,
    expression: str,
    tz: str,
    horizon: Horizon,
    holidays: frozenset[date],
) -> int:
    conn.execute(
        sa.delete(HoursPatternInterval).where(HoursPatternInterval.pattern_id == pattern_id)
    )
    spans = evaluate.open_intervals(
        expression, tz, horizon.valid_from, horizon.valid_until, holidays
    )
    if spans:
        conn.execute(
            sa.text(
                "INSERT INTO hours_pattern_intervals (pattern_id, during) "
                "VALUES (:pid, tstzrange(:lo, :hi, '[)'))"
            ),
            [{"pid": pattern_id, "lo": lo, "hi": hi} for lo, hi in spans],
        )
    return len(spans)


def find_pattern(conn: sa.Connection, expression: str, tz: str) -> int | None:
    return conn.scalar(
        sa.select(HoursPattern.id).where(
            HoursPattern.opening_hours == expression, HoursPattern.timezone == tz
        )
    )


def pattern_id(conn: sa.Connection, expression: str, tz: str, now: datetime, days: int) -> int:
    """The id of the pattern for (expression, tz), creating and materialising it if new."""
    found = find_pattern(conn, expression, tz)
    if found is not None:
        return found
    horizon = current_horizon(conn) or _set_horizon(conn, now, days)
    new_id = conn.scalar(
        insert(HoursPattern)
        .values(opening_hours=expression, timezone=tz)
        .on_conflict_do_nothing()
        .returning(HoursPattern.id)
    )
    if new_id is None:  # created by a concurrent writer after our select
        return pattern_id(conn, expression, tz, now, days)
    _write_intervals(conn, new_id, expression, tz, horizon, holidays_for(conn, horizon))
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
    used = sa.select(Site.hours_pattern_id).where(Site.hours_pattern_id.is_not(None))
    dropped = conn.execute(sa.delete(HoursPattern).where(HoursPattern.id.not_in(used))).rowcount
    horizon = _set_horizon(conn, now, days)
    patterns = conn.execute(
        sa.select(HoursPattern.id, HoursPattern.opening_hours, HoursPattern.timezone)
    ).all()
    intervals = 0
    holidays = holidays_for(conn, horizon)
    for pid, expression, tz in patterns:
        intervals += _write_intervals(conn, pid, expression, tz, horizon, holidays)
    logger.info("hours refreshed: %d patterns, %d intervals", len(patterns), intervals)
    return {"patterns": len(patterns), "intervals": intervals, "dropped": dropped}


def refresh_holiday_patterns(conn: sa.Connection) -> int:
    """Recompute the patterns that mention PH over the current horizon (after a calendar load);
    returns how many. Nothing to do before the first materialisation."""
    horizon = current_horizon(conn)
    if horizon is None:
        return 0
    holidays = holidays_for(conn, horizon)
    candidates = conn.execute(
        sa.select(HoursPattern.id, HoursPattern.opening_hours, HoursPattern.timezone).where(
            HoursPattern.opening_hours.contains("PH", autoescape=True)
        )
    )
    patterns = [p for p in candidates if evaluate.has_ph(p.opening_hours)]
    for pid, expression, tz in patterns:
        _write_intervals(conn, pid, expression, tz, horizon, holidays)
    return len(patterns)
