"""The staff console's account pages and dashboard: /admin/login, logout, password, /admin/.

Server-rendered (Jinja2 autoescapes every value), Chinese first. The site pages are in
console/site_pages.py; both blueprints share the console's before-request gate (CSRF, the
account as the API's principal) and its security headers.
"""

import logging
import os
from pathlib import Path

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from service.access import accounts
from service.console import auth, queries
from service.console.sessions import regenerate
from service.core.api import PageBlueprint
from service.core.clock import now
from service.core.db import db

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
# htmx comes from npm (web/package-lock.json), as MapLibre does; HTMX_DIST overrides the place.
HTMX = Path(os.environ.get("HTMX_DIST") or REPO / "web" / "node_modules" / "htmx.org" / "dist")
FAILED = "用户名或密码错误，或已因多次失败暂时锁定 15 分钟 (wrong user name or password, or locked)"
TOO_MANY = "此地址登录失败次数过多，请 15 分钟后再试 (too many failed logins from this address)"

blp = PageBlueprint(
    "console",
    __name__,
    url_prefix="/admin",
    description="The staff console (HTML, not part of the API).",
    static_folder="static",
    static_url_path="/static",
    template_folder="templates",
)


auth.install(blp)


@blp.get("/assets/htmx.min.js")
def htmx():
    if not (HTMX / "htmx.min.js").is_file():
        abort(404, "htmx is not installed: run `npm ci --prefix web` (make install).")
    return send_from_directory(HTMX, "htmx.min.js", mimetype="text/javascript")


@blp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("console.dashboard"))
        return render_template("console/login.html")
    name = request.form.get("username", "").strip()[:200]
    password = request.form.get("password", "")
    at, address = now(), auth.client_address()
    with db.writing() as conn:
        if accounts.address_refused(conn, address, at):
            return render_template("console/login.html", error=TOO_MANY, username=name), 429
        account = accounts.log_in(conn, name, password, address, at)
    if account is None:
        logger.info("console login refused")
        return render_template("console/login.html", error=FAILED, username=name), 401
    regenerate()
    login_user(auth.ConsoleUser(account))
    return redirect(_safe_next(request.args.get("next")))


def _safe_next(target: str | None) -> str:
    """Only a path of the console itself (no open redirect)."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("console.dashboard")


@blp.post("/logout")
def logout():
    logout_user()
    session.clear()  # the row goes and the cookie with it (console/sessions.py)
    return redirect(url_for("console.login"))


@blp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    if request.method == "GET":
        return render_template("console/password.html")
    old, new, again = (request.form.get(k, "") for k in ("old", "new", "again"))
    errors = {}
    with db.writing() as conn:
        me = current_user.account
        if not accounts.password_matches(conn, me.id, old):
            errors["old"] = "当前密码不对 (the current password is wrong)"
        elif new != again:
            errors["again"] = "两次输入的新密码不一致 (the new passwords differ)"
        else:
            try:
                accounts.check_password_rule(new, me.name)
            except accounts.PasswordRejected as exc:
                errors["new"] = str(exc)
        if errors:
            return render_template("console/password.html", errors=errors), 422
        accounts.set_password(conn, me.id, new, now())  # ends every session of the user
    regenerate()
    login_user(auth.ConsoleUser(me))  # this browser stays logged in, with a new session
    flash("密码已修改，其他设备上的登录已退出 (password changed; other sessions ended)")
    return redirect(url_for("console.dashboard"))


@blp.get("/")
@login_required
def dashboard():
    org = current_user.account.org_code
    with db.reading(primary=True) as conn:
        counts = queries.dashboard(conn, org, now())
    table: dict[str, dict[str, int]] = {}
    for kind, status, n in counts["by_kind_status"]:
        table.setdefault(kind, {})[status] = n
    return render_template(
        "console/dashboard.html",
        counts=counts,
        table=table,
        stale_days=queries.STALE_DAYS,
        secure=current_app.config.get("SESSION_COOKIE_SECURE"),
    )
