"""Physical upkeep of `sites`: its rows in spatial order (`yizhan db cluster`, bulk loads)."""

import sqlalchemy as sa

SPATIAL_ORDER_INDEX = "sites_spatial_order"
DROP_SPATIAL_ORDER = sa.text(f"DROP INDEX IF EXISTS {SPATIAL_ORDER_INDEX}")


def cluster_in_spatial_order(conn: sa.Connection) -> None:
    """Rewrite `sites` in geohash order (CLUSTER on a temporary btree), rebuilding the indexes
    it has now; the temporary index is dropped again.

    Nearby answers walk the (geog, filter_keys) GiST, which PostgreSQL builds in table order:
    rows in no spatial order give index pages that each cover a wide, overlapping area, and a
    nearby search reads several times more of them
    (docs/benchmarks/history/2026-11-27-0437-1e7-against-1e5.md). Takes an ACCESS EXCLUSIVE
    lock on `sites` until the caller's transaction ends (in autocommit: until the CLUSTER is
    done). A failed CLUSTER in autocommit leaves the temporary index behind: the
    caller drops it (`DROP_SPATIAL_ORDER`), and the next run would too.
    """
    conn.execute(DROP_SPATIAL_ORDER)
    conn.execute(sa.text(f"CREATE INDEX {SPATIAL_ORDER_INDEX} ON sites (ST_GeoHash(geom, 10))"))
    conn.execute(sa.text(f"CLUSTER sites USING {SPATIAL_ORDER_INDEX}"))
    conn.execute(DROP_SPATIAL_ORDER)
