"""Hostile input found by review: every one of these once gave a 500 or wrote something."""

import base64
import json

import orjson
import pytest
import sqlalchemy as sa

from service.core.pagination import fingerprint

VALID = {
    "kind": "station",
    "name": "n",
    "external_id": "X",
    "location": {"lat": 29.87, "lon": 121.55},
}


@pytest.fixture()
def editor(bearer):
    return bearer("zj.nb", "editor")


def problem_4xx(r, status: int, field: str | None = None) -> None:
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == "application/problem+json"
    if field:
        assert field in r.json["errors"], r.json


def raw_json(value: dict) -> bytes:
    """JSON with lone surrogates kept as escapes (json.dumps writes them; orjson refuses)."""
    return json.dumps(value).encode()


def test_lone_surrogates_are_422_everywhere(client, bearer, editor, make_site):
    site_id = make_site(29.9, 121.6, org="zj.nb")
    headers = {**editor, "Content-Type": "application/json"}
    r = client.post("/v1/sites", data=raw_json({**VALID, "name": "\ud800"}), headers=headers)
    problem_4xx(r, 422, "name")
    r = client.patch(
        f"/v1/sites/{site_id}",
        data=raw_json({"name": "\udfff"}),
        headers={**headers, "If-Match": f'"{site_id}-1"'},
    )
    problem_4xx(r, 422, "name")
    r = client.post(
        f"/v1/sites/{site_id}/reports",
        data=raw_json({"category": "other", "comment": "\ud800"}),
        headers={"Content-Type": "application/json"},
    )
    problem_4xx(r, 422, "comment")
    r = client.post(
        "/v1/orgs",
        data=raw_json({"code": "zj.nb.q", "name": "\ud800"}),
        headers={**bearer("zj.nb", "admin"), "Content-Type": "application/json"},
    )
    problem_4xx(r, 422, "name")


@pytest.mark.parametrize("amenities", [[""], [1], [None], ["wifi", ""], "wifi"])
def test_bad_amenity_items_are_422_with_string_keys(client, editor, amenities):
    r = client.post("/v1/sites", json={**VALID, "amenities": amenities}, headers=editor)
    problem_4xx(r, 422)
    assert any(key.startswith("amenities") for key in r.json["errors"])


def test_nested_location_errors_name_the_field(client, editor):
    r = client.post(
        "/v1/sites", json={**VALID, "location": {"lat": 91, "lon": "x"}}, headers=editor
    )
    problem_4xx(r, 422)
    assert {"location.lat", "location.lon"} <= set(r.json["errors"])


@pytest.mark.parametrize("area, stored", [(0.01, None), (0.04, None), (0.06, 0.1), (40.04, 40.0)])
def test_area_is_rounded_before_it_is_checked(client, editor, area, stored):
    r = client.post("/v1/sites", json={**VALID, "area_m2": area}, headers=editor)
    if stored is None:
        problem_4xx(r, 422, "area_m2")
    else:
        assert r.status_code == 201 and r.json["area_m2"] == stored


@pytest.mark.parametrize("zone", ["Factory", "localtime", "posixrules", "Mars/Olympus"])
def test_zones_the_hours_library_cannot_use_are_422(client, editor, zone):
    body = {**VALID, "timezone": zone, "opening_hours": "Mo-Su 09:00-21:00"}
    problem_4xx(client.post("/v1/sites", json=body, headers=editor), 422, "timezone")


@pytest.mark.parametrize("tag", ['"{id}-²"', '"{id}-1¹"', '"{id}-٣"', '"{id}-"', '"{id}"'])
def test_odd_if_match_values_are_412(client, editor, make_site, tag):
    site_id = make_site(29.9, 121.6, org="zj.nb")
    header = tag.format(id=site_id).encode("utf-8").decode("latin-1")
    r = client.patch(
        f"/v1/sites/{site_id}", json={"name": "x"}, headers={**editor, "If-Match": header}
    )
    problem_4xx(r, 412)


def test_replaying_a_key_whose_site_was_deleted_is_409(client, editor):
    headers = {**editor, "Idempotency-Key": "gone"}
    site = client.post("/v1/sites", json=VALID, headers=headers).json
    client.delete(f"/v1/sites/{site['id']}", headers={**editor, "If-Match": f'"{site["id"]}-1"'})
    problem_4xx(client.post("/v1/sites", json=VALID, headers=headers), 409)


