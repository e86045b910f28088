"""Opening hours: parsing, evaluation in the site's zone, materialised open_now/open_at."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from service.hours import evaluate
from service.hours import store as hours_store
from tests.conftest import FROZEN_NOW, HORIZON_DAYS

SH = ZoneInfo("Asia/Shanghai")
# A spot with no demo site near it, so a bbox around it isolates the test's own sites.
LAT, LON = 45.0, 90.0
BOX = "89.9,44.9,90.1,45.1"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    "expression, column, chinese, english",
    [
        ("Mo-Su 25:00-06:00", 7, "时间应为 HH:MM，例如 09:00-21:00", "a time must be HH:MM"),
        ("Mo-Su 09:00-21:60", 16, "时间应为 HH:MM", "a time must be HH:MM"),
        ("Mo-Su 09:00-", 13, "时间应为 HH:MM", "e.g. 09:00-21:00"),
        ("Mo-Xx 09:00", 4, "星期应为 Mo Tu We Th Fr Sa Su", "a weekday must be"),
        ("Mon-Fri 09:00-18:00", 3, "星期用两个字母", "not Mon-Fri"),
        ("Mo-Su 09:00-21:00;;", 19, "只用一个分号", "one semicolon"),
        ("Mo-Su 09:00–21:00", 12, "“–”是全角符号", "full-width"),
        ("Mo-Su 09：00-21:00", 9, "“：”是全角符号", "full-width"),
        ("Mo-Su 09:00-21:00；PH off", 18, "“；”是全角符号", "full-width"),
        ("周一至周五 09:00-18:00", 1, "星期请用英文缩写", "write weekdays in English"),
        ("Mo-Fr 09:00-18:00; PH closed x", 30, "英文双引号", "double quotes"),
        ("Jan 32 off", 6, "日期应为", "a month and day"),
    ],
)
def test_explain_says_where_it_breaks_and_what_to_write(expression, column, chinese, english):
    """Chinese first, then English; the position in characters, counted from 1; an example."""
    message = evaluate.explain(expression)
    assert message.startswith(f"第 {column} 个字符：")
    assert f"(character {column}: " in message
    assert chinese in message and english in message
    assert "EOI" not in message and "expected" not in message  # none of the parser's words


@pytest.mark.parametrize("expression", ["24/7", "Mo-Su 09:00-21:00", "Mo-Fr 08:30-17:00; PH off"])
def test_explain_accepts_valid_expressions(expression):
    assert evaluate.explain(expression) is None


def test_explain_rejects_blank():
    assert evaluate.explain("   ") == "营业时间为空 (opening_hours is empty)"


def test_utc_instants_are_converted_to_the_site_zone():
    """The library's traps: UTC tzinfo raised TypeError, naive clocks read 8 hours off."""
    start = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    spans = evaluate.open_intervals(
        "Mo-Su 09:00-21:00", "Asia/Shanghai", start, start + timedelta(hours=14)
    )
    assert spans == [
        (datetime(2026, 11, 30, 9, 0, tzinfo=SH), datetime(2026, 11, 30, 21, 0, tzinfo=SH))
    ]
    assert spans[0][0] == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # the same instant


def test_open_intervals_merge_across_midnight_and_mark_never_closing():
    start, end = at("2026-11-30T00:00:00+08:00"), at("2026-12-02T00:00:00+08:00")
    overnight = evaluate.open_intervals("Mo-Su 22:00-06:00", "Asia/Shanghai", start, end)
    # 22:00 Monday to 06:00 Tuesday is one interval, not two split at midnight.
    assert (at("2026-11-30T22:00:00+08:00"), at("2026-12-01T06:00:00+08:00")) in overnight
    always = evaluate.open_intervals("24/7", "Asia/Shanghai", start, end)
    assert always == [(start, None)]


