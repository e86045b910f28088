"""Open state by one index probe: the first interval of a pattern that ends after `t`.

Each nearby site's open state is its pattern's first materialised interval not yet over.
Through the exclusion constraint's GiST index that meant every interval of the pattern
that overlaps [t, infinity) (about 13 with a 14-day horizon), sorted: 0.5 ms of a 2.4 ms
nearby statement at 1e6 sites. Intervals of one pattern never overlap, so the first one not
over is the one with the smallest end after `t`: a btree on (pattern_id, end) finds it
directly. The end of an interval still open at the horizon (24/7) is unbounded, so it
counts as infinity; an empty range has no end at all, and the CHECK rules it out.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE hours_pattern_intervals ADD CONSTRAINT hours_pattern_intervals_bounded
            CHECK (NOT isempty(during));
        CREATE INDEX hours_pattern_intervals_ends
            ON hours_pattern_intervals (pattern_id, coalesce(upper(during), 'infinity'));
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX hours_pattern_intervals_ends;
        ALTER TABLE hours_pattern_intervals DROP CONSTRAINT hours_pattern_intervals_bounded;
        """
    )
