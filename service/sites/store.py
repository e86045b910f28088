"""Writing sites: one upsert by (org, external_id) that bumps the version only on change."""

import json
from datetime import datetime

import orjson
import sqlalchemy as sa

from service.core.settings import DEFAULT_TIMEZONE
from service.hours import store as hours_store
from service.sites.hours_schemas import closure_problem

# Fields a write may set, in the order of the INSERT below.
WRITABLE = (
    "kind",
    "name",
    "name_en",
    "external_id",
    "address",
    "amenities",
    "opening_hours",
    "timezone",
    "workday_swaps",
    "special_days",
    "status",
    "closed_until",
    "closure_reason",
    "area_m2",
    "star_rating",
    "phone",
    "description",
)

_COMPARED = (*WRITABLE, "geom", "hours_pattern_id")

_UPSERT = sa.text(
    f"""
    INSERT INTO sites (org_id, geom, hours_pattern_id, {", ".join(WRITABLE)},
                       created_at, updated_at)
    VALUES (:org_id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :hours_pattern_id,
            {", ".join(":" + f for f in WRITABLE)}, :now, :now)
    ON CONFLICT (org_id, external_id) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _COMPARED)},
        deleted_at = NULL,
        version = sites.version + 1,
        updated_at = EXCLUDED.updated_at
    WHERE ({", ".join("sites." + c for c in _COMPARED)}, sites.deleted_at IS NULL)
          IS DISTINCT FROM ({", ".join("EXCLUDED." + c for c in _COMPARED)}, true)
    RETURNING id, (xmax = 0) AS inserted
    """
)


def upsert_site(
    conn: sa.Connection, org_id: int, data: dict, now: datetime, days: int
) -> tuple[int | None, str]:
    """(site id, "created" | "updated" | "unchanged"); the id is None when unchanged.

    `data` holds validated writable fields plus `location` in WGS-84.
    """
    params = {**_values(conn, data, now, days), "org_id": org_id}
    row = conn.execute(_UPSERT, params).first()
    if row is None:
        return None, "unchanged"
    return row.id, "created" if row.inserted else "updated"


class Conflict(Exception):
    """Another site of the org already has this external_id."""


class Stale(Exception):
    """The site changed since the version the caller read (If-Match failed)."""


class Invalid(Exception):
    """The change leaves the site inconsistent: (field, message), a 422."""


def _with_implied(old: dict, changes: dict) -> dict:
    """`changes` and what they imply: a site that is no longer temporarily closed has no
    closed_until, an active one no closure_reason (unless the change sets them, which the
    closure check then refuses)."""
    status = changes.get("status", old.get("status"))
    implied = {}
    if status != "temporarily_closed" and "closed_until" not in changes:
        implied["closed_until"] = None
    if status == "active" and "closure_reason" not in changes:
        implied["closure_reason"] = None
    return {**implied, **changes}


_SNAPSHOT_COLUMNS = ", ".join(
    [*(f"s.{f}" for f in WRITABLE), "ST_Y(s.geom) AS lat", "ST_X(s.geom) AS lon"]
)


def snapshot(conn: sa.Connection, site_id: int, lock: bool = False) -> dict | None:
    """The writable state of a live site (plus org, version), optionally locked for update."""
    row = conn.execute(
        sa.text(
            f"SELECT {_SNAPSHOT_COLUMNS}, s.org_id, o.code::text AS org, s.version "
            "FROM sites s JOIN orgs o ON o.id = s.org_id "
            "WHERE s.id = :id AND s.deleted_at IS NULL" + (" FOR UPDATE OF s" if lock else "")
        ),
        {"id": site_id},
    ).first()
    if row is None:
        return None
    state = {f: getattr(row, f) for f in WRITABLE}
    state["area_m2"] = float(state["area_m2"]) if state["area_m2"] is not None else None
    state["special_days"] = orjson.loads(state["special_days"])
    state["location"] = {"lat": row.lat, "lon": row.lon}
    state.update(org=row.org, org_id=row.org_id, version=row.version)
    return state


def diff(old: dict, new: dict) -> dict:
    """{field: {"old": ..., "new": ...}} for every writable field (and org) that changes."""
    fields = (*WRITABLE, "location", "org")
    return {
        f: {"old": old.get(f), "new": new[f]}
        for f in fields
        if f in new and _normal(f, new[f]) != _normal(f, old.get(f))
    }


