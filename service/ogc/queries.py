"""SQL of the OGC API - Features collection: its extent, and pages of items.

Items reuse the statement of GET /v1/sites (service.sites.queries) and only add the
upper end of a `datetime` interval, so both lists filter and page exactly alike.
"""

from datetime import datetime

import sqlalchemy as sa

from service.core.models import Site
from service.sites import queries as site_queries
from service.sites.filters import LISTED, Filters

# Up to about this many rows an exact ST_Extent is cheap (a few ms at 1e5); beyond it the
# planner's estimate of the extent (ST_EstimatedExtent, from ANALYZE) is used instead.
EXACT_EXTENT_ROWS = 100_000


def spatial_extent(conn: sa.Connection) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of the listed sites, or None when there are none."""
    rows = conn.scalar(sa.text("SELECT reltuples FROM pg_class WHERE oid = 'sites'::regclass"))
    if rows is not None and rows > EXACT_EXTENT_ROWS:
        box = conn.execute(
            sa.text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
                "(SELECT ST_EstimatedExtent(current_schema(), 'sites', 'geom') AS b) AS e"
            )
        ).first()
        if box is not None and box[0] is not None:
            return tuple(box)
    extent = sa.func.ST_Extent(Site.geom)
    box = conn.execute(
        sa.select(
            sa.func.ST_XMin(extent),
            sa.func.ST_YMin(extent),
            sa.func.ST_XMax(extent),
            sa.func.ST_YMax(extent),
        ).where(LISTED)
    ).first()
    return tuple(box) if box is not None and box[0] is not None else None


def temporal_extent(conn: sa.Connection) -> tuple[datetime, datetime] | None:
    """Earliest and latest `updated_at` of the listed sites (index sites_updated)."""
    row = conn.execute(
        sa.select(sa.func.min(Site.updated_at), sa.func.max(Site.updated_at)).where(LISTED)
    ).first()
    return (row[0], row[1]) if row is not None and row[0] is not None else None


def items_page(
    conn: sa.Connection,
    filters: Filters,
    limit: int,
    bbox: tuple[float, float, float, float] | None = None,
    during: tuple[datetime | None, datetime | None] | None = None,
    after_id: int | None = None,
    selective: bool = False,
    now: datetime | None = None,
) -> list[sa.Row]:
    """Up to `limit` + 1 listed sites in id order whose `updated_at` lies in `during`, as
    (id, GeoJSON Feature text) rows, with what open_state reads at `now`."""
    since, until = during or (None, None)
    return site_queries.sites_page(
        conn,
        filters,
        limit,
        bbox,
        since,
        after_id,
        selective,
        updated_until=until,
        features=True,
        now=now,
    )
