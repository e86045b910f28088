"""The console's site pages: the list and its CSV export, the form (create, edit, conflict),
a pasted map-app pair, bad input and who may do what. Writes go through the API's code: the
same validation, the same audit trail (naming the console user)."""

import csv
import io

import openpyxl
import pytest
import sqlalchemy as sa

from service.console import forms
from service.geo import datums
from tests.console.test_accounts import PASSWORD, TOKEN, account, csrf, log_in  # noqa: F401

GCJ = "121.549387,29.872213"  # lon,lat as Amap writes it, in GCJ-02


@pytest.fixture()
def clerk(client, account):  # noqa: F811
    name = account("zj.nb", "editor")
    assert log_in(client, name).status_code == 302
    return name


def form(**fields) -> dict:
    return {
        "kind": "station",
        "name": "控制台新建驿站",
        "org": "zj.nb",
        "status": "active",
        "timezone": "Asia/Shanghai",
        "opening_hours": "Mo-Su 09:00-21:00",
        "pair": GCJ,
        "datum": "gcj02",
        "amenities": ["microwave", "wifi"],
        **fields,
    }


def post(client, path: str, data: dict):
    return client.post(path, data={**data, "csrf_token": csrf(client, "/admin/sites/new")})


def test_a_station_from_a_pasted_gcj02_pair_is_stored_in_wgs84(client, conn, clerk):
    r = post(client, "/admin/sites/new", form())
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    site_id = int(r.headers["Location"].split("/")[-1].split("?")[0])
    row = conn.execute(
        sa.text("SELECT ST_Y(geom) AS lat, ST_X(geom) AS lon, amenities FROM sites WHERE id = :i"),
        {"i": site_id},
    ).one()
    lat, lon = datums.to_wgs84(29.872213, 121.549387, "gcj02")
    assert (row.lat, row.lon) == pytest.approx((lat, lon), abs=1e-7)
    assert abs(row.lat - 29.872213) + abs(row.lon - 121.549387) > 0.003  # it did move ~500 m
    assert sorted(row.amenities) == ["microwave", "wifi"]
    audit = conn.execute(
        sa.text(
            "SELECT a.action, u.name FROM site_audit a JOIN users u ON u.id = a.user_id "
            "WHERE a.site_id = :i"
        ),
        {"i": site_id},
    ).one()
    assert tuple(audit) == ("create", clerk)  # the API's audit trail names the console user
    api = client.get(f"/v1/sites/{site_id}").json
    assert api["name"] == "控制台新建驿站" and api["location"]["lat"] == pytest.approx(lat)


@pytest.mark.parametrize(
    "text, expected",
    [("121.544,29.868", (29.868, 121.544)), ("29.868, 121.544", (29.868, 121.544)),
     ("121.544 29.868", (29.868, 121.544)), ("121.544，29.868", (29.868, 121.544))],
)  # fmt: skip
def test_pairs_in_either_order(text, expected):
    assert forms.parse_pair(text) == expected


def test_the_convert_fragment_shows_the_wgs84_point(client, clerk):
    r = client.get("/admin/sites/convert", query_string={"pair": GCJ, "datum": "bd09"})
    lat, lon = datums.to_wgs84(29.872213, 121.549387, "bd09")
    assert f"{lat:.7f}" in r.get_data(as_text=True) and f"{lon:.7f}" in r.get_data(as_text=True)
    bad = client.get("/admin/sites/convert", query_string={"pair": "东门", "datum": "gcj02"})
    assert "两个数" in bad.get_data(as_text=True)


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"name": ""}, "name", ""),
        ({"opening_hours": "Mo-Su 9-21"}, "opening_hours", "第"),
        ({"pair": "东门驿站"}, "location", "两个数"),
        ({"pair": "", "lat": "", "lon": ""}, "location", "地图"),
        ({"area_m2": "四十"}, "area_m2", "数字"),
        ({"star_rating": "9"}, "star_rating", ""),
        ({"org": "zj.hz"}, "org", "管辖"),
        ({"special_days": "明天 off"}, "special_days", "第 1 行"),
        ({"special_days": "2027-02-10 2027-02-12 off\n2027-02-11 off"}, "special_days", "重叠"),
        ({"status": "temporarily_closed", "closed_until": "2026-11-01"}, "closed_until", ""),
    ],
)  # fmt: skip
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_written(
    client, conn, clerk, fields, field, message
):
    before = conn.scalar(sa.text("SELECT count(*) FROM sites"))
    r = post(client, "/admin/sites/new", form(**fields))
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f'id="{field}-error"' in page, page[:3000]
    assert message in page
    assert conn.scalar(sa.text("SELECT count(*) FROM sites")) == before
    if fields.get("name", "x"):
        assert "控制台新建驿站" in page  # what was typed is kept


