"""An OpenStreetMap `opening_hours` expression as short human text: the read-only `hours_text`.

`describe("Mo-Fr 09:00-18:00; PH off")` is "周一至周五 09:00-18:00；法定节假日休息", and with
`lang="en"` "Mon-Fri 09:00-18:00; public holidays closed". The module is pure: no database, no
Flask, no parser library; it does not validate (evaluate.py does that).

Only the common subset is understood: weekday and holiday selectors (`Mo-Fr,Su`, `Fr-Mo`,
`Sa,Su,PH`, `SH`), time spans (`08:00-12:00,14:00-18:00`, overnight `20:00-02:00` or `18:00-26:00`,
`24:00`), `off`/`closed`, `open`, `24/7` and "comments". Any other word of a rule (months, dates,
weeks, years, `sunrise`, `18:00+`, ...) is kept as written in its place, and a rule in which
nothing is understood is kept whole, so the text never drops a restriction silently. Whatever the
input string, the result is a non-empty string.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

_DAY_CODES = ("mo", "tu", "we", "th", "fr", "sa", "su")
_HOLIDAY_CODES = ("ph", "sh")

# A quoted comment (an unterminated one runs to the end) or a run of text without quotes.
_CHUNK = re.compile(r'"[^"]*"?|[^"]+')
# Rule separators: `;`, the fallback `||`, and a comma after a time that starts a new selector,
# OSM's additional rule ("Mo-Fr 09:00-18:00, Sa 10:00-14:00").
_RULE_SEPARATOR = re.compile(r";|\|\||(?<=[0-9]),\s*(?=(?:Mo|Tu|We|Th|Fr|Sa|Su|PH|SH)\b)")
# The usual slips of a Chinese keyboard, read as their ASCII counterparts outside comments.
_FULL_WIDTH = str.maketrans({"；": ";", "，": ",", "：": ":", "–": "-"})
# Starts only where a run of spaces starts, so a long run is scanned once, not once per space.
_SPACED_PUNCTUATION = re.compile(r"(?<!\s)\s*([,-])\s*")
_SPAN = re.compile(r"([0-9]{1,2}):([0-9]{2})-([0-9]{1,2}):([0-9]{2})")

_MINUTES_PER_DAY = 24 * 60

# Kinds of the pieces a rule is made of.
_DAYS = "days"
_TIMES = "times"
_STATE = "state"
_OPEN = "open"
_ALWAYS = "always"
_WORD = "word"


@dataclass(frozen=True)
class _Words:
    """The vocabulary and punctuation of one language."""

    days: tuple[str, ...]
    holidays: dict[str, str]
    daily: str
    day_range: str
    list_separator: str
    and_separator: str
    overnight: str
    off: str
    open: str
    open_all_day: str
    always: str
    comment: str
    state_gap: str
    rule_separator: str


_ZH = _Words(
    days=("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    holidays={"ph": "法定节假日", "sh": "学校假期"},
    daily="每天",
    day_range="{0}至{1}",
    list_separator="、",
    and_separator="及",
    overnight="{0}-次日{1}",
    off="休息",
    open="开放",
    open_all_day="全天开放",
    always="24 小时开放",
    comment="（{0}）",
    state_gap="",
    rule_separator="；",
)

_EN = _Words(
    days=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    holidays={"ph": "public holidays", "sh": "school holidays"},
    daily="daily",
    day_range="{0}-{1}",
    list_separator=", ",
    and_separator=" and ",
    overnight="{0}-{1} (next day)",
    off="closed",
    open="open",
    open_all_day="open all day",
    always="open 24/7",
    comment=" ({0})",
    state_gap=" ",
    rule_separator="; ",
)


@dataclass(frozen=True)
class _Piece:
    """One word of a rule, rendered, with what kind of word it was."""

    kind: str
    text: str


def describe(expression: str | None, lang: str = "zh") -> str | None:
    """`expression` as short text in Chinese (`lang="zh"`, the default) or English (`"en"`).

    None for None or a blank expression; any other `lang` means Chinese. Never raises on a
    string and never returns an empty one: what is not understood is kept as written.
    """
    if expression is None:
        return None
    stripped = expression.strip()
    if not stripped:
        return None
    return _describe(stripped, "en" if lang == "en" else "zh")


@lru_cache(maxsize=4096)
def _describe(expression: str, lang: str) -> str:
    """The cached work of `describe`, for a stripped, non-empty expression and a known language."""
    try:
        rendered = _render(expression, _EN if lang == "en" else _ZH)
    except Exception:  # a display field must never break the response that carries it
        return expression
    return rendered if rendered.strip() else expression


def _render(expression: str, words: _Words) -> str:
    rules = [_render_rule(rule, words) for rule in _split_rules(expression)]
    return words.rule_separator.join(rules)


def _split_rules(expression: str) -> list[str]:
    """The rules of `expression`, stripped, empty ones left out; separators in comments are text."""
    rules = [""]
    for chunk in _CHUNK.findall(expression):
        if chunk.startswith('"'):
            rules[-1] += chunk
            continue
        first, *others = _RULE_SEPARATOR.split(chunk.translate(_FULL_WIDTH))
        rules[-1] += first
        rules.extend(others)
    return [rule.strip() for rule in rules if rule.strip()]


def _tokens(rule: str) -> list[tuple[bool, str]]:
    """The words of `rule` in order, as (is_comment, text); a comment's text is without quotes."""
    tokens: list[tuple[bool, str]] = []
    for chunk in _CHUNK.findall(rule):
        if len(chunk) >= 2 and chunk.startswith('"') and chunk.endswith('"'):
            tokens.append((True, chunk[1:-1].strip()))
        elif chunk.startswith('"'):
            tokens.append((False, chunk))
        else:
            compact = _SPACED_PUNCTUATION.sub(r"\1", chunk)
            tokens.extend((False, word) for word in compact.split())
    return tokens


