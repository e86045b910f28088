"""XLSX imports, Chinese headers and labels, a row's own 坐标系, and the XLSX template.

The parser tests are pure; the ones at the end post to /v1/imports (and fetch the template).
"""

import csv
import io
import json
import struct
import zipfile
from datetime import date, datetime

import openpyxl
import pytest

from service.core import vocabulary
from service.core.models import KINDS, STATUSES
from service.core.settings import DEFAULT_TIMEZONE
from service.geo import datums
from service.imports import columns, xlsx
from service.imports.parse import TooLarge, parse

XLSX = xlsx.MEDIA_TYPE
FAR = "2099-12-05"  # a reopening date after any real today (the pure parser reads the clock)
SPECIAL = [{"from": "2099-02-10", "to": "2099-02-12", "hours": "off", "reason": "春节闭站"}]

ENGLISH = {
    "external_id": "XL-1",
    "kind": "station",
    "name": "东门劳动者驿站",
    "name_en": "East Gate Station",
    "address": "舟山市定海区东门示例路1号",
    "lat": "30.1",
    "lon": "122.1069",
    "amenities": "microwave,water_dispenser,toilet,wifi",
    "opening_hours": "Mo-Su 09:00-21:00",
    "timezone": DEFAULT_TIMEZONE,
    "workday_swaps": "true",
    "special_days": json.dumps(SPECIAL, ensure_ascii=False),
    "status": "temporarily_closed",
    "closed_until": FAR,
    "closure_reason": "装修",
    "area_m2": "40.5",
    "star_rating": "4",
    "phone": "13800000000",
    "description": "可歇脚、喝水、热饭。",
    "org": "zj.zs.dh",
}
# The same row as a clerk's spreadsheet has it: Chinese headers, labels, Excel's own types.
CHINESE = {
    "编号": "XL-1",
    "类型": "户外劳动者驿站",
    "名称": "东门劳动者驿站",
    "英文名称": "East Gate Station",
    "地址": "舟山市定海区东门示例路1号",
    "纬度": 30.1,
    "经度": 122.1069,
    "设施": "微波炉、热水，厕所, 无线网",
    "营业时间": "Mo-Su 09:00-21:00",
    "时区": DEFAULT_TIMEZONE,
    "调休开放": True,
    "特殊日期": json.dumps(SPECIAL, ensure_ascii=False),
    "状态": "暂停开放",
    "恢复开放日期": datetime(2099, 12, 5),
    "关闭原因": "装修",
    "面积（平方米）": 40.5,
    "星级": 4,
    "电话": 13800000000,
    "简介": "可歇脚、喝水、热饭。",
    "所属组织": "zj.zs.dh",
}


