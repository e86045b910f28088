"""The console's users and API tokens page: admins only, within their org subtree, secrets shown
once, sessions ended on every change that matters."""

import re

import pytest
import sqlalchemy as sa

from service.access import tokens
from service.console import people
from tests.conftest import FROZEN_NOW
from tests.console.test_accounts import PASSWORD, account, csrf, log_in  # noqa: F401

SECRET = re.compile(r'id="secret"[^>]*value="([^"]+)"')
PAGE = "/admin/people"


@pytest.fixture()
def admin(client, account):  # noqa: F811
    """An admin of zj.nb, logged in on `client`; returns its name."""
    name = account("zj.nb", "admin")
    assert log_in(client, name).status_code == 302
    return name


def post(client, path: str, **data):
    return client.post(path, data={**data, "csrf_token": csrf(client, PAGE)})


def secret_of(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "只显示这一次" in page
    return SECRET.search(page).group(1)


def user_id(conn, name: str) -> int:
    return conn.scalar(sa.text("SELECT id FROM users WHERE name = :n"), {"n": name})


def user_row(conn, name: str):
    return conn.execute(
        sa.text(
            "SELECT u.role, o.code::text AS org, u.disabled_at, u.password_hash "
            "FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.name = :n"
        ),
        {"n": name},
    ).one()


def test_an_added_user_gets_a_password_shown_once_that_works(app, conn, client, admin, account):  # noqa: F811
    r = post(client, f"{PAGE}/users", name="new-clerk-1", org="zj.nb", role="editor")
    password = secret_of(r)
    row = user_row(conn, "new-clerk-1")
    assert (row.role, row.org) == ("editor", "zj.nb")
    assert row.password_hash.startswith("$argon2id$") and password not in row.password_hash
    page = client.get(PAGE).get_data(as_text=True)
    assert "new-clerk-1" in page and password not in page  # not shown on reload
    assert " style=" not in page and "<script>" not in page  # the CSP allows neither
    assert log_in(app.test_client(), "new-clerk-1", password).status_code == 302
    again = post(client, f"{PAGE}/users", name="new-clerk-1", org="zj.nb", role="admin")
    assert again.status_code == 422 and "同名" in again.get_data(as_text=True)
    assert user_row(conn, "new-clerk-1") == row  # an add never changes an existing user
    elsewhere = account("zj.hz", "viewer")  # login names are unique across orgs
    taken = post(client, f"{PAGE}/users", name=elsewhere, org="zj.nb", role="viewer")
    assert taken.status_code == 422 and "登录名" in taken.get_data(as_text=True)
    assert conn.scalar(sa.text("SELECT count(*) FROM users WHERE name = :n"), {"n": elsewhere}) == 1
    for org in ("zj.nb.none", "zj.nb.a b", "zj.nb..x"):  # missing, not even an ltree
        missing = post(client, f"{PAGE}/users", name="new-clerk-2", org=org, role="viewer")
        assert missing.status_code == 422 and "没有这个组织" in missing.get_data(as_text=True)
    blank = post(client, f"{PAGE}/users", name="  ", org="zj.nb", role="viewer")
    assert blank.status_code == 422 and 'aria-invalid="true"' in blank.get_data(as_text=True)


def test_a_role_change_and_a_password_reset_end_the_users_sessions(app, conn, client, admin,
                                                                    account):  # noqa: F811  # fmt: skip
    target = account("zj.nb", "editor")
    other = app.test_client()
    log_in(other, target)
    assert other.get("/admin/").status_code == 200
    r = post(client, f"{PAGE}/users/{user_id(conn, target)}/role", role="viewer")
    assert r.status_code == 302 and user_row(conn, target).role == "viewer"
    assert other.get("/admin/").status_code == 302  # logged out: log in again for the new role
    assert log_in(other, target).status_code == 302
    password = secret_of(post(client, f"{PAGE}/users/{user_id(conn, target)}/password"))
    assert other.get("/admin/").status_code == 302
    assert log_in(other, target, PASSWORD).status_code == 401  # the old one stopped working
    assert log_in(other, target, password).status_code == 302
    assert password not in client.get(PAGE).get_data(as_text=True)


def test_a_deactivation_ends_the_session_at_once(app, conn, client, admin, account):  # noqa: F811
    target = account("zj.nb", "editor")
    other = app.test_client()
    log_in(other, target)
    r = post(client, f"{PAGE}/users/{user_id(conn, target)}/deactivate")
    assert r.status_code == 302 and user_row(conn, target).disabled_at is not None
    assert other.get("/admin/").status_code == 302
    assert log_in(other, target).status_code == 401
    assert "已停用" in client.get(PAGE).get_data(as_text=True)
    refused = post(client, f"{PAGE}/users/{user_id(conn, target)}/password")
    assert refused.status_code == 409 and 'id="secret"' not in refused.get_data(as_text=True)


def test_a_token_is_shown_once_works_and_stops_when_revoked(client, conn, admin, account):  # noqa: F811
    target = account("zj.nb", "viewer")
    r = post(client, f"{PAGE}/tokens", user_id=user_id(conn, target), label="地图同步",
             expires_days="30")  # fmt: skip
    token = secret_of(r)
    assert token.startswith(tokens.TOKEN_PREFIX)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/reports", headers=bearer).status_code == 200
    row = conn.execute(
        sa.text("SELECT id, token_hash, expires_at FROM api_tokens WHERE label = '地图同步'")
    ).one()
    assert bytes(row.token_hash) == tokens.digest(token) and row.expires_at is not None
    page = client.get(PAGE).get_data(as_text=True)
    assert "地图同步" in page and target in page and token not in page
    assert bytes(row.token_hash).hex() not in page
    assert post(client, f"{PAGE}/tokens/{row.id}/revoke").status_code == 302
    assert client.get("/v1/reports", headers=bearer).status_code == 401
    assert "已吊销" in client.get(PAGE).get_data(as_text=True)
    before = conn.scalar(sa.text("SELECT count(*) FROM api_tokens"))
    for days in ("0", "3651", "abc", "-1"):
        bad = post(client, f"{PAGE}/tokens", user_id=user_id(conn, target), expires_days=days)
        assert bad.status_code == 422, days
    assert conn.scalar(sa.text("SELECT count(*) FROM api_tokens")) == before


def _every_post(conn, user: int, token: int) -> list[tuple[str, dict]]:
    return [
        (f"{PAGE}/users", {"name": "someone-new", "org": "zj.nb", "role": "viewer"}),
        (f"{PAGE}/users/{user}/role", {"role": "viewer"}),
        (f"{PAGE}/users/{user}/deactivate", {}),
        (f"{PAGE}/users/{user}/password", {}),
        (f"{PAGE}/tokens", {"user_id": str(user)}),
        (f"{PAGE}/tokens/{token}/revoke", {}),
    ]


def _state(conn) -> list:
    users = conn.execute(
        sa.text("SELECT id, role, disabled_at, password_hash FROM users ORDER BY id")
    ).all()
    tokens_ = conn.execute(sa.text("SELECT id, revoked_at FROM api_tokens ORDER BY id")).all()
    return [users, tokens_]


def test_an_editor_is_refused_every_page_and_post(client, conn, account):  # noqa: F811
    name = account("zj.nb", "editor")
    target = account("zj.nb", "viewer")
    token_id, _ = tokens.create_token(conn, user_id(conn, target), FROZEN_NOW)
    log_in(client, name)
    assert client.get(PAGE).status_code == 403
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "用户与令牌" not in dashboard
    before = _state(conn)
    for path, data in _every_post(conn, user_id(conn, target), token_id):
        r = client.post(path, data={**data, "csrf_token": csrf(client, "/admin/")})
        assert r.status_code == 403, path
    assert _state(conn) == before


def test_nothing_outside_the_subtree_is_found_or_written(client, conn, admin, account):  # noqa: F811
    assert "用户与令牌" in client.get("/admin/").get_data(as_text=True)
    outside = account("zj.hz", "editor")
    token_id, _ = tokens.create_token(conn, user_id(conn, outside), FROZEN_NOW, label="杭州的令牌")
    page = client.get(PAGE).get_data(as_text=True)
    assert outside not in page and "杭州的令牌" not in page and admin in page
    before = _state(conn)
    for path, data in _every_post(conn, user_id(conn, outside), token_id)[1:]:
        assert post(client, path, **data).status_code == 404, path
    for path, data in _every_post(conn, 2_000_000_000, 2_000_000_000)[1:]:
        assert post(client, path, **data).status_code == 404, path  # the same as a missing one
    assert post(client, f"{PAGE}/users/99999999999/role", role="viewer").status_code == 404
    for org in ("zj.hz", "zj", "zj.nbx", "nope"):
        refused = post(client, f"{PAGE}/users", name="hz-newcomer", org=org, role="viewer")
        assert refused.status_code == 403, org
    assert _state(conn) == before
    assert conn.scalar(sa.text("SELECT count(*) FROM users WHERE name = 'hz-newcomer'")) == 0


def test_an_admin_cannot_change_or_deactivate_themselves(client, conn, admin):
    me = user_id(conn, admin)
    before = _state(conn)
    for path, data in [
        (f"{PAGE}/users/{me}/role", {"role": "viewer"}),
        (f"{PAGE}/users/{me}/deactivate", {}),
        (f"{PAGE}/users/{me}/password", {}),
    ]:
        r = post(client, path, **data)
        assert r.status_code == 409 and "自己" in r.get_data(as_text=True), path
    assert _state(conn) == before
    assert client.get(PAGE).status_code == 200  # still logged in, still an admin
    unknown = post(client, f"{PAGE}/users", name="x-root", org="zj.nb", role="superuser")
    assert unknown.status_code == 422 and "不能授予" in unknown.get_data(as_text=True)


def test_every_post_without_the_csrf_token_is_a_400(client, conn, admin, account):  # noqa: F811
    target = account("zj.nb", "viewer")
    token_id, _ = tokens.create_token(conn, user_id(conn, target), FROZEN_NOW)
    before = _state(conn)
    for path, data in _every_post(conn, user_id(conn, target), token_id):
        assert client.post(path, data=data).status_code == 400, path
        assert client.post(path, data={**data, "csrf_token": "forged"}).status_code == 400, path
    assert _state(conn) == before


def test_a_user_name_with_markup_is_shown_escaped(client, conn, admin):
    name = "<script>alert(1)</script>"
    r = post(client, f"{PAGE}/users", name=name, org="zj.nb", role="viewer")
    secret_of(r)
    for page in (r.get_data(as_text=True), client.get(PAGE).get_data(as_text=True)):
        assert name not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    "own, role, ok",
    [("admin", "admin", True), ("admin", "viewer", True), ("editor", "editor", True),
     ("editor", "admin", False), ("viewer", "editor", False), ("admin", "root", False),
     ("root", "viewer", False)],
)  # fmt: skip
def test_nobody_grants_a_role_above_their_own(own, role, ok):
    assert people.may_grant(own, role) is ok


def test_generated_passwords_pass_the_rule_and_differ():
    first, second = people.new_password("clerk"), people.new_password("clerk")
    assert first != second and len(first) >= 20
