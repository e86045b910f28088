"""POST /v1/imports: all-or-nothing upserts by (org, external_id), dry runs, audit, limits."""

import io
import json

import pytest
import sqlalchemy as sa

from tests import support

FIXTURES = support.FIXTURES
CSV = "text/csv"
GEOJSON = "application/geo+json"

HEADER = "external_id,kind,name,lat,lon,amenities,opening_hours\n"


def rows(*lines: str) -> bytes:
    return (HEADER + "".join(line + "\n" for line in lines)).encode()


GOOD = rows(
    'IMP-1,station,导入驿站一,29.90,121.60,"microwave,wifi",Mo-Su 09:00-21:00',
    "IMP-2,station,导入驿站二,29.91,121.61,toilet,24/7",
    "IMP-3,home,导入职工之家,29.92,121.62,library,",
)


def post(client, headers, body: bytes, media=CSV, **query):
    query.setdefault("org", "zj.nb")
    return client.post(
        "/v1/imports", data=body, headers={**headers, "Content-Type": media}, query_string=query
    )


def count(conn, sql: str) -> int:
    return conn.scalar(sa.text(sql))


@pytest.fixture()
def admin(bearer):
    return bearer("zj.nb", "admin")


def test_import_creates_then_a_second_import_changes_nothing(client, conn, admin):
    r = post(client, admin, GOOD)
    assert r.status_code == 200, r.json
    assert r.json == {"created": 3, "updated": 0, "unchanged": 0, "dry_run": False}
    audits = count(conn, "SELECT count(*) FROM site_audit")
    versions = count(conn, "SELECT sum(version) FROM sites WHERE external_id LIKE 'IMP-%'")
    again = post(client, admin, GOOD)
    assert again.json == {"created": 0, "updated": 0, "unchanged": 3, "dry_run": False}
    assert count(conn, "SELECT count(*) FROM site_audit") == audits
    assert count(conn, "SELECT sum(version) FROM sites WHERE external_id LIKE 'IMP-%'") == versions
    listed = client.get("/v1/sites", query_string={"q": "导入"}).json["items"]
    assert {i["external_id"] for i in listed} == {"IMP-1", "IMP-2", "IMP-3"}
    assert {i["org"]["code"] for i in listed} == {"zj.nb"}


def test_a_changed_row_updates_one_site_with_an_audit_row(client, conn, admin):
    post(client, admin, GOOD)
    changed = GOOD.replace("导入驿站二".encode(), "导入驿站二（新址）".encode())
    r = post(client, admin, changed)
    assert r.json == {"created": 0, "updated": 1, "unchanged": 2, "dry_run": False}
    site_id, version = conn.execute(
        sa.text("SELECT id, version FROM sites WHERE external_id = 'IMP-2'")
    ).one()
    assert version == 2
    last = conn.execute(
        sa.text("SELECT action, changes FROM site_audit WHERE site_id = :i ORDER BY id DESC"),
        {"i": site_id},
    ).first()
    assert last.action == "import"
    assert last.changes == {"name": {"old": "导入驿站二", "new": "导入驿站二（新址）"}}


def test_dry_run_reports_and_writes_nothing(client, conn, admin):
    before = count(conn, "SELECT count(*) FROM sites")
    r = post(client, admin, GOOD, dry_run="true")
    assert r.json == {"created": 3, "updated": 0, "unchanged": 0, "dry_run": True}
    assert count(conn, "SELECT count(*) FROM sites") == before


def test_one_bad_row_rejects_the_file_and_names_every_problem(client, conn, admin):
    before = (
        count(conn, "SELECT count(*) FROM sites"),
        count(conn, "SELECT count(*) FROM site_audit"),
    )
    body = rows(
        "IMP-1,station,好的一行,29.90,121.60,microwave,Mo-Su 09:00-21:00",
        "IMP-2,hotel,坏的类型,29.91,121.61,jacuzzi,Mo-Su 09:00-21:60",
        "IMP-3,station,坏的纬度,95,121.62,,",
    )
    for dry_run in ("false", "true"):
        r = post(client, admin, body, dry_run=dry_run)
        assert r.status_code == 422
        assert r.headers["Content-Type"] == "application/problem+json"
        problems = {(e["row"], e["field"]) for e in r.json["errors"]}
        assert {(2, "kind"), (2, "amenities"), (2, "opening_hours"), (3, "lat")} <= problems
        assert not any(row == 1 for row, _ in problems)
    after = (
        count(conn, "SELECT count(*) FROM sites"),
        count(conn, "SELECT count(*) FROM site_audit"),
    )
    assert after == before


