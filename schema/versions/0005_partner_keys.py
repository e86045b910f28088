"""Partner API keys for map apps: a name, a per-minute quota, requests counted per day.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        -- Only a SHA-256 of each key is kept; the key is shown once. Keys are not admin
        -- credentials: they open public reads at a higher quota, nothing else.
        CREATE TABLE partner_keys (
            id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
            key_hash   bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
            per_minute integer NOT NULL CHECK (per_minute > 0),
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz
        );
        CREATE TABLE partner_key_usage (
            key_id   integer NOT NULL REFERENCES partner_keys ON DELETE CASCADE,
            day      date NOT NULL,
            requests bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (key_id, day)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE partner_key_usage, partner_keys")
