"""What a person can act on when an `opening_hours` string does not parse: the character where it
breaks, what was expected there and an example, in Chinese and then English.

The parser (pest, inside opening-hours-py) reports a line:column and the grammar rules it
expected (`timespan`, `wday`, `EOI`, ...): names of its own, which mean nothing to an editor.
Each is mapped to a hint here; full-width punctuation and Chinese weekday names, the usual
slips of people typing on a Chinese keyboard, get their own.
"""

import re

# (rules the parser expected, Chinese hint, English hint): the first whose rule appears wins.
HINTS = [
    (
        ("minute", "hour_minutes", "extended_time", "timespan_plus", "timespan", "time"),
        "时间应为 HH:MM，例如 09:00-21:00",
        "a time must be HH:MM, e.g. 09:00-21:00",
    ),
    (
        ("wday", "weekday_range"),
        "星期应为 Mo Tu We Th Fr Sa Su，例如 Mo-Fr",
        "a weekday must be Mo, Tu, We, Th, Fr, Sa or Su, e.g. Mo-Fr",
    ),
    (
        ("normal_rule_separator",),
        "规则之间只用一个分号，例如 Mo-Fr 09:00-18:00; PH off",
        "one semicolon between rules, e.g. Mo-Fr 09:00-18:00; PH off",
    ),
    (
        ("comment",),
        '说明文字应放在英文双引号里，例如 off "春节闭站"',
        'a comment goes in double quotes, e.g. off "closed for the Spring Festival"',
    ),
    (
        ("monthday_range_plus", "monthday_range", "date_offset"),
        "日期应为 月 日（英文月份缩写），例如 Jan 01-Feb 15",
        "a date must be a month and day, e.g. Jan 01-Feb 15",
    ),
    (
        ("small_range_selectors", "always_open", "week_selector", "year"),
        "应以星期、日期或 24/7 开头，例如 Mo-Su 09:00-21:00",
        "start with weekdays, dates or 24/7, e.g. Mo-Su 09:00-21:00",
    ),
    (
        ("EOI", "any_rule_separator", "rules_modifier"),
        "这里应结束或接分号，例如 Mo-Fr 09:00-18:00; Sa 10:00-16:00",
        "the rule should end here or go on after a semicolon, e.g. Mo-Fr 09:00; Sa 10:00-16:00",
    ),
]
GENERAL = (
    "写法不对，例如 Mo-Fr 09:00-18:00; PH off",
    "not in the opening_hours syntax, e.g. Mo-Fr 09:00-18:00; PH off",
)
FULL_WIDTH = "：；，－–—～（）　"
WEEKDAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
CHINESE_WEEKDAYS = re.compile(r"周[一二三四五六日天]|星期")
_POSITION = re.compile(r"-->\s*\d+:(\d+)")
_EXPECTED = re.compile(r"=\s*(?:expected|unexpected)\s+(.*)")


def parser_message(expression: str, report: str) -> str:
    """One line from the parser's report, e.g. `第 7 个字符：时间应为 HH:MM，例如 09:00-21:00
    (character 7: a time must be HH:MM, e.g. 09:00-21:00)`."""
    found = _POSITION.search(report)
    column = int(found.group(1)) if found else None
    wide = next(
        (
            i
            for i, c in enumerate(expression, 1)
            if c in FULL_WIDTH and expression[: i - 1].count('"') % 2 == 0  # not in a comment
        ),
        None,
    )
    if wide is not None and (column is None or wide >= column):
        column = wide  # the slip is there, though the parser may stop a little before it
    expected = _EXPECTED.search(report)
    rules = set(re.findall(r"[A-Za-z_]+", expected.group(1))) if expected else set()
    chinese, english = _hint(expression, column, rules)
    if column is None:
        return f"{chinese} ({english})"
    return f"第 {column} 个字符：{chinese} (character {column}: {english})"


def _hint(expression: str, column: int | None, rules: set[str]) -> tuple[str, str]:
    at = expression[column - 1] if column and column <= len(expression) else ""
    if at and at in FULL_WIDTH:
        return (
            f"“{at}”是全角符号，请改用半角的 : ; , -",
            f"{at!r} is a full-width character; use the ASCII : ; , - instead",
        )
    if column and expression[column - 3 : column - 1] in WEEKDAYS and at.isalpha():
        return (
            "星期用两个字母，例如 Mo-Fr（不是 Mon-Fri）",
            "a weekday has two letters, e.g. Mo-Fr (not Mon-Fri)",
        )
    if CHINESE_WEEKDAYS.search(expression):
        return (
            "星期请用英文缩写，例如 周一至周五 写作 Mo-Fr",
            "write weekdays in English, e.g. Mo-Fr for 周一至周五",
        )
    for wanted, chinese, english in HINTS:
        if rules & set(wanted):
            return chinese, english
    return GENERAL
