"""Box lists that walk ids read an index only: each listed id with its point, (id) INCLUDE (pt).

A box holding a large share of the sites is listed by walking ids in order and keeping the
sites inside it until the page is full (0008). The walk read every site's heap row to test
its point, cheap while ids followed the table's order (~1.35 us a site). `yizhan db
cluster` now puts rows in spatial order, which scatters ids over the table: at 1e6
clustered sites a 0.5-degree box in Shanghai read 4,514 pages to keep 251 of 4,522 sites
(3.4 ms). With the point stored beside the id in the walked index, the walk tests each site
in the index: 0.43 ms for that box, 0.30 ms for a 1-degree one, no heap page read (index
only). It replaces `sites_listed_id`, same key and predicate: 39 MB at 1e6 sites against
21 MB. Building it blocks writes to `sites`, not reads (a few seconds at 1e6).

The walk's test is `on_pb(pt, box)`, the function behind `pt <@ box`: written as an
operator, the planner would take the point GiST for it, which is the other branch.

`list_box_from_points` is re-fitted on the same machine and data (1e6 clustered sites,
Shanghai): the point GiST lists ~0.19 us a site in the box (4,041 sites in 0.86 ms, 62,992
in 11.5 ms, the sort of the page included); the walk costs ~0.088 us a site walked (64,378
in 5.6 ms) and walks want/share of them. The points win while share * sites * 0.19 <= 0.088
* want / share, i.e. share^2 * sites <= 0.46 * want: up to ~1.1% of 1e6 sites for 251 (it
was 2.6%).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

LISTED = "WHERE deleted_at IS NULL AND status <> 'closed'"


def _chooser(factor: str) -> str:
    return f"""
        CREATE OR REPLACE FUNCTION list_box_from_points(share float8, want integer)
        RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
        RETURN share IS NULL OR share * share * (
            SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'sites'::regclass
        ) <= {factor} * want;
        """


def upgrade() -> None:
    op.execute(f"CREATE INDEX sites_listed_id_pt ON sites (id) INCLUDE (pt) {LISTED}")
    op.execute("DROP INDEX sites_listed_id")
    op.execute(_chooser("0.46"))


def downgrade() -> None:
    op.execute(_chooser("2.8"))
    op.execute(f"CREATE INDEX sites_listed_id ON sites (id) {LISTED}")
    op.execute("DROP INDEX sites_listed_id_pt")