def workbook(*rows: list, blank_rows_above: int = 0) -> bytes:
    """An .xlsx whose first sheet holds `rows` (the first is the header) under blank rows."""
    book = openpyxl.Workbook()
    sheet = book.active
    for _ in range(blank_rows_above):
        sheet.append([])
    for row in rows:
        sheet.append(row)
    book.create_sheet("其他").append(["not", "read"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def table(*records: dict, blank_rows_above: int = 0) -> bytes:
    header = list(dict.fromkeys(key for record in records for key in record))
    return workbook(
        header, *([r.get(k) for k in header] for r in records), blank_rows_above=blank_rows_above
    )


def site(number: int, **cells) -> dict:
    """A minimal valid row with Chinese headers."""
    return {
        "编号": f"XL-{number}",
        "类型": "驿站",
        "名称": "驿站",
        "纬度": 30.0,
        "经度": 122.0,
        **cells,
    }


def csv_of(*records: dict, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue().encode(encoding)


def fields_of(errors) -> list[tuple[int, str]]:
    return [(e.row, e.field) for e in errors]


# --- the same rows as CSV ----------------------------------------------------------------------


def test_a_chinese_workbook_imports_the_same_rows_as_the_english_csv():
    rows, errors = parse(table(CHINESE, {**CHINESE, "编号": "XL-2", "所属组织": None}), XLSX)
    assert errors == []
    expected, csv_errors = parse(
        csv_of(ENGLISH, {**ENGLISH, "external_id": "XL-2", "org": ""}), "text/csv"
    )
    assert csv_errors == []
    assert [r.data for r in rows] == [r.data for r in expected]
    assert [r.org for r in rows] == ["zj.zs.dh", None]
    first = rows[0].data
    assert first["amenities"] == ["microwave", "water_dispenser", "toilet", "wifi"]
    assert (first["kind"], first["status"], first["closed_until"]) == (
        "station",
        "temporarily_closed",
        date(2099, 12, 5),
    )
    assert first["workday_swaps"] is True and first["phone"] == "13800000000"


def test_rows_are_numbered_as_excel_shows_them():
    body = table(site(1), {}, site(3), site(4, 纬度=95), blank_rows_above=2)
    rows, errors = parse(body, XLSX)
    # The header is on row 3; the empty record is a blank row 5 that keeps its number.
    assert [r.number for r in rows] == [4, 6]
    assert fields_of(errors) == [(7, "lat")]


def test_an_error_names_the_column_and_the_header_as_written():
    _, errors = parse(table(site(1), site(2, 纬度="北纬30度")), XLSX)
    assert fields_of(errors) == [(3, "lat")]
    assert errors[0].message == "纬度: Not a valid number."
    english = {"external_id": "A", "kind": "station", "name": "x", "lat": "北纬30度", "lon": 122}
    _, errors = parse(table(english), XLSX)
    assert (fields_of(errors), errors[0].message) == ([(2, "lat")], "Not a valid number.")


# --- cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"纬度": 30.1, "经度": 122.1}, {"location": {"lat": 30.1, "lon": 122.1}}),
        ({"纬度": 30, "经度": 122}, {"location": {"lat": 30.0, "lon": 122.0}}),
        ({"纬度": " 30.25 "}, {"location": {"lat": 30.25, "lon": 122.0}}),
        ({"面积": 40}, {"area_m2": 40.0}),
        ({"面积": 0.3}, {"area_m2": 0.3}),
        ({"星级": 3}, {"star_rating": 3}),
        ({"星级": 3.0}, {"star_rating": 3}),
        ({"编号": 1001}, {"external_id": "1001"}),
        ({"编号": 1001.0}, {"external_id": "1001"}),
        ({"电话": 13800000000}, {"phone": "13800000000"}),
        ({"名称": 0.5}, {"name": "0.5"}),
        ({"名称": True}, {"name": "TRUE"}),
        ({"暂停至": datetime(2099, 12, 5), "状态": "暂停"}, {"closed_until": date(2099, 12, 5)}),
        ({"暂停至": date(2099, 12, 5), "状态": "暂停"}, {"closed_until": date(2099, 12, 5)}),
        ({"暂停至": FAR, "状态": "temporarily_closed"}, {"closed_until": date(2099, 12, 5)}),
        ({"调休开放": False}, {"workday_swaps": False}),
        ({"调休开放": 1}, {"workday_swaps": True}),
        ({"调休开放": "是"}, {"workday_swaps": True}),
        ({"状态": "停用"}, {"status": "closed"}),
        ({"类型": "职工之家"}, {"kind": "home"}),
        ({"类型": " 服务点 "}, {"kind": "facility"}),
        (
            {"设施": "冰箱、WiFi、充电、空调、加热"},
            {"amenities": ["fridge", "wifi", "phone_charging", "air_conditioning", "microwave"]},
        ),  # fmt: skip
        ({"设施": "microwave，微波炉、热饭"}, {"amenities": ["microwave"]}),
    ],
)
def test_excel_cells_are_converted(cells, expected):
    rows, errors = parse(table(site(1, **cells)), XLSX)
    assert errors == []
    assert expected.items() <= rows[0].data.items()


def inline_row(number: int, *cells) -> str:
    """A worksheet row as XML: strings inline, numbers as the text Excel would store."""
    xml = []
    for column, value in zip("ABCDEFGH", cells, strict=False):
        ref = f"{column}{number}"
        if isinstance(value, str) and not value.startswith("="):
            xml.append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
        else:
            xml.append(f'<c r="{ref}"><v>{str(value).lstrip("=")}</v></c>')
    return f'<row r="{number}">{"".join(xml)}</row>'


def test_excel_numbers_stay_numbers():
    """Excel stores 30.1 as 30.100000000000001 (17 digits): read as a number, it is 30.1; a
    float that needs all 17 digits keeps them. Never a detour through text."""
    header = inline_row(1, "编号", "类型", "名称", "纬度", "经度", "面积", "星级")
    cells = ("A", "驿站", "x", "=30.100000000000001", "=122.10000000000001", "=40.25", "=4")
    rows, errors = parse(zipped_sheet(header + inline_row(2, *cells)), XLSX)
    assert errors == []
    assert rows[0].data["location"] == {"lat": 30.1, "lon": 122.10000000000001}
    assert rows[0].data["area_m2"] == 40.2  # Area rounds to one decimal, as for any write
    assert rows[0].data["star_rating"] == 4


def test_empty_cells_mean_no_value_as_in_csv():
    empty = {"设施": None, "时区": None, "状态": "", "所属组织": "  ", "星级": None, "电话": None}
    rows, errors = parse(table(site(1, **empty)), XLSX)
    assert errors == []
    data = rows[0].data
    assert not {"amenities", "timezone", "status", "org"} & data.keys()
    assert data["star_rating"] is None and data["phone"] is None


@pytest.mark.parametrize(
    ("cells", "field", "fragment"),
    [
        ({"暂停至": datetime(2099, 12, 5, 9, 30), "状态": "暂停"}, "closed_until", "YYYY-MM-DD"),
        ({"暂停至": 46361, "状态": "暂停"}, "closed_until", "YYYY-MM-DD"),
        ({"纬度": True}, "lat", "Not a valid number"),
        ({"星级": True}, "star_rating", "Not a valid integer"),
        ({"星级": 3.5}, "star_rating", "Not a valid integer"),
        ({"调休开放": 2}, "workday_swaps", "是/否"),
        ({"类型": "驿站点"}, "kind", "station (驿站, 工会驿站, 户外劳动者驿站)"),
        ({"状态": "营业"}, "status", "Must be one of: active (开放, 正常)"),
    ],
)
def test_bad_excel_cells_are_row_errors(cells, field, fragment):
    _, errors = parse(table(site(1), site(2, **cells)), XLSX)
    assert fields_of(errors) == [(3, field)]
    assert fragment in errors[0].message


HUGE = "=1" + "0" * 400  # an integer float() cannot hold


@pytest.mark.parametrize(
    ("column", "value"),
    [("纬度", HUGE), ("面积", HUGE), ("星级", HUGE), ("纬度", "=1e999"), ("面积", "=-1e999")]
    + [("星级", "=1e999")],
)
def test_numbers_too_large_for_a_float_are_row_errors(column, value):
    names = {"编号": "A", "类型": "驿站", "名称": "x", "纬度": "=30", "经度": "=122"}
    names[column] = value
    body = zipped_sheet(inline_row(1, *names) + inline_row(2, *names.values()))
    _, errors = parse(body, XLSX)
    assert fields_of(errors) == [(2, columns.column_of(column))]
    assert errors[0].message.startswith(f"{column}: ")


def test_an_unknown_amenity_lists_the_nearest_labels():
    _, errors = parse(table(site(1, 设施="微波炉、热水器、桑拿")), XLSX)
    assert fields_of(errors) == [(2, "amenities")]
    assert errors[0].message == (
        "设施: Unknown amenity: 热水器 (nearest: 冷热饮水机); 桑拿 (see GET /v1/amenities)."
    )


def test_a_value_right_of_the_named_columns_is_an_error():
    body = workbook(
        ["编号", "类型", "名称", "纬度", "经度"], ["A", "驿站", "x", 30, 122, None, "?"]
    )
    _, errors = parse(body, XLSX)
    assert fields_of(errors) == [(2, "column 7")]


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        ["编号", "类型", "名称", "纬度", "经度"],
        ["外部编号", " 类型 ", "名称", "纬度", "经度"],
        ["External_ID", "KIND", "Name", "lat", "经度"],
        ["编号", "类型", "名称", "纬度", "经度", "面积(平方米)"],
        ["编号", "类型", "名称", "纬度", "经度", "面积 （平方米）"],
    ],
)
def test_header_names_in_chinese_and_english(header):
    row = ["A", "驿站", "x", 30, 122, 12][: len(header)]
    rows, errors = parse(workbook(header, row), XLSX)
    assert errors == []
    assert rows[0].data["external_id"] == "A"


