"""A site's special days: dates whose hours are not its weekly rules (春节闭站, 缩短营业).

An entry is `{"from": "2027-02-10", "to": "2027-02-12", "hours": "off", "reason": "春节闭站"}`:
dates in the site's zone, `to` inclusive (the same day when left out), `hours` either `off` or
time spans of the opening_hours grammar within the day (`10:00-16:00`,
`08:00-12:00,14:00-18:00`; `24:00` ends the day). A special day decides its whole local date,
from 00:00 to 24:00: over the weekly rules, `PH` and make-up days (hours/evaluate.py). Hours
past midnight are two entries, one per date.

Sites keep their entries as the compact JSON `canonical` writes (sorted by date, every member
present), so equal definitions are equal text: the site's document embeds it as it is and one
hours pattern serves every site with the same entries (schema/versions/0013_special_days.py).
Messages are Chinese first, with the English in brackets, and name the entry (第 N 项, 0-based
index in the English), as hours/messages.py does for `opening_hours`.
"""

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import orjson

MAX_ENTRIES = 100
MAX_SPAN_DAYS = 366
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
_SPAN = re.compile(r"([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")
_EXAMPLE = (
    "例如 10:00-16:00 或 08:00-12:00,14:00-18:00 (e.g. 10:00-16:00 or 08:00-12:00,14:00-18:00)"
)


class SpecialDayError(ValueError):
    """An entry, or a list of entries, that cannot be a site's special days; `field` is the
    member at fault."""

    def __init__(self, message: str, field: str = "hours") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SpecialDay:
    first: date
    last: date
    spans: tuple[tuple[int, int], ...]  # minutes after local midnight, [start, end)
    reason: str | None

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last


def parse_spans(text: str) -> tuple[tuple[int, int], ...]:
    """`off` -> (); `08:00-12:00,14:00-18:00` -> ((480, 720), (840, 1080))."""
    if text.strip() == "off":
        return ()
    spans = []
    for piece in text.split(","):
        match = _SPAN.fullmatch(piece.strip())
        if match is None:
            raise SpecialDayError(
                f"营业时间应为 off 或 HH:MM-HH:MM，多段用逗号分隔 (hours are off or HH:MM-HH:MM "
                f"spans separated by commas)，{_EXAMPLE}: {piece.strip()!r}"
            )
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start >= 24 * 60 or end > 24 * 60:
            raise SpecialDayError(f"时间不能超过 24:00 (times end at 24:00): {piece.strip()}")
        if start >= end:
            raise SpecialDayError(
                f"结束须晚于开始；跨午夜请按日期分成两项 (the end must follow the start; "
                f"hours past midnight are two entries, one per date): {piece.strip()}"
            )
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise SpecialDayError(f"时间段重叠 (the spans overlap): {text.strip()}")
    return tuple(spans)


def entry(first: date, last: date | None, hours: str, reason: str | None) -> SpecialDay:
    """One validated entry; raises SpecialDayError."""
    last = first if last is None else last
    for day in (first, last):
        if not EARLIEST <= day <= LATEST:
            field = "from" if day == first else "to"
            raise SpecialDayError(
                f"日期须在 2000 至 2100 年之间 (dates lie in 2000..2100): {day}", field
            )
    if last < first:
        raise SpecialDayError(f"to 早于 from (to is before from): {first} > {last}", "to")
    if (last - first).days >= MAX_SPAN_DAYS:
        raise SpecialDayError(
            f"一项最多 {MAX_SPAN_DAYS} 天 (an entry spans at most {MAX_SPAN_DAYS} days)", "to"
        )
    return SpecialDay(first, last, parse_spans(hours), reason)


def check_overlaps(entries: list[SpecialDay]) -> None:
    """Entries in the order given; two that share a date are refused, naming both."""
    if len(entries) > MAX_ENTRIES:
        raise SpecialDayError(f"最多 {MAX_ENTRIES} 项 (at most {MAX_ENTRIES} special days)")
    order = sorted(range(len(entries)), key=lambda i: entries[i].first)
    for a, b in zip(order, order[1:], strict=False):
        if entries[b].first <= entries[a].last:
            x, y = sorted((a, b))
            raise SpecialDayError(
                f"第 {y + 1} 项与第 {x + 1} 项的日期重叠 (special_days[{y}] overlaps "
                f"special_days[{x}]): {entries[a].first}..{entries[a].last}, "
                f"{entries[b].first}..{entries[b].last}"
            )


def _hours_text(spans: tuple[tuple[int, int], ...]) -> str:
    if not spans:
        return "off"
    return ",".join(f"{_clock(a)}-{_clock(b)}" for a, b in spans)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def canonical(entries: list[SpecialDay]) -> str:
    """The stored JSON of validated entries: sorted by date, hours normalised."""
    ordered = sorted(entries, key=lambda e: e.first)
    return orjson.dumps(
        [
            {
                "from": e.first.isoformat(),
                "to": e.last.isoformat(),
                "hours": _hours_text(e.spans),
                "reason": e.reason,
            }
            for e in ordered
        ]
    ).decode()


def as_list(text: str | None) -> list[dict]:
    """The stored JSON as the API shows it."""
    return orjson.loads(text) if text else []


@lru_cache(maxsize=4096)
def load(text: str) -> tuple[SpecialDay, ...]:
    """Stored entries (canonical JSON) as SpecialDay values."""
    if text in ("", "[]"):
        return ()
    return tuple(
        SpecialDay(
            date.fromisoformat(e["from"]),
            date.fromisoformat(e["to"]),
            parse_spans(e["hours"]),
            e["reason"],
        )
        for e in orjson.loads(text)
    )


def on(entries: tuple[SpecialDay, ...], day: date) -> SpecialDay | None:
    """The entry that decides `day`, if one does."""
    for e in entries:
        if e.covers(day):
            return e
    return None
