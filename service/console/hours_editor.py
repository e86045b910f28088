"""The console's hours editor: a week grid <-> an `opening_hours` string, and a preview.

The grid has one cell per weekday holding its spans (`09:00-12:00,14:00-18:00`, an overnight
`20:00-02:00`, or empty for closed) and a "closed on statutory holidays" toggle. The string is
built from it with consecutive days of the same spans grouped (`Mo-Fr 09:00-18:00; Sa
10:00-16:00; PH off`), and a string of that shape is read back into the grid; any other string
(months, comments, week numbers) stays text for experts, and the grid says it cannot show it.
The preview is the site's materialisable hours (hours/store.Definition, the same code as the
API) for the next days, with the calendar's holidays and make-up days marked.
"""

import re
from dataclasses import dataclass
from datetime import date, time, timedelta

import orjson
from marshmallow import ValidationError

from service.console import forms
from service.core.cache import cached
from service.core.clock import now
from service.core.clock import zone as zone_of
from service.core.db import db
from service.core.settings import DEFAULT_TIMEZONE
from service.hours import calendar, evaluate, special
from service.hours.store import Definition
from service.sites.hours_schemas import special_days_in

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
LABELS = dict(zip(DAYS, ("周一", "周二", "周三", "周四", "周五", "周六", "周日"), strict=True))
PRESETS = {
    "daily": ({d: "09:00-21:00" for d in DAYS}, False),
    "always": ({d: "00:00-24:00" for d in DAYS}, False),
    "workdays": ({**{d: "09:00-18:00" for d in DAYS[:5]}, "Sa": "", "Su": ""}, True),
}
_SPAN = re.compile(r"([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d")
_RULE = re.compile(r"(?P<days>(Mo|Tu|We|Th|Fr|Sa|Su)(-(Mo|Tu|We|Th|Fr|Sa|Su))?) (?P<spans>\S+)")


class GridError(ValueError):
    """A cell of the grid that is not spans; `day` names it."""

    def __init__(self, day: str, message: str) -> None:
        super().__init__(message)
        self.day = day


def _spans(day: str, text: str) -> str:
    pieces = [p.strip() for p in re.split(r"[,，、\s]+", text.strip()) if p.strip()]
    for piece in pieces:
        if not _SPAN.fullmatch(piece):
            raise GridError(day, f"{LABELS[day]}：时间应为 HH:MM-HH:MM，例如 09:00-21:00")
    return ",".join(pieces)


def expression_from(grid: dict[str, str], ph_off: bool) -> str:
    """The `opening_hours` of a week grid (empty cells: closed)."""
    cells = {d: _spans(d, grid.get(d, "")) for d in DAYS}
    if all(cells[d] == "00:00-24:00" for d in DAYS):
        rules = ["24/7"]
    else:
        rules, start = [], 0
        while start < len(DAYS):
            end = start
            while end + 1 < len(DAYS) and cells[DAYS[end + 1]] == cells[DAYS[start]]:
                end += 1
            if cells[DAYS[start]]:
                days = DAYS[start] if end == start else f"{DAYS[start]}-{DAYS[end]}"
                rules.append(f"{days} {cells[DAYS[start]]}")
            start = end + 1
    if not rules:
        rules = ["off"]
    if ph_off:
        rules.append("PH off")
    return "; ".join(rules)


def grid_from(expression: str) -> tuple[dict[str, str], bool] | None:
    """The grid of a string of the shape expression_from makes; None for any other."""
    text = expression.strip()
    ph_off = text.endswith("; PH off") or text == "PH off"
    text = text.removesuffix("; PH off") if text != "PH off" else ""
    grid = dict.fromkeys(DAYS, "")
    if text == "24/7":
        return dict.fromkeys(DAYS, "00:00-24:00"), ph_off
    if text in ("", "off"):
        return grid, ph_off
    for rule in text.split("; "):
        match = _RULE.fullmatch(rule)
        if match is None or not all(_SPAN.fullmatch(s) for s in match["spans"].split(",")):
            return None
        first, _, last = match["days"].partition("-")
        a, b = DAYS.index(first), DAYS.index(last or first)
        if b < a:
            return None
        for day in DAYS[a : b + 1]:
            grid[day] = match["spans"]
    return grid, ph_off


@dataclass(frozen=True)
class PreviewDay:
    day: date
    weekday: str
    hours: str  # `09:00-21:00`, or `休息`
    mark: str | None  # the holiday, make-up day or special day that decides it
    kind: str  # holiday | workday | special | closed | plain