def test_every_column_has_a_chinese_name_that_names_it():
    assert set(columns.CHINESE) == set(columns.COLUMNS)
    for column, names in columns.CHINESE.items():
        assert all(columns.column_of(name) == column for name in (column, *names))


def test_a_column_named_twice_is_an_error_naming_both():
    body = workbook(
        ["编号", "类型", "名称", "name", "纬度", "经度"], ["A", "驿站", "x", "y", 30, 122]
    )
    rows, errors = parse(body, XLSX)
    assert rows == []
    assert fields_of(errors) == [(0, "name")]
    assert errors[0].message == "Duplicate column: 名称 and name are the same (name)."
    _, errors = parse("编号,类型,名称,纬度,经度,纬度\n".encode(), "text/csv")
    assert [(e.field, e.message) for e in errors] == [("lat", "Duplicate column.")]


def test_an_unknown_header_lists_the_names_in_chinese_and_english():
    _, errors = parse(workbook(["编号", "类型", "名称", "纬度", "经度", "负责人"]), XLSX)
    assert fields_of(errors) == [(0, "负责人")]
    assert "name (名称, 驿站名称)" in errors[0].message
    assert "crs (坐标系)" in errors[0].message


def test_an_empty_workbook_is_a_file_error():
    rows, errors = parse(workbook(), XLSX)
    assert (rows, fields_of(errors)) == ([], [(0, "file")])
    assert "empty" in errors[0].message