def test_rows_for_orgs_outside_the_subtree_are_errors(client, conn, admin):
    body = (
        "external_id,kind,name,lat,lon,org\n"
        "IMP-1,station,镇海的,29.95,121.70,zj.nb.zh\n"
        "IMP-2,station,杭州的,30.25,120.16,zj.hz\n"
        "IMP-3,station,不存在的,29.95,121.70,zj.nb.nowhere\n"
    ).encode()
    before = count(conn, "SELECT count(*) FROM sites")
    r = post(client, admin, body)
    assert r.status_code == 422
    assert {(e["row"], e["field"]) for e in r.json["errors"]} == {(2, "org"), (3, "org")}
    assert count(conn, "SELECT count(*) FROM sites") == before


@pytest.mark.parametrize("role, org, status", [("viewer", "zj.nb", 403), ("admin", "zj.hz", 403)])
def test_who_may_import(client, bearer, role, org, status):
    r = post(client, bearer("zj.nb", role), GOOD, org=org)
    assert r.status_code == status


def test_no_token_is_401(client):
    assert post(client, {}, GOOD).status_code == 401


def test_gb18030_and_bom_csv_import_the_same(client, admin):
    text = GOOD.decode()
    r1 = post(client, admin, text.encode("gb18030"))
    assert r1.json["created"] == 3
    r2 = post(client, admin, b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert r2.json == {"created": 0, "updated": 0, "unchanged": 3, "dry_run": False}


def test_geojson_import(client, admin):
    body = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [121.6, 29.9]},
                "properties": {
                    "external_id": "GJ-1",
                    "kind": "station",
                    "name": "地理驿站",
                    "amenities": ["wifi"],
                },
            }
        ],
    }
    r = post(client, admin, json.dumps(body).encode(), media=GEOJSON)
    assert r.json["created"] == 1
    (site,) = client.get("/v1/sites", query_string={"q": "地理驿站"}).json["items"]
    assert site["location"] == {"lat": 29.9, "lon": 121.6}


