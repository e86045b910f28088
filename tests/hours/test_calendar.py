"""China's statutory calendar: the shipped notices, `PH` read from them, GET /v1/holidays and
`yizhan calendar load`.

The independent source is the `chinesecalendar` package (its own transcription of the State
Council's notices, 2004-2026), never the fixture files the service loads.
"""

import threading
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from chinese_calendar import constants as independent

from service.core.db import make_engine
from service.core.settings import Config
from service.hours import calendar, evaluate
from service.hours import store as hours_store
from tests import support
from tests.conftest import FROZEN_NOW, HORIZON_DAYS
from tests.support import assert_problem

SH = ZoneInfo("Asia/Shanghai")
LAT, LON = 45.0, 90.0  # no demo site near: a bbox isolates the test's own sites
BOX = "89.9,44.9,90.1,45.1"
YEAR_2026 = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
HOLIDAYS = frozenset(independent.holidays)
WORKDAYS = frozenset(independent.workdays)


# --- the shipped notices --------------------------------------------------------------------


def test_every_shipped_year_agrees_with_the_independent_transcription():
    """2004-2026: the same days off and the same make-up working days, day for day."""
    shipped = calendar.fixture_years()
    assert sorted(shipped) == list(range(2004, 2027))
    days = [d for year, text in shipped.items() for d in calendar.parse(text, year)[1]]
    assert {d.day for d in days if d.kind == "holiday"} == HOLIDAYS
    assert {d.day for d in days if d.kind == "workday"} == WORKDAYS
    assert len({d.day for d in days}) == len(days)  # no day in two notices


def test_2026_is_the_notice_of_the_contract(conn):
    listed = {d.day: (d.kind, d.name) for d in calendar.year_of(conn, 2026)[1]}
    assert listed[date(2026, 10, 1)] == ("holiday", "国庆节")
    assert listed[date(2026, 10, 10)] == ("workday", "国庆节调休")
    blocks = [(1, 1, 3), (2, 15, 23), (4, 4, 6), (5, 1, 5), (6, 19, 21), (9, 25, 27), (10, 1, 7)]
    holidays = {day for day, (kind, _) in listed.items() if kind == "holiday"}
    assert holidays == {
        date(2026, m, d) for m, first, last in blocks for d in range(first, last + 1)
    }


def test_a_notice_may_start_in_the_december_before(conn):
    """The 2024 notice: 1 January 'with the weekend' is 2023-12-30 to 2024-01-01."""
    official, days = calendar.year_of(conn, 2024)
    assert official and days[0].day == date(2023, 12, 30) and days[0].name == "元旦"


@pytest.mark.parametrize(
    "year, expected",
    [
        (2030, {(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)}),
        (2000, {(1, 1), (5, 1), (5, 2), (5, 3), (10, 1), (10, 2), (10, 3)}),
        (2010, None),  # official: the notice, not the fixed days
    ],
)
def test_a_year_not_loaded_has_only_its_fixed_date_holidays(conn, year, expected):
    official, days = calendar.year_of(conn, year)
    if expected is None:
        assert official and len(days) > 7
    else:
        assert not official
        assert {(d.day.month, d.day.day) for d in days} == expected
        assert {d.kind for d in days} == {"holiday"}


# --- PH read from the calendar, every day of 2026 -------------------------------------------


def intervals_2026(expression: str, holidays: frozenset[date]) -> list[tuple[datetime, datetime]]:
    start = datetime(2026, 1, 1, tzinfo=SH)
    end = datetime(2027, 1, 1, tzinfo=SH)
    spans = evaluate.open_intervals(expression, "Asia/Shanghai", start, end, holidays)
    return [(lo, hi or end) for lo, hi in spans]


def merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[list[datetime]] = []
    for lo, hi in sorted(spans):
        if out and out[-1][1] >= lo:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), SH)


@pytest.fixture(scope="module")
def calendar_2026(database_url) -> calendar.Calendar:
    engine = make_engine(database_url, pool_size=1, statement_timeout_ms=0)
    with engine.connect() as conn:
        found = calendar.read(conn)
    engine.dispose()
    return found