def test_gb18030_csv_with_chinese_headers_and_labels():
    record = {
        "编号": "GB-1",
        "类型": "职工之家",
        "名称": "职工之家",
        "纬度": "30.2",
        "经度": "120.1",
    }
    record |= {"设施": "职工书屋、健身", "状态": "正常", "坐标系": "高德"}
    utf8 = parse(csv_of(record), "text/csv")
    assert utf8[1] == []
    assert parse(csv_of(record, encoding="gb18030"), "text/csv") == utf8
    data = utf8[0][0].data
    assert (data["kind"], data["amenities"], data["status"]) == (
        "home",
        ["library", "gym"],
        "active",
    )
    assert data["location"] == dict(
        zip(("lat", "lon"), datums.gcj02_to_wgs84(30.2, 120.1), strict=True)
    )


def test_geojson_properties_may_be_chinese_too():
    properties = {
        "编号": "G1",
        "类型": "驿站",
        "名称": "驿站",
        "设施": ["微波炉", "wifi"],
        "坐标系": "百度",
    }
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [122.1069, 30.0176]},
        "properties": properties,
    }
    twice = {**feature, "properties": {**properties, "编号": "G2", "name": "又一个"}}
    body = json.dumps({"type": "FeatureCollection", "features": [feature, twice]}).encode()
    rows, errors = parse(body, "application/geo+json")
    assert rows[0].data["amenities"] == ["microwave", "wifi"]
    assert rows[0].data["location"] == dict(
        zip(("lat", "lon"), datums.bd09_to_wgs84(30.0176, 122.1069), strict=True)
    )
    assert [(e.row, e.field, e.message) for e in errors] == [
        (2, "name", "Duplicate property: 名称 and name are the same (name).")
    ]


# --- a row's own 坐标系 --------------------------------------------------------------------------


