"""Special days, closures, make-up working days and `open_state` with `today` and `reason`
(API.md, "Holidays, special days, closures").

The frozen clock stands at Monday 2026-11-30 12:00 in Shanghai; materialised hours reach 14
days ahead, and the hours endpoint evaluates any window on the spot.
"""

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.hours import calendar
from service.sites import serialize
from tests.conftest import FROZEN_NOW
from tests.support import assert_problem

NINGBO = {"lat": 29.8683, "lon": 121.544}


def create(client, editor, **fields):
    body = {
        "kind": "station",
        "name": "特殊日期测试驿站",
        "location": NINGBO,
        "opening_hours": "Mo-Su 09:00-21:00",
        **fields,
    }
    return client.post("/v1/sites", json=body, headers=editor)


def created(client, editor, **fields) -> dict:
    r = create(client, editor, **fields)
    assert r.status_code == 201, r.json
    return r.json


def state(client, site_id: int, **query) -> dict:
    r = client.get(f"/v1/sites/{site_id}", query_string=query)
    assert r.status_code == 200, r.json
    return r.json


def nearby_ids(client, **query) -> list[int]:
    r = client.get("/v1/sites/nearby", query_string={**NINGBO, "radius": 50, **query})
    assert r.status_code == 200, r.json
    return [item["id"] for item in r.json["items"]]


def intervals(client, site_id: int, start: str, days: int) -> list[tuple[str, str]]:
    r = client.get(f"/v1/sites/{site_id}/hours", query_string={"from": start, "days": days})
    assert r.status_code == 200, r.json
    return [(i["start"], i["end"]) for i in r.json["intervals"]]


def test_a_special_day_off_closes_its_local_date(client, editor):
    site = created(
        client,
        editor,
        special_days=[{"from": "2026-11-30", "hours": "off", "reason": "设备检修"}],
    )
    assert site["special_days"] == [
        {"from": "2026-11-30", "to": "2026-11-30", "hours": "off", "reason": "设备检修"}
    ]
    assert site["open_state"] == {
        "is_open": False,
        "next_change": "2026-12-01T09:00:00+08:00",
        "today": "off",
        "reason": "设备检修",
    }
    assert site["id"] not in nearby_ids(client, open_now="true")
    tomorrow = "2026-12-01T10:00:00+08:00"
    assert site["id"] in nearby_ids(client, open_at=tomorrow)
    assert state(client, site["id"], open_at=tomorrow)["open_state"] == {
        "is_open": True,
        "next_change": "2026-12-01T21:00:00+08:00",
        "today": "09:00-21:00",
        "reason": None,
    }


def test_special_day_spans_replace_the_weekly_hours(client, editor):
    site = created(
        client,
        editor,
        special_days=[
            {"from": "2026-12-01", "to": "2026-12-02", "hours": "14:00-16:00, 10:00-12:00",
             "reason": "缩短营业"},
        ],
    )  # fmt: skip
    assert site["special_days"][0]["hours"] == "10:00-12:00,14:00-16:00"  # sorted, normalised
    lunch = state(client, site["id"], open_at="2026-12-01T13:00:00+08:00")["open_state"]
    assert lunch == {
        "is_open": False,
        "next_change": "2026-12-01T14:00:00+08:00",
        "today": "10:00-12:00,14:00-16:00",
        "reason": "缩短营业",
    }
    assert intervals(client, site["id"], "2026-12-01T00:00:00+08:00", 3) == [
        ("2026-12-01T10:00:00+08:00", "2026-12-01T12:00:00+08:00"),
        ("2026-12-01T14:00:00+08:00", "2026-12-01T16:00:00+08:00"),
        ("2026-12-02T10:00:00+08:00", "2026-12-02T12:00:00+08:00"),
        ("2026-12-02T14:00:00+08:00", "2026-12-02T16:00:00+08:00"),
        ("2026-12-03T09:00:00+08:00", "2026-12-03T21:00:00+08:00"),
    ]


def test_a_special_day_wins_over_ph_and_a_24_hour_rule(client, editor):
    site = created(
        client,
        editor,
        opening_hours="24/7; PH off",
        special_days=[{"from": "2026-10-01", "hours": "10:00-14:00", "reason": "国庆值班"}],
    )
    assert intervals(client, site["id"], "2026-10-01T00:00:00+08:00", 2) == [
        ("2026-10-01T10:00:00+08:00", "2026-10-01T14:00:00+08:00"),  # Oct 2: a holiday, off
    ]


