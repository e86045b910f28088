"""Filter keys: the nearby filters (amenities, open now) evaluated inside the KNN index.

A nearby search with filters walks the geography index in distance order and, before
this, fetched every candidate's heap row to test its amenities and opening hours: at 1e6
sites a 2-amenity, open-now search read ~1,800 random heap pages to keep 18. Each site now
carries its amenities and open-hours pattern as integers in `filter_keys`, and the KNN
index covers (geog, filter_keys), so the index scan itself drops non-matching sites and
only the matches are fetched.

Amenity keys are a prefilter (two codes may share a key), so the exact amenity test still
runs on the fetched rows; the open-hours key is exact and replaces the status and pattern
test in nearby (service/sites/filters.py, `conditions(keyed=True)`):
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
        -- PL/pgSQL with intarray's sort/uniq, not SQL with subqueries: a site's keys cost
        -- 20 us instead of 127 us (20,000 synthetic sites), which every insert, update and
        -- import pays. The search path is fixed so that a restore (search_path '') that
        -- recomputes the column still finds intarray.
        CREATE FUNCTION amenity_keys(codes text[]) RETURNS integer[]
        LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SET search_path FROM CURRENT AS $$
        DECLARE
            keys integer[] := '{}';
            code text;
        BEGIN
            FOREACH code IN ARRAY codes LOOP
                IF code IS NOT NULL THEN
                    keys := keys || ((('x' || left(md5(code), 8))::bit(32)::integer
                                      & 1073741823) + 1073741824);
                END IF;
            END LOOP;
            RETURN uniq(sort(keys));  -- ascending, each key once
        END
        $$;

        -- A standard SQL body: amenity_keys is bound when this is created, not looked up.
        CREATE FUNCTION site_filter_keys(
            amenities text[], status text, hours_pattern_id integer
        ) RETURNS integer[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN CASE
            WHEN status = 'active' AND hours_pattern_id IS NOT NULL  -- negative: stays sorted
                THEN array_prepend(-hours_pattern_id, coalesce(amenity_keys(amenities), '{}'))
            ELSE coalesce(amenity_keys(amenities), '{}')
        END;
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