def _render_rule(rule: str, words: _Words) -> str:
    pieces: list[_Piece] = []
    comments: list[str] = []
    for is_comment, text in _tokens(rule):
        if not is_comment:
            pieces.append(_piece(text, words))
        elif text:
            comments.append(text)
    if not comments and all(piece.kind == _WORD for piece in pieces):
        return rule
    pieces = _add_daily(_resolve_open(pieces, words), words)
    text = _join_pieces(pieces, words)
    return text + _comments_text(comments, words, alone=not text)


def _piece(word: str, words: _Words) -> _Piece:
    lowered = word.lower()
    if lowered in ("off", "closed"):
        return _Piece(_STATE, words.off)
    if lowered == "open":
        return _Piece(_OPEN, words.open)
    if word == "24/7":
        return _Piece(_ALWAYS, words.always)
    days = _days_text(lowered, words)
    if days is not None:
        return _Piece(_DAYS, days)
    times = _times_text(word, words)
    if times is not None:
        return _Piece(_TIMES, times)
    return _Piece(_WORD, word)


def _resolve_open(pieces: list[_Piece], words: _Words) -> list[_Piece]:
    """`open` says nothing next to times, is "open all day" alone, and plain "open" otherwise."""
    kinds = {piece.kind for piece in pieces}
    if _TIMES in kinds:
        return [piece for piece in pieces if piece.kind != _OPEN]
    text = words.open if _WORD in kinds else words.open_all_day
    return [_Piece(_STATE, text) if piece.kind == _OPEN else piece for piece in pieces]


def _add_daily(pieces: list[_Piece], words: _Words) -> list[_Piece]:
    """Times with no selector before them hold every day: say so."""
    if any(piece.kind == _DAYS for piece in pieces):
        return pieces
    for piece in pieces:
        if piece.kind == _WORD:
            return pieces
        if piece.kind == _TIMES:
            return [_Piece(_DAYS, words.daily), *pieces]
    return pieces


def _join_pieces(pieces: list[_Piece], words: _Words) -> str:
    text = ""
    previous: _Piece | None = None
    for piece in pieces:
        if previous is not None:
            tight = previous.kind == _DAYS and piece.kind == _STATE
            text += words.state_gap if tight else " "
        text += piece.text
        previous = piece
    return text


def _comments_text(comments: list[str], words: _Words, alone: bool) -> str:
    if alone:
        return " ".join(comments)
    return "".join(words.comment.format(comment) for comment in comments)


def _days_text(word: str, words: _Words) -> str | None:
    """A lowercase weekday/holiday selector such as `mo-fr,su` or `sa,su,ph` as text, else None."""
    spans: list[tuple[int, int]] = []
    holidays: list[str] = []
    for item in word.split(","):
        if item in _HOLIDAY_CODES:
            holidays.append(item)
            continue
        span = _day_span(item)
        if span is None:
            return None
        spans.append(span)
    return _join_days(spans, list(dict.fromkeys(holidays)), words)


def _day_span(item: str) -> tuple[int, int] | None:
    """`mo` as (0, 0), `fr-mo` as (4, 0), anything else None."""
    first, dash, last = item.partition("-")
    if first not in _DAY_CODES:
        return None
    if dash and last not in _DAY_CODES:
        return None
    start = _DAY_CODES.index(first)
    end = _DAY_CODES.index(last) if dash else start
    return start, end


def _covered_days(spans: list[tuple[int, int]]) -> set[int]:
    covered: set[int] = set()
    for start, end in spans:
        length = (end - start) % 7
        covered.update((start + step) % 7 for step in range(length + 1))
    return covered


def _day_name(span: tuple[int, int], words: _Words) -> str:
    start, end = span
    if start == end:
        return words.days[start]
    return words.day_range.format(words.days[start], words.days[end])


def _join_days(spans: list[tuple[int, int]], holidays: list[str], words: _Words) -> str:
    """Weekdays as written (or "daily" when they cover the week), then holidays, "and" last."""
    if len(_covered_days(spans)) == 7:
        names = [words.daily]
    else:
        names = [_day_name(span, words) for span in spans]
    names += [words.holidays[code] for code in holidays]
    if not holidays or len(names) == 1:
        return words.list_separator.join(names)
    return words.list_separator.join(names[:-1]) + words.and_separator + names[-1]


def _times_text(word: str, words: _Words) -> str | None:
    """`08:00-12:00,14:00-18:00` as text, items that are not a plain span kept as written.

    None when no item is a plain span.
    """
    parts: list[str] = []
    understood = False
    for item in word.split(","):
        span = _span_text(item, words)
        if span is not None:
            understood = True
            parts.append(span)
        elif item:
            parts.append(item)
    if not understood:
        return None
    return words.list_separator.join(parts)


def _span_text(item: str, words: _Words) -> str | None:
    """`09:00-18:00` as is, `20:00-02:00` and `18:00-26:00` as ending the next day, else None."""
    match = _SPAN.fullmatch(item)
    if match is None:
        return None
    start_hour, start_minute, end_hour, end_minute = (int(group) for group in match.groups())
    if start_minute > 59 or end_minute > 59:
        return None
    start = start_hour * 60 + start_minute
    end = end_hour * 60 + end_minute
    if start > _MINUTES_PER_DAY or end > 2 * _MINUTES_PER_DAY:
        return None
    start_text = _clock(start)
    if end > _MINUTES_PER_DAY:
        return words.overnight.format(start_text, _clock(end - _MINUTES_PER_DAY))
    if end < start:
        return words.overnight.format(start_text, _clock(end))
    return f"{start_text}-{_clock(end)}"


def _clock(minutes: int) -> str:
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}"