def preview(definition: Definition, today: date, days: int, cal: calendar.Calendar) -> list:
    """The next `days` local dates from `today`: each one's hours and what decides them."""
    zone = zone_of(definition.timezone)
    start = evaluate.wall(today, time(), zone)
    spans = definition.intervals(start, start + timedelta(days=days), cal)
    entries = special.load(definition.special_days)
    out = []
    for n in range(days):
        day = today + timedelta(days=n)
        lo, hi = (
            evaluate.wall(day, time(), zone),
            evaluate.wall(day + timedelta(days=1), time(), zone),
        )
        pieces = [
            f"{max(a, lo):%H:%M}-{'24:00' if (b is None or b >= hi) else f'{b:%H:%M}'}"
            for a, b in spans
            if a < hi and (b is None or b > lo)
        ]
        listed, entry = cal.on(day), special.on(entries, day)
        closed = definition.closed_until is not None and day < definition.closed_until
        if closed:
            mark, kind = "暂停开放", "closed"
        elif entry is not None:
            mark, kind = entry.reason or "特殊安排", "special"
        elif listed is not None:
            mark, kind = listed.name, listed.kind
        else:
            mark, kind = None, "plain"
        out.append(PreviewDay(day, LABELS[DAYS[day.weekday()]], ",".join(pieces) or "休息",
                              mark, kind))  # fmt: skip
    return out


def state(values: dict, source: str, cal: calendar.Calendar, today: date) -> dict:
    """What the editor shows for a form's values: the grid, the string, its error (by
    position, Chinese first) and, when the hours are valid, the preview of 30 days.

    `source` says what the clerk changed: `grid` (the string follows the grid), `expert`
    (the grid follows the string, when it can), or a preset's name."""
    grid = {d: values.get(f"grid_{d}", "") for d in DAYS}
    ph_off = values.get("ph_off") in ("on", True)
    expression = (values.get("opening_hours") or "").strip()
    errors: dict[str, str] = {}
    if source in PRESETS:
        grid, ph_off = dict(PRESETS[source][0]), PRESETS[source][1]
        source = "grid"
    if source == "grid":
        try:
            expression = expression_from(grid, ph_off)
        except GridError as exc:
            errors[f"grid_{exc.day}"] = str(exc)
    else:
        read = grid_from(expression) if expression else (dict.fromkeys(DAYS, ""), False)
        if read is not None:
            grid, ph_off = read
    fits = grid_from(expression) is not None if expression else True
    if expression and "opening_hours" not in errors and not errors:
        problem = evaluate.explain(expression)
        if problem:
            errors["opening_hours"] = problem
    days = []
    if expression and not errors:
        special_text = values.get("special_days_canonical") or "[]"
        definition = Definition(
            expression,
            values.get("timezone") or DEFAULT_TIMEZONE,
            values.get("workday_swaps") in ("on", True),
            special_text,
            values.get("closed_until_date"),
        )
        try:
            days = preview(definition, today, 30, cal)
        except (evaluate.HoursError, TypeError, ValueError) as exc:  # the library's own refusals
            errors["timezone"] = str(exc)
    return {
        "grid": grid,
        "ph_off": ph_off,
        "expression": expression,
        "fits": fits,
        "errors": errors,
        "days": days,
        "labels": LABELS,
    }


def editor_state(form, source: str = "expert") -> dict:
    """The editor's state for a submitted form (the site form or the editor alone)."""
    values = {k: form.get(k) for k in form.keys()}
    tz = values.get("timezone") or DEFAULT_TIMEZONE
    try:
        evaluate.check_timezone(tz)
    except evaluate.HoursError:
        tz = DEFAULT_TIMEZONE
    values["timezone"] = tz
    problems = {}
    entries = forms.special_days_from(values.get("special_days") or "")
    if isinstance(entries, str):
        problems["special_days"] = entries
    else:
        try:
            values["special_days_canonical"] = orjson.dumps(special_days_in(entries)).decode()
        except ValidationError as exc:
            problems.update(forms.flat_errors({"special_days": exc.messages}))
    if values.get("status") == "temporarily_closed" and values.get("closed_until"):
        try:
            values["closed_until_date"] = date.fromisoformat(values["closed_until"])
        except ValueError:
            pass
    with db.reading() as conn:
        cal = cached("calendar", lambda: calendar.read(conn))
    today = now().astimezone(zone_of(tz)).date()
    found = state(values, source, cal, today)
    found["errors"].update(problems)
    found["form"] = values
    return found