@pytest.mark.parametrize(
    "hours, swaps, saturday",
    [
        ("Mo-Fr 09:00-18:00; PH off", False, []),
        ("Mo-Fr 09:00-18:00; PH off", True, [("09:00", "18:00")]),
        ("Mo 08:00-12:00; Tu-Fr 09:00-18:00; PH off", True, [("08:00", "12:00")]),
        ("Mo-Fr 09:00-18:00; Sa 10:00-12:00; PH off", False, [("10:00", "12:00")]),
    ],
)
def test_a_make_up_working_day_takes_monday_hours_only_with_swaps(
    client, editor, hours, swaps, saturday
):
    """2026-10-07 (Wed) is the last day of the National Day block, 10-08 and 10-09 are a
    Thursday and a Friday, 10-10 the Saturday worked instead (国庆节调休), 10-11 a Sunday."""
    site = created(client, editor, opening_hours=hours, workday_swaps=swaps)
    assert site["workday_swaps"] is swaps
    got = intervals(client, site["id"], "2026-10-07T00:00:00+08:00", 5)
    week = [(f"2026-10-{d:02d}T09:00:00+08:00", f"2026-10-{d:02d}T18:00:00+08:00") for d in (8, 9)]
    assert got == week + [
        (f"2026-10-10T{a}:00+08:00", f"2026-10-10T{b}:00+08:00") for a, b in saturday
    ]


def test_reason_names_the_make_up_day_the_holiday_and_an_unofficial_year(conn):
    cal = calendar.read(conn)
    reason = serialize._reason
    weekdays = "Mo-Fr 09:00-18:00; PH off"
    assert reason(weekdays, True, "[]", date(2026, 10, 10), cal) == "国庆节调休"
    assert reason(weekdays, False, "[]", date(2026, 10, 10), cal) is None
    assert reason(weekdays, False, "[]", date(2026, 10, 1), cal) == "国庆节"
    assert reason("Mo-Fr 09:00-18:00", False, "[]", date(2026, 10, 1), cal) is None  # no PH
    assert reason(weekdays, False, "[]", date(2026, 12, 1), cal) is None
    assert "2027" in reason(weekdays, False, "[]", date(2027, 3, 1), cal)
    assert reason(weekdays, False, "[]", date(2027, 1, 1), cal) == "元旦"  # fixed by date


def test_the_year_boundary_and_a_year_whose_notice_is_not_loaded(client, editor):
    site = created(client, editor, opening_hours="Mo-Su 09:00-21:00; PH off")
    assert intervals(client, site["id"], "2026-12-31T00:00:00+08:00", 3) == [
        ("2026-12-31T09:00:00+08:00", "2026-12-31T21:00:00+08:00"),
        # 2027-01-01: New Year, a holiday by date even before 2027's notice is out
        ("2027-01-02T09:00:00+08:00", "2027-01-02T21:00:00+08:00"),
    ]
    spanning = created(
        client,
        editor,
        opening_hours="Mo-Su 09:00-21:00; PH off",
        special_days=[{"from": "2026-12-31", "to": "2027-01-02", "hours": "10:00-14:00"}],
    )
    assert [
        (a[:10], a[11:16], b[11:16])
        for a, b in intervals(client, spanning["id"], "2026-12-31T00:00:00+08:00", 3)
    ] == [
        ("2026-12-31", "10:00", "14:00"),
        ("2027-01-01", "10:00", "14:00"),
        ("2027-01-02", "10:00", "14:00"),
    ]


def test_special_days_are_dates_of_the_sites_own_zone(client, editor):
    """At 01:00 in Shanghai on 12-01 it is still 11-30, 23:00, in Urumqi."""
    off = [{"from": "2026-12-01", "hours": "off"}]
    urumqi = created(client, editor, opening_hours="24/7", timezone="Asia/Urumqi", special_days=off)
    shanghai = created(client, editor, opening_hours="24/7", special_days=off)
    at = "2026-12-01T01:00:00+08:00"
    assert state(client, urumqi["id"], open_at=at)["open_state"] == {
        "is_open": True,
        "next_change": "2026-12-01T00:00:00+06:00",
        "today": "00:00-24:00",
        "reason": None,
    }
    assert state(client, shanghai["id"], open_at=at)["open_state"] == {
        "is_open": False,
        "next_change": "2026-12-02T00:00:00+08:00",
        "today": "off",
        "reason": "特殊营业安排 (special hours)",
    }
    open_then = nearby_ids(client, open_at=at)
    assert urumqi["id"] in open_then and shanghai["id"] not in open_then


