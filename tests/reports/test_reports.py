"""Rider reports: public, limited per client; triage only within the admin's subtree."""

import pytest
import sqlalchemy as sa


def site_in(conn, org: str) -> int:
    return conn.scalar(
        sa.text(
            "SELECT s.id FROM sites s JOIN orgs o ON o.id = s.org_id "
            "WHERE o.code = CAST(:org AS ltree) AND s.status = 'active' ORDER BY s.id LIMIT 1"
        ),
        {"org": org},
    )


def report(client, site_id: int, category="amenity_missing", comment="微波炉坏了", **kw):
    return client.post(
        f"/v1/sites/{site_id}/reports", json={"category": category, "comment": comment}, **kw
    )


def test_anyone_can_report_and_gets_201(client, conn):
    site_id = site_in(conn, "zj.zs.dh")
    r = report(client, site_id)
    assert r.status_code == 201
    assert r.json["site_id"] == site_id and r.json["status"] == "open"
    assert r.json["comment"] == "微波炉坏了"
    assert r.json["created_at"].endswith("+08:00")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"category": "rude_staff"}, "category"),
        ({"category": "other", "comment": "x" * 501}, "comment"),
        ({"category": "other", "status": "resolved"}, "status"),
        ({"comment": "no category"}, "category"),
    ],
)
def test_bad_reports_are_422_and_write_nothing(client, conn, body, field):
    before = conn.scalar(sa.text("SELECT count(*) FROM reports"))
    r = client.post(f"/v1/sites/{site_in(conn, 'zj.zs.dh')}/reports", json=body)
    assert r.status_code == 422 and field in r.json["errors"]
    assert conn.scalar(sa.text("SELECT count(*) FROM reports")) == before


def test_report_on_a_missing_site_is_404(client):
    assert report(client, 999_999_999).status_code == 404


def test_reports_are_limited_per_client(client, app, conn):
    app.config.update(REPORTS_PER_HOUR=3)
    app.extensions.pop("yizhan.limits", None)
    site_id = site_in(conn, "zj.zs.dh")
    try:
        codes = [
            report(client, site_id, environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code
            for _ in range(4)
        ]
        assert codes == [201, 201, 201, 429]
        r = report(client, site_id, environ_base={"REMOTE_ADDR": "10.9.9.9"})
        assert r.headers["Content-Type"] == "application/problem+json"
        assert int(r.headers["Retry-After"]) >= 1
        # another client is not affected
        assert report(client, site_id, environ_base={"REMOTE_ADDR": "10.9.9.8"}).status_code == 201
    finally:
        app.config.update(REPORTS_PER_HOUR=10)
        app.extensions.pop("yizhan.limits", None)


def test_triage_within_the_subtree(client, conn, bearer):
    ningbo_site, hangzhou_site = site_in(conn, "zj.nb.zh"), site_in(conn, "zj.hz.sc")
    mine = report(client, ningbo_site).json["id"]
    theirs = report(client, hangzhou_site).json["id"]
    editor = bearer("zj.nb", "editor")
    listed = client.get("/v1/reports", headers=editor).json["items"]
    assert mine in {r["id"] for r in listed} and theirs not in {r["id"] for r in listed}
    r = client.patch(
        f"/v1/reports/{mine}", json={"status": "resolved", "note": "已修好"}, headers=editor
    )
    assert r.status_code == 200
    assert r.json["status"] == "resolved" and r.json["resolved_by"] and r.json["resolved_at"]
    assert (
        client.patch(
            f"/v1/reports/{theirs}", json={"status": "rejected"}, headers=editor
        ).status_code
        == 404
    )
    assert conn.scalar(sa.text("SELECT status FROM reports WHERE id = :i"), {"i": theirs}) == "open"
    open_only = client.get("/v1/reports", query_string={"status": "open"}, headers=editor).json
    assert mine not in {r["id"] for r in open_only["items"]}


@pytest.mark.parametrize("role, patch", [("admin", 200), ("editor", 200), ("viewer", 403)])
def test_who_may_triage(client, conn, bearer, role, patch):
    report_id = report(client, site_in(conn, "zj.nb.zh")).json["id"]
    headers = bearer("zj.nb", role)
    assert client.get("/v1/reports", headers=headers).status_code == 200
    r = client.patch(f"/v1/reports/{report_id}", json={"status": "resolved"}, headers=headers)
    assert r.status_code == patch


def test_reports_need_a_token_to_list(client):
    assert client.get("/v1/reports").status_code == 401


def test_admins_see_open_report_counts(client, conn, bearer):
    site_id = site_in(conn, "zj.nb.zh")
    report(client, site_id)
    report(client, site_id, category="closed_but_listed_open")
    public = client.get(f"/v1/sites/{site_id}")
    assert "open_reports" not in public.json
    admin_view = client.get(f"/v1/sites/{site_id}", headers=bearer("zj.nb", "viewer"))
    assert admin_view.json["open_reports"] == 2
    assert admin_view.headers["ETag"] != public.headers["ETag"]
    outsider = client.get(f"/v1/sites/{site_id}", headers=bearer("zj.hz", "admin"))
    assert "open_reports" not in outsider.json
    assert (
        client.get(f"/v1/sites/{site_id}", headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )


def test_report_listing_pages(client, conn, bearer):
    site_id = site_in(conn, "zj.nb.zh")
    made = [report(client, site_id).json["id"] for _ in range(5)]
    page = client.get(
        "/v1/reports",
        query_string={"limit": 2, "site_id": site_id},
        headers=(h := bearer("zj.nb", "viewer")),
    ).json
    seen = [r["id"] for r in page["items"]]
    while page["next"]:
        page = client.get(page["next"], headers=h).json
        seen.extend(r["id"] for r in page["items"])
    assert seen == sorted(made, reverse=True)
