"""The console's reads: an org subtree's dashboard and its site list (filters, sort, pages).

Everything is bounded by the org subtree of the logged-in account (`org` is its code or a
code below it, checked by the gate before these run).
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

STALE_DAYS = 180
SORTS = {
    "id": "s.id",
    "name": "s.name, s.id",
    "updated": "s.updated_at DESC, s.id DESC",
    "org": "o.code, s.id",
}
PAGE = 50
_SUBTREE = "o.code <@ CAST(:org AS ltree) AND s.deleted_at IS NULL"


def dashboard(conn: sa.Connection, org: str, now: datetime) -> dict:
    """Counts of the subtree: sites by kind and status, open rider reports, sites without
    hours, sites not changed for 180 days."""
    base = f"FROM sites s JOIN orgs o ON o.id = s.org_id WHERE {_SUBTREE}"
    by = conn.execute(
        sa.text(f"SELECT s.kind, s.status, count(*) AS n {base} GROUP BY 1, 2"), {"org": org}
    ).all()
    totals = conn.execute(
        sa.text(
            f"SELECT count(*) AS sites, "
            f"count(*) FILTER (WHERE s.opening_hours IS NULL) AS without_hours, "
            f"count(*) FILTER (WHERE s.updated_at < :stale) AS stale {base}"
        ),
        {"org": org, "stale": now - timedelta(days=STALE_DAYS)},
    ).one()
    reports = conn.scalar(
        sa.text(
            "SELECT count(*) FROM reports r JOIN sites s ON s.id = r.site_id "
            f"JOIN orgs o ON o.id = s.org_id WHERE r.status = 'open' AND {_SUBTREE}"
        ),
        {"org": org},
    )
    return {
        "by_kind_status": [(r.kind, r.status, r.n) for r in by],
        "sites": totals.sites,
        "without_hours": totals.without_hours,
        "stale": totals.stale,
        "open_reports": reports,
    }


@dataclass(frozen=True)
class SiteFilter:
    org: str
    kind: str | None = None
    status: str | None = None
    amenity: str | None = None
    q: str | None = None
    sort: str = "id"
    page: int = 1
    no_hours: bool = False


def _where(f: SiteFilter) -> tuple[str, dict]:
    conds, params = [_SUBTREE], {"org": f.org}
    if f.kind:
        conds.append("s.kind = :kind")
        params["kind"] = f.kind
    if f.status:
        conds.append("s.status = :status")
        params["status"] = f.status
    if f.amenity:
        conds.append("s.amenities @> ARRAY[CAST(:amenity AS text)]")
        params["amenity"] = f.amenity
    if f.no_hours:
        conds.append("s.opening_hours IS NULL")
    if f.q:
        like = f.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conds.append("s.search_text LIKE :q")
        params["q"] = f"%{like}%"
    return " AND ".join(conds), params


COLUMNS = (
    "s.id, s.kind, s.name, s.status, s.address, s.opening_hours, s.amenities, s.phone, "
    "s.external_id, ST_Y(s.geom) AS lat, ST_X(s.geom) AS lon, s.updated_at, s.version, "
    "o.code::text AS org_code, o.name AS org_name"
)


def sites(conn: sa.Connection, f: SiteFilter) -> tuple[list[sa.Row], int]:
    """One page of the filtered list and the number of matches."""
    where, params = _where(f)
    order = SORTS.get(f.sort, SORTS["id"])
    rows = conn.execute(
        sa.text(
            f"SELECT {COLUMNS} FROM sites s JOIN orgs o ON o.id = s.org_id WHERE {where} "
            f"ORDER BY {order} LIMIT :limit OFFSET :offset"
        ),
        {**params, "limit": PAGE, "offset": (max(f.page, 1) - 1) * PAGE},
    ).all()
    total = conn.scalar(
        sa.text(f"SELECT count(*) FROM sites s JOIN orgs o ON o.id = s.org_id WHERE {where}"),
        params,
    )
    return rows, total


def all_sites(conn: sa.Connection, f: SiteFilter, limit: int = 200_000):
    """Every match of the filter, in its order (for exports), streamed."""
    where, params = _where(f)
    order = SORTS.get(f.sort, SORTS["id"])
    return conn.execute(
        sa.text(
            f"SELECT {COLUMNS} FROM sites s JOIN orgs o ON o.id = s.org_id WHERE {where} "
            f"ORDER BY {order} LIMIT :limit"
        ),
        {**params, "limit": limit},
    )


def audit_entry(conn: sa.Connection, site_id: int, entry_id: int) -> sa.Row | None:
    """One audit row of a site (for undo)."""
    return conn.execute(
        sa.text(
            "SELECT id, action, changes, version FROM site_audit "
            "WHERE id = :id AND site_id = :site_id"
        ),
        {"id": entry_id, "site_id": site_id},
    ).first()


UPLOAD_KEEP = timedelta(hours=1)


def keep_upload(conn: sa.Connection, user_id: int, upload: dict, at: datetime) -> bytes:
    """Keep a checked file for its commit; returns its id. Older ones are dropped."""
    conn.execute(
        sa.text("DELETE FROM console_uploads WHERE created_at < :old"), {"old": at - UPLOAD_KEEP}
    )
    upload_id = secrets.token_bytes(16)
    conn.execute(
        sa.text(
            "INSERT INTO console_uploads (id, user_id, filename, media_type, org, crs, body, "
            "created_at) VALUES (:id, :user, :filename, :media_type, :org, :crs, :body, :at)"
        ),
        {"id": upload_id, "user": user_id, "at": at, **upload},
    )
    return upload_id


def take_upload(conn: sa.Connection, upload_id: bytes, user_id: int, at: datetime) -> sa.Row | None:
    """The user's kept file (removed as it is taken), if it is still kept."""
    return conn.execute(
        sa.text(
            "DELETE FROM console_uploads WHERE id = :id AND user_id = :user AND created_at >= :old "
            "RETURNING filename, media_type, org, crs, body"
        ),
        {"id": upload_id, "user": user_id, "old": at - UPLOAD_KEEP},
    ).first()
