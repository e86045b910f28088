"""Writing sites: one upsert by (org, external_id) that bumps the version only on change."""

from datetime import datetime

import sqlalchemy as sa

from service import hours_store

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
    "status",
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
    conn: sa.Connection, org_id: int, data: dict, now: datetime, days: int, country: str
) -> tuple[int | None, str]:
    """(site id, "created" | "updated" | "unchanged"); the id is None when unchanged.

    `data` holds validated writable fields plus `location` in WGS-84.
    """
    params = {f: data.get(f) for f in WRITABLE}
    params["timezone"] = params["timezone"] or "Asia/Shanghai"
    params["status"] = params["status"] or "active"
    params["amenities"] = sorted(set(params["amenities"] or []))
    params["hours_pattern_id"] = None
    if params["opening_hours"]:
        params["hours_pattern_id"] = hours_store.pattern_id(
            conn, params["opening_hours"], params["timezone"], now, days, country
        )
    params.update(org_id=org_id, lat=data["location"]["lat"], lon=data["location"]["lon"], now=now)
    row = conn.execute(_UPSERT, params).first()
    if row is None:
        return None, "unchanged"
    return row.id, "created" if row.inserted else "updated"
