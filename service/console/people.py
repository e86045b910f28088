"""The console's reads and writes for users and API tokens of an org subtree (admins only).

Every lookup is bounded in SQL by the org subtree of the acting admin (`org` is its code):
a user or token outside it is not found, exactly like one that does not exist. The rules on
roles are here too, so the views only ask. Token values and password hashes are never read.
"""

import secrets
from datetime import datetime

import sqlalchemy as sa

from service.access import accounts

# viewer < editor < admin: nobody grants a role above their own.
RANK = {"viewer": 1, "editor": 2, "admin": 3}
NAME_MAX = 100  # users.name CHECK (length(name) BETWEEN 1 AND 100)
LIST_LIMIT = 1000
_SUBTREE = "o.code <@ CAST(:org AS ltree)"


def may_grant(own_role: str, role: str) -> bool:
    """May someone with `own_role` give `role` to a user? Only a known role, not above theirs."""
    return role in RANK and own_role in RANK and RANK[role] <= RANK[own_role]


def new_password(name: str) -> str:
    """A random password (about 96 bits) that passes the console's password rule."""
    while True:
        password = "-".join(secrets.token_urlsafe(4) for _ in range(4))
        try:
            accounts.check_password_rule(password, name)
        except accounts.PasswordRejected:
            continue  # a random one is practically never refused; try another
        return password


def users(conn: sa.Connection, org: str, limit: int = LIST_LIMIT) -> list[sa.Row]:
    """Users of the subtree with their org, role and state; never a password hash."""
    return conn.execute(
        sa.text(
            "SELECT u.id, u.name, u.role, o.code::text AS org_code, o.name AS org_name, "
            "u.created_at, u.disabled_at, u.password_hash IS NOT NULL AS has_password, "
            "u.password_changed_at, "
            "(SELECT max(s.seen_at) FROM console_sessions s WHERE s.user_id = u.id) AS seen_at "
            f"FROM users u JOIN orgs o ON o.id = u.org_id WHERE {_SUBTREE} "
            "ORDER BY o.code, u.name, u.id LIMIT :limit"
        ),
        {"org": org, "limit": limit},
    ).all()


def tokens(conn: sa.Connection, org: str, limit: int = LIST_LIMIT) -> list[sa.Row]:
    """API tokens of the subtree's users (never the tokens or their hashes), newest first."""
    return conn.execute(
        sa.text(
            "SELECT t.id, t.label, t.created_at, t.expires_at, t.last_used_at, t.revoked_at, "
            "u.id AS user_id, u.name AS user_name, u.role, u.disabled_at, "
            "o.code::text AS org_code, o.name AS org_name "
            "FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org_id "
            f"WHERE {_SUBTREE} ORDER BY t.id DESC LIMIT :limit"
        ),
        {"org": org, "limit": limit},
    ).all()


def user(conn: sa.Connection, org: str, user_id: int) -> sa.Row | None:
    """One user of the subtree (locked for the change that follows), or None."""
    return conn.execute(
        sa.text(
            "SELECT u.id, u.name, u.role, u.disabled_at, o.code::text AS org_code, "
            "o.name AS org_name "
            f"FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = :id AND {_SUBTREE} "
            "FOR UPDATE OF u"
        ),
        {"id": user_id, "org": org},
    ).first()


def token(conn: sa.Connection, org: str, token_id: int) -> sa.Row | None:
    """One token of a user of the subtree (id, label, revoked_at, user_name), or None."""
    return conn.execute(
        sa.text(
            "SELECT t.id, t.label, t.revoked_at, u.name AS user_name "
            "FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org_id "
            f"WHERE t.id = :id AND {_SUBTREE} FOR UPDATE OF t"
        ),
        {"id": token_id, "org": org},
    ).first()


TAKEN = "登录名已被其他组织的用户使用，登录名须唯一 (the login name is taken: it must be unique)"


class NameTaken(ValueError):
    """The login name cannot be used; the message says why, Chinese first."""


def add_user(
    conn: sa.Connection, org_id: int, name: str, role: str, password: str, now: datetime
) -> int:
    """A new console user of the org with `password`; returns its id. An add never changes an
    existing user (unlike `users.ensure_user`): a name the org already has, or a login name
    another org's console user has (users_login_name), is a NameTaken and nothing is written."""
    with conn.begin_nested():
        user_id = conn.scalar(
            sa.text(
                "INSERT INTO users (org_id, name, role, created_at) "
                "VALUES (:org, :name, :role, :now) ON CONFLICT (org_id, name) DO NOTHING "
                "RETURNING id"
            ),
            {"org": org_id, "name": name, "role": role, "now": now},
        )
        if user_id is None:
            raise NameTaken("该组织已有同名用户 (this org already has a user of that name)")
        _set_password(conn, user_id, password, now)
    return user_id


def reset_password(conn: sa.Connection, user_id: int, name: str, now: datetime) -> str:
    """A new generated password for the user (ending its sessions); returns it, to show once."""
    password = new_password(name)
    _set_password(conn, user_id, password, now)
    return password


def _set_password(conn: sa.Connection, user_id: int, password: str, now: datetime) -> None:
    try:
        with conn.begin_nested():
            accounts.set_password(conn, user_id, password, now)
    except sa.exc.IntegrityError as exc:
        if "users_login_name" not in str(exc.orig):
            raise
        raise NameTaken(TAKEN) from None
