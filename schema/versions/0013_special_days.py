"""A site's whole hours: make-up working days, special days and a closure with its reopening.

New columns of `sites` (API.md, "Holidays, special days, closures"):

- `workday_swaps`: on a make-up working day (调休上班) the site keeps its Monday hours;
- `special_days`: its special days as the compact JSON array Python writes them
  (service/hours/special.py: sorted, every member present), text so that the site's document
  embeds it byte for byte and equal definitions are equal text;
- `closed_until`, `closure_reason`: a temporary closure that ends by itself at 00:00 of
  `closed_until` in the site's zone.

A materialised pattern is now a site's whole hours definition: (opening_hours, timezone,
workday_swaps, special_days, closed_until). Its intervals already say all of it, so a site
closed until a date is open exactly where the pattern's intervals say (from that midnight on):
`filter_keys` carries its pattern key as for an active site, and `open_now` stays one probe
of the nearby index. Special days can be long, so the uniqueness of a pattern compares their
md5 (a btree entry holds at most ~2.7 kB).

`doc` and `filter_keys` are generated columns: both are dropped and added again in one
ALTER TABLE, so `sites` is rewritten once (55 s at 1e6 sites for 0011's columns), and the
nearby index on filter_keys is built again.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import importlib

from alembic import op

previous = importlib.import_module("schema.versions.0011_site_documents")

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# site_document's arguments, in its order; the generated column passes these columns.
ARGUMENTS = (
    ("id", "bigint"), ("kind", "text"), ("name", "text"), ("name_en", "text"),
    ("external_id", "text"), ("address", "text"), ("amenities", "text[]"),
    ("opening_hours", "text"), ("timezone", "text"), ("workday_swaps", "boolean"),
    ("special_days", "text"), ("status", "text"), ("closed_until", "date"),
    ("closure_reason", "text"), ("area_m2", "numeric"), ("star_rating", "smallint"),
    ("phone", "text"), ("description", "text"), ("updated_at", "timestamptz"),
    ("version", "integer"),
)  # fmt: skip

# A site closed until a date keeps its pattern key: its intervals begin at the reopening.
FILTER_KEYS = (
    "site_filter_keys(amenities, CASE WHEN status = 'temporarily_closed' "
    "AND closed_until IS NOT NULL THEN 'active' ELSE status END, hours_pattern_id)"
)

NEARBY_INDEX = (
    "CREATE INDEX sites_geog_keys_gist ON sites USING gist (geog, filter_keys gist__int_ops) "
    "WHERE deleted_at IS NULL AND status <> 'closed'"
)


def _document_function() -> str:
    params = ", ".join(f"{name} {kind}" for name, kind in ARGUMENTS)
    return f"""
        CREATE FUNCTION site_document({params}) RETURNS text
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
        DECLARE
            wall timestamp := updated_at AT TIME ZONE timezone;
            off integer := extract(epoch FROM wall - (updated_at AT TIME ZONE 'UTC'))::integer;
            a integer := abs(off);
        BEGIN
            RETURN '{{"id":' || id
                || ',"kind":' || to_json(kind)
                || ',"name":' || to_json(name)
                || ',"name_en":' || coalesce(to_json(name_en)::text, 'null')
                || ',"external_id":' || coalesce(to_json(external_id)::text, 'null')
                || ',"address":' || coalesce(to_json(address)::text, 'null')
                || ',"amenities":' || array_to_json(amenities)
                || ',"opening_hours":' || coalesce(to_json(opening_hours)::text, 'null')
                || ',"timezone":' || to_json(timezone)
                || ',"workday_swaps":' || workday_swaps
                || ',"special_days":' || special_days
                || ',"status":' || to_json(status)
                || ',"closed_until":' || coalesce('"' || to_char(closed_until, 'YYYY-MM-DD')
                                                  || '"', 'null')
                || ',"closure_reason":' || coalesce(to_json(closure_reason)::text, 'null')
                || ',"area_m2":' || coalesce(area_m2::text, 'null')
                || ',"star_rating":' || coalesce(star_rating::text, 'null')
                || ',"phone":' || coalesce(to_json(phone)::text, 'null')
                || ',"description":' || coalesce(to_json(description)::text, 'null')
                || ',"updated_at":"' || to_char(wall, 'YYYY-MM-DD"T"HH24:MI:SS')
                || CASE WHEN off < 0 THEN '-' ELSE '+' END
                || lpad((a / 3600)::text, 2, '0') || ':' || lpad((a % 3600 / 60)::text, 2, '0')
                || CASE WHEN a % 60 = 0 THEN '' ELSE ':' || lpad((a % 60)::text, 2, '0') END
                || '","version":' || version;
        END $$;
    """


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE hours_patterns
            ADD COLUMN workday_swaps boolean NOT NULL DEFAULT false,
            ADD COLUMN special_days text NOT NULL DEFAULT '[]',
            ADD COLUMN closed_until date,
            DROP CONSTRAINT hours_patterns_opening_hours_timezone_key;
        CREATE UNIQUE INDEX hours_patterns_definition ON hours_patterns
            (opening_hours, timezone, workday_swaps, md5(special_days), closed_until)
            NULLS NOT DISTINCT;
        """
    )
    op.execute(_document_function())
    columns = ", ".join(name for name, _ in ARGUMENTS)
    op.execute(
        f"""
        ALTER TABLE sites
            ADD COLUMN workday_swaps boolean NOT NULL DEFAULT false,
            ADD COLUMN special_days text NOT NULL DEFAULT '[]'
                CHECK (left(special_days, 1) = '[' AND length(special_days) <= 50000),
            ADD COLUMN closed_until date,
            ADD COLUMN closure_reason text CHECK (length(closure_reason) <= 200),
            ADD CONSTRAINT sites_closed_until_needs_closure
                CHECK (closed_until IS NULL OR status = 'temporarily_closed'),
            DROP COLUMN doc,
            DROP COLUMN filter_keys,
            ADD COLUMN doc text NOT NULL GENERATED ALWAYS AS (site_document({columns})) STORED,
            ADD COLUMN filter_keys integer[] NOT NULL GENERATED ALWAYS AS ({FILTER_KEYS}) STORED
        """
    )
    previous_params = ", ".join(kind for _, kind in previous.ARGUMENTS)
    op.execute(f"DROP FUNCTION site_document({previous_params})")
    op.execute(NEARBY_INDEX)


