"""The console's accounts: login, lockout, sessions kept server-side, CSRF, password changes,
deactivation, and `yizhan users add|passwd --password-stdin`."""

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.access import accounts, users
from service.console.sessions import COOKIE
from tests.conftest import FROZEN_NOW

PASSWORD = "青山绿水-驿站-2026-safe"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture()
def account(conn):
    """`account(org, role)`: a console user with PASSWORD; returns its name."""

    def make(org: str = "zj.nb", role: str = "editor") -> str:
        name = f"clerk-{uuid.uuid4().hex[:8]}"
        user_id = users.ensure_user(conn, org, name, role)
        accounts.set_password(conn, user_id, PASSWORD, FROZEN_NOW)
        return name

    return make


def csrf(client, path: str = "/admin/login") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return TOKEN.search(page.get_data(as_text=True)).group(1)


def log_in(client, name: str, password: str = PASSWORD, **environ):
    token = csrf(client)
    return client.post(
        "/admin/login",
        data={"username": name, "password": password, "csrf_token": token},
        environ_base=environ,
    )


def cookie(client) -> str | None:
    found = client.get_cookie(COOKIE, path="/admin")
    return found.value if found else None


def test_the_login_page_is_chinese_html_with_a_strict_csp(client):
    r = client.get("/admin/login")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "登录" in page
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "<script>" not in page and " style=" not in page
    set_cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/admin" in set_cookie


def test_a_login_sets_a_new_session_id_and_opens_the_dashboard(client, conn, account):
    name = account()
    csrf(client)
    before = cookie(client)
    r = log_in(client, name)
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/")
    after = cookie(client)
    assert after and after != before  # no session fixation
    stored = conn.execute(sa.text("SELECT id, user_id, data FROM console_sessions")).all()
    assert after.encode() not in b"".join(bytes(r.id) for r in stored)  # only its hash is kept
    page = client.get("/admin/").get_data(as_text=True)
    assert name in page and "概览" in page and "个站点" in page