def test_a_closure_ends_by_itself_at_local_midnight(client, editor):
    site = created(
        client,
        editor,
        status="temporarily_closed",
        closed_until="2026-12-02",
        closure_reason="装修",
    )
    assert (site["status"], site["closed_until"], site["closure_reason"]) == (
        "temporarily_closed",
        "2026-12-02",
        "装修",
    )
    assert site["open_state"] == {
        "is_open": False,
        "next_change": "2026-12-02T09:00:00+08:00",
        "today": "off",
        "reason": "装修",
    }
    assert site["id"] not in nearby_ids(client, open_now="true")
    assert site["id"] not in nearby_ids(client, open_at="2026-12-01T10:00:00+08:00")
    reopened = "2026-12-02T10:00:00+08:00"
    assert site["id"] in nearby_ids(client, open_at=reopened)
    then = state(client, site["id"], open_at=reopened)
    assert then["status"] == "active"
    assert then["open_state"]["is_open"] is True and then["open_state"]["reason"] is None
    listed = client.get("/v1/sites", query_string={"open_at": reopened, "limit": 200}).json
    assert site["id"] in [s["id"] for s in listed["items"]]


def test_hours_refresh_makes_the_row_say_the_site_reopened(
    client, conn, editor, yizhan, app, monkeypatch
):
    site = created(
        client,
        editor,
        status="temporarily_closed",
        closed_until="2026-12-02",
        closure_reason="装修",
    )
    result = yizhan("hours", "refresh")
    assert result.exit_code == 0 and "sites reopened: 0" in result.output
    after_midnight = datetime(2026, 12, 2, 0, 30, tzinfo=FROZEN_NOW.tzinfo)
    monkeypatch.setitem(app.config, "NOW", lambda: after_midnight)
    result = yizhan("hours", "refresh")
    assert result.exit_code == 0 and "sites reopened: 1" in result.output, result.output
    row = conn.execute(
        sa.text("SELECT status, closed_until, closure_reason, version FROM sites WHERE id = :id"),
        {"id": site["id"]},
    ).one()
    assert tuple(row) == ("active", None, None, 2)
    audit = conn.execute(
        sa.text("SELECT user_id, changes FROM site_audit WHERE site_id = :id ORDER BY id DESC"),
        {"id": site["id"]},
    ).first()
    assert audit.user_id is None
    assert audit.changes["status"] == {"old": "temporarily_closed", "new": "active"}
    assert audit.changes["closed_until"]["new"] is None


def test_a_patch_that_reopens_clears_the_closure(client, editor):
    site = created(
        client,
        editor,
        status="temporarily_closed",
        closed_until="2026-12-05",
        closure_reason="装修",
    )
    url = f"/v1/sites/{site['id']}"
    match = {**editor, "If-Match": "*"}
    r = client.patch(url, json={"status": "active"}, headers=match)
    assert r.status_code == 200, r.json
    assert (r.json["closed_until"], r.json["closure_reason"]) == (None, None)
    for body, field in [
        ({"status": "temporarily_closed", "closed_until": "2026-11-30"}, "closed_until"),
        ({"closed_until": "2026-12-05"}, "closed_until"),  # the site is active now
        ({"closure_reason": "装修"}, "closure_reason"),
    ]:
        r = client.patch(url, json=body, headers=match)
        assert_problem(r, 422)
        assert field in r.json["errors"], r.json
    assert state(client, site["id"])["version"] == 2


