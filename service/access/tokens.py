"""Bearer tokens of union admins: made, listed, revoked, and looked up to a principal.

A token is 32 random bytes shown once; only its SHA-256 is stored. `yizhan tokens ...`
manages them; `gate.authenticate` turns a request's token into a Principal.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from service.core import orgs
from service.core.models import ApiToken, Org, User

TOKEN_PREFIX = "yz_"
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user of one org, with a role over that org's subtree."""

    user_id: int
    user_name: str
    role: str
    org_id: int
    org_code: str

    def covers(self, org_code: str) -> bool:
        """Is `org_code` this principal's org or below it?"""
        return orgs.covers(self.org_code, org_code)


def new_token() -> tuple[str, bytes]:
    """(token to show once, hash to store)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def lookup(conn: sa.Connection, token: str, at: datetime) -> Principal | None:
    """The principal of a live token (noting its use), or None: unknown, expired, revoked,
    or its user disabled."""
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
        .where(ApiToken.token_hash == digest(token))
    ).first()
    if (
        row is None
        or row.revoked_at is not None
        or row.disabled_at is not None
        or (row.expires_at is not None and row.expires_at <= at)
    ):
        return None
    if row.last_used_at is None or at - row.last_used_at >= LAST_USED_RESOLUTION:
        conn.execute(sa.update(ApiToken).where(ApiToken.id == row.token_id).values(last_used_at=at))
    return Principal(row.user_id, row.name, row.role, row.org_id, row.code)


def create_token(
    conn: sa.Connection,
    user_id: int,
    now: datetime,
    expires_in: timedelta | None = None,
    label: str | None = None,
) -> tuple[int, str]:
    """(token id, the token itself): the only time the token is ever visible."""
    token, hashed = new_token()
    token_id = conn.scalar(
        sa.insert(ApiToken)
        .values(
            user_id=user_id,
            token_hash=hashed,
            label=label,
            created_at=now,
            expires_at=now + expires_in if expires_in else None,
        )
        .returning(ApiToken.id)
    )
    return token_id, token


def list_tokens(conn: sa.Connection, org_code: str | None = None) -> list[sa.Row]:
    stmt = (
        sa.select(
            ApiToken.id,
            Org.code,
            User.name,
            User.role,
            ApiToken.label,
            ApiToken.created_at,
            ApiToken.expires_at,
            ApiToken.last_used_at,
            ApiToken.revoked_at,
        )
        .join(User, User.id == ApiToken.user_id)
        .join(Org, Org.id == User.org_id)
        .order_by(ApiToken.id)
    )
    if org_code:
        stmt = stmt.where(Org.code.descendant_of(org_code))
    return conn.execute(stmt).all()


def revoke_token(conn: sa.Connection, token_id: int, now: datetime) -> bool:
    result = conn.execute(
        sa.update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1
