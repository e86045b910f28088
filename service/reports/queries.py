"""SQL for rider reports; subtree checks are part of every admin statement."""

from datetime import datetime

import sqlalchemy as sa

from service.core.clock import rfc3339

_TRIAGE_COLUMNS = """
    r.id, r.site_id, r.category, r.comment, r.status, r.created_at, r.resolved_at, r.note,
    s.name AS site_name, o.code::text AS org, u.name AS resolved_by
"""


def create(
    conn: sa.Connection, site_id: int, category: str, comment: str | None, at: datetime
) -> sa.Row | None:
    """A new open report on a live site; None when there is no such site."""
    return conn.execute(
        sa.text(
            "INSERT INTO reports (site_id, category, comment, created_at) "
            "SELECT id, :category, :comment, :at FROM sites "
            "WHERE id = :site_id AND deleted_at IS NULL "
            "RETURNING id, site_id, category, comment, status, created_at"
        ),
        {"site_id": site_id, "category": category, "comment": comment, "at": at},
    ).first()


def in_subtree(
    conn: sa.Connection,
    org: str,
    status: str | None,
    site_id: int | None,
    before: int | None,
    limit: int,
) -> list[sa.Row]:
    """Up to limit + 1 reports on sites of `org`'s subtree, newest first."""
    return conn.execute(
        sa.text(
            f"SELECT {_TRIAGE_COLUMNS} FROM reports r "
            "JOIN sites s ON s.id = r.site_id JOIN orgs o ON o.id = s.org_id "
            "LEFT JOIN users u ON u.id = r.resolved_by "
            "WHERE o.code <@ CAST(:org AS ltree) "
            "AND (CAST(:status AS text) IS NULL OR r.status = :status) "
            "AND (CAST(:site_id AS bigint) IS NULL OR r.site_id = :site_id) "
            "AND (CAST(:before AS bigint) IS NULL OR r.id < :before) "
            "ORDER BY r.id DESC LIMIT :limit"
        ),
        {"org": org, "status": status, "site_id": site_id, "before": before, "limit": limit + 1},
    ).all()


def triage(
    conn: sa.Connection,
    report_id: int,
    org: str,
    status: str,
    note: str | None,
    user_id: int,
    at: datetime,
) -> sa.Row | None:
    """Set a report's status if its site is in `org`'s subtree; None otherwise."""
    done = status != "open"
    updated = conn.scalar(
        sa.text(
            "UPDATE reports r SET status = :status, note = :note, "
            "resolved_at = CASE WHEN :done THEN CAST(:at AS timestamptz) END, "
            "resolved_by = CASE WHEN :done THEN CAST(:user_id AS integer) END "
            "FROM sites s JOIN orgs o ON o.id = s.org_id "
            "WHERE r.id = :id AND s.id = r.site_id AND o.code <@ CAST(:org AS ltree) "
            "RETURNING r.id"
        ),
        {
            "id": report_id,
            "org": org,
            "status": status,
            "note": note,
            "done": done,
            "user_id": user_id,
            "at": at,
        },  # fmt: skip
    )
    if updated is None:
        return None
    return conn.execute(
        sa.text(
            f"SELECT {_TRIAGE_COLUMNS} FROM reports r "
            "JOIN sites s ON s.id = r.site_id JOIN orgs o ON o.id = s.org_id "
            "LEFT JOIN users u ON u.id = r.resolved_by WHERE r.id = :id"
        ),
        {"id": report_id},
    ).one()


def open_counts(conn: sa.Connection, site_ids: list[int]) -> dict[int, int]:
    """Open reports per site, for admin views."""
    rows = conn.execute(
        sa.text(
            "SELECT site_id, count(*) FROM reports WHERE status = 'open' "
            "AND site_id = ANY(:ids) GROUP BY site_id"
        ),
        {"ids": site_ids},
    ).all()
    return dict(rows)


def public(row) -> dict:
    return {
        "id": row.id,
        "site_id": row.site_id,
        "category": row.category,
        "comment": row.comment,
        "status": row.status,
        "created_at": rfc3339(row.created_at),
    }


def triaged(row) -> dict:
    return {
        **public(row),
        "site_name": row.site_name,
        "org": row.org,
        "resolved_at": rfc3339(row.resolved_at),
        "resolved_by": row.resolved_by,
        "note": row.note,
    }
