"""`hours_text`: an `opening_hours` expression as short Chinese or English text (hours/text.py).

Pure: no database, no app.
"""

import random

import pytest

from service.hours import text as hours_text
from service.hours.text import describe

# (expression, Chinese, English)
CASES = [
    # the contract example
    (
        "Mo-Fr 09:00-18:00; PH off",
        "周一至周五 09:00-18:00；法定节假日休息",
        "Mon-Fri 09:00-18:00; public holidays closed",
    ),
    # weekdays: single, range, list, mixed, wrap-around
    ("Mo 09:00-12:00", "周一 09:00-12:00", "Mon 09:00-12:00"),
    ("Tu-Th 10:00-16:00", "周二至周四 10:00-16:00", "Tue-Thu 10:00-16:00"),
    ("Mo,We,Fr 10:00-12:00", "周一、周三、周五 10:00-12:00", "Mon, Wed, Fri 10:00-12:00"),
    ("Mo,We 10:00-12:00", "周一、周三 10:00-12:00", "Mon, Wed 10:00-12:00"),
    ("Mo-Fr,Su 09:00-17:00", "周一至周五、周日 09:00-17:00", "Mon-Fri, Sun 09:00-17:00"),
    ("Fr-Mo 10:00-18:00", "周五至周一 10:00-18:00", "Fri-Mon 10:00-18:00"),
    ("Sa 08:00-12:00", "周六 08:00-12:00", "Sat 08:00-12:00"),
    ("Su off", "周日休息", "Sun closed"),
    # holidays
    ("PH off", "法定节假日休息", "public holidays closed"),
    ("PH 10:00-16:00", "法定节假日 10:00-16:00", "public holidays 10:00-16:00"),
    ("SH off", "学校假期休息", "school holidays closed"),
    ("Sa,Su,PH off", "周六、周日及法定节假日休息", "Sat, Sun and public holidays closed"),
    ("PH,Sa 10:00-14:00", "周六及法定节假日 10:00-14:00", "Sat and public holidays 10:00-14:00"),
    ("PH,SH off", "法定节假日及学校假期休息", "public holidays and school holidays closed"),
    (
        "Sa,PH,SH off",
        "周六、法定节假日及学校假期休息",
        "Sat, public holidays and school holidays closed",
    ),
    # times: several, overnight, extended, 24:00
    (
        "Mo-Fr 08:00-12:00,14:00-18:00",
        "周一至周五 08:00-12:00、14:00-18:00",
        "Mon-Fri 08:00-12:00, 14:00-18:00",
    ),
    ("Fr,Sa 20:00-02:00", "周五、周六 20:00-次日02:00", "Fri, Sat 20:00-02:00 (next day)"),
    ("Mo-Fr 18:00-26:00", "周一至周五 18:00-次日02:00", "Mon-Fri 18:00-02:00 (next day)"),
    ("Mo-Fr 00:00-24:00", "周一至周五 00:00-24:00", "Mon-Fri 00:00-24:00"),
    ("Mo-Fr 18:00-24:00", "周一至周五 18:00-24:00", "Mon-Fri 18:00-24:00"),
    (
        "Sa 10:00-14:00,20:00-02:00",
        "周六 10:00-14:00、20:00-次日02:00",
        "Sat 10:00-14:00, 20:00-02:00 (next day)",
    ),
    ("Mo 9:00-18:00", "周一 09:00-18:00", "Mon 09:00-18:00"),
    # states
    ("off", "休息", "closed"),
    ("closed", "休息", "closed"),
    ("Mo closed", "周一休息", "Mon closed"),
    ("open", "全天开放", "open all day"),
    ("Sa open", "周六全天开放", "Sat open all day"),
    ("Mo-Fr 09:00-18:00 open", "周一至周五 09:00-18:00", "Mon-Fri 09:00-18:00"),
    ("Mo 12:00-13:00 off", "周一 12:00-13:00 休息", "Mon 12:00-13:00 closed"),
    ("24/7", "24 小时开放", "open 24/7"),
    ("PH 24/7", "法定节假日 24 小时开放", "public holidays open 24/7"),
    # every day
    ("09:00-21:00", "每天 09:00-21:00", "daily 09:00-21:00"),
    ("Mo-Su 09:00-21:00", "每天 09:00-21:00", "daily 09:00-21:00"),
    ("Mo-Fr,Sa,Su 09:00-21:00", "每天 09:00-21:00", "daily 09:00-21:00"),
    ("Tu-Mo 09:00-21:00", "每天 09:00-21:00", "daily 09:00-21:00"),
    (
        "Mo-Su,PH 09:00-21:00",
        "每天及法定节假日 09:00-21:00",
        "daily and public holidays 09:00-21:00",
    ),
    ("Mo-Su off", "每天休息", "daily closed"),
    ("20:00-02:00", "每天 20:00-次日02:00", "daily 20:00-02:00 (next day)"),
    # comments
    (
        'Mo-Fr 09:00-18:00 "by appointment"',
        "周一至周五 09:00-18:00（by appointment）",
        "Mon-Fri 09:00-18:00 (by appointment)",
    ),
    ('09:00-18:00 "预约"', "每天 09:00-18:00（预约）", "daily 09:00-18:00 (预约)"),
    ('Mo "a; b" 09:00-10:00', "周一 09:00-10:00（a; b）", "Mon 09:00-10:00 (a; b)"),
    ('PH off "春节照常"', "法定节假日休息（春节照常）", "public holidays closed (春节照常)"),
    ('"call ahead"', "call ahead", "call ahead"),
    # several rules, fallback rules, OSM's additional rule after a comma
    (
        "Mo-Fr 08:00-18:00; Sa 09:00-12:00; Su,PH off",
        "周一至周五 08:00-18:00；周六 09:00-12:00；周日及法定节假日休息",
        "Mon-Fri 08:00-18:00; Sat 09:00-12:00; Sun and public holidays closed",
    ),
    (
        'Mo-Fr 08:00-17:00 || "by appointment"',
        "周一至周五 08:00-17:00；by appointment",
        "Mon-Fri 08:00-17:00; by appointment",
    ),
    (
        "Mo-Fr 09:00-18:00, Sa 10:00-14:00",
        "周一至周五 09:00-18:00；周六 10:00-14:00",
        "Mon-Fri 09:00-18:00; Sat 10:00-14:00",
    ),
    ("Mo-Fr 09:00-18:00;", "周一至周五 09:00-18:00", "Mon-Fri 09:00-18:00"),
    # loose spacing and full-width punctuation from a Chinese keyboard
    (
        "Mo - Fr 09:00 - 12:00 , 14:00-18:00",
        "周一至周五 09:00-12:00、14:00-18:00",
        "Mon-Fri 09:00-12:00, 14:00-18:00",
    ),
    (
        "Mo-Fr 09:00-18:00；PH off",
        "周一至周五 09:00-18:00；法定节假日休息",
        "Mon-Fri 09:00-18:00; public holidays closed",
    ),
    ("  Sa，Su off  ", "周六、周日休息", "Sat, Sun closed"),
]

