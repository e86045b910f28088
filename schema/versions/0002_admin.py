"""Admin: users and their tokens, the audit trail, idempotent creates, rider reports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE users (
            id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            org_id      integer NOT NULL REFERENCES orgs,
            name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
            role        text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
            created_at  timestamptz NOT NULL DEFAULT now(),
            disabled_at timestamptz,
            UNIQUE (org_id, name)
        );

        -- Only a SHA-256 of each token is kept; the token itself is shown once.
        CREATE TABLE api_tokens (
            id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_id      integer NOT NULL REFERENCES users,
            token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
            label        text,
            created_at   timestamptz NOT NULL DEFAULT now(),
            expires_at   timestamptz,
            last_used_at timestamptz,
            revoked_at   timestamptz
        );

        -- Who changed what, when: one row per create, update, delete or import change.
        CREATE TABLE site_audit (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            site_id    bigint NOT NULL REFERENCES sites,
            user_id    integer REFERENCES users,
            action     text NOT NULL CHECK (action IN ('create', 'update', 'delete', 'import')),
            changes    jsonb NOT NULL,
            version    integer NOT NULL,
            at         timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX site_audit_site ON site_audit (site_id, id);

        -- A retried create with the same Idempotency-Key returns the first answer.
        CREATE TABLE idempotency_keys (
            user_id      integer NOT NULL REFERENCES users,
            key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
            request_hash text NOT NULL,
            status       integer,
            body         jsonb,
            site_id      bigint REFERENCES sites,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, key)
        );

        CREATE TABLE reports (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            site_id     bigint NOT NULL REFERENCES sites,
            category    text NOT NULL CHECK (category IN ('closed_but_listed_open',
                            'amenity_missing', 'wrong_location', 'other')),
            comment     text CHECK (length(comment) <= 500),
            status      text NOT NULL DEFAULT 'open'
                            CHECK (status IN ('open', 'resolved', 'rejected')),
            created_at  timestamptz NOT NULL DEFAULT now(),
            resolved_at timestamptz,
            resolved_by integer REFERENCES users,
            note        text CHECK (length(note) <= 500)
        );
        CREATE INDEX reports_site_status ON reports (site_id, status);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE reports, idempotency_keys, site_audit, api_tokens, users")
