"""The console's import wizard: a dry run that names every bad cell by row and column, then an
all-or-nothing commit of the checked file, through the code of POST /v1/imports."""

import io
import re

import openpyxl
import sqlalchemy as sa

from tests.console.test_accounts import account, csrf, log_in  # noqa: F401
from tests.console.test_site_pages import clerk  # noqa: F401

UPLOAD = re.compile(r'action="/admin/import/([0-9a-f]{32})/commit"')


def workbook(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["外部编号", "类型", "名称", "纬度", "经度", "坐标系", "开放时间", "设施", "电话"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, body: bytes, name: str = "stations.xlsx"):
    token = csrf(client, "/admin/import")
    return client.post(
        "/admin/import",
        data={
            "csrf_token": token,
            "org": "zj.nb",
            "crs": "wgs84",
            "file": (io.BytesIO(body), name),
        },
        content_type="multipart/form-data",
    )


def test_a_bad_row_is_named_then_the_fixed_file_commits(client, conn, clerk):  # noqa: F811
    good = [
        "WIZ-1",
        "驿站",
        "向导驿站一",
        29.90,
        121.60,
        "WGS-84",
        "Mo-Su 09:00-21:00",
        "微波炉，充电",
        "",
    ]
    bad = ["WIZ-2", "驿站", "向导驿站二", 129.91, 121.61, "高德", "9点到21点", "", ""]
    before = conn.scalar(sa.text("SELECT count(*) FROM sites"))
    r = upload(client, workbook([good, bad]))
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "什么也没有写入" in page
    assert re.search(r"<td>3</td><td>(纬度|lat)</td>", page), page[-3000:]  # spreadsheet row 3
    assert conn.scalar(sa.text("SELECT count(*) FROM sites")) == before
    bad[3], bad[6] = 29.91, "Mo-Su 09:00-21:00"
    r = upload(client, workbook([good, bad]))
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "将新建 <strong>2</strong>" in page
    assert conn.scalar(sa.text("SELECT count(*) FROM sites")) == before  # a dry run
    upload_id = UPLOAD.search(page).group(1)
    token = csrf(client, "/admin/import")
    r = client.post(f"/admin/import/{upload_id}/commit", data={"csrf_token": token})
    assert r.status_code == 302
    assert conn.scalar(sa.text("SELECT count(*) FROM sites")) == before + 2
    row = conn.execute(
        sa.text("SELECT amenities, ST_Y(geom) AS lat FROM sites WHERE external_id = 'WIZ-1'")
    ).one()
    assert sorted(row.amenities) == ["microwave", "phone_charging"] and row.lat == 29.90
    again = client.post(f"/admin/import/{upload_id}/commit", data={"csrf_token": token})
    assert again.status_code == 404  # a checked file commits once


def test_the_template_downloads_for_a_logged_in_clerk(client, clerk):  # noqa: F811
    r = client.get("/admin/import/template.xlsx")
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.data)).active
    assert "名称" in [c.value for c in sheet[1]]


def test_a_file_of_another_kind_is_refused(client, conn, clerk):  # noqa: F811
    r = upload(client, b"MZ\x90\x00", "virus.exe")
    assert r.status_code == 422 and ".xlsx" in r.get_data(as_text=True)
    r = upload(client, b"PK\x03\x04 not really a workbook", "broken.xlsx")
    assert r.status_code == 422