# (opening_hours, timezone, status, instant, open?)
OPEN_AT_CASES = [
    ("Mo-Su 09:00-21:00", "Asia/Shanghai", "active", "2026-11-30T20:59:00+08:00", True),
    ("Mo-Su 09:00-21:00", "Asia/Shanghai", "active", "2026-11-30T21:00:00+08:00", False),
    ("Mo-Su 09:00-21:00", "Asia/Shanghai", "active", "2026-11-30T09:00:00+08:00", True),
    ("Mo-Su 09:00-21:00", "Asia/Shanghai", "active", "2026-11-30T08:59:59+08:00", False),
    ("Mo-Su 09:00-21:00", "Asia/Shanghai", "active", "2026-11-30T12:59:00Z", True),
    ("Mo-Su 22:00-06:00", "Asia/Shanghai", "active", "2026-12-01T01:00:00+08:00", True),
    ("Mo-Su 22:00-06:00", "Asia/Shanghai", "active", "2026-12-01T06:00:00+08:00", False),
    ("Mo-Su 22:00-06:00", "Asia/Shanghai", "active", "2026-11-30T21:59:00+08:00", False),
    ("24/7", "Asia/Shanghai", "active", "2026-12-06T03:33:00+08:00", True),
    (
        "Mo-Su 07:00-11:00,16:00-21:00",
        "Asia/Shanghai",
        "active",
        "2026-12-02T12:00:00+08:00",
        False,
    ),
    ("Mo-Su 07:00-11:00,16:00-21:00", "Asia/Shanghai", "active", "2026-12-02T16:00:00+08:00", True),
    ("Mo-Fr 08:30-17:00; PH off", "Asia/Shanghai", "active", "2026-12-05T10:00:00+08:00", False),
    ("Mo-Fr 08:30-17:00; PH off", "Asia/Shanghai", "active", "2026-12-04T10:00:00+08:00", True),
    ("24/7", "Asia/Shanghai", "temporarily_closed", "2026-12-01T10:00:00+08:00", False),
    ("Mo-Su 09:00-17:00", "Europe/London", "active", "2026-12-01T09:30:00Z", True),
    ("Mo-Su 09:00-17:00", "Europe/London", "active", "2026-12-01T09:30:00+08:00", False),
    ("Mo-Su 09:00-17:00", "America/New_York", "active", "2026-12-01T14:30:00Z", True),
    ("Mo-Su 09:00-17:00", "America/New_York", "active", "2026-12-01T13:30:00Z", False),
]


@pytest.mark.parametrize("expression, tz, status, instant, expected", OPEN_AT_CASES)
def test_open_at_filter(client, make_site, expression, tz, status, instant, expected):
    site_id = make_site(LAT, LON, opening_hours=expression, timezone=tz, status=status)
    other = make_site(LAT, LON + 0.01, opening_hours="24/7")  # always open: the query works
    r = client.get("/v1/sites", query_string={"bbox": BOX, "open_at": instant})
    assert r.status_code == 200, r.json
    ids = {item["id"] for item in r.json["items"]}
    assert other in ids
    assert (site_id in ids) is expected
    # nearby takes the same filter through the same SQL
    r = client.get("/v1/sites/nearby", query_string={"lat": LAT, "lon": LON, "open_at": instant})
    assert (site_id in {item["id"] for item in r.json["items"]}) is expected


def test_sites_without_hours_never_match_open_filters(client, make_site):
    site_id = make_site(LAT, LON, opening_hours=None)
    r = client.get("/v1/sites", query_string={"bbox": BOX, "open_now": "true"})
    assert site_id not in {item["id"] for item in r.json["items"]}
    r = client.get("/v1/sites", query_string={"bbox": BOX})
    assert site_id in {item["id"] for item in r.json["items"]}


# Open state at the frozen now: Monday 2026-11-30 12:00 in Shanghai (04:00 UTC).
# At FROZEN_NOW, Monday 2026-11-30 12:00 in Shanghai (04:00 in London).
OPEN_STATE_CASES = [
    ("Mo-Su 09:00-21:00", "Asia/Shanghai", "active", True, "2026-11-30T21:00:00+08:00",
     "09:00-21:00"),
    ("24/7", "Asia/Shanghai", "active", True, None, "00:00-24:00"),
    ("Mo-Su 22:00-06:00", "Asia/Shanghai", "active", False, "2026-11-30T22:00:00+08:00",
     "00:00-06:00,22:00-06:00"),
    ("Mo-Su 09:00-17:00", "Europe/London", "active", False, "2026-11-30T09:00:00+00:00",
     "09:00-17:00"),
    ("Sa-Su 10:00-12:00", "Asia/Shanghai", "active", False, "2026-12-05T10:00:00+08:00", "off"),
    ("Mo-Fr 08:00-12:00,14:00-18:00", "Asia/Shanghai", "active", False,
     "2026-11-30T14:00:00+08:00", "08:00-12:00,14:00-18:00"),
    ("24/7", "Asia/Shanghai", "temporarily_closed", False, None, "off"),
    (None, "Asia/Shanghai", "active", None, None, None),
]  # fmt: skip


@pytest.mark.parametrize("expression, tz, status, is_open, next_change, today", OPEN_STATE_CASES)
def test_nearby_open_state(client, make_site, expression, tz, status, is_open, next_change, today):
    site_id = make_site(LAT, LON, opening_hours=expression, timezone=tz, status=status)
    r = client.get("/v1/sites/nearby", query_string={"lat": LAT, "lon": LON, "radius": 10})
    (item,) = [i for i in r.json["items"] if i["id"] == site_id]
    expected = {"is_open": is_open, "next_change": next_change, "today": today, "reason": None}
    assert item["open_state"] == expected


