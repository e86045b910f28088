"""Hostile request bodies for writes and imports: each once gave a 500 or wrote something.

Lone surrogates, wrong item types, nested errors, rounding at the limit, zones the hours library
cannot use, odd If-Match values, replayed idempotency keys, GeoJSON properties of the wrong type,
a dry run that must write nothing, bodies that are not JSON.
"""

import json

import pytest
import sqlalchemy as sa

from tests.support import assert_problem

VALID = {
    "kind": "station",
    "name": "n",
    "external_id": "X",
    "location": {"lat": 29.87, "lon": 121.55},
}


def raw_json(value: dict) -> bytes:
    """JSON with lone surrogates kept as escapes (json.dumps writes them; orjson refuses)."""
    return json.dumps(value).encode()


def test_lone_surrogates_are_422_everywhere(client, bearer, editor, make_site):
    site_id = make_site(29.9, 121.6, org="zj.nb")
    headers = {**editor, "Content-Type": "application/json"}
    r = client.post("/v1/sites", data=raw_json({**VALID, "name": "\ud800"}), headers=headers)
    assert_problem(r, 422, "name")
    r = client.patch(
        f"/v1/sites/{site_id}",
        data=raw_json({"name": "\udfff"}),
        headers={**headers, "If-Match": f'"{site_id}-1"'},
    )
    assert_problem(r, 422, "name")
    r = client.post(
        f"/v1/sites/{site_id}/reports",
        data=raw_json({"category": "other", "comment": "\ud800"}),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(r, 422, "comment")
    r = client.post(
        "/v1/orgs",
        data=raw_json({"code": "zj.nb.q", "name": "\ud800"}),
        headers={**bearer("zj.nb", "admin"), "Content-Type": "application/json"},
    )
    assert_problem(r, 422, "name")


@pytest.mark.parametrize("amenities", [[""], [1], [None], ["wifi", ""], "wifi"])
def test_bad_amenity_items_are_422_with_string_keys(client, editor, amenities):
    r = client.post("/v1/sites", json={**VALID, "amenities": amenities}, headers=editor)
    assert_problem(r, 422)
    assert any(key.startswith("amenities") for key in r.json["errors"])


def test_nested_location_errors_name_the_field(client, editor):
    r = client.post(
        "/v1/sites", json={**VALID, "location": {"lat": 91, "lon": "x"}}, headers=editor
    )
    assert_problem(r, 422)
    assert {"location.lat", "location.lon"} <= set(r.json["errors"])


@pytest.mark.parametrize("area, stored", [(0.01, None), (0.04, None), (0.06, 0.1), (40.04, 40.0)])
def test_area_is_rounded_before_it_is_checked(client, editor, area, stored):
    r = client.post("/v1/sites", json={**VALID, "area_m2": area}, headers=editor)
    if stored is None:
        assert_problem(r, 422, "area_m2")
    else:
        assert r.status_code == 201 and r.json["area_m2"] == stored


@pytest.mark.parametrize("zone", ["Factory", "localtime", "posixrules", "Mars/Olympus"])
def test_zones_the_hours_library_cannot_use_are_422(client, editor, zone):
    body = {**VALID, "timezone": zone, "opening_hours": "Mo-Su 09:00-21:00"}
    assert_problem(client.post("/v1/sites", json=body, headers=editor), 422, "timezone")


@pytest.mark.parametrize("tag", ['"{id}-²"', '"{id}-1¹"', '"{id}-٣"', '"{id}-"', '"{id}"'])
def test_odd_if_match_values_are_412(client, editor, make_site, tag):
    site_id = make_site(29.9, 121.6, org="zj.nb")
    header = tag.format(id=site_id).encode("utf-8").decode("latin-1")
    r = client.patch(
        f"/v1/sites/{site_id}", json={"name": "x"}, headers={**editor, "If-Match": header}
    )
    assert_problem(r, 412)


def test_replaying_a_key_whose_site_was_deleted_is_409(client, editor):
    headers = {**editor, "Idempotency-Key": "gone"}
    site = client.post("/v1/sites", json=VALID, headers=headers).json
    client.delete(f"/v1/sites/{site['id']}", headers={**editor, "If-Match": f'"{site["id"]}-1"'})
    assert_problem(client.post("/v1/sites", json=VALID, headers=headers), 409)


@pytest.mark.parametrize("org", [["zj"], {"a": 1}, 5])
def test_geojson_org_of_the_wrong_type_is_a_row_error(client, editor, org):
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [121.6, 29.9]},
        "properties": {"external_id": "G", "kind": "station", "name": "n", "org": org},
    }
    body = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    r = client.post(
        "/v1/imports",
        data=body,
        query_string={"org": "zj.nb"},
        headers={**editor, "Content-Type": "application/geo+json"},
    )
    assert_problem(r, 422)
    assert r.json["errors"][0]["field"] == "org"


