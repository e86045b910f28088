"""Users and their API tokens (the `yizhan users` and `yizhan tokens` commands use these)."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from service.access import auth
from service.core.models import ROLES, ApiToken, Org, User


class IdentityError(ValueError):
    pass


def org_id(conn: sa.Connection, code: str) -> int:
    found = conn.scalar(sa.select(Org.id).where(Org.code == code))
    if found is None:
        raise IdentityError(f"no org {code}")
    return found


def ensure_user(conn: sa.Connection, org_code: str, name: str, role: str) -> int:
    """Create the user (or set its role); returns its id."""
    if role not in ROLES:
        raise IdentityError(f"role must be one of {', '.join(ROLES)}")
    stmt = insert(User).values(org_id=org_id(conn, org_code), name=name, role=role)
    stmt = stmt.on_conflict_do_update(index_elements=[User.org_id, User.name], set_={"role": role})
    return conn.scalar(stmt.returning(User.id))


def create_token(
    conn: sa.Connection,
    user_id: int,
    now: datetime,
    expires_in: timedelta | None = None,
    label: str | None = None,
) -> tuple[int, str]:
    """(token id, the token itself): the only time the token is ever visible."""
    token, digest = auth.new_token()
    token_id = conn.scalar(
        sa.insert(ApiToken)
        .values(
            user_id=user_id,
            token_hash=digest,
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