@pytest.fixture(scope="module")
def holidays_2026(calendar_2026):
    return calendar_2026.holidays_around(datetime(2026, 1, 1), datetime(2027, 1, 1))


def test_weekday_hours_close_on_every_day_off_and_keep_the_make_up_saturdays_shut(holidays_2026):
    """`Mo-Fr 09:00-18:00; PH off` without workday_swaps: a make-up Saturday keeps its own
    (closed) hours."""
    expected = [(at(d, 9), at(d, 18)) for d in YEAR_2026 if d.weekday() < 5 and d not in HOLIDAYS]
    assert intervals_2026("Mo-Fr 09:00-18:00; PH off", holidays_2026) == expected
    assert any(d in WORKDAYS and d.weekday() >= 5 for d in YEAR_2026)  # such days exist


@pytest.fixture(scope="module")
def workdays_2026(calendar_2026):
    return calendar_2026.workdays_around(datetime(2026, 1, 1), datetime(2027, 1, 1))


def test_with_workday_swaps_every_make_up_day_opens_with_monday_hours(holidays_2026, workdays_2026):
    """`Mo-Fr 09:00-18:00; PH off` with workday_swaps: open on every working day of the
    independent source, the make-up Saturdays and Sundays included."""
    expected = [
        (at(d, 9), at(d, 18))
        for d in YEAR_2026
        if d in WORKDAYS or (d.weekday() < 5 and d not in HOLIDAYS)
    ]
    start, end = datetime(2026, 1, 1, tzinfo=SH), datetime(2027, 1, 1, tzinfo=SH)
    got = evaluate.open_intervals(
        "Mo-Fr 09:00-18:00; PH off",
        "Asia/Shanghai",
        start,
        end,
        holidays_2026,
        workdays=workdays_2026,
        swaps=True,
    )
    assert got == expected
    weekend_workdays = [d for d in YEAR_2026 if d in WORKDAYS and d.weekday() >= 5]
    assert len(weekend_workdays) >= 5  # 2026 has them: the test sees each one


def test_always_open_closes_for_each_whole_holiday_block(holidays_2026):
    expected = merged(
        [(at(d, 0), at(d, 0) + timedelta(days=1)) for d in YEAR_2026 if d not in HOLIDAYS]
    )
    assert intervals_2026("24/7; PH off", holidays_2026) == expected
    assert len(expected) == 7  # seven blocks off, the first on 1 January: seven pieces open


def test_overnight_hours_around_each_holiday_block(holidays_2026):
    """`Mo-Su 20:00-02:00; PH off`: a day off has none of the rule's hours, neither its evening
    nor the small hours that the night before runs into it; the night that starts on the last
    day off is closed, the morning after it opens at 00:00 (the rule of a working day)."""
    expected = merged(
        [
            span
            for d in YEAR_2026
            if d not in HOLIDAYS
            for span in ((at(d, 0), at(d, 2)), (at(d, 20), at(d, 0) + timedelta(days=1)))
        ]
    )
    got = intervals_2026("Mo-Su 20:00-02:00; PH off", holidays_2026)
    assert got == expected
    night_before = at(date(2026, 9, 30), 20), at(date(2026, 10, 1), 0)
    assert night_before in got  # closes at midnight: 1 October is off


def test_the_library_alone_would_have_been_wrong_on_2026_10_02():
    """The reason for the calendar: the library's CN list has 1 October only."""
    import opening_hours

    lib = opening_hours.OpeningHours("Mo-Fr 09:00-18:00; PH off", timezone=SH, country="CN")
    assert lib.is_open(at(date(2026, 10, 2), 10))  # wrong
    assert not evaluate.open_intervals(
        "Mo-Fr 09:00-18:00; PH off",
        "Asia/Shanghai",
        at(date(2026, 10, 2), 0),
        at(date(2026, 10, 3), 0),
        frozenset({date(2026, 10, 2)}),
    )


