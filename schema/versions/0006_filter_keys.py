"""Filter keys: the nearby filters (amenities, open now) evaluated inside the KNN index.

A nearby search with filters walks the geography index in distance order and, before
this, fetched every candidate's heap row to test its amenities and opening hours: at 1e6
sites a 2-amenity, open-now search read ~1,800 random heap pages to keep 18. Each site now
carries its amenities and open-hours pattern as integers in `filter_keys`, and the KNN
index covers (geog, filter_keys), so the index scan itself drops non-matching sites and
only the matches are fetched.

Keys are a prefilter (never fewer sites than the exact filters); the exact conditions on
`amenities`, `status` and `hours_pattern_id` still run on the fetched rows:
  amenity          2^30 + 30 bits of md5(code), always positive; two codes may share a
                   key, which only lets the exact test see one more row
  open-hours       -hours_pattern_id, only while status = 'active' (open now/at needs both)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS intarray")
    op.execute(
        """
        CREATE FUNCTION amenity_keys(codes text[]) RETURNS integer[]
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        RETURN ARRAY(
            SELECT DISTINCT (('x' || left(md5(c), 8))::bit(32)::integer & 1073741823)
                            + 1073741824
            FROM unnest(codes) AS c
            WHERE c IS NOT NULL
            ORDER BY 1
        );

        CREATE FUNCTION site_filter_keys(
            amenities text[], status text, hours_pattern_id integer
        ) RETURNS integer[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN ARRAY(
            SELECT k FROM (
                SELECT -hours_pattern_id AS k
                WHERE status = 'active' AND hours_pattern_id IS NOT NULL
                UNION ALL
                SELECT unnest(amenity_keys(amenities))
            ) AS keys
            ORDER BY k
        );
        """
    )
    op.execute(
        """
        ALTER TABLE sites ADD COLUMN filter_keys integer[] NOT NULL GENERATED ALWAYS AS (
            site_filter_keys(amenities, status, hours_pattern_id)) STORED
        """
    )
    # gist__int_ops keeps a leaf's keys exact (a site has a dozen), so a leaf that fails
    # the filter is dropped without its heap row; the geography column keeps the tree
    # spatial, and `<->` still orders the scan.
    op.execute("DROP INDEX sites_geog_gist")
    op.execute(
        "CREATE INDEX sites_geog_keys_gist ON sites USING gist (geog, filter_keys gist__int_ops) "
        "WHERE deleted_at IS NULL AND status <> 'closed'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX sites_geog_keys_gist")
    op.execute(
        "CREATE INDEX sites_geog_gist ON sites USING gist (geog) "
        "WHERE deleted_at IS NULL AND status <> 'closed'"
    )
    op.execute("ALTER TABLE sites DROP COLUMN filter_keys")
    op.execute("DROP FUNCTION site_filter_keys, amenity_keys")
    op.execute("DROP EXTENSION IF EXISTS intarray")
