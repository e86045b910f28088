"""Tests for service.imports.parse: bulk-import files in, validated rows or row errors out.

Pure tests: no database and no app fixture is used.
"""

import csv
import io
import json

import pytest

from service.geo import datums
from service.imports.parse import ImportRow, RowError, TooLarge, parse
from service.sites.schemas import SiteWriteSchema
from tests import support

FIXTURES = support.FIXTURES
GOOD = {
    "external_id": "DH-1",
    "kind": "station",
    "name": "东门劳动者驿站",
    "lat": "30.0176",
    "lon": "122.1069",
}
COLUMNS = [*GOOD, "name_en", "amenities", "opening_hours", "timezone", "status"]
COLUMNS += ["area_m2", "star_rating", "phone", "description", "org"]


def csv_bytes(*rows: dict, columns=COLUMNS, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def parse_csv(*rows: dict, **kwargs):
    return parse(csv_bytes(*rows), "text/csv", **kwargs)


def row(number: int, **overrides) -> dict:
    """A valid row with a unique external_id, changed by `overrides`."""
    return {**GOOD, "external_id": f"DH-{number}", **overrides}


def fields_of(errors: list[RowError]) -> list[tuple[int, str]]:
    return [(e.row, e.field) for e in errors]


def feature(properties: dict, geometry="point") -> dict:
    if geometry == "point":
        geometry = {"type": "Point", "coordinates": [122.1069, 30.0176]}
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def geojson_bytes(*features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


# --- templates and encodings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "orgs"),
    [
        ("import_template.csv", "text/csv", ["zj.zs.dh", None, None]),
        ("import_template.geojson", "application/geo+json", ["zj.zs.pt", "zj.hz.xs"]),
    ],
)
def test_templates_parse_cleanly(name, content_type, orgs):
    rows, errors = parse((FIXTURES / name).read_bytes(), content_type)
    assert errors == []
    assert [r.number for r in rows] == list(range(1, len(orgs) + 1))
    assert [r.org for r in rows] == orgs


def test_csv_template_is_utf8_with_bom():
    assert (FIXTURES / "import_template.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_data_is_exactly_what_the_write_schema_loads():
    rows, _ = parse((FIXTURES / "import_template.csv").read_bytes(), "text/csv")
    first = rows[0]
    expected = SiteWriteSchema().load(
        {
            **{k: v for k, v in first.data.items() if k != "location"},
            "location": {"lat": "30.0180", "lon": "122.1075"},
        }
    )
    assert first.data == expected
    assert first.org == "zj.zs.dh" == first.data["org"]
    assert first.data["amenities"] == [
        "indoor_seating",
        "microwave",
        "water_dispenser",
        "phone_charging",
    ]


def test_bom_no_bom_and_gb18030_give_identical_rows():
    content = csv_bytes(row(1, amenities="wifi，microwave"), row(2, description="饭凉能加热"))
    text = content.decode("utf-8")
    variants = [content, b"\xef\xbb\xbf" + content, text.encode("gb18030"), text.encode("gbk")]
    results = [parse(body, "text/csv") for body in variants]
    assert results[0][1] == []
    assert all(result == results[0] for result in results)
    assert results[0][0][1].data["description"] == "饭凉能加热"


@pytest.mark.parametrize("body", ["name,café\n".encode("latin-1"), b"\xff\xfe\x00\x01garbage"])
def test_undecodable_bytes_give_one_encoding_error(body):
    rows, errors = parse(body, "text/csv")
    assert rows == []
    assert fields_of(errors) == [(0, "file")]
    assert "UTF-8 or GB18030" in errors[0].message


# --- CSV cells -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"kind": "shop"}, "kind", "Must be one of"),
        ({"kind": ""}, "kind", "Missing data"),
        ({"name": ""}, "name", "Missing data"),
        ({"name": "驿" * 201}, "name", "Length"),
        ({"amenities": "wifi,sauna"}, "amenities", "Unknown amenity: sauna"),
        ({"opening_hours": "Mo-Fr 08:00-1800"}, "opening_hours", "character"),
        ({"lat": "91"}, "lat", "between -90 and 90"),
        ({"lat": "120.1"}, "lat", "swapped"),
        ({"lon": "abc"}, "lon", "Not a valid number"),
        ({"lat": "NaN"}, "lat", "Not a valid number"),
        ({"lon": "inf"}, "lon", "Not a valid number"),
        ({"lon": ""}, "lon", "Missing data"),
        ({"area_m2": "nan"}, "area_m2", "Not a valid number"),
        ({"area_m2": "0"}, "area_m2", "greater than or equal to 0.1"),
        ({"star_rating": "6"}, "star_rating", "less than or equal to 5"),
        ({"star_rating": "3.5"}, "star_rating", "Not a valid integer"),
        ({"star_rating": "three"}, "star_rating", "Not a valid integer"),
        ({"timezone": "Asia/Beijing"}, "timezone", "unknown IANA time zone"),
        ({"status": "open"}, "status", "Must be one of"),
        ({"org": "ZJ.ZS"}, "org", "Not an org code"),
        ({"org": "zj..zs"}, "org", "Not an org code"),
        ({"external_id": ""}, "external_id", "Required in imports"),
        ({"external_id": "x" * 101}, "external_id", "Length"),
        ({"phone": "1\x002"}, "phone", "NUL"),
    ],
)
def test_bad_cell_is_reported_on_its_row_and_field(overrides, field, fragment):
    rows, errors = parse_csv(row(1), row(2, **overrides), row(3))
    assert [r.number for r in rows] == [1, 3]
    assert fields_of(errors) == [(2, field)]
    assert fragment in errors[0].message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"star_rating": "3"}, {"star_rating": 3}),
        ({"star_rating": " 3.0 "}, {"star_rating": 3}),
        ({"area_m2": "40.5"}, {"area_m2": 40.5}),
        (
            {"amenities": "wifi， microwave、toilet ,wifi"},
            {"amenities": ["wifi", "microwave", "toilet"]},
        ),
        ({"name": "  东门驿站 "}, {"name": "东门驿站"}),
        ({"name_en": "", "phone": "", "opening_hours": ""}, {"name_en": None, "phone": None}),
        ({"org": "zj.zs.dh"}, {"org": "zj.zs.dh"}),
        ({"lat": "+30.5", "lon": "1.221e2"}, {"location": {"lat": 30.5, "lon": 122.1}}),
    ],
)
def test_good_cells_are_converted(overrides, expected):
    rows, errors = parse_csv(row(1, **overrides))
    assert errors == []
    assert expected.items() <= rows[0].data.items()


