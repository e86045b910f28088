"""Bulk upsert of parsed import rows by (org, external_id), set-based and audited.

Rows are copied into a temporary table, then one statement each inserts the new
sites and updates the changed ones, writing an `import` audit row per change in
the same statement (data-modifying CTEs). Rows identical to the stored site change
nothing: no new version, no audit row, so importing a file twice is harmless.
"""

import io
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from service.hours import store as hours_store
from service.sites.store import WRITABLE, writable

# Column list of the staging table, in COPY order.
_STAGED = ("row_no", "org_id", *WRITABLE, "lat", "lon", "hours_pattern_id")

_TYPES = {
    "row_no": "integer",
    "org_id": "integer",
    "amenities": "text[]",
    "area_m2": "numeric(9,1)",
    "star_rating": "smallint",
    "workday_swaps": "boolean",
    "closed_until": "date",
    "lat": "double precision",
    "lon": "double precision",
    "hours_pattern_id": "integer",
}

# What a site looks like to the audit trail (the same names as the API's write shape).
_SNAPSHOT = (
    "jsonb_build_object("
    + ", ".join(f"'{f}', {{t}}.{f}" + ("::jsonb" if f == "special_days" else "") for f in WRITABLE)
    + ", 'location', jsonb_build_object('lat', ST_Y({t}.geom), 'lon', ST_X({t}.geom)))"
)

_DIFFERS = (
    "(" + ", ".join(f"s.{f}" for f in WRITABLE) + ", s.geom, s.hours_pattern_id, "
    "s.deleted_at IS NULL) IS DISTINCT FROM ("
    + ", ".join(f"i.{f}" for f in WRITABLE)
    + ", ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326), i.hours_pattern_id, true)"
)


@dataclass(frozen=True)
class Outcome:
    created: int
    updated: int
    unchanged: int


def _stage(conn: sa.Connection, staged: list[dict]) -> None:
    columns = ", ".join(f"{c} {_TYPES.get(c, 'text')}" for c in _STAGED)
    conn.execute(sa.text("DROP TABLE IF EXISTS pg_temp.import_rows"))
    conn.execute(sa.text(f"CREATE TEMP TABLE import_rows ({columns}) ON COMMIT DROP"))
    buffer = io.StringIO()
    for row in staged:
        buffer.write("\t".join(_copy_value(row.get(c)) for c in _STAGED) + "\n")
    buffer.seek(0)
    with conn.connection.dbapi_connection.cursor() as cur:
        cur.copy_expert(f"COPY import_rows ({', '.join(_STAGED)}) FROM STDIN", buffer)
    conn.execute(sa.text("CREATE INDEX ON import_rows (org_id, external_id)"))
    conn.execute(sa.text("ANALYZE import_rows"))


def _copy_value(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return r"\N"
    if isinstance(value, list):
        items = ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value)
        value = "{" + items + "}"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def upsert(
    conn: sa.Connection,
    rows: list[tuple[int, int, dict]],
    user_id: int | None,
    now: datetime,
    days: int,
    dry_run: bool = False,
) -> Outcome:
    """Upsert (row number, org id, validated write data) rows; all in the caller's transaction."""
    patterns: dict[hours_store.Definition, int | None] = {}
    staged = []
    for number, org_id, data in rows:
        values = writable(data)
        pattern = None
        key = hours_store.Definition.of(values)
        if key is not None:
            if key not in patterns:
                # A dry run must write nothing: it only looks for an existing pattern.
                patterns[key] = (
                    hours_store.find_pattern(conn, key)
                    if dry_run
                    else hours_store.pattern_id(conn, key, now, days)
                )
            pattern = patterns[key]
        staged.append(
            {
                **values,
                "row_no": number,
                "org_id": org_id,
                "lat": repr(data["location"]["lat"]),
                "lon": repr(data["location"]["lon"]),
                "hours_pattern_id": pattern,
            }
        )
    _stage(conn, staged)
    counts = conn.execute(
        sa.text(
            f"""
            SELECT count(*) FILTER (WHERE s.id IS NULL) AS created,
                   count(*) FILTER (WHERE s.id IS NOT NULL AND {_DIFFERS}) AS updated,
                   count(*) FILTER (WHERE s.id IS NOT NULL AND NOT {_DIFFERS}) AS unchanged
            FROM import_rows i
            LEFT JOIN sites s ON s.org_id = i.org_id AND s.external_id = i.external_id
            """
        )
    ).one()
    outcome = Outcome(counts.created, counts.updated, counts.unchanged)
    if not dry_run:
        _write(conn, {"user_id": user_id, "now": now})
    conn.execute(sa.text("DROP TABLE import_rows"))
    return outcome


def _write(conn: sa.Connection, params: dict) -> None:
    """Insert new sites, update changed ones, one audit row per change."""
    conn.execute(
        sa.text(
            f"""
            WITH inserted AS (
                INSERT INTO sites (org_id, geom, hours_pattern_id, {", ".join(WRITABLE)},
                                   created_at, updated_at)
                SELECT i.org_id, ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326),
                       i.hours_pattern_id, {", ".join("i." + f for f in WRITABLE)}, :now, :now
                FROM import_rows i
                WHERE NOT EXISTS (SELECT 1 FROM sites s
                                  WHERE s.org_id = i.org_id AND s.external_id = i.external_id)
                ORDER BY i.row_no
                RETURNING id, {_SNAPSHOT.format(t="sites")} AS after
            )
            INSERT INTO site_audit (site_id, user_id, action, changes, version, at)
            SELECT id, :user_id, 'import',
                   (SELECT jsonb_object_agg(key, jsonb_build_object('old', NULL, 'new', value))
                    FROM jsonb_each(after) WHERE value <> 'null'::jsonb),
                   1, :now
            FROM inserted
            """
        ),
        params,
    )
    conn.execute(
        sa.text(
            f"""
            WITH before AS (
                SELECT s.id, {_SNAPSHOT.format(t="s")} AS snapshot
                FROM sites s JOIN import_rows i
                  ON s.org_id = i.org_id AND s.external_id = i.external_id
                WHERE {_DIFFERS}
                FOR UPDATE OF s
            ), updated AS (
                UPDATE sites s SET {", ".join(f"{f} = i.{f}" for f in WRITABLE)},
                    geom = ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326),
                    hours_pattern_id = i.hours_pattern_id, deleted_at = NULL,
                    version = s.version + 1, updated_at = :now
                FROM import_rows i, before b
                WHERE b.id = s.id AND s.org_id = i.org_id AND s.external_id = i.external_id
                RETURNING s.id, s.version, {_SNAPSHOT.format(t="s")} AS after
            )
            INSERT INTO site_audit (site_id, user_id, action, changes, version, at)
            SELECT u.id, :user_id, 'import',
                   (SELECT coalesce(jsonb_object_agg(
                               k, jsonb_build_object('old', b.snapshot -> k, 'new', u.after -> k)),
                           '{{}}'::jsonb)
                    FROM jsonb_object_keys(u.after) AS k
                    WHERE b.snapshot -> k IS DISTINCT FROM u.after -> k),
                   u.version, :now
            FROM updated u JOIN before b ON b.id = u.id
            """
        ),
        params,
    )