# Syntax outside the subset: what is understood is rendered, the rest kept as written.
FALLBACKS = [
    ("Dec 25 off", "Dec 25 休息", "Dec 25 closed"),
    ("week 1-10 Mo 09:00-12:00", "week 1-10 周一 09:00-12:00", "week 1-10 Mon 09:00-12:00"),
    (
        "2026 Jan-Mar Mo-Fr 08:00-17:00",
        "2026 Jan-Mar 周一至周五 08:00-17:00",
        "2026 Jan-Mar Mon-Fri 08:00-17:00",
    ),
    ("Dec 24 10:00-14:00", "Dec 24 10:00-14:00", "Dec 24 10:00-14:00"),
    ("sunrise-sunset", "sunrise-sunset", "sunrise-sunset"),
    ("Mo-Fr sunrise-sunset", "周一至周五 sunrise-sunset", "Mon-Fri sunrise-sunset"),
    ("18:00+", "18:00+", "18:00+"),
    ("Mo 10:00-14:00,18:00+", "周一 10:00-14:00、18:00+", "Mon 10:00-14:00, 18:00+"),
    ("Mo[1] off", "Mo[1] 休息", "Mo[1] closed"),
    ("Jan-Mar: open", "Jan-Mar: 开放", "Jan-Mar: open"),
    (
        "Mo-Fr 09:00-18:00; Dec 25 off",
        "周一至周五 09:00-18:00；Dec 25 休息",
        "Mon-Fri 09:00-18:00; Dec 25 closed",
    ),
    ("Mo-Fr 25:00-26:00", "周一至周五 25:00-26:00", "Mon-Fri 25:00-26:00"),
    ("Mo 09:60-10:00", "周一 09:60-10:00", "Mon 09:60-10:00"),
    ('Mo "unterminated', '周一 "unterminated', 'Mon "unterminated'),
    ("unknown", "unknown", "unknown"),
    ("Mo-", "Mo-", "Mo-"),
    ("foo bar baz", "foo bar baz", "foo bar baz"),
    (";;", ";;", ";;"),
    ('""', '""', '""'),
    ("||", "||", "||"),
]