def test_empty_cells_leave_defaulted_fields_out_and_nullable_fields_none():
    rows, errors = parse_csv(row(1, amenities="", timezone="", status="", org=""))
    assert errors == []
    data = rows[0].data
    assert not {"amenities", "timezone", "status", "org"} & data.keys()
    assert data["opening_hours"] is None and data["star_rating"] is None
    assert rows[0].org is None


def test_every_bad_row_and_every_bad_field_is_reported():
    rows, errors = parse_csv(
        row(1, kind="shop", lat="91", star_rating="9"),
        row(2),
        row(3, amenities="sauna"),
        row(4, external_id="", timezone="Nowhere/City"),
    )
    assert [r.number for r in rows] == [2]
    assert sorted(fields_of(errors)) == [
        (1, "kind"),
        (1, "lat"),
        (1, "star_rating"),
        (3, "amenities"),
        (4, "external_id"),
        (4, "timezone"),
    ]


def test_duplicate_external_id_in_the_same_org_is_an_error_on_later_rows():
    rows, errors = parse_csv(
        row(1, external_id="A"),
        row(2, external_id="A", org="zj.zs.dh"),  # another org: fine
        row(3, external_id="A", org="zj.zs.pt"),  # another org: fine
        row(4, external_id="A"),
        row(5, external_id="A", org="zj.zs.dh"),
        row(6, external_id="A"),
    )
    assert [r.number for r in rows] == [1, 2, 3]
    assert fields_of(errors) == [(4, "external_id"), (5, "external_id"), (6, "external_id")]
    assert "first used on row 1" in errors[0].message
    assert "in org zj.zs.dh: first used on row 2" in errors[1].message


