"""The org tree over the API: subtree reads, admins create orgs only below their own."""

import pytest
import sqlalchemy as sa


def test_list_is_the_callers_subtree(client, bearer):
    items = client.get("/v1/orgs", headers=bearer("zj.nb", "viewer")).json["items"]
    codes = [o["code"] for o in items]
    assert codes[0] == "zj.nb" and "zj.nb.zh" in codes
    assert all(c == "zj.nb" or c.startswith("zj.nb.") for c in codes)
    assert {"code": "zj.nb.zh", "name": "宁波市镇海区总工会", "parent": "zj.nb"} in items


@pytest.mark.parametrize(
    "role, code, status",
    [
        ("admin", "zj.nb.newdistrict", 201),
        ("admin", "zj.nb.zh.newstreet", 201),
        ("admin", "zj.nb", 422),  # not below: itself
        ("admin", "zj.hz.newdistrict", 403),  # a sibling's subtree
        ("admin", "zj.nbx", 403),  # a prefix trick, not a child
        ("admin", "zj.nb.missing.child", 422),  # parent does not exist
        ("admin", "zj.nb.zh", 409),  # exists
        ("admin", "Bad Code", 422),
        ("editor", "zj.nb.newdistrict", 403),
        ("viewer", "zj.nb.newdistrict", 403),
    ],
)
def test_create_org(client, conn, bearer, role, code, status):
    before = conn.scalar(sa.text("SELECT count(*) FROM orgs"))
    r = client.post(
        "/v1/orgs", json={"code": code, "name": "新工会"}, headers=bearer("zj.nb", role)
    )
    assert r.status_code == status, r.json
    after = conn.scalar(sa.text("SELECT count(*) FROM orgs"))
    assert after == before + (1 if status == 201 else 0)


def test_orgs_need_a_token(client):
    assert client.get("/v1/orgs").status_code == 401


def test_the_public_org_tree_needs_no_credentials(client):
    r = client.get("/v1/orgs/public")
    assert r.status_code == 200, r.json
    codes = [o["code"] for o in r.json["items"]]
    assert "zj" in codes and "zj.zs.dh" in codes and codes == sorted(codes)
    dinghai = next(o for o in r.json["items"] if o["code"] == "zj.zs.dh")
    assert dinghai == {"code": "zj.zs.dh", "name": "舟山市定海区总工会", "parent": "zj.zs"}
    assert r.headers["Cache-Control"] == "public, max-age=3600"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    again = client.get("/v1/orgs/public", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    under = client.get("/v1/orgs/public", query_string={"under": "zj.zs"}).json["items"]
    assert {o["code"] for o in under} >= {"zj.zs", "zj.zs.dh"}
    assert all(o["code"].startswith("zj.zs") for o in under)
    assert client.get("/v1/orgs/public", query_string={"under": "xx.none"}).status_code == 404
    assert client.get("/v1/orgs/public", query_string={"under": "zj\n"}).status_code == 422
