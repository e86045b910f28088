"""Admin writes: authentication, create/update/delete with ETags, mass assignment, audit."""

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.access.tokens import revoke_token
from service.geo import datums

NEW_SITE = {
    "kind": "station",
    "name": "测试新驿站",
    "external_id": "T-001",
    "location": {"lat": 29.87, "lon": 121.55},
    "amenities": ["microwave", "wifi"],
    "opening_hours": "Mo-Su 09:00-21:00",
}


def count(conn, table: str) -> int:
    return conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))


def audit(conn, site_id: int) -> list:
    return conn.execute(
        sa.text("SELECT action, changes, version FROM site_audit WHERE site_id = :i ORDER BY id"),
        {"i": site_id},
    ).all()


def create(client, headers, **overrides):
    return client.post("/v1/sites", json={**NEW_SITE, **overrides}, headers=headers)


# -- authentication ---------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "Basic dXNlcjpwdw==", "Bearer", "Bearer ", "Bearer yz_not-a-real-token"],
)
def test_missing_or_bad_token_is_401_with_a_challenge(client, conn, header):
    before = count(conn, "sites")
    headers = {"Authorization": header} if header else {}
    r = create(client, headers)
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.headers["WWW-Authenticate"].startswith('Bearer realm="yizhan"')
    assert count(conn, "sites") == before


def test_revoked_and_expired_tokens_are_401(client, conn, bearer):
    expired = bearer("zj.nb", "admin", expires_in=timedelta(seconds=-1))
    assert create(client, expired).status_code == 401
    live = bearer("zj.nb", "admin")
    token_id = conn.scalar(sa.text("SELECT max(id) FROM api_tokens"))
    assert create(client, live, external_id="T-live").status_code == 201
    revoke_token(conn, token_id, conn.scalar(sa.text("SELECT now()")))
    assert create(client, live, external_id="T-after-revoke").status_code == 401


def test_tokens_are_stored_only_as_hashes(conn, editor):
    token = editor["Authorization"].split()[1]
    assert len(token) >= 43  # 32 random bytes, base64url
    # The row holds SHA-256(token) and nowhere the token itself, in any column.
    hashed = hashlib.sha256(token.encode()).digest()
    assert (
        conn.scalar(sa.text("SELECT count(*) FROM api_tokens WHERE token_hash = :h"), {"h": hashed})
        == 1
    )
    rows = conn.execute(sa.text("SELECT to_jsonb(t)::text FROM api_tokens t")).scalars().all()
    assert rows and not any(token in row for row in rows)


# -- create -----------------------------------------------------------------------


def test_create_returns_location_etag_and_the_site(client, conn, editor):
    r = create(client, editor)
    assert r.status_code == 201, r.json
    site = r.json
    assert r.headers["Location"] == f"/v1/sites/{site['id']}"
    # {id}-{version} (what If-Match compares), then a digest of the body's open state
    assert r.headers["ETag"].startswith(f'"{site["id"]}-1-')
    assert site["org"]["code"] == "zj.nb" and site["version"] == 1
    assert client.get(r.headers["Location"]).json == site
    near = client.get("/v1/sites/nearby", query_string={"lat": 29.87, "lon": 121.55, "radius": 5})
    assert [i["id"] for i in near.json["items"]] == [site["id"]]
    (row,) = audit(conn, site["id"])
    assert row.action == "create" and row.changes["name"] == {"old": None, "new": "测试新驿站"}


def test_create_in_gcj02_stores_wgs84(client, editor):
    lat, lon = datums.wgs84_to_gcj02(29.87, 121.55)
    r = client.post(
        "/v1/sites?crs=gcj02",
        json={**NEW_SITE, "location": {"lat": lat, "lon": lon}},
        headers=editor,
    )
    assert r.status_code == 201
    stored = client.get(f"/v1/sites/{r.json['id']}").json["location"]
    assert stored["lat"] == pytest.approx(29.87, abs=1e-7)
    assert stored["lon"] == pytest.approx(121.55, abs=1e-7)
    assert r.json["location"] == pytest.approx({"lat": lat, "lon": lon}, abs=1e-7)


@pytest.mark.parametrize("field", ["id", "version", "updated_at", "org_id", "deleted_at"])
def test_mass_assignment_is_422_and_writes_nothing(client, conn, editor, field):
    before = (count(conn, "sites"), count(conn, "site_audit"))
    r = create(client, editor, **{field: 1})
    assert r.status_code == 422
    assert field in r.json["errors"]
    assert (count(conn, "sites"), count(conn, "site_audit")) == before


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"opening_hours": "Mo-Su 09:00-21:60"}, "opening_hours"),
        ({"amenities": ["jacuzzi"]}, "amenities"),
        ({"kind": "hotel"}, "kind"),
        ({"location": {"lat": 91, "lon": 120}}, "location.lat"),
        ({"star_rating": 6}, "star_rating"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"org": "zj.nb.nowhere"}, "org"),  # inside the caller's subtree, but no such org
    ],
)
def test_invalid_bodies_are_422_naming_the_field(client, conn, editor, overrides, field):
    before = count(conn, "sites")
    r = create(client, editor, **overrides)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"]
    assert count(conn, "sites") == before


