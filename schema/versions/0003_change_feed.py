"""Change feed: every write to `sites` appends to `change_log`, with its transaction id.

A reader returns only rows of transactions older than the oldest one still running
(`pg_snapshot_xmin`), in (xid, seq) order, so a transaction that started earlier but
commits later is never skipped (see service/changes/queries.py).

Statement-level triggers with transition tables log every write path (the API, imports,
the seed and COPY) at the cost of one extra INSERT per statement.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE change_log (
            seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            xid     xid8 NOT NULL DEFAULT pg_current_xact_id(),
            site_id bigint NOT NULL,
            op      text NOT NULL CHECK (op IN ('upsert', 'delete')),
            at      timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX change_log_xid_seq ON change_log (xid, seq);

        CREATE FUNCTION log_site_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO change_log (site_id, op)
            SELECT id, CASE WHEN deleted_at IS NULL THEN 'upsert' ELSE 'delete' END
            FROM changed ORDER BY id;
            RETURN NULL;
        END $$;

        CREATE TRIGGER sites_log_insert AFTER INSERT ON sites
            REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION log_site_changes();
        CREATE TRIGGER sites_log_update AFTER UPDATE ON sites
            REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION log_site_changes();

        -- Sites that exist before the feed did are covered by the snapshot a first call gives.
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER sites_log_update ON sites;
        DROP TRIGGER sites_log_insert ON sites;
        DROP FUNCTION log_site_changes();
        DROP TABLE change_log;
        """
    )