def test_open_now_uses_the_request_time(client, make_site):
    day = make_site(LAT, LON, opening_hours="Mo-Su 09:00-21:00")
    night = make_site(LAT, LON, opening_hours="Mo-Su 22:00-06:00")
    r = client.get("/v1/sites/nearby", query_string={"lat": LAT, "lon": LON, "open_now": "true"})
    ids = [item["id"] for item in r.json["items"]]
    assert day in ids and night not in ids


def test_public_holiday_after_refresh(client, conn, make_site):
    """PH off on 2027-01-01 (New Year's Day) once the horizon has rolled forward to it."""
    site_id = make_site(LAT, LON, opening_hours="Mo-Su 09:00-21:00; PH off")
    query = {"bbox": BOX, "open_at": "2027-01-01T10:00:00+08:00"}
    assert client.get("/v1/sites", query_string=query).status_code == 422  # beyond the horizon
    hours_store.refresh(conn, at("2026-12-31T12:00:00+08:00"), HORIZON_DAYS)
    r = client.get("/v1/sites", query_string=query)
    assert site_id not in {item["id"] for item in r.json["items"]}
    r = client.get("/v1/sites", query_string={**query, "open_at": "2027-01-04T10:00:00+08:00"})
    assert site_id in {item["id"] for item in r.json["items"]}


def test_refresh_rolls_the_horizon_and_drops_unused_patterns(conn, make_site):
    make_site(LAT, LON, opening_hours="Tu 10:00-11:00")
    conn.execute(
        sa.text(
            "UPDATE sites SET opening_hours = NULL, hours_pattern_id = NULL "
            "WHERE opening_hours = 'Tu 10:00-11:00'"
        )
    )
    later = at("2026-12-10T08:00:00+08:00")
    stats = hours_store.refresh(conn, later, HORIZON_DAYS)
    assert stats["dropped"] >= 1
    horizon = hours_store.current_horizon(conn)
    assert horizon.valid_from == datetime(2026, 12, 9, tzinfo=UTC)
    assert horizon.valid_until == datetime(2026, 12, 25, tzinfo=UTC)
    assert horizon.covers(later + (horizon.valid_until - later) / 2)
    patterns = conn.scalar(
        sa.text("SELECT count(*) FROM hours_patterns WHERE opening_hours = 'Tu 10:00-11:00'")
    )
    assert patterns == 0


def test_readyz_reports_a_stale_horizon(client, conn):
    conn.execute(sa.text("UPDATE hours_horizon SET valid_until = :t"), {"t": FROZEN_NOW})
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.headers["Content-Type"] == "application/problem+json"
    assert "hours" in r.json["errors"]


def test_open_now_beyond_a_stale_horizon_is_503_not_a_wrong_answer(client, conn):
    conn.execute(sa.text("UPDATE hours_horizon SET valid_until = :t"), {"t": FROZEN_NOW})
    r = client.get("/v1/sites/nearby", query_string={"lat": LAT, "lon": LON, "open_now": "true"})
    assert r.status_code == 503
    assert "Retry-After" in r.headers


def test_invalid_hours_are_refused_on_write(conn, make_site):
    with pytest.raises(evaluate.HoursError, match="第 16 个字符"):
        make_site(LAT, LON, opening_hours="Mo-Su 09:00-21:60")


def test_a_write_with_bad_hours_is_a_422_people_can_act_on(client, editor, conn):
    body = {
        "kind": "station",
        "name": "东门驿站",
        "location": {"lat": LAT, "lon": LON},
        "opening_hours": "Mo-Su 09:00–21:00",
    }
    before = conn.scalar(sa.text("SELECT count(*) FROM sites"))
    r = client.post("/v1/sites", json=body, headers=editor)
    assert r.status_code == 422, r.get_data(as_text=True)
    (message,) = r.json["errors"]["opening_hours"]
    assert message.startswith("第 12 个字符：“–”是全角符号")
    assert conn.scalar(sa.text("SELECT count(*) FROM sites")) == before


def test_an_import_row_with_bad_hours_names_the_row_and_the_character(client, editor):
    body = "external_id,kind,name,lat,lon,opening_hours\nA1,station,n,45,90,Mon-Fri 09:00-18:00\n"
    r = client.post(
        "/v1/imports",
        data=body.encode(),
        query_string={"org": "zj.nb"},
        headers={**editor, "Content-Type": "text/csv"},
    )
    assert r.status_code == 422
    (error,) = r.json["errors"]
    assert error["row"] == 1 and error["field"] == "opening_hours"  # rows count after the header
    assert error["message"].startswith("第 3 个字符：星期用两个字母")
