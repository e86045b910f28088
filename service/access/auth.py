"""Bearer tokens for union admins: who is calling, with which role, over which org subtree.

A token is 32 random bytes shown once; only its SHA-256 is stored. Every failure to
authenticate looks the same to the caller (401), so the answer tells nothing about
which tokens exist.
"""

import functools
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import g, request
from flask_smorest import abort

from service.core.db import db
from service.core.http import now
from service.core.models import ApiToken, Org, User

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "yz_"
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
CHALLENGE = 'Bearer realm="yizhan"'
BEARER = [{"bearerAuth": []}]


@dataclass(frozen=True)
class Principal:
    user_id: int
    user_name: str
    role: str
    org_id: int
    org_code: str

    def covers(self, org_code: str) -> bool:
        """Is `org_code` this principal's org or below it?"""
        return org_code == self.org_code or org_code.startswith(self.org_code + ".")


def new_token() -> tuple[str, bytes]:
    """(token to show once, hash to store)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


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
        row = conn.execute(
            sa.select(
                ApiToken.id.label("token_id"),
                ApiToken.expires_at,
                ApiToken.revoked_at,
                ApiToken.last_used_at,
                User.id.label("user_id"),
                User.name,
                User.role,
                User.disabled_at,
                Org.id.label("org_id"),
                Org.code,
            )
            .join(User, User.id == ApiToken.user_id)
            .join(Org, Org.id == User.org_id)
            .where(ApiToken.token_hash == digest(token.strip()))
        ).first()
        if (
            row is None
            or row.revoked_at is not None
            or row.disabled_at is not None
            or (row.expires_at is not None and row.expires_at <= at)
        ):
            _unauthorized("The token is invalid, expired or revoked.", "invalid_token")
        if row.last_used_at is None or at - row.last_used_at >= LAST_USED_RESOLUTION:
            conn.execute(
                sa.update(ApiToken).where(ApiToken.id == row.token_id).values(last_used_at=at)
            )
    return Principal(row.user_id, row.name, row.role, row.org_id, row.code)


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
