"""SQL of the change feed: a boundary that never skips, changes after a position, snapshots.

Positions are (xid, seq) of `change_log` rows. A page holds only rows whose
transaction is older than `pg_snapshot_xmin(pg_current_snapshot())`: every such
transaction has ended, so no row can still appear before the page's last position.
A sequence or timestamp cursor would skip a row whose transaction started earlier
but committed after a reader had moved past it.
"""

import sqlalchemy as sa

from service.models import Org, Site
from service.sites.queries import SITE_COLUMNS


def boundary(conn: sa.Connection) -> int:
    """The xid below which every transaction has ended, as seen now."""
    return int(conn.scalar(sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")))


def changes_after(conn: sa.Connection, xid: int, seq: int, limit: int) -> list[sa.Row]:
    """Up to limit + 1 change rows after (xid, seq), of ended transactions, in (xid, seq) order."""
    return conn.execute(
        sa.text(
            "SELECT c.xid::text AS xid, c.seq, c.site_id FROM change_log c "
            "WHERE (c.xid, c.seq) > (CAST(CAST(:xid AS text) AS xid8), :seq) "
            "AND c.xid < pg_snapshot_xmin(pg_current_snapshot()) "
            "ORDER BY c.xid, c.seq LIMIT :limit"
        ),
        {"xid": xid, "seq": seq, "limit": limit + 1},
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
