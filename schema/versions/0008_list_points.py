"""Box lists from the index alone: each site's point as a plain `point`, indexed with its id.

A viewport list keeps the first 250 sites in the box by id. PostGIS's index holds
single-precision boxes, not points, so every site in the box had its heap row read to
test the exact point and to learn its id: ~4,000 rows, ~3,600 pages, in a dense 0.1-degree
box at 1e6 sites. The built-in GiST for `point` keeps exact points and can return them,
so with the id included an index-only scan finds the page's ids; only those 250 rows are
read. `point <@ box` includes the edges, as ST_Intersects does.

That is the right plan only for boxes holding a small share of the sites: for a city-wide
1-degree box (~98,000 sites) reading the whole box from the index took 53 ms, while
walking the ids in order and testing each row stops after ~2,800 rows (3.8 ms). The
point index has no statistics for the planner to choose with, so the statement asks
PostGIS's own estimate of the box's share (`box_share`) and runs one branch or the other
(`list_box_from_points`). Measured at 1e6 sites: the index lists ~0.48 us a site in the
box, the id walk costs ~1.35 us a site walked and walks want/share of them; the points
win while share * sites * 0.48 <= 1.35 * want / share, i.e. share^2 * sites <= 2.8 * want:
about 2.6% of 1e6 sites for 251.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE sites ADD COLUMN pt point NOT NULL
            GENERATED ALWAYS AS (point(ST_X(geom), ST_Y(geom))) STORED
        """
    )
    op.execute(
        "CREATE INDEX sites_pt_gist ON sites USING gist (pt) INCLUDE (id) "
        "WHERE deleted_at IS NULL AND status <> 'closed'"
    )
    op.execute(
        """
        CREATE FUNCTION box_share(west float8, south float8, east float8, north float8)
        RETURNS float8 LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
        BEGIN
            -- The share of sites PostGIS's planner statistics expect in the box.
            RETURN _postgis_selectivity(
                'sites'::regclass, 'geom', ST_MakeEnvelope(west, south, east, north, 4326));
        EXCEPTION WHEN OTHERS THEN
            RETURN NULL;  -- no statistics yet: a table never analysed
        END
        $$;

        CREATE FUNCTION list_box_from_points(share float8, want integer) RETURNS boolean
        LANGUAGE sql STABLE PARALLEL SAFE
        RETURN share IS NULL OR share * share * (
            SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'sites'::regclass
        ) <= 2.8 * want;
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION list_box_from_points, box_share")
    op.execute("DROP INDEX sites_pt_gist")
    op.execute("ALTER TABLE sites DROP COLUMN pt")
