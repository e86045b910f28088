"""Who is using the console: Flask-Login over console accounts, CSRF, and the API's gate.

The console acts with exactly the API's authorization: a logged-in account becomes the same
`Principal` a bearer token gives (service/access/gate.py), so the org-subtree and role checks
and the audit trail (entries name the user) are the API's own. Every state-changing request
under /admin must carry the session's CSRF token (Flask-WTF), in its form or in the
`X-CSRFToken` header (htmx sends it).
"""

import os
import secrets
from pathlib import Path

from flask import Flask, abort, current_app, g, render_template, request
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from service.access import accounts, gate
from service.access.tokens import Principal
from service.console.sessions import PgSessionInterface
from service.core import vocabulary
from service.core.db import db
from service.core.headers import page_csp, page_headers
from service.sites import store

login_manager = LoginManager()
csrf = CSRFProtect()

# Forms post to this origin only.
CSP = page_csp("'self'")


class ConsoleUser(UserMixin):
    def __init__(self, account: accounts.Account) -> None:
        self.account = account
        self.id = str(account.id)

    def principal(self) -> Principal:
        a = self.account
        return Principal(a.id, a.name, a.role, a.org_id, a.org_code)


@login_manager.user_loader
def _load(user_id: str) -> ConsoleUser | None:
    if not user_id.isdigit():
        return None
    with db.writing() as conn:  # the primary: a deactivation stops a session at once
        found = accounts.account(conn, int(user_id))
    return ConsoleUser(found) if found else None


def init_app(app: Flask) -> None:
    """Server-side sessions, Flask-Login and CSRF for /admin; a secret key if none is set."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _local_secret(app)
    app.session_interface = PgSessionInterface()
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked by the console only
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # as long as the session lives
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.login_message = "请先登录 (please log in)"
    login_manager.session_protection = None  # sessions are server-side and rotated at login
    csrf.init_app(app)


def _local_secret(app: Flask) -> str:
    """SECRET_KEY is unset (a local run): one kept in the instance folder, shared by every
    worker on this machine. Production sets SECRET_KEY (docs: README, Deploy)."""
    path = Path(app.instance_path) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key


def protect() -> None:
    """Before every console request: CSRF on state-changing methods, and the logged-in
    account as the gate's principal."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    if current_user.is_authenticated:
        g.principal = current_user.principal()


# The first (Chinese) label of each code, as core/vocabulary.py keeps them.
KIND_LABELS = {code: words[0] for code, words in vocabulary.KIND_LABELS.items()}
STATUS_LABELS = {code: words[0] for code, words in vocabulary.STATUS_LABELS.items()}


def install(blp) -> None:
    """The console's gate, headers, labels and CSRF page on one of its blueprints."""
    blp.before_request(protect)
    blp.after_request(security_headers)
    blp.app_context_processor(lambda: {"KIND_LABELS": KIND_LABELS, "STATUS_LABELS": STATUS_LABELS})
    blp.errorhandler(CSRFError)(_csrf_refused)


def security_headers(response):
    """Pages hold what a clerk typed and secrets shown once: never stored by a cache."""
    return page_headers(response, CSP, referrer="same-origin", cache="no-store")


def _csrf_refused(error):
    message = "表单已过期，请刷新页面后重试 (the form expired or lacks its CSRF token)"
    return render_template("console/error.html", message=message), 400


def writer() -> None:
    """403 unless the account may write (editor or admin), as the API's gate.WRITERS."""
    if current_user.account.role not in gate.WRITERS:
        abort(403)


def subtree_site(conn, site_id: int) -> dict:
    """A live site's writable state (sites.store.snapshot), 404 outside the account's subtree:
    the console does not say which sites exist elsewhere."""
    state = store.snapshot(conn, site_id)
    if state is None or not gate.principal().covers(state["org"]):
        abort(404)
    return state


def client_address() -> bytes:
    """The HMAC of the client's address (ProxyFix has set remote_addr behind a proxy)."""
    return accounts.address_key(request.remote_addr or "", current_app.config["SECRET_KEY"])