def _normal(field: str, value):
    if field == "amenities":
        return sorted(set(value or []))
    if field == "special_days":
        return value or []
    if field == "workday_swaps":
        return bool(value)
    if field == "location" and value is not None:
        return (round(value["lat"], 7), round(value["lon"], 7))
    return value


def record(
    conn: sa.Connection,
    site_id: int,
    user_id: int | None,
    action: str,
    changes: dict,
    version: int,
    at: datetime,
) -> None:
    """One audit row, written in the caller's transaction."""
    conn.execute(
        sa.text(
            "INSERT INTO site_audit (site_id, user_id, action, changes, version, at) "
            "VALUES (:site_id, :user_id, :action, CAST(:changes AS jsonb), :version, :at)"
        ),
        {
            "site_id": site_id,
            "user_id": user_id,
            "action": action,
            "changes": json.dumps(changes, ensure_ascii=False, default=str),
            "version": version,
            "at": at,
        },
    )


def writable(data: dict) -> dict:
    """The writable fields of validated `data` as columns, with the defaults a new site gets.
    Special days (a list, as the schema made it canonical) become their stored JSON."""
    values = {f: data.get(f) for f in WRITABLE}
    values["timezone"] = values["timezone"] or DEFAULT_TIMEZONE
    values["status"] = values["status"] or "active"
    values["amenities"] = sorted(set(values["amenities"] or []))
    values["workday_swaps"] = bool(values["workday_swaps"])
    values["special_days"] = orjson.dumps(values["special_days"] or []).decode()
    return values


def _values(conn: sa.Connection, data: dict, now: datetime, days: int) -> dict:
    """Bind values of a site's row: writable fields, hours pattern, location, time."""
    params = writable(data)
    params["hours_pattern_id"] = None
    definition = hours_store.Definition.of(params)
    if definition is not None:
        params["hours_pattern_id"] = hours_store.pattern_id(conn, definition, now, days)
    params.update(lat=data["location"]["lat"], lon=data["location"]["lon"], now=now)
    return params


_INSERT = sa.text(
    f"""
    INSERT INTO sites (org_id, geom, hours_pattern_id, {", ".join(WRITABLE)},
                       created_at, updated_at)
    VALUES (:org_id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :hours_pattern_id,
            {", ".join(":" + f for f in WRITABLE)}, :now, :now)
    RETURNING id
    """
)

_UPDATE = sa.text(
    f"""
    UPDATE sites SET {", ".join(f"{f} = :{f}" for f in WRITABLE)},
        org_id = :org_id, geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
        hours_pattern_id = :hours_pattern_id, version = version + 1, updated_at = :now
    WHERE id = :id AND version = :expected AND deleted_at IS NULL
    RETURNING version
    """
)


def create(
    conn: sa.Connection,
    org_id: int,
    data: dict,
    user_id: int | None,
    now: datetime,
    days: int,
) -> int:
    """Insert a site and its audit row; raises Conflict on a duplicate external_id."""
    params = _values(conn, data, now, days)
    try:
        with conn.begin_nested():
            site_id = conn.scalar(_INSERT, {**params, "org_id": org_id})
    except sa.exc.IntegrityError as exc:
        if "sites_org_id_external_id_key" in str(exc.orig):
            raise Conflict from None
        raise
    changes = diff({}, {**data, "amenities": params["amenities"]})
    record(conn, site_id, user_id, "create", changes, 1, now)
    return site_id


def update(
    conn: sa.Connection,
    site_id: int,
    expected: int | None,
    changes: dict,
    org_id: int | None,
    user_id: int | None,
    now: datetime,
    days: int,
) -> int | None:
    """Apply `changes` if the site is still at version `expected` (None, for `If-Match: *`:
    whatever version it has once locked); the new version.

    None when the site does not exist; raises Stale when it moved on, Conflict on a
    duplicate external_id. A change that changes nothing keeps the version.
    """
    old = snapshot(conn, site_id, lock=True)
    if old is None:
        return None
    if expected is not None and old["version"] != expected:
        raise Stale
    expected = old["version"]
    changes = _with_implied(old, changes)
    delta = diff(old, changes)
    if not delta:
        return expected
    merged = {**old, **changes}
    problem = closure_problem(merged, now)
    if problem is not None:
        raise Invalid(*problem)
    params = _values(conn, merged, now, days)
    params.update(id=site_id, expected=expected, org_id=org_id or old["org_id"])
    try:
        with conn.begin_nested():
            version = conn.scalar(_UPDATE, params)
    except sa.exc.IntegrityError as exc:
        if "sites_org_id_external_id_key" in str(exc.orig):
            raise Conflict from None
        raise
    record(conn, site_id, user_id, "update", delta, version, now)
    return version


