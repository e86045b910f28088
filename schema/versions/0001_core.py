"""Core registry: orgs, amenity vocabulary, sites, materialised opening hours.

Revision ID: 0001
Create Date: 2026-11-26
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("CREATE EXTENSION IF NOT EXISTS ltree")

    # Dotted org codes as ltree: "an org and its subtree" is `code <@ 'zj.zs'`,
    # answered by one GiST index.
    op.execute(
        """
        CREATE TABLE orgs (
            id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            code       ltree NOT NULL UNIQUE
                       CHECK (code::text ~ '^[a-z0-9_]{1,30}(\\.[a-z0-9_]{1,30}){0,9}$'),
            name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX orgs_code_gist ON orgs USING gist (code);
        """
    )

    op.execute(
        """
        CREATE TABLE amenities (
            code       text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
            label      text NOT NULL,
            label_en   text NOT NULL,
            category   text NOT NULL,
            sort_order integer NOT NULL
        );
        """
    )

    # Opening hours are materialised per distinct (expression, zone): a few hundred
    # patterns serve a million sites, so `open_now` is a lookup in a tiny table.
    op.execute(
        """
        CREATE TABLE hours_patterns (
            id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            opening_hours text NOT NULL,
            timezone      text NOT NULL,
            UNIQUE (opening_hours, timezone)
        );
        CREATE TABLE hours_pattern_intervals (
            pattern_id integer NOT NULL REFERENCES hours_patterns ON DELETE CASCADE,
            during     tstzrange NOT NULL,
            EXCLUDE USING gist (pattern_id WITH =, during WITH &&)
        );
        CREATE INDEX hours_pattern_intervals_during
            ON hours_pattern_intervals USING gist (during);
        CREATE TABLE hours_horizon (
            singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            valid_from   timestamptz NOT NULL,
            valid_until  timestamptz NOT NULL,
            refreshed_at timestamptz NOT NULL
        );
        """
    )

    # Chinese search: pg_trgm extracts nothing from one or two CJK characters (so "东门"
    # would scan every row), so the CJK characters and every bigram touching one are kept
    # as an array with a GIN index. service/sites/queries.py computes the same grams for `q`.
    op.execute(
        r"""
        CREATE FUNCTION cjk_grams(t text) RETURNS text[]
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT coalesce(array_agg(DISTINCT g), '{}')
            FROM (
                SELECT substr(t, i, 1) AS g FROM generate_series(1, length(t)) AS i
                WHERE ascii(substr(t, i, 1)) > 127
                UNION ALL
                SELECT substr(t, i, 2) FROM generate_series(1, length(t) - 1) AS i
                WHERE (ascii(substr(t, i, 1)) > 127 OR ascii(substr(t, i + 1, 1)) > 127)
                  AND substr(t, i, 2) !~ '[[:space:]\x1f]'
            ) AS grams
        $$
        """
    )

    op.execute(
        """
        CREATE TABLE sites (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind             text NOT NULL CHECK (kind IN ('station', 'home', 'facility')),
            name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
            name_en          text CHECK (length(name_en) <= 200),
            org_id           integer NOT NULL REFERENCES orgs,
            external_id      text CHECK (length(external_id) BETWEEN 1 AND 100),
            address          text CHECK (length(address) <= 500),
            geom             geometry(Point, 4326) NOT NULL,
            geog             geography(Point, 4326) GENERATED ALWAYS AS (geom::geography) STORED,
            amenities        text[] NOT NULL DEFAULT '{}',
            opening_hours    text CHECK (length(opening_hours) <= 1000),
            timezone         text NOT NULL DEFAULT 'Asia/Shanghai',
            hours_pattern_id integer REFERENCES hours_patterns,
            status           text NOT NULL DEFAULT 'active'
                             CHECK (status IN ('active', 'temporarily_closed', 'closed')),
            area_m2          numeric(9, 1) CHECK (area_m2 > 0),
            star_rating      smallint CHECK (star_rating BETWEEN 1 AND 5),
            phone            text CHECK (length(phone) <= 50),
            description      text CHECK (length(description) <= 2000),
            -- Fields joined by U+001F (unit separator), which `q` may not contain, so a
            -- match never spans two fields.
            search_text      text GENERATED ALWAYS AS (
                                 lower(name || E'\x1f' || coalesce(name_en, '') || E'\x1f'
                                       || coalesce(address, ''))) STORED,
            search_grams     text[] GENERATED ALWAYS AS (
                                 cjk_grams(lower(name || E'\x1f' || coalesce(name_en, '')
                                       || E'\x1f' || coalesce(address, '')))) STORED,
            created_at       timestamptz NOT NULL DEFAULT now(),
            updated_at       timestamptz NOT NULL DEFAULT now(),
            version          integer NOT NULL DEFAULT 1,
            deleted_at       timestamptz,
            UNIQUE (org_id, external_id),
            CHECK (opening_hours IS NULL OR hours_pattern_id IS NOT NULL)
        );
        """
    )
    # Search indexes are partial on "listed" sites (not deleted, not closed for
    # good): every public query carries exactly this predicate.
    listed = "WHERE deleted_at IS NULL AND status <> 'closed'"
    op.execute(f"CREATE INDEX sites_geog_gist ON sites USING gist (geog) {listed}")
    op.execute(f"CREATE INDEX sites_geom_gist ON sites USING gist (geom) {listed}")
    op.execute(f"CREATE INDEX sites_listed_id ON sites (id) {listed}")
    op.execute("CREATE INDEX sites_amenities_gin ON sites USING gin (amenities)")
    op.execute("CREATE INDEX sites_search_trgm ON sites USING gin (search_text gin_trgm_ops)")
    op.execute("CREATE INDEX sites_search_grams ON sites USING gin (search_grams)")
    op.execute("CREATE INDEX sites_org_id ON sites (org_id)")
    op.execute("CREATE INDEX sites_hours_pattern ON sites (hours_pattern_id)")
    op.execute("CREATE INDEX sites_updated ON sites (updated_at, id)")


def downgrade() -> None:
    op.execute(
        "DROP TABLE sites, hours_horizon, hours_pattern_intervals, hours_patterns, amenities, orgs"
    )
