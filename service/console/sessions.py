"""Server-side sessions for the console: the cookie holds only a random value.

Flask's `session` under /admin is a row of `console_sessions` (schema/versions/
0014_console.py), keyed by the SHA-256 of the cookie's value; Flask-Login and Flask-WTF
keep their state in it (the user id, the CSRF secret) as they would in a cookie. Elsewhere
there is no session at all: the API never reads one, and the cookie's path is /admin, so
browsers do not even send it to the API.

A session ends after 8 hours without a request or 7 days after it began, at logout, and when
its user's password, role or active state changes (service/access/accounts.py deletes the
rows). `regenerate` gives a session a new id (at login: no session fixation).

Before login there is no row: what an anonymous visitor's session holds (the login form's
CSRF secret, a "please log in" message) travels in a signed cookie of its own
(`yz_console_anon`, signed with SECRET_KEY, 8 hours at most), so that requests without a
cookie cannot grow the table.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

import orjson
import sqlalchemy as sa
from flask import Flask, Request, Response, request, session
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import CallbackDict

from service.core.clock import now
from service.core.db import db

COOKIE = "yz_console"
ANON_COOKIE = "yz_console_anon"
PATH = "/admin"
IDLE = timedelta(hours=8)
ABSOLUTE = timedelta(days=7)
TOUCH_EVERY = timedelta(minutes=1)  # `seen_at` is written at most this often


class ConsoleSession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, token: str | None = None, seen: datetime | None = None):
        def changed(_):
            self.modified = True

        super().__init__(initial, changed)
        self.token = token  # the cookie's value; None until first saved
        self.seen = seen
        self.modified = False
        self.rotate = False


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def regenerate() -> None:
    """A new id for the current session, its data kept but the CSRF secret (call at login:
    a token issued before it is not valid after)."""
    session.pop("csrf_token", None)
    session.rotate = True
    session.modified = True


class PgSessionInterface(SessionInterface):
    def is_null_session(self, obj) -> bool:
        return not isinstance(obj, ConsoleSession)

    def open_session(self, app: Flask, request: Request):
        if not request.path.startswith(PATH):
            return self.make_null_session(app)
        token = request.cookies.get(COOKIE)
        if not token or len(token) > 100:
            return ConsoleSession(_anonymous(app, request))
        at = now()
        with db.writing() as conn:
            row = conn.execute(
                sa.text("SELECT data, created_at, seen_at FROM console_sessions WHERE id = :id"),
                {"id": _key(token)},
            ).first()
            if row is None:  # ended (logout, a password change): anonymous again
                return ConsoleSession(_anonymous(app, request))
            if row.seen_at < at - IDLE or row.created_at < at - ABSOLUTE:
                conn.execute(
                    sa.text("DELETE FROM console_sessions WHERE id = :id"), {"id": _key(token)}
                )
                return ConsoleSession(_anonymous(app, request))
        return ConsoleSession(row.data, token, row.seen_at)

    def save_session(self, app: Flask, sess, response: Response) -> None:
        if self.is_null_session(sess):
            return
        secure = app.config.get("SESSION_COOKIE_SECURE") or _https()
        at = now()
        if sess.token is None and "_user_id" not in sess:
            _save_anonymous(app, sess, response, secure)  # before login: no row
            return
        if not sess:  # emptied (logout): the row goes, the cookie too
            with db.writing() as conn:
                _delete(conn, sess.token)
            response.delete_cookie(COOKIE, path=PATH, secure=secure, httponly=True, samesite="Lax")
            return
        if sess.token is None and request.cookies.get(ANON_COOKIE):  # logging in
            response.delete_cookie(ANON_COOKIE, path=PATH, secure=secure, httponly=True,
                                   samesite="Lax")  # fmt: skip
        stale = sess.seen is None or sess.seen < at - TOUCH_EVERY
        if not (sess.modified or sess.rotate or stale or sess.token is None):
            return
        data = orjson.dumps(dict(sess)).decode()
        user_id = int(sess["_user_id"]) if sess.get("_user_id") else None
        with db.writing() as conn:
            if sess.token is not None and sess.rotate:
                _delete(conn, sess.token)
            if sess.token is None or sess.rotate:
                sess.token = secrets.token_urlsafe(32)
                conn.execute(
                    sa.text(
                        "INSERT INTO console_sessions (id, user_id, data, created_at, seen_at) "
                        "VALUES (:id, :user, CAST(:data AS jsonb), :now, :now)"
                    ),
                    {"id": _key(sess.token), "user": user_id, "data": data, "now": at},
                )
                _prune(conn, at)
            else:
                conn.execute(
                    sa.text(
                        "UPDATE console_sessions SET data = CAST(:data AS jsonb), user_id = :user, "
                        "seen_at = :now WHERE id = :id"
                    ),
                    {"id": _key(sess.token), "user": user_id, "data": data, "now": at},
                )
        response.set_cookie(
            COOKIE,
            sess.token,
            path=PATH,
            httponly=True,
            samesite="Lax",
            secure=secure,
            max_age=int(ABSOLUTE.total_seconds()),
        )


def _signer(app: Flask) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app.secret_key, salt="yizhan-console-anonymous")


def _anonymous(app: Flask, request: Request) -> dict:
    """An anonymous visitor's session data, from its signed cookie (nothing if forged/old)."""
    value = request.cookies.get(ANON_COOKIE)
    if not value or len(value) > 4000:
        return {}
    try:
        data = _signer(app).loads(value, max_age=int(IDLE.total_seconds()))
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def _save_anonymous(app: Flask, sess: ConsoleSession, response: Response, secure: bool) -> None:
    if request.cookies.get(COOKIE):  # the cookie of a session that has ended
        response.delete_cookie(COOKIE, path=PATH, secure=secure, httponly=True, samesite="Lax")
    if not sess:
        if request.cookies.get(ANON_COOKIE):
            response.delete_cookie(ANON_COOKIE, path=PATH, secure=secure, httponly=True,
                                   samesite="Lax")  # fmt: skip
        return
    if sess.modified:
        response.set_cookie(
            ANON_COOKIE,
            _signer(app).dumps(dict(sess)),
            path=PATH,
            httponly=True,
            samesite="Lax",
            secure=secure,
            max_age=int(IDLE.total_seconds()),
        )


def _delete(conn: sa.Connection, token: str) -> None:
    conn.execute(sa.text("DELETE FROM console_sessions WHERE id = :id"), {"id": _key(token)})


def _prune(conn: sa.Connection, at: datetime) -> None:
    """Sessions past their end, removed as new ones begin (a few rows at a time)."""
    conn.execute(
        sa.text(
            "DELETE FROM console_sessions WHERE id IN (SELECT id FROM console_sessions "
            "WHERE seen_at < :idle OR created_at < :absolute LIMIT 100)"
        ),
        {"idle": at - IDLE, "absolute": at - ABSOLUTE},
    )


def _https() -> bool:
    return request.is_secure