def test_quoted_cell_with_comma_and_newline():
    text = "\r\n".join(
        [
            "external_id,kind,name,lat,lon,amenities,description",
            'A,station,"东门驿站, 一楼",30.0176,122.1069,"wifi,microwave","第一行，\n第二行, 好"',
            "B,home,职工之家,30.1,122.2,,",
        ]
    )
    rows, errors = parse(text.encode(), "text/csv; charset=utf-8")
    assert errors == []
    assert [r.number for r in rows] == [1, 2]
    assert rows[0].data["name"] == "东门驿站, 一楼"
    assert rows[0].data["amenities"] == ["wifi", "microwave"]
    assert rows[0].data["description"] == "第一行，\n第二行, 好"


def test_blank_rows_are_skipped_but_keep_their_spreadsheet_number():
    text = "external_id,kind,name,lat,lon\nA,station,x,30,120\n\n,,,,\nB,station,y,30,120\n\n"
    rows, errors = parse(text.encode(), "text/csv")
    assert errors == []
    assert [r.number for r in rows] == [1, 4]


def test_value_in_a_nameless_column_is_an_error():
    text = "external_id,kind,name,lat,lon,\nA,station,x,30,120,\nB,station,y,30,120,oops\n"
    rows, errors = parse(text.encode(), "text/csv")
    assert [r.number for r in rows] == [1]
    assert fields_of(errors) == [(2, "column 6")]


def test_malformed_csv_is_a_file_error():
    rows, errors = parse_csv(row(1), row(2, description="长" * 200_000))
    assert rows == []
    assert fields_of(errors) == [(0, "file")]
    assert "field larger than field limit" in errors[0].message


# --- CSV header ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("id,external_id,kind,name,lat,lon", [(0, "id")]),
        ("external_id,kind,name,lat,lon,version,updated_at", [(0, "version"), (0, "updated_at")]),
        ("external_id,kind,name,lat", [(0, "lon")]),
        ("kind,name,latitude,lon", [(0, "latitude"), (0, "external_id"), (0, "lat")]),
        ("external_id,kind,name,lat,lon,name", [(0, "name")]),
        ("", [(0, "file")]),
    ],
)
def test_bad_header_is_a_row_zero_error(header, expected):
    body = (header + "\nA,station,x,30,120,1,2\n").encode()
    rows, errors = parse(body, "text/csv")
    assert rows == []
    assert fields_of(errors) == expected


def test_header_names_are_trimmed_and_case_insensitive():
    rows, errors = parse(b" External_ID ,KIND,Name,LAT,Lon\nA,station,x,30,120\n", "text/csv")
    assert errors == []
    assert rows[0].data["external_id"] == "A"


# --- GeoJSON ---------------------------------------------------------------------------------


def test_geojson_properties_and_geometry():
    body = geojson_bytes(
        feature({"external_id": "G1", "kind": "station", "name": "驿站", "amenities": ["wifi"]}),
        feature(
            {
                "external_id": 17,
                "kind": "home",
                "name": "之家",
                "amenities": "wifi，toilet",
                "star_rating": 4.0,
                "name_en": None,
                "timezone": None,
                "org": "zj.zs.dh",
            }
        ),
    )
    rows, errors = parse(body, "application/json")
    assert errors == []
    assert rows[0].data["location"] == {"lat": 30.0176, "lon": 122.1069}
    second = rows[1]
    assert (second.number, second.org, second.data["external_id"]) == (2, "zj.zs.dh", "17")
    assert second.data["amenities"] == ["wifi", "toilet"]
    assert second.data["star_rating"] == 4 and second.data["name_en"] is None
    assert "timezone" not in second.data