def test_a_concurrent_edit_shows_both_versions_and_keeps_what_was_typed(client, conn, clerk):
    site_id = int(post(client, "/admin/sites/new", form()).headers["Location"].split("/")[-1][:-8])
    page = client.get(f"/admin/sites/{site_id}").get_data(as_text=True)
    assert 'name="version" value="1"' in page
    conn.execute(sa.text("UPDATE sites SET name = '别人改的名字', version = 2 WHERE id = :i"),
                 {"i": site_id})  # fmt: skip
    mine = form(name="我改的名字", version="1", pair="", lat="29.87", lon="121.55")
    r = post(client, f"/admin/sites/{site_id}", mine)
    text = r.get_data(as_text=True)
    assert r.status_code == 409
    assert "别人刚刚修改了这个站点" in text and "别人改的名字" in text and "我改的名字" in text
    assert 'name="version" value="2"' in text  # saving again overwrites theirs
    again = post(client, f"/admin/sites/{site_id}", {**mine, "version": "2"})
    assert again.status_code == 302
    assert (
        conn.scalar(sa.text("SELECT name FROM sites WHERE id = :i"), {"i": site_id}) == "我改的名字"
    )


def test_the_list_filters_escapes_and_exports_without_formulas(client, conn, clerk, make_site):
    evil = make_site(29.9, 121.6, org="zj.nb", name="<script>alert(1)</script>",
                     address="=HYPERLINK(\"http://evil.example\",\"点我\")")  # fmt: skip
    page = client.get("/admin/sites", query_string={"q": "script"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page
    outside = make_site(30.2, 120.1, org="zj.hz", name="杭州的站点不该出现")
    listed = client.get("/admin/sites", query_string={"org": "zj"}).get_data(as_text=True)
    assert "杭州的站点不该出现" not in listed  # outside the clerk's subtree: zj.nb is used
    assert outside
    r = client.get("/admin/sites/export.csv", query_string={"q": "script"})
    body = r.get_data()
    assert body.startswith("\ufeff".encode()) and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header, (row,) = rows[0], rows[1:]
    assert header[0] == "编号 id"
    assert row[header.index("地址 address")].startswith("'=HYPERLINK")
    assert row[0] == str(evil)
    book = openpyxl.load_workbook(
        io.BytesIO(client.get("/admin/sites/export.xlsx", query_string={"q": "script"}).data)
    )
    sheet = book.active
    cells = {sheet.cell(1, c).value: sheet.cell(2, c).value for c in range(1, sheet.max_column + 1)}
    assert cells["编号 id"] == evil and isinstance(cells["纬度 lat"], float)
    assert cells["地址 address"].startswith("'=HYPERLINK")
    assert cells["名称 name"] == "<script>alert(1)</script>"  # text, not markup: a cell


def test_a_viewer_may_look_but_not_write(client, conn, account):  # noqa: F811
    name = account("zj.nb", "viewer")
    log_in(client, name)
    assert "你的角色只能查看" in client.get("/admin/sites/new").get_data(as_text=True)
    before = conn.scalar(sa.text("SELECT count(*) FROM sites"))
    assert post(client, "/admin/sites/new", form()).status_code == 403
    assert conn.scalar(sa.text("SELECT count(*) FROM sites")) == before


def test_a_site_outside_the_subtree_is_not_found(client, clerk, make_site):
    other = make_site(30.2, 120.1, org="zj.hz")
    assert client.get(f"/admin/sites/{other}").status_code == 404


def test_pages_need_a_login(client):
    for path in ("/admin/", "/admin/sites", "/admin/sites/new", "/admin/sites/export.csv"):
        r = client.get(path)
        assert r.status_code == 302 and "/admin/login" in r.headers["Location"], path
