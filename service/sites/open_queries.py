"""What a site's `open_state` reads besides its document: its hours columns, its next open
interval and the intervals of its local day, from the materialised hours (hours/store.py).

Statements of a few sites (nearby, one site) join them per row (laterals on the (pattern_id,
end) index of schema/versions/0007); a list reads them for its page's patterns at once
(`day_intervals`).
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from service.core.models import HoursPatternInterval, Site

# What open_state (serialize.py) reads beside a site's document.
OPEN_COLUMNS = (
    Site.status,
    Site.opening_hours,
    Site.timezone,
    Site.workday_swaps,
    Site.special_days,
    Site.closed_until,
    Site.closure_reason,
)
# Intervals around the local day at `now` are those ending after now - 26 h and starting
# before now + 26 h (a local day is at most 25 hours long and contains `now`).
_DAY_MARGIN = sa.literal_column("interval '26 hours'")
_DAY_LIMIT = 12


def open_state_columns(t):
    """The first materialised open interval of the site's pattern not yet over at `t`.

    A pattern's intervals never overlap, so it is the one ending first after `t` (an end
    past the horizon is unbounded: infinity): one probe of the (pattern_id, end) index of
    schema/versions/0007_open_state_index.py.
    """
    hi = sa.func.upper(HoursPatternInterval.during)
    end = sa.func.coalesce(hi, sa.literal_column("'infinity'"))
    return (
        sa.select(sa.func.lower(HoursPatternInterval.during).label("lo"), hi.label("hi"))
        .where(HoursPatternInterval.pattern_id == Site.hours_pattern_id, end > t)
        .order_by(end)
        .limit(1)
        .lateral("upcoming")
    )


def day_intervals(conn: sa.Connection, patterns: list[int], t: datetime) -> dict[int, list]:
    """pattern id -> its materialised intervals from `t` - 26 h to `t` + 50 h ((lo, hi) in
    order, hi None when unbounded): those of any local day at `t` (a day is at most 25
    hours and contains `t`), for `open_state.today`, and for a list's next change (its
    statement has no lateral per row). A pattern with none left in that window (closed
    for days) gets its next one by a probe of its own. One plain query on the (pattern_id,
    end) index for a page's patterns: as a lateral per pattern it was planned with a sort
    and cost ~2 ms."""
    found: dict[int, list] = {p: [] for p in patterns}
    for pattern, lo, hi in conn.execute(_PAGE_DAYS, {"ids": patterns, "t": t}):
        found[pattern].append((lo, hi))
    for pattern, spans in found.items():
        spans.sort(key=lambda span: span[0])
        if not any(hi is None or hi > t for _, hi in spans):
            later = conn.execute(_NEXT_OPEN, {"id": pattern, "t": t}).first()
            if later is not None:
                spans.append(tuple(later))
    return found


_PAGE_DAYS = sa.text(
    "SELECT pattern_id, lower(during), upper(during) FROM hours_pattern_intervals "
    "WHERE pattern_id = ANY(CAST(:ids AS integer[])) "
    "AND coalesce(upper(during), 'infinity') > CAST(:t AS timestamptz) - interval '26 hours' "
    "AND lower(during) < CAST(:t AS timestamptz) + interval '50 hours'"
)
_NEXT_OPEN = sa.text(
    "SELECT lower(during), upper(during) FROM hours_pattern_intervals "
    "WHERE pattern_id = :id AND coalesce(upper(during), 'infinity') > CAST(:t AS timestamptz) "
    "ORDER BY coalesce(upper(during), 'infinity') LIMIT 1"
)


def day_columns(t):
    """The materialised intervals of the site's pattern around its local day at `t`, as two
    arrays in order (`day_lo`, `day_hi`): what `open_state.today` says. A probe of the same
    (pattern_id, end) index; at most 12 intervals (a day with more shows its first 12)."""
    hi = sa.func.upper(HoursPatternInterval.during)
    end = sa.func.coalesce(hi, sa.literal_column("'infinity'"))
    near = (
        sa.select(HoursPatternInterval.during.label("during"), end.label("e"))
        .where(
            HoursPatternInterval.pattern_id == Site.hours_pattern_id,
            end > t - _DAY_MARGIN,
            sa.func.lower(HoursPatternInterval.during) < t + _DAY_MARGIN,
        )
        .order_by(end)
        .limit(_DAY_LIMIT)
        .correlate(Site)
        .subquery("near")
    )
    return sa.select(
        sa.func.array_agg(aggregate_order_by(sa.func.lower(near.c.during), near.c.e)).label(
            "day_lo"
        ),
        sa.func.array_agg(aggregate_order_by(sa.func.upper(near.c.during), near.c.e)).label(
            "day_hi"
        ),
    ).lateral("today")


def open_columns(t) -> tuple[list, list]:
    """(columns, laterals) that open_state reads, for a statement of a few sites (nearby, one
    site) that joins `sites`: the site's hours fields, its next open interval and the
    intervals of its day at `t`, in the same statement. Lists read the intervals of their
    page's patterns at once instead (day_intervals)."""
    upcoming, today = open_state_columns(t), day_columns(t)
    columns = [
        *OPEN_COLUMNS,
        Site.hours_pattern_id,
        upcoming.c.lo.label("open_lo"),
        upcoming.c.hi.label("open_hi"),
        today.c.day_lo,
        today.c.day_hi,
    ]
    return columns, [upcoming, today]


def with_open(stmt: sa.Select, laterals: list) -> sa.Select:
    """`stmt` joined to the open-state laterals (each one row, or none)."""
    for lateral in laterals:
        stmt = stmt.outerjoin(lateral, sa.true())
    return stmt