@pytest.mark.parametrize(
    "expression, open_on_holiday",
    [
        ("Mo-Fr,PH 09:00-12:00", True),
        ("Sa,PH 10:00-11:00", True),
        ("PH 10:00-12:00", True),
        ('Mo-Su 09:00-21:00; PH off "春节闭站"', False),
        ('Mo-Su 09:00-21:00 "PH 也开"', True),  # a PH inside a comment is text
    ],
)
def test_ph_in_other_positions(expression, open_on_holiday):
    day = date(2026, 10, 2)  # a Friday off
    spans = evaluate.open_intervals(
        expression, "Asia/Shanghai", at(day, 0), at(day, 0) + timedelta(days=1), frozenset({day})
    )
    assert bool(spans) is open_on_holiday


def test_ph_with_a_day_offset_is_refused_with_a_reason():
    assert "not supported" in evaluate.explain("Mo-Fr 09:00-18:00; PH +1 day off")


def test_a_zone_other_than_shanghai_reads_its_own_local_dates(holidays_2026):
    """Ürümqi's 1 October begins two hours after Shanghai's: a 24/7 site there closes at its
    own midnight."""
    urumqi = ZoneInfo("Asia/Urumqi")
    start = datetime(2026, 9, 30, 12, tzinfo=urumqi)
    spans = evaluate.open_intervals(
        "24/7; PH off", "Asia/Urumqi", start, start + timedelta(days=3), holidays_2026
    )
    assert spans[0] == (start, datetime(2026, 10, 1, tzinfo=urumqi))


def test_the_year_boundary(holidays_2026):
    """31 December 2026 is a working Thursday; 1 January 2027 a fixed-date holiday."""
    start = datetime(2026, 12, 31, tzinfo=SH)
    spans = evaluate.open_intervals(
        "Mo-Fr 09:00-18:00; PH off", "Asia/Shanghai", start, start + timedelta(days=2),
        holidays_2026,
    )  # fmt: skip
    assert spans == [(at(date(2026, 12, 31), 9), at(date(2026, 12, 31), 18))]


def test_open_at_on_a_holiday_after_the_horizon_reaches_it(client, conn, make_site):
    """Materialised intervals (the SQL open_at path) take PH from the calendar too."""
    site_id = make_site(LAT, LON, opening_hours="Mo-Fr 09:00-18:00; PH off")
    hours_store.refresh(conn, datetime(2026, 9, 28, 12, tzinfo=SH), HORIZON_DAYS)

    def listed(instant: str) -> bool:
        r = client.get("/v1/sites", query_string={"bbox": BOX, "open_at": instant})
        assert r.status_code == 200, r.get_data(as_text=True)
        return site_id in {item["id"] for item in r.json["items"]}

    assert listed("2026-09-30T10:00:00+08:00")  # a Wednesday before the block
    assert not listed("2026-10-02T10:00:00+08:00")  # the library alone said open
    assert not listed("2026-10-06T10:00:00+08:00")
    assert listed("2026-10-09T10:00:00+08:00")
    assert not listed("2026-10-10T10:00:00+08:00")  # a make-up Saturday, own hours: closed


# --- GET /v1/holidays -----------------------------------------------------------------------


