"""SQL of the change feed: a boundary that never skips, changes after a position, snapshots.

Positions are (xid, seq) of `change_log` rows. A page holds only rows whose
transaction is below a boundary that every transaction of this database below it has
ended, so no row can still appear before the page's last position. A sequence or
timestamp cursor would skip a row whose transaction started earlier but committed after
a reader had moved past it.

The boundary is not `pg_snapshot_xmin(pg_current_snapshot())`: that waits for every
transaction holding an xid anywhere on the server, a long load into another database
included. Only a transaction that holds an xid in this database can still add a
`change_log` row, so the boundary is the oldest such xid (from `pg_stat_activity` and
`pg_prepared_xacts`), capped by the next xid as seen before that list was read: an xid
below the cap that is not in the list had ended before the list was read, hence before
the page's own snapshot is taken (a later statement).
"""

import sqlalchemy as sa

from service.core.models import Org, Site
from service.sites.queries import SITE_COLUMNS

# The statement's snapshot (taken when it starts) gives the cap before pg_stat_activity
# is read (while it runs). The cap is pg_snapshot_xmax: the latest completed xid + 1, so a
# running xid may lie above it (then `least` keeps the cap). backend_xid and
# pg_prepared_xacts hold 32-bit xids: each is widened to xid8 by its signed 32-bit
# distance from the cap (a running xid is within 2^31 of it either way).
_BOUNDARY = sa.text(
    """
    WITH cap AS (
        SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x
    ), running AS (
        SELECT backend_xid::text::bigint AS xid FROM pg_stat_activity
        WHERE datname = current_database() AND backend_xid IS NOT NULL
        UNION ALL
        SELECT transaction::text::bigint FROM pg_prepared_xacts
        WHERE database = current_database()
    )
    SELECT least(
        cap.x,
        min(cap.x + (r.xid - cap.x % 4294967296 + 6442450944) % 4294967296 - 2147483648)
    )::text
    FROM cap LEFT JOIN running r ON true
    GROUP BY cap.x
    """
)


def boundary(conn: sa.Connection) -> int:
    """The xid below which every transaction that could write to this database has ended.

    PostgreSQL reads pg_stat_activity once per transaction and keeps that copy: it is
    cleared first, so the list is always read after the cap, even when this is not the
    transaction's first look at it. The page is then read by a later statement, with a
    newer snapshot (READ COMMITTED, PostgreSQL's default, which the feed relies on).
    """
    conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
    xid = int(conn.scalar(_BOUNDARY))
    if xid <= 0:  # never: a wrapped boundary would let the feed skip changes
        raise RuntimeError(f"change feed boundary out of range: {xid}")
    return xid


def changes_after(conn: sa.Connection, xid: int, seq: int, limit: int) -> list[sa.Row]:
    """Up to limit + 1 change rows after (xid, seq), of ended transactions, in (xid, seq) order."""
    return conn.execute(
        sa.text(
            "SELECT c.xid::text AS xid, c.seq, c.site_id FROM change_log c "
            "WHERE (c.xid, c.seq) > (CAST(CAST(:xid AS text) AS xid8), :seq) "
            "AND c.xid < CAST(CAST(:boundary AS text) AS xid8) "
            "ORDER BY c.xid, c.seq LIMIT :limit"
        ),
        {"xid": xid, "seq": seq, "boundary": boundary(conn), "limit": limit + 1},
    ).all()


def sites(conn: sa.Connection, ids: list[int]) -> dict[int, sa.Row]:
    """Current state of these sites, deleted ones included (with `deleted` set)."""
    stmt = (
        sa.select(*SITE_COLUMNS, Site.deleted_at.is_not(None).label("deleted"))
        .join(Org, Org.id == Site.org_id)
        .where(Site.id.in_(ids))
    )
    return {row.id: row for row in conn.execute(stmt)}


def snapshot_page(conn: sa.Connection, after_id: int, limit: int) -> list[sa.Row]:
    """Up to limit + 1 live sites (closed ones included) after `after_id`, in id order."""
    stmt = (
        sa.select(*SITE_COLUMNS)
        .join(Org, Org.id == Site.org_id)
        .where(Site.deleted_at.is_(None), Site.id > after_id)
        .order_by(Site.id)
        .limit(limit + 1)
    )
    return conn.execute(stmt).all()