VALID_PROPERTIES = {"external_id": "G1", "kind": "station", "name": "驿站"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"not json", [(0, "file")]),
        (b'{"type": "FeatureCollection", "features": [', [(0, "file")]),
        (b"[]", [(0, "file")]),
        (json.dumps(feature(VALID_PROPERTIES)).encode(), [(0, "file")]),
        (b'{"type": "FeatureCollection"}', [(0, "file")]),
        (
            geojson_bytes(
                feature(
                    VALID_PROPERTIES,
                    {"type": "Polygon", "coordinates": [[[120, 30], [121, 30], [121, 31]]]},
                )
            ),
            [(1, "geometry")],
        ),
        (geojson_bytes(feature(VALID_PROPERTIES, {"type": "Point"})), [(1, "geometry")]),
        (geojson_bytes(feature(VALID_PROPERTIES, None)), [(1, "geometry")]),
        (
            geojson_bytes(feature(VALID_PROPERTIES, {"type": "Point", "coordinates": [122]})),
            [(1, "geometry")],
        ),
        (
            geojson_bytes(
                feature(VALID_PROPERTIES, {"type": "Point", "coordinates": ["122", "30"]})
            ),
            [(1, "geometry")],
        ),
        (
            b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
            b'{"external_id": "G1", "kind": "station", "name": "x"}, '
            b'"geometry": {"type": "Point", "coordinates": [NaN, 30]}}]}',
            [(1, "geometry")],
        ),
        (
            geojson_bytes(feature(VALID_PROPERTIES, {"type": "Point", "coordinates": [30, 122]})),
            [(1, "lat")],
        ),
        (geojson_bytes(feature({**VALID_PROPERTIES, "version": 3})), [(1, "version")]),
        (geojson_bytes(feature({**VALID_PROPERTIES, "id": 9, "lat": 30})), [(1, "id"), (1, "lat")]),
        (
            geojson_bytes(feature(VALID_PROPERTIES), {"type": "Point"}, feature({})),
            [(2, "feature"), (3, "external_id"), (3, "kind"), (3, "name")],
        ),
        (geojson_bytes({"type": "Feature", "properties": [1]}), [(1, "properties")]),
        (
            geojson_bytes(feature({**VALID_PROPERTIES, "kind": "x"}, {"type": "LineString"})),
            [(1, "geometry"), (1, "kind")],
        ),
    ],
)
def test_geojson_errors(body, expected):
    _, errors = parse(body, "application/geo+json")
    assert fields_of(errors) == expected


# --- crs, limits, content types --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "inverse"), [("gcj02", datums.gcj02_to_wgs84), ("bd09", datums.bd09_to_wgs84)]
)
def test_crs_converts_to_wgs84(name, inverse):
    rows, errors = parse_csv(row(1, lat="30.0150", lon="122.1120"), crs=name)
    assert errors == []
    lat, lon = inverse(30.0150, 122.1120)
    assert rows[0].data["location"] == {"lat": lat, "lon": lon}
    assert abs(lat - 30.0150) > 1e-4  # it really moved


def test_crs_converts_geojson_too():
    rows, _ = parse(geojson_bytes(feature(VALID_PROPERTIES)), "application/geo+json", crs="gcj02")
    lat, lon = datums.gcj02_to_wgs84(30.0176, 122.1069)
    assert rows[0].data["location"] == {"lat": lat, "lon": lon}


def test_too_many_rows_raises_before_validation():
    body = csv_bytes(*(row(n, kind="invalid") for n in range(1, 6)))
    with pytest.raises(TooLarge):
        parse(body, "text/csv", max_rows=4)
    rows, errors = parse(body, "text/csv", max_rows=5)
    assert len(errors) == 5


def test_too_many_features_raises():
    with pytest.raises(TooLarge):
        parse(geojson_bytes(*[feature(VALID_PROPERTIES)] * 3), "application/geo+json", max_rows=2)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/xml",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/vnd.ms-excel",
    ],
)
def test_unsupported_content_type_raises_value_error(content_type):
    with pytest.raises(ValueError):
        parse(csv_bytes(row(1)), content_type)


@pytest.mark.parametrize("content_type", ["text/csv; charset=GBK", "Text/CSV"])
def test_content_type_parameters_and_case_are_ignored(content_type):
    rows, errors = parse(csv_bytes(row(1)), content_type)
    assert (len(rows), errors) == (1, [])


def test_unknown_crs_raises_value_error():
    with pytest.raises(ValueError):
        parse(csv_bytes(row(1)), "text/csv", crs="epsg3857")


def test_rows_are_plain_frozen_values():
    rows, _ = parse_csv(row(1))
    assert isinstance(rows[0], ImportRow)
    with pytest.raises(AttributeError):
        rows[0].number = 2