@pytest.mark.parametrize("org", ["zj.hz", "zj.hz.nowhere", "zj.nbx"])
def test_an_org_outside_the_subtree_is_403_whether_or_not_it_exists(client, conn, editor, org):
    """API.md: acting outside your subtree is a 403 (it was a 422, as if the body were
    malformed); checked before the org is looked up, so it tells nothing of what exists."""
    before = count(conn, "sites")
    r = create(client, editor, org=org)
    assert r.status_code == 403, r.json
    assert r.json["detail"] == f"{org} is not in your org subtree."
    assert count(conn, "sites") == before


def test_opening_hours_error_says_where(client, editor):
    r = create(client, editor, opening_hours="Mo-Su 09:00-21:60")
    assert "character" in r.json["errors"]["opening_hours"][0]


def test_duplicate_external_id_in_an_org_is_409(client, editor):
    assert create(client, editor).status_code == 201
    r = create(client, editor)
    assert r.status_code == 409


def test_malformed_json_is_400(client, editor):
    r = client.post(
        "/v1/sites", data="{not json", headers={**editor, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/problem+json"


# -- idempotency --------------------------------------------------------------------


def test_idempotent_create_returns_the_first_result(client, conn, editor):
    headers = {**editor, "Idempotency-Key": "retry-1"}
    first = create(client, headers)
    before = count(conn, "sites")
    again = create(client, headers)
    assert again.status_code == 201
    assert again.json["id"] == first.json["id"]
    assert count(conn, "sites") == before
    other = create(client, headers, name="另一个")
    assert other.status_code == 422  # same key, different request


# -- update -------------------------------------------------------------------------


def test_patch_requires_if_match_and_rejects_stale(client, conn, editor):
    site = create(client, editor).json
    url = f"/v1/sites/{site['id']}"
    assert client.patch(url, json={"name": "新名"}, headers=editor).status_code == 428
    r = client.patch(
        url, json={"name": "新名"}, headers={**editor, "If-Match": f'"{site["id"]}-1"'}
    )
    assert r.status_code == 200 and r.json["version"] == 2 and r.json["name"] == "新名"
    assert r.headers["ETag"].startswith(f'"{site["id"]}-2-')
    stale = client.patch(
        url, json={"name": "旧"}, headers={**editor, "If-Match": f'"{site["id"]}-1"'}
    )
    assert stale.status_code == 412
    assert client.get(url).json["name"] == "新名"
    actions = audit(conn, site["id"])
    assert [a.action for a in actions] == ["create", "update"]
    assert actions[1].changes == {"name": {"old": "测试新驿站", "new": "新名"}}


def test_a_patch_that_changes_nothing_keeps_the_version(client, conn, editor):
    site = create(client, editor).json
    r = client.patch(
        f"/v1/sites/{site['id']}",
        json={"name": site["name"], "amenities": ["wifi", "microwave"]},
        headers={**editor, "If-Match": f'"{site["id"]}-1"'},
    )
    assert r.status_code == 200 and r.json["version"] == 1
    assert len(audit(conn, site["id"])) == 1


def test_patch_hours_rematerialises_open_now(client, editor):
    site = create(client, editor, opening_hours="Sa-Su 10:00-12:00").json
    query = {"lat": 29.87, "lon": 121.55, "radius": 5, "open_now": "true"}  # Monday noon
    assert client.get("/v1/sites/nearby", query_string=query).json["items"] == []
    client.patch(
        f"/v1/sites/{site['id']}",
        json={"opening_hours": "24/7"},
        headers={**editor, "If-Match": f'"{site["id"]}-1"'},
    )
    assert [i["id"] for i in client.get("/v1/sites/nearby", query_string=query).json["items"]] == [
        site["id"]
    ]


# -- delete -------------------------------------------------------------------------


def test_delete_is_soft_and_audited(client, conn, editor):
    site = create(client, editor).json
    url = f"/v1/sites/{site['id']}"
    assert client.delete(url, headers=editor).status_code == 428
    assert client.delete(url, headers={**editor, "If-Match": '"0-9"'}).status_code == 412
    assert (
        client.delete(url, headers={**editor, "If-Match": f'"{site["id"]}-1"'}).status_code == 204
    )
    assert client.get(url).status_code == 404
    assert conn.scalar(
        sa.text("SELECT deleted_at IS NOT NULL FROM sites WHERE id = :i"), {"i": site["id"]}
    )
    assert [a.action for a in audit(conn, site["id"])] == ["create", "delete"]
    history = client.get(f"{url}/history", headers=editor).json["items"]
    assert [h["action"] for h in history] == ["create", "delete"]


# -- the authorization matrix -------------------------------------------------------

# The caller belongs to zj.nb (Ningbo). Its subtree: zj.nb and zj.nb.zh (Zhenhai).
RELATIONS = {"own": "zj.nb", "child": "zj.nb.zh", "sibling": "zj.hz", "parent": "zj"}
MATRIX = [
    # role, relation, POST into org, PATCH, DELETE, GET history, import, triage a report
    ("admin", "own", 201, 200, 204, 200, 200, 200),
    ("admin", "child", 201, 200, 204, 200, 200, 200),
    ("admin", "sibling", 403, 403, 403, 404, 403, 404),
    ("admin", "parent", 403, 403, 403, 404, 403, 404),
    ("editor", "own", 201, 200, 204, 200, 200, 200),
    ("editor", "child", 201, 200, 204, 200, 200, 200),
    ("editor", "sibling", 403, 403, 403, 404, 403, 404),
    ("editor", "parent", 403, 403, 403, 404, 403, 404),
    ("viewer", "own", 403, 403, 403, 200, 403, 403),
    ("viewer", "child", 403, 403, 403, 200, 403, 403),
    ("viewer", "sibling", 403, 403, 403, 404, 403, 403),
    ("viewer", "parent", 403, 403, 403, 404, 403, 403),
]


@pytest.mark.parametrize("role, relation, post, patch, delete, history, imports, triage", MATRIX)
def test_authorization_matrix(
    client, conn, bearer, make_site, role, relation, post, patch, delete, history, imports, triage
):
    org = RELATIONS[relation]
    caller = bearer("zj.nb", role)
    site_id = make_site(29.9, 121.6, org=org)
    version_before = conn.scalar(sa.text("SELECT version FROM sites WHERE id = :i"), {"i": site_id})
    audits_before = count(conn, "site_audit")
    sites_before = count(conn, "sites")

    r = client.post("/v1/sites", json={**NEW_SITE, "org": org}, headers=caller)
    assert r.status_code == post, r.json
    assert count(conn, "sites") == sites_before + (1 if post == 201 else 0)

    url = f"/v1/sites/{site_id}"
    match = {**caller, "If-Match": f'"{site_id}-{version_before}"'}
    r = client.get(f"{url}/history", headers=caller)
    assert r.status_code == history
    r = client.patch(url, json={"name": "越权修改"}, headers=match)
    assert r.status_code == patch
    if patch != 200:
        assert conn.scalar(sa.text("SELECT name FROM sites WHERE id = :i"), {"i": site_id}) != (
            "越权修改"
        )
        match = {**caller, "If-Match": f'"{site_id}-{version_before}"'}
    else:
        match = {**caller, "If-Match": r.headers["ETag"]}
    r = client.delete(url, headers=match)
    assert r.status_code == delete
    if post != 201 and patch != 200 and delete != 204:  # nothing may have changed at all
        assert count(conn, "site_audit") == audits_before
        assert (
            conn.scalar(
                sa.text("SELECT version FROM sites WHERE id = :i AND deleted_at IS NULL"),
                {"i": site_id},
            )
            == version_before
        )

    # Bulk import into that org: nothing is written unless allowed.
    csv = "external_id,kind,name,lat,lon\nM-1,station,矩阵导入,29.9,121.6\n".encode()
    r = client.post(
        "/v1/imports",
        data=csv,
        query_string={"org": org},
        headers={**caller, "Content-Type": "text/csv"},
    )
    assert r.status_code == imports
    imported = conn.scalar(sa.text("SELECT count(*) FROM sites WHERE external_id = 'M-1'"))
    assert imported == (1 if imports == 200 else 0)

    # Triage a rider report on a (live) site of that org.
    live = make_site(29.9, 121.6, org=org)
    report_id = client.post(f"/v1/sites/{live}/reports", json={"category": "other"}).json["id"]
    r = client.patch(f"/v1/reports/{report_id}", json={"status": "rejected"}, headers=caller)
    assert r.status_code == triage
    status = conn.scalar(sa.text("SELECT status FROM reports WHERE id = :i"), {"i": report_id})
    assert status == ("rejected" if triage == 200 else "open")
    listed = client.get("/v1/reports", headers=caller).json["items"]
    assert (report_id in {x["id"] for x in listed}) is (history == 200)


def test_nul_characters_are_422_not_a_server_error(client, conn, editor):
    before = count(conn, "sites")
    r = create(client, editor, name="驿站\u0000")
    assert r.status_code == 422 and "name" in r.json["errors"]
    assert count(conn, "sites") == before


def test_moving_a_site_out_of_the_subtree_is_403_and_changes_nothing(
    client, conn, editor, make_site
):
    site_id = make_site(29.9, 121.6, org="zj.nb")
    version = conn.scalar(sa.text("SELECT version FROM sites WHERE id = :i"), {"i": site_id})
    headers = {**editor, "If-Match": f'"{site_id}-{version}"'}
    r = client.patch(f"/v1/sites/{site_id}", json={"org": "zj.hz"}, headers=headers)
    assert r.status_code == 403, r.json
    org = conn.scalar(
        sa.text("SELECT o.code::text FROM sites s JOIN orgs o ON o.id = s.org_id WHERE s.id = :i"),
        {"i": site_id},
    )
    assert org == "zj.nb"
    assert (
        conn.scalar(sa.text("SELECT version FROM sites WHERE id = :i"), {"i": site_id}) == version
    )