def test_open_state_and_hours_text_are_in_every_representation(client, editor):
    site = created(client, editor, opening_hours="Mo-Fr 09:00-18:00; PH off")
    assert site["hours_text"] == "周一至周五 09:00-18:00；法定节假日休息"
    one = state(client, site["id"])
    box = {"bbox": "121.5,29.8,121.6,29.9", "limit": 200}
    found = {
        "by id": one,
        "nearby": _mine(client.get("/v1/sites/nearby", query_string=NINGBO).json["items"], site),
        "list": _mine(client.get("/v1/sites", query_string=box).json["items"], site),
        "geojson": _mine(
            [f["properties"] | {"id": f["id"]} for f in client.get(
                "/v1/sites", query_string={**box, "f": "geojson"}).json["features"]], site),
        "geojson gcj02": _mine(
            [f["properties"] | {"id": f["id"]} for f in client.get(
                "/v1/sites", query_string={**box, "f": "geojson", "crs": "gcj02"}
            ).json["features"]], site),
        "ogc items": _mine(
            [f["properties"] | {"id": f["id"]} for f in client.get(
                "/ogc/collections/sites/items", query_string=box).json["features"]], site),
        "ogc item": client.get(f"/ogc/collections/sites/items/{site['id']}").json["properties"],
    }  # fmt: skip
    expected = {
        "is_open": True,
        "next_change": "2026-11-30T18:00:00+08:00",
        "today": "09:00-18:00",
        "reason": None,
    }
    for where, item in found.items():
        assert item["open_state"] == expected, where
        assert item["hours_text"] == site["hours_text"], where


def _mine(items: list[dict], site: dict) -> dict:
    (item,) = [i for i in items if i["id"] == site["id"]]
    return item