def test_a_rows_crs_overrides_the_requests():
    lat, lon = 30.0150, 122.1120
    body = table(
        site(1, 纬度=lat, 经度=lon, 坐标系="高德"),
        site(2, 纬度=lat, 经度=lon, 坐标系="BD-09"),
        site(3, 纬度=lat, 经度=lon, 坐标系="WGS-84"),
        site(4, 纬度=lat, 经度=lon, 坐标系="GPS"),
        site(5, 纬度=lat, 经度=lon, 坐标系=None),
        site(6, 纬度=lat, 经度=lon, 坐标系="腾讯"),
        site(7, 纬度=lat, 经度=lon, 坐标系="百度"),
    )
    rows, errors = parse(body, XLSX, crs="gcj02")
    assert errors == []
    located = [(r.data["location"]["lat"], r.data["location"]["lon"]) for r in rows]
    gcj02, bd09 = datums.gcj02_to_wgs84(lat, lon), datums.bd09_to_wgs84(lat, lon)
    assert located == [gcj02, bd09, (lat, lon), (lat, lon), gcj02, gcj02, bd09]
    assert abs(gcj02[0] - lat) > 1e-4  # it really moved


def test_an_unknown_crs_is_an_error_on_that_rows_crs_column():
    _, errors = parse(table(site(1, 坐标系="wgs84"), site(2, 坐标系="EPSG:3857")), XLSX)
    assert fields_of(errors) == [(3, "crs")]
    assert errors[0].message.startswith("坐标系: Must be one of: wgs84 (WGS-84, GPS, 天地图)")


def test_the_word_tables_match_the_codes():
    assert tuple(vocabulary.KIND_LABELS) == KINDS
    assert tuple(vocabulary.STATUS_LABELS) == STATUSES
    assert tuple(vocabulary.CRS_LABELS) == datums.CRS_NAMES
    seen: dict[str, str] = {}
    for code, words in vocabulary.amenity_words().items():
        for word in (code, *words):
            key = vocabulary.word_key(word)
            assert seen.setdefault(key, code) == code, f"{word} names {seen[key]} and {code}"
            assert vocabulary.amenity_code(word) == code
    assert vocabulary.amenity_code("热水器") is None
    assert vocabulary.nearest_amenities("热水器") == ["冷热饮水机"]
    assert vocabulary.amenity_code("ＷＩＦＩ") == "wifi"


# --- files that are not workbooks, and limits ---------------------------------------------------


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def declared_size(body: bytes, size: int) -> bytes:
    """The zip with every member's uncompressed size stated as `size` (a zip bomb's shape:
    a small archive that claims, and would inflate to, far more)."""
    data = bytearray(body)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = data.find(signature)
        while start >= 0:
            data[start + offset : start + offset + 4] = struct.pack("<I", size)
            start = data.find(signature, start + 4)
    return bytes(data)


def bomb() -> bytes:
    return declared_size(table(site(1)), 300 * 2**20)


def entity_bomb() -> bytes:
    """A worksheet whose first cell is "billion laughs": entities of ten of the one before."""
    entities = '<!ENTITY e0 "lol">' + "".join(
        f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10)
    )
    with zipfile.ZipFile(io.BytesIO(table(site(1)))) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    sheet = members["xl/worksheets/sheet1.xml"].decode()
    sheet = sheet.replace("<t>", "<t>&e9;", 1)
    members["xl/worksheets/sheet1.xml"] = f"<!DOCTYPE worksheet [{entities}]>{sheet}".encode()
    return zipped(members)