def reopen_due(conn: sa.Connection, now: datetime, days: int) -> int:
    """Make every site whose closure has ended (00:00 of closed_until in its zone) active again,
    without closed_until and closure_reason: a new version and an audit row each, by no user.
    Reads already show such a site open (serialize.open_state); this makes the row say so."""
    due = conn.scalars(
        sa.text(
            "SELECT id FROM sites WHERE status = 'temporarily_closed' AND deleted_at IS NULL "
            "AND closed_until <= (CAST(:now AS timestamptz) AT TIME ZONE timezone)::date "
            "ORDER BY id"
        ),
        {"now": now},
    ).all()
    for site_id in due:
        update(conn, site_id, None, {"status": "active"}, None, None, now, days)
    return len(due)


def delete(
    conn: sa.Connection, site_id: int, expected: int | None, user_id: int | None, now: datetime
) -> bool:
    """Soft delete (a tombstone for the change feed); False when there is no such site.
    `expected` None (`If-Match: *`) deletes whatever version the locked row has."""
    old = snapshot(conn, site_id, lock=True)
    if old is None:
        return False
    if expected is not None and old["version"] != expected:
        raise Stale
    expected = old["version"]
    conn.execute(
        sa.text(
            "UPDATE sites SET deleted_at = :now, version = version + 1, updated_at = :now "
            "WHERE id = :id"
        ),
        {"id": site_id, "now": now},
    )
    record(conn, site_id, user_id, "delete", {}, expected + 1, now)
    return True


def history(conn: sa.Connection, site_id: int, after: int | None, limit: int) -> list[sa.Row]:
    """Audit rows of a site, oldest first, with the acting user's name."""
    return conn.execute(
        sa.text(
            "SELECT a.id, a.action, a.changes, a.version, a.at, a.user_id, u.name AS user_name "
            "FROM site_audit a LEFT JOIN users u ON u.id = a.user_id "
            "WHERE a.site_id = :site_id AND a.id > :after ORDER BY a.id LIMIT :limit"
        ),
        {"site_id": site_id, "after": after or 0, "limit": limit + 1},
    ).all()


def org_of(conn: sa.Connection, site_id: int) -> str | None:
    """The org code of a site (deleted ones too), or None when there is no such site."""
    return conn.scalar(
        sa.text("SELECT o.code::text FROM sites s JOIN orgs o ON o.id = s.org_id WHERE s.id = :id"),
        {"id": site_id},
    )


class KeyReused(Exception):
    """An Idempotency-Key sent again with a different request."""


def claim_key(conn: sa.Connection, user_id: int, key: str, fingerprint: str) -> int | None:
    """Claim an Idempotency-Key for this request; the site id of an earlier success.

    A concurrent retry blocks on the key's row until the first request commits, then
    sees its result; a key reused with a different request raises KeyReused.
    """
    claimed = conn.scalar(
        sa.text(
            "INSERT INTO idempotency_keys (user_id, key, request_hash) "
            "VALUES (:user_id, :key, :hash) ON CONFLICT DO NOTHING RETURNING key"
        ),
        {"user_id": user_id, "key": key, "hash": fingerprint},
    )
    if claimed is not None:
        return None
    earlier = conn.execute(
        sa.text(
            "SELECT request_hash, site_id FROM idempotency_keys "
            "WHERE user_id = :user_id AND key = :key"
        ),
        {"user_id": user_id, "key": key},
    ).one()
    if earlier.request_hash != fingerprint:
        raise KeyReused(key)
    return earlier.site_id


def settle_key(conn: sa.Connection, user_id: int, key: str, site_id: int) -> None:
    """Record the site a claimed Idempotency-Key created (retries answer with it)."""
    conn.execute(
        sa.text(
            "UPDATE idempotency_keys SET site_id = :site_id, status = 201 "
            "WHERE user_id = :user_id AND key = :key"
        ),
        {"site_id": site_id, "user_id": user_id, "key": key},
    )