def test_unknown_user_and_wrong_password_get_the_same_answer(client, account):
    name = account()
    wrong = log_in(client, name, "not-the-password-123")
    unknown = log_in(client, "nobody-" + name, PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    message = "用户名或密码错误"
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_five_failures_lock_the_account_for_15_minutes(client, app, account, monkeypatch):
    name = account()
    for _ in range(5):
        assert log_in(client, name, "wrong-password-000").status_code == 401
    assert log_in(client, name).status_code == 401  # the right password, but locked
    later = FROZEN_NOW + timedelta(minutes=16)
    monkeypatch.setitem(app.config, "NOW", lambda: later)
    assert log_in(client, name).status_code == 302


def test_one_address_is_refused_after_20_failures(client, account):
    name = account()
    for n in range(accounts.ADDRESS_FAILURES):
        log_in(client, f"guess-{n}", "wrong-password-000")
    refused = log_in(client, name)
    assert refused.status_code == 429 and "次数过多" in refused.get_data(as_text=True)
    other = log_in(client, name, REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 302  # counted per address


def test_a_post_without_the_csrf_token_is_refused(client, conn, account):
    name = account()
    r = client.post("/admin/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    assert log_in(client, name).status_code == 302
    before = conn.scalar(sa.text("SELECT count(*) FROM sites"))
    r = client.post("/admin/sites/new", data={"name": "无令牌", "kind": "station"})
    assert r.status_code == 400
    assert conn.scalar(sa.text("SELECT count(*) FROM sites")) == before


def test_logout_ends_the_session_on_the_server(client, account):
    name = account()
    log_in(client, name)
    old = cookie(client)
    token = csrf(client, "/admin/")
    r = client.post("/admin/logout", data={"csrf_token": token})
    assert r.status_code == 302 and cookie(client) is None
    client.set_cookie(COOKIE, old, path="/admin")  # a copy of the cookie kept elsewhere
    assert client.get("/admin/").status_code == 302  # to the login page: the row is gone


def test_a_password_change_ends_the_other_sessions(app, conn, client, account):
    name = account()
    other = app.test_client()
    log_in(client, name)
    log_in(other, name)
    token = csrf(client, "/admin/password")
    weak = client.post(
        "/admin/password",
        data={"old": PASSWORD, "new": "1234567890", "again": "1234567890", "csrf_token": token},
    )
    assert weak.status_code == 422 and "太常见" in weak.get_data(as_text=True)
    new = "长江后浪推前浪-2027-ok"
    r = client.post(
        "/admin/password", data={"old": PASSWORD, "new": new, "again": new, "csrf_token": token}
    )
    assert r.status_code == 302
    assert client.get("/admin/").status_code == 200  # this browser stays in
    assert other.get("/admin/").status_code == 302  # the other one is out
    assert log_in(other, name, new).status_code == 302


def test_deactivation_and_a_role_change_stop_sessions_at_once(app, conn, client, account, yizhan):
    name = account()
    log_in(client, name)
    assert client.get("/admin/").status_code == 200
    result = yizhan("users", "add", "--org", "zj.nb", "--role", "viewer", name)
    assert result.exit_code == 0, result.output
    assert client.get("/admin/").status_code == 302
    log_in(client, name)
    assert yizhan("users", "deactivate", name).exit_code == 0
    assert client.get("/admin/").status_code == 302
    assert log_in(client, name).status_code == 401


def test_users_add_and_passwd_read_the_password_from_stdin(app, conn, client, yizhan):
    from flask.cli import ScriptInfo

    from service.ops.cli import main

    def run(*args, stdin: str):
        runner = app.test_cli_runner()
        return runner.invoke(main, list(args), input=stdin, obj=ScriptInfo(create_app=lambda: app))

    name = f"admin-{uuid.uuid4().hex[:6]}"
    weak = run("users", "add", "--org", "zj", "--role", "admin", name, "--password-stdin",
               stdin="password1\n")  # fmt: skip
    assert weak.exit_code != 0 and "至少 10 个字符" in weak.output
    ok = run("users", "add", "--org", "zj", "--role", "admin", name, "--password-stdin",
             stdin=PASSWORD + "\n")  # fmt: skip
    assert ok.exit_code == 0 and "console password" in ok.output, ok.output
    assert log_in(client, name).status_code == 302
    new = "浙江-舟山-定海-东门-42"
    assert run("users", "passwd", name, "--password-stdin", stdin=new + "\n").exit_code == 0
    assert client.get("/admin/").status_code == 302  # its sessions ended
    assert log_in(client, name, new).status_code == 302
    same = run("users", "add", "--org", "zj.nb", "--role", "editor", name, "--password-stdin",
               stdin=PASSWORD + "\n")  # fmt: skip
    assert same.exit_code != 0 and "unique" in same.output  # login names are unique
    stored = conn.scalar(
        sa.text("SELECT password_hash FROM users WHERE name = :n AND password_hash IS NOT NULL"),
        {"n": name},
    )
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize(
    "password, ok",
    [("short", False), ("1234567890", False), ("password123", False), ("qwertyuiop", False),
     ("5201314woaini", False), (PASSWORD, True), ("tea-kettle-on-the-third-shelf", True)],
)  # fmt: skip
def test_the_password_rule(password, ok):
    if ok:
        accounts.check_password_rule(password, "clerk")
    else:
        with pytest.raises(accounts.PasswordRejected):
            accounts.check_password_rule(password, "clerk")


def test_the_demo_admin_gets_a_fresh_password_printed_once(client, yizhan):
    first = yizhan("users", "demo-admin", "--url", "http://127.0.0.1:8000/admin/")
    assert first.exit_code == 0, first.output
    password = first.output.split("password: ")[1].split()[0]
    assert log_in(client, "demo-admin", password).status_code == 302
    second = yizhan("users", "demo-admin").output.split("password: ")[1].split()[0]
    assert second != password
    assert client.get("/admin/").status_code == 302  # the old session ended with the old password


def test_visitors_who_do_not_log_in_leave_no_row(app, conn):
    count = sa.text("SELECT count(*) FROM console_sessions")
    before = conn.scalar(count)
    for _ in range(5):
        fresh = app.test_client()  # no cookie, as a script would send
        assert fresh.get("/admin/login").status_code == 200
        assert fresh.get("/admin/").status_code == 302
    assert conn.scalar(count) == before


def test_a_token_issued_before_login_is_not_valid_after(client, account):
    name = account()
    before = csrf(client)
    log_in(client, name)
    r = client.post("/admin/logout", data={"csrf_token": before})
    assert r.status_code == 400  # the CSRF secret changed with the session id


def test_a_malformed_org_in_the_list_falls_back_to_ones_own(client, account):
    log_in(client, account("zj.nb", "viewer"))
    for org in ("zj.nb.", "zj.nb..x", "zj.nb.a b", "zj.nb.!!"):
        assert client.get("/admin/sites", query_string={"org": org}).status_code == 200, org
        r = client.get("/admin/sites/export.csv", query_string={"org": org})
        assert r.status_code == 200, org