def downgrade() -> None:
    params = ", ".join(kind for _, kind in ARGUMENTS)
    op.execute(
        """
        DROP INDEX hours_patterns_definition;
        -- One pattern per (opening_hours, timezone) again: the first one's; `yizhan hours
        -- refresh` recomputes its intervals without the extras.
        UPDATE sites s SET hours_pattern_id = (
            SELECT min(q.id) FROM hours_patterns p JOIN hours_patterns q
                ON q.opening_hours = p.opening_hours AND q.timezone = p.timezone
            WHERE p.id = s.hours_pattern_id)
        WHERE hours_pattern_id IS NOT NULL;
        DELETE FROM hours_patterns p WHERE EXISTS (
            SELECT 1 FROM hours_patterns q
            WHERE q.opening_hours = p.opening_hours AND q.timezone = p.timezone AND q.id < p.id);
        """
    )
    op.execute(previous.site_document_function())
    columns = ", ".join(name for name, _ in previous.ARGUMENTS)
    op.execute(
        f"""
        ALTER TABLE sites
            DROP COLUMN doc,
            DROP COLUMN filter_keys,
            DROP COLUMN workday_swaps,
            DROP COLUMN special_days,
            DROP COLUMN closed_until,
            DROP COLUMN closure_reason,
            ADD COLUMN doc text NOT NULL GENERATED ALWAYS AS (site_document({columns})) STORED,
            ADD COLUMN filter_keys integer[] NOT NULL GENERATED ALWAYS AS (
                site_filter_keys(amenities, status, hours_pattern_id)) STORED
        """
    )
    op.execute(f"DROP FUNCTION site_document({params})")
    op.execute(NEARBY_INDEX)
    op.execute(
        """
        ALTER TABLE hours_patterns
            DROP COLUMN workday_swaps, DROP COLUMN special_days, DROP COLUMN closed_until,
            ADD CONSTRAINT hours_patterns_opening_hours_timezone_key
                UNIQUE (opening_hours, timezone);
        """
    )