def test_hours_text_follows_accept_language(client, editor):
    site = created(client, editor, opening_hours="Mo-Fr 09:00-18:00; PH off")
    url = f"/v1/sites/{site['id']}"
    zh, en = client.get(url), client.get(url, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert en.json["hours_text"] == "Mon-Fri 09:00-18:00; public holidays closed"
    assert zh.json["hours_text"] == "周一至周五 09:00-18:00；法定节假日休息"
    assert "Accept-Language" in zh.headers["Vary"]
    assert zh.headers["ETag"] != en.headers["ETag"]
    assert zh.headers["ETag"].startswith(f'"{site["id"]}-1-')
    again = client.get(url, headers={"If-None-Match": zh.headers["ETag"]})
    assert again.status_code == 304
    near = client.get("/v1/sites/nearby", query_string=NINGBO, headers={"Accept-Language": "en"})
    assert _mine(near.json["items"], site)["hours_text"].startswith("Mon-Fri")
    assert "Accept-Language" in near.headers["Vary"]


def _entries(n: int) -> list[dict]:
    return [{"from": f"2027-{1 + i // 28:02d}-{1 + i % 28:02d}", "hours": "off"} for i in range(n)]


BAD = [
    ({"special_days": "2026-12-01 off"}, "special_days"),
    ({"special_days": 5}, "special_days"),
    ({"special_days": {"from": "2026-12-01", "hours": "off"}}, "special_days"),
    ({"special_days": [5]}, "special_days"),
    ({"special_days": [{"from": "2026-13-01", "hours": "off"}]}, "special_days"),
    ({"special_days": [{"from": "2026-12-01\n", "hours": "off"}]}, "special_days"),
    ({"special_days": [{"from": 20261201, "hours": "off"}]}, "special_days"),
    ({"special_days": [{"from": "2026-12-01"}]}, "special_days"),
    ({"special_days": [{"from": "2026-12-01", "hours": "9-5"}]}, "special_days"),
    ({"special_days": [{"from": "2026-12-01", "hours": "18:00-09:00"}]}, "special_days"),
    ({"special_days": [{"from": "2026-12-01", "hours": "09:00-25:00"}]}, "special_days"),
    ({"special_days": [{"from": "2026-12-01", "hours": "09:00-12:00,11:00-13:00"}]},
     "special_days"),
    ({"special_days": [{"from": "2026-12-02", "to": "2026-12-01", "hours": "off"}]},
     "special_days"),
    ({"special_days": [{"from": "1999-12-31", "hours": "off"}]}, "special_days"),
    ({"special_days": [{"from": "2026-01-01", "to": "2027-12-31", "hours": "off"}]},
     "special_days"),
    ({"special_days": [{"from": "2026-12-01", "hours": "off", "note": "x"}]}, "special_days"),
    ({"special_days": [{"from": "2026-12-01", "hours": "off", "reason": "长" * 101}]},
     "special_days"),
    ({"special_days": [{"from": "2026-12-01", "to": "2026-12-03", "hours": "off"},
                       {"from": "2026-12-03", "hours": "10:00-12:00"}]}, "special_days"),
    ({"special_days": _entries(101)}, "special_days"),
    ({"workday_swaps": "true"}, "workday_swaps"),
    ({"workday_swaps": 1}, "workday_swaps"),
    ({"workday_swaps": None}, "workday_swaps"),
    ({"status": "temporarily_closed", "closed_until": "2026-11-29"}, "closed_until"),
    ({"status": "temporarily_closed", "closed_until": "2026-11-30"}, "closed_until"),
    ({"status": "temporarily_closed", "closed_until": "tomorrow"}, "closed_until"),
    ({"status": "temporarily_closed", "closed_until": 20261201}, "closed_until"),
    ({"closed_until": "2026-12-05"}, "closed_until"),  # status active
    ({"closure_reason": "装修"}, "closure_reason"),
    ({"status": "temporarily_closed", "closure_reason": "长" * 201}, "closure_reason"),
]  # fmt: skip


@pytest.mark.parametrize("fields, field", BAD)
def test_bad_hours_fields_are_422_and_write_nothing(client, conn, editor, fields, field):
    count = sa.text("SELECT count(*) FROM sites")
    before = conn.scalar(count)
    r = create(client, editor, **fields)
    assert_problem(r, 422)
    assert any(name.split(".")[0] == field for name in r.json["errors"]), r.json
    assert conn.scalar(count) == before


def test_errors_name_the_entry_in_chinese_and_english(client, editor):
    r = create(
        client,
        editor,
        special_days=[
            {"from": "2026-12-01", "hours": "off"},
            {"from": "2026-12-05", "hours": "9点到5点"},
        ],
    )
    assert_problem(r, 422)
    (message,) = r.json["errors"]["special_days.1.hours"]
    assert "第 2 项" in message and "special_days[1]" in message and "例如" in message
    r = create(
        client,
        editor,
        special_days=[
            {"from": "2026-12-01", "to": "2026-12-10", "hours": "off"},
            {"from": "2026-12-05", "hours": "off"},
        ],
    )
    (message,) = r.json["errors"]["special_days"]
    assert "第 2 项与第 1 项的日期重叠" in message and "special_days[1] overlaps" in message


def test_a_list_finds_a_next_change_days_away(client, editor):
    """A list reads its page's intervals from now - 26 h to now + 50 h; a site closed longer
    gets its next opening by a probe of its own."""
    site = created(
        client,
        editor,
        status="temporarily_closed",
        closed_until="2026-12-05",
        closure_reason="装修",
    )
    box = {"bbox": "121.5,29.8,121.6,29.9", "limit": 200}
    for query in (box, {**box, "f": "geojson"}):
        r = client.get("/v1/sites", query_string=query).json
        items = r.get("items") or [f["properties"] | {"id": f["id"]} for f in r["features"]]
        (mine,) = [i for i in items if i["id"] == site["id"]]
        assert mine["open_state"] == {
            "is_open": False,
            "next_change": "2026-12-05T09:00:00+08:00",
            "today": "off",
            "reason": "装修",
        }


@pytest.mark.parametrize(
    "tz, day",
    [("America/Santiago", date(2026, 9, 6)), ("Africa/Cairo", date(2026, 4, 24)),
     ("America/Havana", date(2026, 3, 8))],
)  # fmt: skip
def test_a_closure_or_special_day_at_a_midnight_that_does_not_exist(tz, day):
    """These zones jump from 00:00 to 01:00 on `day`: the boundary is the first instant after
    the gap (the library refuses the wall-clock time that does not exist)."""
    from datetime import UTC as utc

    from service.hours import evaluate
    from service.hours.special import SpecialDay

    start, end = datetime(2026, 1, 1, tzinfo=utc), datetime(2026, 12, 1, tzinfo=utc)
    closed = evaluate.open_intervals("24/7", tz, start, end, closed_until=day)
    assert closed[0][0] == evaluate.wall(day, datetime.min.time(), evaluate.ZoneInfo(tz))
    assert closed[0][0].astimezone(evaluate.ZoneInfo(tz)).hour == 1
    off = SpecialDay(day - timedelta(days=1), day - timedelta(days=1), (), None)
    spans = evaluate.open_intervals("Mo-Su 00:00-24:00", tz, start, end, special=(off,))
    assert any(a.date() == day for a, _ in spans)