def test_a_dry_run_writes_nothing_at_all(client, conn, editor):
    tables = ("sites", "site_audit", "hours_patterns", "hours_pattern_intervals")
    before = [conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in tables]
    body = (
        b"external_id,kind,name,lat,lon,opening_hours\nA1,station,n,29.9,121.5,Mo-Fr 07:13-19:47\n"
    )
    r = client.post(
        "/v1/imports",
        data=body,
        query_string={"org": "zj.nb", "dry_run": "true"},
        headers={**editor, "Content-Type": "text/csv"},
    )
    assert r.status_code == 200 and r.json["created"] == 1
    assert [conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in tables] == before


@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_writes_need_a_json_body(client, editor, media):
    headers = {**editor, **({"Content-Type": media} if media else {})}
    r = client.post("/v1/sites", data=json.dumps(VALID), headers=headers)
    assert_problem(r, 415)


def test_a_3d_geojson_point_is_accepted(client, editor):
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [121.6, 29.9, 12.5]},
        "properties": {"external_id": "G3", "kind": "station", "name": "三维"},
    }
    body = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    r = client.post(
        "/v1/imports",
        data=body,
        query_string={"org": "zj.nb"},
        headers={**editor, "Content-Type": "application/geo+json"},
    )
    assert r.status_code == 200 and r.json["created"] == 1


HUGE = "9" * 5000  # past Python's 4,300-digit limit for int(); it once gave a 500


@pytest.mark.parametrize(
    "method, path, role, template",
    [
        ("POST", "/v1/sites/{site}/reports", None, '{{"category": "other", "comment": {n}}}'),
        ("POST", "/v1/sites", "editor", '{{"kind": "station", "name": "n", "star_rating": {n}}}'),
        ("PATCH", "/v1/sites/{site}", "editor", '{{"area_m2": {n}}}'),
        ("POST", "/v1/orgs", "admin", '{{"code": "zj.nb.q", "name": "n", "x": [{n}]}}'),
        ("POST", "/v1/sites/{site}/reports", None, '{{"category": "other", "comment": 1{n}.5}}'),
        ("POST", "/v1/sites/{site}/reports", None, '{{"category": "other", "comment": 1e{n}}}'),
    ],
)
def test_a_number_too_long_for_any_field_is_a_400_and_writes_nothing(
    client, conn, bearer, make_site, method, path, role, template
):
    site_id = make_site(29.9, 121.6, org="zj.nb")
    headers = {"Content-Type": "application/json", "If-Match": f'"{site_id}-1"'}
    if role:
        headers.update(bearer("zj.nb", role))
    tables = ("sites", "reports", "orgs", "site_audit")
    before = [conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in tables]
    url = path.format(site=site_id)
    body = assert_problem(
        client.open(url, method=method, data=template.format(n=HUGE), headers=headers), 400
    )
    assert "longer than 40 characters" in body["detail"]
    assert [conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in tables] == before


def test_a_geojson_import_with_a_number_too_long_is_a_file_error(client, editor):
    body = '{"type": "FeatureCollection", "features": [' + HUGE + "]}"
    r = client.post(
        "/v1/imports",
        data=body.encode(),
        query_string={"org": "zj.nb"},
        headers={**editor, "Content-Type": "application/geo+json"},
    )
    assert_problem(r, 422)
    assert r.json["errors"][0]["field"] == "file"
    assert "longer than 40 characters" in r.json["errors"][0]["message"]


def test_a_delete_answers_204_without_a_content_type(client, editor, make_site):
    site_id = make_site(29.9, 121.6, org="zj.nb")
    r = client.delete(f"/v1/sites/{site_id}", headers={**editor, "If-Match": f'"{site_id}-1"'})
    assert r.status_code == 204 and r.get_data() == b""
    assert "Content-Type" not in r.headers


@pytest.mark.parametrize("field", ["name", "address", "phone", "external_id"])
@pytest.mark.parametrize("char", ["\n", "\t", "\x1b", "\x7f"])
def test_one_line_fields_refuse_control_characters(client, editor, field, char):
    r = client.post("/v1/sites", json={**VALID, field: f"东门{char}驿站"}, headers=editor)
    assert_problem(r, 422, field)


def test_a_description_keeps_its_line_breaks(client, editor):
    text = "第一行\n第二行\t（说明）"
    r = client.post("/v1/sites", json={**VALID, "description": text}, headers=editor)
    assert r.status_code == 201 and r.json["description"] == text
    r = client.post(
        "/v1/sites", json={**VALID, "external_id": "Y", "description": "a\x1bb"}, headers=editor
    )
    assert_problem(r, 422, "description")
