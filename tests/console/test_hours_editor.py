"""The console's hours editor: the week grid <-> opening_hours, and the 30-day preview."""

import pytest

from service.console import hours_editor as editor
from tests.console.test_accounts import account, csrf, log_in  # noqa: F401
from tests.console.test_site_pages import clerk  # noqa: F401

WEEK = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


def grid(*cells: str) -> dict:
    return dict(zip(WEEK, cells, strict=True))


@pytest.mark.parametrize(
    "cells, ph_off, expected",
    [
        (("09:00-21:00",) * 7, False, "Mo-Su 09:00-21:00"),
        (("00:00-24:00",) * 7, True, "24/7; PH off"),
        (("09:00-18:00",) * 5 + ("", ""), True, "Mo-Fr 09:00-18:00; PH off"),
        (("09:00-18:00",) * 5 + ("10:00-14:00", ""), False, "Mo-Fr 09:00-18:00; Sa 10:00-14:00"),
        (("08:00-12:00, 14:00-18:00",) * 2 + ("",) * 5, False, "Mo-Tu 08:00-12:00,14:00-18:00"),
        (("20:00-02:00",) * 7, False, "Mo-Su 20:00-02:00"),
        (("",) * 7, False, "off"),
        (
            ("09:00-17:00", "", "09:00-17:00", "", "", "", ""),
            False,
            "Mo 09:00-17:00; We 09:00-17:00",
        ),
    ],
)
def test_the_grid_makes_the_string_and_reads_it_back(cells, ph_off, expected):
    made = editor.expression_from(grid(*cells), ph_off)
    assert made == expected
    back, back_ph = editor.grid_from(made)
    assert back_ph == ph_off
    assert editor.expression_from(back, back_ph) == made


@pytest.mark.parametrize(
    "text", ["Mo-Fr 09:00-18:00; Dec 25 off", '09:00-21:00 "预约"', "Su-Mo 10:00-12:00"]
)
def test_other_strings_stay_text_for_experts(text):
    assert editor.grid_from(text) is None


def test_a_bad_cell_names_its_day():
    with pytest.raises(editor.GridError) as caught:
        editor.expression_from(grid("9-18", "", "", "", "", "", ""), False)
    assert caught.value.day == "Mo" and "周一" in str(caught.value)


def test_the_editor_fragment_previews_the_api_s_hours(client, clerk):  # noqa: F811
    token = csrf(client, "/admin/sites/new")
    form = {f"grid_{d}": "" for d in WEEK}
    r = client.post(
        "/admin/hours/editor",
        data={**form, "source": "workdays", "timezone": "Asia/Shanghai", "csrf_token": token},
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert 'value="Mo-Fr 09:00-18:00; PH off"' in page
    assert "11-30 周一</td><td>09:00-18:00" in page and "12-05 周六</td><td>休息" in page
    bad = client.post(
        "/admin/hours/editor",
        data={"opening_hours": "Mo-Su 9-21", "source": "expert", "csrf_token": token},
    )
    assert 'id="opening_hours-error"' in bad.get_data(as_text=True)
    assert "第 7 个字符" in bad.get_data(as_text=True)
    special = client.post(
        "/admin/hours/editor",
        data={"opening_hours": "Mo-Su 09:00-21:00", "source": "expert", "csrf_token": token,
              "special_days": "2026-12-01 off 设备检修"},
    )  # fmt: skip
    assert "12-01 周二</td><td>休息</td><td>设备检修" in special.get_data(as_text=True)
    assert client.post("/admin/hours/editor", data={"source": "grid"}).status_code == 400  # CSRF
