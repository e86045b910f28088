"""Console accounts: passwords (argon2id), the password rule, login with lockout, deactivation.

A user logs in with a name and a password. Every failure answers the same, whether the name
is unknown, the password wrong or the account locked, so the answer tells nothing about which
accounts exist; an unknown name still costs one argon2 verification, so timing does not tell
either. Five failures in a row lock an account for 15 minutes; more than `ADDRESS_FAILURES`
failures from one client address within 15 minutes refuse that address (counted in
PostgreSQL, so exactly, across every worker). Addresses are kept only as an HMAC with the
server's secret.

Changing a password, a role or deactivating a user ends every console session of that user
(schema/versions/0014_console.py).
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_LENGTH = 10
MAX_LENGTH = 200
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
ADDRESS_WINDOW = timedelta(minutes=15)
ADDRESS_FAILURES = 20
# zxcvbn's lists are English; what Chinese users pick as often (5201314 "I love you for
# ever", pinyin, QQ numbers, keyboard walks) is added as words of its dictionary.
CHINESE_COMMON = (
    "5201314", "woaini", "1314", "520", "woaini1314", "aini", "zhongguo", "beijing",
    "shanghai", "qwer", "asdf", "abc123", "a123456", "qq123456", "1qaz2wsx", "zxcvbnm",
    "888888", "666666", "147258369", "159357", "baidu", "taobao", "weixin", "yizhan",
    "gonghui", "zhigong", "zhigongzhijia", "qishou", "kuaidi", "waimai",
)  # fmt: skip
_hasher = PasswordHasher()  # argon2id, the library's current parameters
_DUMMY = _hasher.hash("not a password of anyone")


class PasswordRejected(ValueError):
    """A new password that breaks the rule; the message says why, Chinese first."""


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    org_id: int
    org_code: str
    org_name: str


def check_password_rule(password: str, name: str = "") -> None:
    """At least 10 characters, not too long, and not a common or guessable one (zxcvbn, which
    knows the common-password lists, score 3 of 4 at least)."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"密码至少 {MIN_LENGTH} 个字符 (at least {MIN_LENGTH} characters)")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"密码最多 {MAX_LENGTH} 个字符 (at most {MAX_LENGTH} characters)")
    if zxcvbn(password[:100], user_inputs=[name, "驿站", *CHINESE_COMMON])["score"] < 3:
        raise PasswordRejected(
            "密码太常见或太容易猜到，请换一个更长、更少见的 (too common or too easy to guess)"
        )


def set_password(conn: sa.Connection, user_id: int, password: str, now: datetime) -> None:
    """Store the hash of a password that passed the rule; ends the user's sessions."""
    conn.execute(
        sa.text(
            "UPDATE users SET password_hash = :hash, password_changed_at = :now, "
            "failed_logins = 0, locked_until = NULL WHERE id = :id"
        ),
        {"hash": _hasher.hash(password), "now": now, "id": user_id},
    )
    end_sessions(conn, user_id)


def end_sessions(conn: sa.Connection, user_id: int) -> int:
    """Log a user out of every console session; returns how many there were."""
    return conn.execute(
        sa.text("DELETE FROM console_sessions WHERE user_id = :id"), {"id": user_id}
    ).rowcount


def deactivate(conn: sa.Connection, user_id: int, now: datetime) -> None:
    conn.execute(
        sa.text("UPDATE users SET disabled_at = :now WHERE id = :id AND disabled_at IS NULL"),
        {"now": now, "id": user_id},
    )
    end_sessions(conn, user_id)


def address_key(address: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).digest()


def address_refused(conn: sa.Connection, key: bytes, now: datetime) -> bool:
    """Has this address failed too often within the window? Takes a lock on the address for
    the caller's transaction, so that concurrent attempts from it are counted one by one
    (each then waits for the one before it to record its failure)."""
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(:k)"),
        {"k": int.from_bytes(key[:8], "big", signed=True)},
    )
    conn.execute(
        sa.text("DELETE FROM login_failures WHERE at < :since"), {"since": now - ADDRESS_WINDOW}
    )
    failures = conn.scalar(
        sa.text("SELECT count(*) FROM login_failures WHERE address = :a AND at >= :since"),
        {"a": key, "since": now - ADDRESS_WINDOW},
    )
    return failures >= ADDRESS_FAILURES


_ACCOUNT = """
    SELECT u.id, u.name, u.role, u.org_id, o.code::text AS org_code, o.name AS org_name
    FROM users u JOIN orgs o ON o.id = u.org_id
"""


def log_in(
    conn: sa.Connection, name: str, password: str, address: bytes, now: datetime
) -> Account | None:
    """The account when `name` and `password` match an active, unlocked user; None otherwise
    (and the failure is counted against the account and the address)."""
    row = conn.execute(
        sa.text(
            "SELECT id, password_hash, locked_until FROM users "
            "WHERE name = :name AND password_hash IS NOT NULL AND disabled_at IS NULL "
            "FOR UPDATE"
        ),
        {"name": name},
    ).first()
    ok = _verify(row.password_hash if row else _DUMMY, password[:MAX_LENGTH])
    locked = row is not None and row.locked_until is not None and row.locked_until > now
    if row is None or not ok or locked:
        conn.execute(
            sa.text("INSERT INTO login_failures (address, at) VALUES (:a, :now)"),
            {"a": address, "now": now},
        )
        if row is not None and not locked:
            conn.execute(
                # The fifth failure in a row locks the account and starts the count again.
                sa.text(
                    "UPDATE users SET "
                    "failed_logins = CASE WHEN failed_logins + 1 >= :n THEN 0 "
                    "ELSE failed_logins + 1 END, "
                    "locked_until = CASE WHEN failed_logins + 1 >= :n "
                    "THEN CAST(:until AS timestamptz) END "
                    "WHERE id = :id"
                ),
                {"n": LOCK_AFTER, "until": now + LOCK_FOR, "id": row.id},
            )
        return None
    updates = {"id": row.id}
    sql = "UPDATE users SET failed_logins = 0, locked_until = NULL"
    if _hasher.check_needs_rehash(row.password_hash):
        sql += ", password_hash = :hash"
        updates["hash"] = _hasher.hash(password)
    conn.execute(sa.text(sql + " WHERE id = :id"), updates)
    return account(conn, row.id)


def password_matches(conn: sa.Connection, user_id: int, password: str) -> bool:
    """Does `password` match the user's current one? (Changing a password asks for it; a
    locked account may still change its own.)"""
    hashed = conn.scalar(
        sa.text("SELECT password_hash FROM users WHERE id = :id AND password_hash IS NOT NULL"),
        {"id": user_id},
    )
    return hashed is not None and _verify(hashed, password[:MAX_LENGTH])


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def account(conn: sa.Connection, user_id: int) -> Account | None:
    """An active user who may use the console (has a password), or None."""
    row = conn.execute(
        sa.text(
            _ACCOUNT + "WHERE u.id = :id AND u.disabled_at IS NULL AND u.password_hash IS NOT NULL"
        ),
        {"id": user_id},
    ).first()
    return Account(*row) if row else None


def by_name(conn: sa.Connection, name: str) -> Account | None:
    row = conn.execute(sa.text(_ACCOUNT + "WHERE u.name = :name ORDER BY u.id"), {"name": name})
    rows = row.all()
    if len(rows) != 1:
        return None
    return Account(*rows[0])