def test_multipart_upload_of_the_template(client, bearer):
    """The documented template, uploaded as a form field, by the provincial admin."""
    template = (FIXTURES / "import_template.csv").read_bytes()
    r = client.post(
        "/v1/imports",
        data={"file": (io.BytesIO(template), "stations.csv")},
        headers=bearer("zj", "admin"),
        query_string={"org": "zj", "dry_run": "true"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.json
    assert r.json == {"created": 3, "updated": 0, "unchanged": 0, "dry_run": True}


def test_unsupported_media_type_is_415(client, admin):
    assert post(client, admin, GOOD, media="text/plain").status_code == 415


def test_too_many_rows_and_too_many_bytes_are_413(client, app, admin):
    app.config.update(IMPORT_MAX_ROWS=2)
    try:
        assert post(client, admin, GOOD).status_code == 413
    finally:
        app.config.update(IMPORT_MAX_ROWS=200_000)
    app.config.update(IMPORT_MAX_BYTES=100)
    try:
        r = post(client, admin, GOOD)
        assert r.status_code == 413
        assert r.headers["Content-Type"] == "application/problem+json"
    finally:
        app.config.update(IMPORT_MAX_BYTES=64 * 1024 * 1024)


def test_a_failure_inside_the_import_leaves_no_row(client, conn, admin):
    """A fault after some rows were written (the audit insert fails) rolls back everything."""
    conn.execute(
        sa.text(
            """
            CREATE FUNCTION fail_import() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected fault'; END $$;
            CREATE TRIGGER fail_import BEFORE INSERT ON site_audit
                FOR EACH ROW WHEN (NEW.action = 'import') EXECUTE FUNCTION fail_import();
            """
        )
    )
    before = count(conn, "SELECT count(*) FROM sites")
    r = post(client, admin, GOOD)
    assert r.status_code == 500
    assert "injected" not in r.get_data(as_text=True)
    assert count(conn, "SELECT count(*) FROM sites") == before


def test_a_deleted_site_is_revived_by_import(client, conn, admin):
    post(client, admin, GOOD)
    site_id = conn.scalar(sa.text("SELECT id FROM sites WHERE external_id = 'IMP-1'"))
    r = client.delete(f"/v1/sites/{site_id}", headers={**admin, "If-Match": f'"{site_id}-1"'})
    assert r.status_code == 204
    r = post(client, admin, GOOD)
    assert r.json == {"created": 0, "updated": 1, "unchanged": 2, "dry_run": False}
    assert client.get(f"/v1/sites/{site_id}").status_code == 200


def test_the_same_site_twice_through_an_empty_and_an_explicit_org_is_an_error(client, admin):
    body = (
        "external_id,kind,name,lat,lon,org\n"
        "IMP-1,station,一,29.95,121.70,\n"
        "IMP-1,station,二,29.95,121.70,zj.nb\n"
    ).encode()
    r = post(client, admin, body)
    assert r.status_code == 422
    assert [(e["row"], e["field"]) for e in r.json["errors"]] == [(2, "external_id")]


def test_excel_labelled_csv_upload_is_read_as_csv(client, admin):
    r = client.post(
        "/v1/imports",
        data={"file": (io.BytesIO(GOOD), "stations.csv", "application/vnd.ms-excel")},
        headers=admin,
        query_string={"org": "zj.nb", "dry_run": "true"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and r.json["created"] == 3


def test_a_huge_report_is_capped(client, app, admin):
    body = rows(*[f"X-{i},hotel,坏,29.9,121.6,," for i in range(1, 1102)])
    r = post(client, admin, body)
    assert r.status_code == 422
    assert len(r.json["errors"]) == 1000
    assert "1101 problems (the first 1000 listed)" in r.json["detail"]


def test_the_documented_body_is_in_the_openapi_document_and_its_example_imports(client, bearer):
    """POST /v1/imports had no documented body: the file's media types are listed now, and
    the CSV example the document shows is a valid file (as a dry run by an admin above it)."""
    spec = client.get("/openapi.json").get_json()
    body = spec["paths"]["/v1/imports"]["post"]["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/geo+json",
        "multipart/form-data",
    }
    example = body["content"]["text/csv"]["example"]
    r = post(client, bearer("zj", "admin"), example.encode(), org="zj.zs", dry_run="true")
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"created": 1, "updated": 0, "unchanged": 0, "dry_run": True}


def test_hours_fields_import_and_reimport_unchanged(client, conn, admin):
    """workday_swaps (true/false/是/否), special_days (a cell of JSON) and a closure."""
    header = (
        "external_id,kind,name,lat,lon,opening_hours,workday_swaps,special_days,status,"
        "closed_until,closure_reason\n"
    )
    entry = '{"from": "2027-02-10", "to": "2027-02-12", "hours": "off", "reason": "春节闭站"}'
    special = '"[' + entry.replace('"', '""') + ']"'  # a CSV cell: quotes doubled
    body = (
        header
        + f"HRS-1,station,调休驿站,29.90,121.60,Mo-Fr 09:00-18:00; PH off,是,{special},,,\n"
        + "HRS-2,station,装修驿站,29.91,121.61,Mo-Su 09:00-21:00,false,,temporarily_closed,"
        "2026-12-05,装修\n"
    ).encode()
    r = post(client, admin, body)
    assert r.status_code == 200, r.json
    assert r.json["created"] == 2
    sites = {
        i["external_id"]: i
        for i in client.get(
            "/v1/sites", query_string={"q": "驿站", "org": "zj.nb", "limit": 200}
        ).json["items"]
    }
    swaps, closed = sites["HRS-1"], sites["HRS-2"]
    assert swaps["workday_swaps"] is True
    assert swaps["special_days"] == [
        {"from": "2027-02-10", "to": "2027-02-12", "hours": "off", "reason": "春节闭站"}
    ]
    assert (closed["status"], closed["closed_until"], closed["closure_reason"]) == (
        "temporarily_closed",
        "2026-12-05",
        "装修",
    )
    assert closed["open_state"]["next_change"] == "2026-12-05T09:00:00+08:00"
    audit = conn.scalar(
        sa.text("SELECT changes FROM site_audit WHERE site_id = :id ORDER BY id DESC LIMIT 1"),
        {"id": swaps["id"]},
    )
    assert audit["special_days"]["new"][0]["reason"] == "春节闭站"  # a list, not JSON text
    assert post(client, admin, body).json["unchanged"] == 2


@pytest.mark.parametrize(
    "cells, field",
    [
        ("yes,,,,", "workday_swaps"),
        ("true,[{,,,", "special_days"),
        ('true,"[{""from"": ""2027-02-10"", ""hours"": ""25:00-26:00""}]",,,', "special_days"),
        ("false,,temporarily_closed,2026-11-01,", "closed_until"),
    ],
)
def test_bad_hours_cells_name_their_row_and_column(client, conn, admin, cells, field):
    header = (
        "external_id,kind,name,lat,lon,workday_swaps,special_days,status,closed_until,"
        "closure_reason\n"
    )
    body = (header + f"HRS-9,station,坏行,29.9,121.6,{cells}\n").encode()
    before = count(conn, "SELECT count(*) FROM sites")
    r = post(client, admin, body)
    assert r.status_code == 422, r.json
    assert [(e["row"], e["field"]) for e in r.json["errors"]] == [(1, field)], r.json
    assert count(conn, "SELECT count(*) FROM sites") == before