@pytest.mark.parametrize(("expression", "zh", "en"), CASES + FALLBACKS)
def test_describes_in_both_languages(expression, zh, en):
    assert describe(expression) == zh
    assert describe(expression, "zh") == zh
    assert describe(expression, lang="en") == en


@pytest.mark.parametrize("expression", [None, "", " ", "\t\n  "])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_nothing_to_describe(expression, lang):
    assert describe(expression, lang) is None


@pytest.mark.parametrize("lang", ["fr", "", "EN", "zh-CN", None, 3])
def test_other_languages_mean_chinese(lang):
    assert describe("Mo-Fr 09:00-18:00; PH off", lang) == "周一至周五 09:00-18:00；法定节假日休息"


TOKENS = [
    "Mo", "Fr", "Su", "-", ",", ";", "||", "PH", "SH", "09:00", "18:00", "24:00", "off",
    "open", '"', "+", "Dec", "24/7", "week", ":", "[", "]", "，", "；", "0", "1", "7", "25",
    " ", " ", " ", "\t",
]  # fmt: skip


def random_expressions(count: int) -> list[str]:
    rng = random.Random(20261130)
    return ["".join(rng.choices(TOKENS, k=rng.randint(1, 14))) for _ in range(count)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_never_raises_and_never_empty(lang):
    expressions = random_expressions(200)
    assert len(set(expressions)) > 150
    for expression in expressions:
        result = describe(expression, lang)
        if not expression.strip():
            assert result is None
            continue
        assert isinstance(result, str)
        assert result.strip(), expression
        # the safety net in _describe is not what keeps these from raising
        words = hours_text._EN if lang == "en" else hours_text._ZH
        hours_text._render(expression.strip(), words)


def test_cache_returns_equal_results():
    hours_text._describe.cache_clear()
    first = describe("Mo-Fr 09:00-18:00; PH off")
    second = describe("Mo-Fr 09:00-18:00; PH off")
    english = describe("Mo-Fr 09:00-18:00; PH off", "en")
    assert first == second == "周一至周五 09:00-18:00；法定节假日休息"
    assert second is first
    assert english == "Mon-Fri 09:00-18:00; public holidays closed"
    info = hours_text._describe.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (1, 2, 4096)
    assert describe("  Mo-Fr 09:00-18:00; PH off  ") == first
    assert hours_text._describe.cache_info().hits == 2