def test_holidays_of_2026(client):
    r = client.get("/v1/holidays", query_string={"year": 2026})
    assert r.status_code == 200
    body = r.get_json()
    assert body["year"] == 2026 and body["official"] is True
    assert {"date": "2026-10-01", "kind": "holiday", "name": "国庆节"} in body["items"]
    assert {"date": "2026-10-10", "kind": "workday", "name": "国庆节调休"} in body["items"]
    assert [i["date"] for i in body["items"]] == sorted(i["date"] for i in body["items"])
    assert r.headers["Cache-Control"] == "public, max-age=86400"
    again = client.get("/v1/holidays?year=2026", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == r.headers["ETag"]


def test_holidays_default_to_this_year_in_china(client):
    assert client.get("/v1/holidays").get_json()["year"] == FROZEN_NOW.year


def test_holidays_of_a_year_not_loaded(client):
    r = client.get("/v1/holidays?year=2031")
    body = r.get_json()
    assert body["official"] is False
    assert [i["date"] for i in body["items"]] == [
        "2031-01-01", "2031-05-01", "2031-05-02", "2031-10-01", "2031-10-02", "2031-10-03",
    ]  # fmt: skip
    assert r.headers["Cache-Control"] == "public, max-age=3600"


@pytest.mark.parametrize("query", ["year=1948", "year=2201", "year=abc", "year=２０２６", "y=2026"])
def test_holidays_bad_input_is_a_422(client, query):
    assert_problem(client.get(f"/v1/holidays?{query}"), 422)


# --- loading a notice -----------------------------------------------------------------------


def notice(*lines: str) -> str:
    return "date,kind,name\n" + "".join(f"{line}\n" for line in lines)


NEW_YEAR = "2027-01-01,holiday,元旦"


@pytest.mark.parametrize(
    "text, message",
    [
        ("day,kind,name\n2027-01-01,holiday,元旦\n", "line 1: the header"),
        (notice("2027-02-30,holiday,春节"), "line 2: '2027-02-30' is not a date"),
        (notice("2027-1-1,holiday,元旦"), "line 2: '2027-1-1' is not a date"),
        (notice("2027-01-01,off,元旦"), "line 2: kind 'off' is neither"),
        (notice("2027-01-01,holiday,"), "line 2: the name must be"),
        (notice("2027-01-01,holiday,元\x07旦"), "line 2: the name must be"),
        (notice(NEW_YEAR, "2027-01-01,workday,x"), "line 3: 2027-01-01 is already on line 2"),
        (notice(NEW_YEAR, "2027-01-02"), "line 3: expected date,kind,name"),
        (notice(NEW_YEAR, "2027-01-02,holiday,x", "2025-06-01,holiday,x"), "line 4: 2025-06-01"),
        (notice(), "lists no days"),
    ],
)
def test_a_bad_calendar_file_names_its_line(text, message):
    with pytest.raises(calendar.CalendarError, match=message):
        calendar.parse(text)


def test_the_notice_year_may_be_given_or_is_that_of_most_dates():
    text = notice("2026-12-31,holiday,元旦", NEW_YEAR, "2027-01-02,holiday,元旦")
    assert calendar.parse(text)[0] == 2027
    with pytest.raises(calendar.CalendarError, match="outside 2026"):
        calendar.parse(text, 2026)


SITE_HOURS_ON_7_DECEMBER = sa.text(
    """
    SELECT count(*) FROM hours_pattern_intervals i JOIN hours_patterns p ON p.id = i.pattern_id
    WHERE p.opening_hours = 'Mo-Fr 09:00-18:00; PH off' AND p.timezone = 'Asia/Shanghai'
      AND lower(i.during) >= '2026-12-07 00:00+08' AND lower(i.during) < '2026-12-08 00:00+08'
    """
)


def test_calendar_load_replaces_a_year_and_recomputes_hours(yizhan, conn, make_site, tmp_path):
    """A corrected 2026 notice with 2026-12-07 (a Monday in the horizon) as a day off: the
    site's materialised hours lose that day at once."""
    make_site(LAT, LON, opening_hours="Mo-Fr 09:00-18:00; PH off")
    assert conn.scalar(SITE_HOURS_ON_7_DECEMBER) == 1
    text = (support.FIXTURES / "calendar" / "2026.csv").read_text("utf-8")
    path = tmp_path / "2026.csv"
    path.write_text(text + "2026-12-07,holiday,测试日\n", "utf-8")
    result = yizhan("calendar", "load", str(path))
    assert result.exit_code == 0, result.output
    assert "calendar 2026: 34 holidays, 6 make-up working days" in result.output
    assert conn.scalar(SITE_HOURS_ON_7_DECEMBER) == 0
    assert conn.scalar(sa.text("SELECT days FROM calendar_years WHERE year = 2026")) == 40


def test_a_bad_file_is_refused_and_nothing_is_written(yizhan, conn, tmp_path):
    before = conn.scalar(sa.text("SELECT count(*) FROM calendar_days"))
    path = tmp_path / "2027.csv"
    path.write_text("date,kind,name\n2027-01-01,holiday,元旦\n2027-13-01,holiday,x\n", "utf-8")
    result = yizhan("calendar", "load", str(path))
    assert result.exit_code == 1 and "line 3" in result.output
    assert "Traceback" not in result.output
    assert conn.scalar(sa.text("SELECT count(*) FROM calendar_days")) == before
    assert conn.scalar(sa.text("SELECT count(*) FROM calendar_years WHERE year = 2027")) == 0


def test_a_day_of_another_notice_is_refused(yizhan, conn, tmp_path):
    """2023-12-30 belongs to the 2024 notice: a 2023 file listing it is refused."""
    path = tmp_path / "2023.csv"
    path.write_text("date,kind,name\n2023-01-02,holiday,元旦\n2023-12-30,holiday,x\n", "utf-8")
    result = yizhan("calendar", "load", str(path))
    assert result.exit_code == 1 and "2023-12-30 is already in the notice of 2024" in result.output
    assert conn.scalar(sa.text("SELECT days FROM calendar_years WHERE year = 2023")) > 2


def test_db_upgrade_adds_the_shipped_years_that_are_missing(yizhan, conn):
    conn.execute(sa.text("DELETE FROM calendar_years WHERE year IN (2005, 2025)"))
    result = yizhan("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "2 calendar years added" in result.output
    assert calendar.official_years(conn) >= {2005, 2025}


def test_the_default_horizon_reaches_60_days_ahead(client, conn, make_site):
    """With the default HOURS_HORIZON_DAYS, a refresh today answers open_at 60 days on (here
    into January 2027, whose notice is not out: 1 January is off by its fixed date)."""
    site_id = make_site(LAT, LON, opening_hours="Mo-Su 09:00-21:00; PH off")
    hours_store.refresh(conn, FROZEN_NOW, Config.HOURS_HORIZON_DAYS)

    def listed(instant: datetime) -> bool:
        r = client.get("/v1/sites", query_string={"bbox": BOX, "open_at": instant.isoformat()})
        assert r.status_code == 200, r.get_data(as_text=True)
        return site_id in {item["id"] for item in r.json["items"]}

    assert listed(at(date(2027, 1, 29), 10))  # FROZEN_NOW + 60 days
    assert not listed(at(date(2027, 1, 1), 10))
    assert listed(at(date(2027, 1, 2), 10))


def test_a_calendar_load_while_reads_run_shows_the_old_year_or_the_new_one(database_url):
    """Each load replaces the year in one transaction: 200 concurrent reads (each a query of
    its own, as GET /v1/holidays makes) see either version whole, never a part. The year 2150
    is one no other test uses; it is removed at the end."""
    first = date(2150, 1, 1)
    small = [calendar.Day(first, "holiday", "元旦")]
    large = [calendar.Day(first + timedelta(days=n), "holiday", "长假") for n in range(60)]
    engine = make_engine(database_url, pool_size=3, statement_timeout_ms=0)
    seen: list[int] = []
    done = threading.Event()

    def load_repeatedly() -> None:
        for n in range(40):
            with engine.begin() as conn:
                calendar.store_year(conn, 2150, large if n % 2 else small, source="test")
        done.set()

    with engine.begin() as conn:
        calendar.store_year(conn, 2150, small, source="test")
    writer = threading.Thread(target=load_repeatedly)
    writer.start()
    try:
        while not done.is_set() or len(seen) < 200:
            with engine.connect() as conn:
                official, days = calendar.year_of(conn, 2150)
            assert official
            seen.append(len(days))
    finally:
        writer.join(timeout=60)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM calendar_years WHERE year = 2150"))
        engine.dispose()
    assert set(seen) == {1, 60}, sorted(set(seen))  # both versions, and nothing between
