"""China's statutory calendar: the days off and make-up working days of each State Council notice.

`PH` in opening hours means the `holiday` days of this table (every day of each block, 调休
included), never a library's built-in list; `workday` days are the make-up working days. A
year's rows come from one notice and are replaced together (`yizhan calendar load`); a year
without a row in `calendar_years` is not official, and only its fixed-date holidays are known.
A notice may list days of the year before (the 2024 New Year block began on 2023-12-30), so a
day keeps the notice year it came from.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE calendar_years (
            year      integer PRIMARY KEY CHECK (year BETWEEN 1949 AND 2200),
            source    text NOT NULL,
            days      integer NOT NULL,
            loaded_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE calendar_days (
            day  date PRIMARY KEY,
            year integer NOT NULL REFERENCES calendar_years (year) ON DELETE CASCADE,
            kind text NOT NULL CHECK (kind IN ('holiday', 'workday')),
            name text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
            CHECK (day >= make_date(year - 1, 12, 1) AND day <= make_date(year, 12, 31))
        );
        CREATE INDEX calendar_days_year ON calendar_days (year);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE calendar_days; DROP TABLE calendar_years;")