def not_workbooks() -> list[tuple[str, bytes, str]]:
    good = table(site(1))
    return [
        ("random bytes", bytes(range(256)) * 40, "not an XLSX workbook"),
        ("text", b"external_id,kind\n", "not an XLSX workbook"),
        ("empty", b"", "not an XLSX workbook"),
        ("truncated", good[: len(good) // 2], "not an XLSX workbook"),
        ("a zip, not a workbook", zipped({"readme.txt": b"hello"}), "not an XLSX workbook"),
        ("a zip of a broken workbook", zipped({"[Content_Types].xml": b"<x"}), "not a readable"),
        ("an encrypted workbook", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "password"),
        ("a zip bomb", bomb(), "more than 200 MB"),
        ("an XML entity bomb", entity_bomb(), "not readable"),
        ("many members", zipped({f"{n}.xml": b"" for n in range(10_001)}), "more than 10000"),
    ]


# Ids name the case only: the bodies hold zip timestamps, and xdist's workers must collect
# the same ids.
NOT_WORKBOOKS = [pytest.param(*case, id=case[0]) for case in not_workbooks()]


@pytest.mark.parametrize(("what", "body", "fragment"), NOT_WORKBOOKS)
def test_a_file_that_is_not_a_usable_workbook_is_a_row_zero_error(what, body, fragment):
    rows, errors = parse(body, XLSX)
    assert (rows, fields_of(errors)) == ([], [(0, "file")])
    assert fragment in errors[0].message


def test_a_bzip2_member_is_refused_before_it_is_inflated():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
    _, errors = parse(buffer.getvalue(), XLSX)
    assert "unknown compression" in errors[0].message


def test_a_row_number_beyond_the_worksheet_is_a_file_error():
    body = zipped_sheet(
        '<row r="2000000"><c r="A2000000" t="inlineStr"><is><t>x</t></is></c></row>'
    )
    _, errors = parse(body, XLSX)
    assert fields_of(errors) == [(0, "file")]
    assert "more than 1048576 rows" in errors[0].message


def zipped_sheet(rows_xml: str) -> bytes:
    """A workbook as openpyxl writes it, with its first sheet's rows replaced by `rows_xml`."""
    with zipfile.ZipFile(io.BytesIO(table(site(1)))) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    sheet = members["xl/worksheets/sheet1.xml"].decode()
    start, end = sheet.index("<sheetData>"), sheet.index("</sheetData>")
    members["xl/worksheets/sheet1.xml"] = (
        sheet[: start + len("<sheetData>")] + rows_xml + sheet[end:]
    ).encode()
    return zipped(members)


def test_too_many_rows_raises_as_for_csv():
    body = table(*(site(n, 类型="invalid") for n in range(1, 6)))
    with pytest.raises(TooLarge):
        parse(body, XLSX, max_rows=4)
    rows, errors = parse(body, XLSX, max_rows=5)
    assert len(errors) == 5


# --- through the API ---------------------------------------------------------------------------


def post(client, headers, body: bytes, media=XLSX, **query):
    query.setdefault("org", "zj.nb")
    return client.post(
        "/v1/imports", data=body, headers={**headers, "Content-Type": media}, query_string=query
    )


@pytest.fixture()
def admin(bearer):
    return bearer("zj.nb", "admin")


def test_an_xlsx_import_creates_the_sites(client, admin):
    body = table(
        site(1, 名称="表格驿站一", 设施="微波炉、热水"), site(2, 名称="表格驿站二", 类型="职工之家")
    )
    r = post(client, admin, body)
    assert r.status_code == 200, r.json
    assert r.json == {"created": 2, "updated": 0, "unchanged": 0, "dry_run": False}
    found = {
        s["name"]: s for s in client.get("/v1/sites", query_string={"q": "表格驿站"}).json["items"]
    }
    assert found["表格驿站一"]["amenities"] == ["microwave", "water_dispenser"]
    assert found["表格驿站二"]["kind"] == "home"
    assert post(client, admin, body).json["unchanged"] == 2


@pytest.mark.parametrize(("what", "body", "fragment"), NOT_WORKBOOKS)
def test_a_bad_workbook_is_a_422_not_a_500(client, admin, what, body, fragment):
    r = post(client, admin, body)
    assert r.status_code == 422, r.get_data(as_text=True)[:500]
    assert [(e["row"], e["field"]) for e in r.json["errors"]] == [(0, "file")]
    assert fragment in r.json["errors"][0]["message"]


def test_a_bad_row_is_reported_with_its_excel_row(client, admin):
    r = post(client, admin, table(site(1), site(2, 纬度=95, 组织="zj.hz")))
    assert r.status_code == 422
    assert [(e["row"], e["field"]) for e in r.json["errors"]] == [(3, "lat")]


def test_xlsx_limits_are_the_csv_ones(client, app, admin):
    body = table(*(site(n) for n in range(1, 4)))
    app.config.update(IMPORT_MAX_ROWS=2)
    try:
        assert post(client, admin, body).status_code == 413
    finally:
        app.config.update(IMPORT_MAX_ROWS=200_000)
    app.config.update(IMPORT_MAX_BYTES=len(body) - 1)
    try:
        assert post(client, admin, body).status_code == 413
    finally:
        app.config.update(IMPORT_MAX_BYTES=64 * 1024 * 1024)


@pytest.mark.parametrize("mimetype", [XLSX, "application/octet-stream", "application/zip"])
def test_a_multipart_xlsx_upload(client, admin, mimetype):
    r = client.post(
        "/v1/imports",
        data={"file": (io.BytesIO(table(site(1))), "驿站名单.xlsx", mimetype)},
        headers=admin,
        query_string={"org": "zj.nb", "dry_run": "true"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.json
    assert r.json["created"] == 1


# --- the template ------------------------------------------------------------------------------


def test_the_template_imports_cleanly(client, admin):
    r = client.get("/v1/imports/template.xlsx", headers=admin)
    assert r.status_code == 200
    assert r.mimetype == XLSX
    assert "attachment" in r.headers["Content-Disposition"]
    again = post(client, admin, r.data, dry_run="true")
    assert again.status_code == 200, again.json
    assert again.json == {"created": 1, "updated": 0, "unchanged": 0, "dry_run": True}
    (row,) = parse(r.data, XLSX)[0]
    assert row.number == 2
    assert row.data["area_m2"] == 40 and row.data["opening_hours"] == "Mo-Su 09:00-21:00"
    assert row.data["amenities"] == [
        "air_conditioning", "microwave", "fridge", "water_dispenser", "first_aid_kit", "wifi",
        "phone_charging",
    ]  # fmt: skip


def test_the_template_has_chinese_headers_lists_and_the_amenities(client, admin):
    body = client.get("/v1/imports/template.xlsx", headers=admin).data
    book = openpyxl.load_workbook(io.BytesIO(body))
    sheet, amenities = book.worksheets
    header = [cell.value for cell in sheet[1]]
    assert header[:5] == ["编号", "类型", "名称", "英文名称", "地址"]
    assert all(columns.column_of(name) for name in header)
    assert sheet.freeze_panes == "A2"
    lists = {}
    for validation in sheet.data_validations.dataValidation:
        if validation.type == "list":
            (cells,) = validation.sqref.ranges
            column = header[cells.min_col - 1]
            lists[column] = validation.formula1.strip('"').split(",")
    assert lists == {
        "类型": ["驿站", "职工之家", "服务设施"],
        "状态": ["开放", "暂停开放", "关闭"],
        "坐标系": ["WGS-84", "GCJ-02", "BD-09"],
        "调休开放": ["是", "否"],
    }
    for name, words in lists.items():  # every choice is a word the importer takes
        for word in words:
            assert parse(table(site(1, **{name: word})), XLSX)[1] == [], (name, word)
    assert amenities.title == "设施"
    labels = [row[0] for row in amenities.iter_rows(min_row=2, values_only=True)]
    assert labels == [a["label"] for a in vocabulary.amenities()]


def test_the_template_needs_a_writer(client, bearer):
    assert client.get("/v1/imports/template.xlsx").status_code == 401
    viewer = bearer("zj.nb", "viewer")
    assert client.get("/v1/imports/template.xlsx", headers=viewer).status_code == 403


def test_the_template_and_xlsx_bodies_are_documented(client):
    spec = client.get("/openapi.json").get_json()
    get = spec["paths"]["/v1/imports/template.xlsx"]["get"]
    assert set(get["responses"]["200"]["content"]) == {XLSX}
    assert get["security"] == [{"bearerAuth": []}]
    assert XLSX in spec["paths"]["/v1/imports"]["post"]["requestBody"]["content"]
