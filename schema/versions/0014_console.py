"""The staff console's accounts: passwords, lockout, server-side sessions.

- `users` gain an argon2id `password_hash` (a user without one cannot log in: API-token users),
  the time it last changed, and the lockout counters (5 failures lock the account for 15
  minutes). Login names are unique among the users who have a password.
- `console_sessions`: one row per logged-in browser session (before login, what a visitor's
  session holds travels in a signed cookie: console/sessions.py). The cookie holds only a
  random value;
  the row is keyed by its SHA-256, so a read of this table gives no usable cookie. Deleting
  a user's rows logs that user out everywhere at once (logout, password or role change,
  deactivation).
- `console_uploads`: a file the import wizard has checked (a dry run) and keeps until the
  clerk commits it or an hour has passed, so it is not uploaded twice.
- `login_failures`: failed logins per client address, as an HMAC of the address with the
  server's secret (never the address itself), for the per-address limit; rows older than
  the window are deleted as new ones come.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE users
            ADD COLUMN password_hash text CHECK (password_hash LIKE '$argon2id$%'),
            ADD COLUMN password_changed_at timestamptz,
            ADD COLUMN failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
            ADD COLUMN locked_until timestamptz;
        CREATE UNIQUE INDEX users_login_name ON users (name) WHERE password_hash IS NOT NULL;
        CREATE TABLE console_sessions (
            id         bytea PRIMARY KEY CHECK (length(id) = 32),
            user_id    integer REFERENCES users ON DELETE CASCADE,
            data       jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL,
            seen_at    timestamptz NOT NULL
        );
        CREATE INDEX console_sessions_user ON console_sessions (user_id);
        CREATE INDEX console_sessions_seen ON console_sessions (seen_at);
        CREATE TABLE login_failures (
            address bytea NOT NULL CHECK (length(address) = 32),
            at      timestamptz NOT NULL
        );
        CREATE INDEX login_failures_address ON login_failures (address, at);
        CREATE TABLE console_uploads (
            id         bytea PRIMARY KEY CHECK (length(id) = 16),
            user_id    integer NOT NULL REFERENCES users ON DELETE CASCADE,
            filename   text NOT NULL,
            media_type text NOT NULL,
            org        text NOT NULL,
            crs        text NOT NULL,
            body       bytea NOT NULL,
            created_at timestamptz NOT NULL
        );
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE console_uploads, login_failures, console_sessions;
        DROP INDEX users_login_name;
        ALTER TABLE users DROP COLUMN password_hash, DROP COLUMN password_changed_at,
            DROP COLUMN failed_logins, DROP COLUMN locked_until;
        """
    )
