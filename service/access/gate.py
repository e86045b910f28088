"""The one gate: who is calling, and may this principal do this to that org's thing.

Every failure to authenticate looks the same to the caller (401), so the answer tells
nothing about which tokens exist. Acting outside one's org subtree is a 403 (API.md),
decided before any org is looked up, so it tells nothing about which orgs exist either.
"""

import functools
from datetime import datetime

import sqlalchemy as sa
from flask import g, request
from flask_smorest import abort

from service.access import tokens
from service.access.tokens import Principal
from service.core import orgs
from service.core.clock import now
from service.core.db import db

CHALLENGE = 'Bearer realm="yizhan"'
BEARER = [{"bearerAuth": []}]
READERS = ("admin", "editor", "viewer")
WRITERS = ("admin", "editor")


def _unauthorized(detail: str, error: str | None = None) -> None:
    challenge = CHALLENGE + (f', error="{error}"' if error else "")
    abort(401, message=detail, headers={"WWW-Authenticate": challenge})


def authenticate(at: datetime) -> Principal:
    """The caller's principal from `Authorization: Bearer ...`, or a 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        _unauthorized("A bearer token is required.")
    with db.writing() as conn:  # the primary: a revoked token must stop working at once
        found = tokens.lookup(conn, token.strip(), at)
    if found is None:
        _unauthorized("The token is invalid, expired or revoked.", "invalid_token")
    return found


def required(*roles: str):
    """Decorator: authenticate, then allow only `roles` (403 for the others)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = authenticate(now())
            if principal.role not in roles:
                abort(403, message=f"Your role ({principal.role}) may not do this.")
            g.principal = principal
            return view(*args, **kwargs)

        return wrapper

    return decorate


def principal() -> Principal:
    return g.principal


def check(org_code: str) -> None:
    """403 unless `org_code` is in the caller's subtree."""
    if not principal().covers(org_code):
        abort(403, message=f"{org_code} is not in your org subtree.")


def writable_org(conn: sa.Connection, code: str) -> int:
    """The id of an org the caller may write to: 403 outside the caller's subtree, 422
    naming `org` when no such org exists inside it."""
    check(code)
    found = orgs.org_id(conn, code)
    if found is None:
        abort(422, messages={"json": {"org": [f"No org {code}."]}})
    return found


def in_subtree(org_code: str | None, what: str) -> None:
    """404 for a thing (`what`, e.g. "site 7") that is missing or outside the caller's
    subtree: readers are not told which."""
    if org_code is None or not principal().covers(org_code):
        abort(404, message=f"No {what} in your subtree.")