def forged(position: dict, params: dict) -> str:
    payload = {**position, "q": fingerprint(params)}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def test_out_of_range_ids_are_4xx(client, editor):
    assert client.get("/v1/sites/9223372036854775808").status_code == 404
    assert client.get("/v1/sites/0").status_code == 404
    r = client.get("/v1/reports", query_string={"site_id": 2**63}, headers=editor)
    problem_4xx(r, 422, "site_id")
    cursor = forged({"i": 2**63}, {"limit": "1"})
    r = client.get("/v1/reports", query_string={"limit": "1", "cursor": cursor}, headers=editor)
    problem_4xx(r, 422, "cursor")
    params = {"lat": "29.9", "lon": "121.5"}
    cursor = forged({"i": 2**63, "d": 1.0}, params)
    r = client.get("/v1/sites/nearby", query_string={**params, "cursor": cursor})
    problem_4xx(r, 422, "cursor")


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
    problem_4xx(r, 422)
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
    problem_4xx(r, 415)


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


def test_a_non_bearer_authorization_header_does_not_block_public_reads(client, make_site):
    site_id = make_site(29.9, 121.6)
    r = client.get(f"/v1/sites/{site_id}", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert r.status_code == 200 and "open_reports" not in r.json


# -- second review: public endpoints ------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/v1/sites?updated_since=2026-01-01T00:00:00%2B16:00",
        "/v1/sites?open_at=2026-12-01T04:00:00%2B23:59",
        "/v1/sites/nearby?lat=30&lon=122&open_at=2026-12-01T04:00:00%2B16:00",
        "/v1/tiles/5/26/13.mvt?open_at=2026-12-01T04:00:00%2B16:00",
        "/ogc/collections/sites/items?datetime=2026-01-01T00:00:00-20:00/..",
        "/ogc/collections/sites/items?datetime=9999-12-31T23:59:59-23:59",
    ],
)
def test_utc_offsets_beyond_postgresql_range_are_not_500(client, url):
    """RFC 3339 allows offsets up to ±23:59; PostgreSQL only ±15:59: instants become UTC."""
    r = client.get(url)
    assert r.status_code < 500, r.get_data(as_text=True)


def test_offset_plus_16_means_the_same_instant(client):
    a = client.get("/v1/sites", query_string={"open_at": "2026-12-01T20:00:00+16:00"})
    b = client.get("/v1/sites", query_string={"open_at": "2026-12-01T04:00:00+00:00"})
    assert a.status_code == b.status_code == 200
    assert [i["id"] for i in a.json["items"]] == [i["id"] for i in b.json["items"]]


def test_bogus_keys_count_against_the_anonymous_quota(client, app):
    app.config.update(ANON_PER_MINUTE=2)
    try:
        env = {"REMOTE_ADDR": "192.0.2.77"}
        codes = [
            client.get(
                "/v1/amenities", headers={"X-API-Key": f"yzk_{i}"}, environ_base=env
            ).status_code
            for i in range(3)
        ]
        assert codes == [401, 401, 429]
        assert not app.extensions.get("yizhan.caches", {}).get("partners")
    finally:
        app.config.update(ANON_PER_MINUTE=0)


@pytest.mark.parametrize(
    "url, status",
    [
        ("/v1/sites/%D9%A1", 404),
        ("/v1/sites/%EF%BC%91", 404),
        ("/ogc/collections/sites/items/%EF%BC%91", 404),
        ("/v1/tiles/%EF%BC%95/%EF%BC%92%EF%BC%96/%EF%BC%91%EF%BC%93.mvt", 404),
        ("/v1/sites/nearby?lat=%EF%BC%93%EF%BC%90&lon=122", 422),
        ("/v1/sites?limit=%EF%BC%91", 422),
        ("/ogc/collections/sites/items?bbox=%EF%BC%91,2,3,4", 400),
        ("/v1/sites?bbox=1_0,0,20,1", 422),
        ("/v1/sites?bbox=%201,0,2,1", 422),
        ("/ogc/collections/sites/items?bbox=1,2,a,3,4,b", 400),
    ],
)
def test_numbers_are_ascii_plain_decimals(client, url, status):
    r = client.get(url)
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == "application/problem+json"


def test_an_empty_tile_has_no_content_type(client):
    r = client.get("/v1/tiles/22/0/0.mvt")
    assert r.status_code == 204 and "Content-Type" not in r.headers


def test_a_change_cursor_cannot_point_beyond_every_transaction(client):
    forged = base64.urlsafe_b64encode(orjson.dumps({"x": -1, "s": -1})).decode().rstrip("=")
    problem_4xx(client.get("/v1/changes", query_string={"since": forged}), 422, "since")


def test_geojson_by_accept_header_with_parameters(client):
    r = client.get("/v1/sites?limit=1", headers={"Accept": "application/geo+json; charset=utf-8"})
    assert r.headers["Content-Type"].startswith("application/geo+json")
    assert r.json["type"] == "FeatureCollection"
