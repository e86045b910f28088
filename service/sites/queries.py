"""Every SQL statement of the public site reads, built one concern at a time.

Hot paths return Core rows; `serialize.py` turns them into plain dicts for orjson.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from geoalchemy2 import Geography

from service.models import HoursPatternInterval, Org, Site

# Geography KNN (`<->`) ranks by distance on a sphere; `distance_m` is on the
# WGS-84 spheroid. Over distances up to 50 km the spheroid/sphere ratio lies in
# [0.99442, 1.00449] (measured over 200k random pairs; tests/test_nearby.py
# re-checks it against PostGIS). These bounds make the over-fetch provably exact.
SPHERE_LOW, SPHERE_HIGH = 0.994, 1.005

LISTED = sa.and_(Site.deleted_at.is_(None), Site.status != "closed")

SITE_COLUMNS = (
    Site.id,
    Site.kind,
    Site.name,
    Site.name_en,
    Org.code.label("org_code"),
    Org.name.label("org_name"),
    Site.external_id,
    Site.address,
    sa.func.ST_Y(Site.geom).label("lat"),
    sa.func.ST_X(Site.geom).label("lon"),
    Site.amenities,
    Site.opening_hours,
    Site.timezone,
    Site.status,
    Site.area_m2,
    Site.star_rating,
    Site.phone,
    Site.description,
    Site.updated_at,
    Site.version,
)


@dataclass(frozen=True)
class Filters:
    kinds: list[str] | None = None
    amenities_all: list[str] | None = None
    amenities_any: list[str] | None = None
    open_at: datetime | None = None
    q: str | None = None
    org: str | None = None


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def open_at_condition(t: datetime) -> sa.ColumnElement[bool]:
    """Open at `t`: active, and its hours pattern has an interval containing `t`."""
    open_patterns = sa.select(HoursPatternInterval.pattern_id).where(
        HoursPatternInterval.during.contains(t)
    )
    return sa.and_(Site.status == "active", Site.hours_pattern_id.in_(open_patterns))


def filter_conditions(f: Filters) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = [LISTED]
    if f.kinds:
        conds.append(Site.kind.in_(f.kinds))
    if f.amenities_all:
        conds.append(Site.amenities.contains(f.amenities_all))
    if f.amenities_any:
        conds.append(Site.amenities.overlap(f.amenities_any))
    if f.open_at is not None:
        conds.append(open_at_condition(f.open_at))
    if f.q:
        conds.append(Site.search_text.like(_like_pattern(f.q), escape="\\"))
    if f.org:
        subtree = sa.select(Org.id).where(Org.code.descendant_of(f.org))
        conds.append(Site.org_id.in_(subtree))
    return conds


def geog_point(lat: float, lon: float) -> sa.ColumnElement:
    point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), 4326)
    return sa.cast(point, Geography(srid=4326))


def open_state_columns(t: datetime):
    """is_open and next_change at `t`, from the first interval not yet over."""
    upcoming = (
        sa.select(
            sa.func.lower(HoursPatternInterval.during).label("lo"),
            sa.func.upper(HoursPatternInterval.during).label("hi"),
        )
        .where(
            HoursPatternInterval.pattern_id == Site.hours_pattern_id,
            HoursPatternInterval.during.overlaps(sa.func.tstzrange(t, None)),
        )
        .order_by(HoursPatternInterval.during)
        .limit(1)
        .lateral("upcoming")
    )
    return upcoming


def nearby(
    conn: sa.Connection,
    lat: float,
    lon: float,
    radius: float,
    limit: int,
    filters: Filters,
    now: datetime,
    after: tuple[float, int] | None = None,
) -> list[sa.Row]:
    """Up to `limit` + 1 sites nearest (lat, lon) by spheroid distance, ties by id.

    A geography KNN scan bounded by the radius picks `k` candidates in sphere
    order; they are re-ranked by spheroid distance. The result is exact when the
    candidate set was exhausted or when the last site kept is nearer than any
    site the scan did not reach could be; otherwise `k` doubles and it runs again.
    """
    pt = geog_point(lat, lon)
    # The scan is bounded on the sphere (cheap; the spheroid test cost 4x the whole query
    # at 1e6 sites); its radius is widened so no site within the true radius is lost,
    # and the exact spheroid radius is applied to the few candidates below.
    conds = [
        *filter_conditions(filters),
        sa.func.ST_DWithin(Site.geog, pt, radius / SPHERE_LOW, False),
    ]
    if after is not None:
        # Skip pages already served: sites certainly nearer than the cursor.
        floor = after[0] / SPHERE_HIGH - 0.01
        if floor > 0:
            conds.append(sa.not_(sa.func.ST_DWithin(Site.geog, pt, floor, False)))
    want = limit + 1
    k = 2 * want + 10
    while True:
        ranked = conn.execute(_nearby_select(pt, conds, k, now)).all()
        kept = [
            r
            for r in ranked
            if r.distance_m <= radius and (after is None or (r.distance_m, r.id) > after)
        ][:want]
        if len(ranked) < k:  # every matching site within the radius was a candidate
            return kept
        # A site the scan did not reach is at least this far away on the spheroid.
        unreached = max(r.sphere_m for r in ranked) * SPHERE_LOW
        if unreached > radius or (len(kept) == want and kept[-1].distance_m < unreached):
            return kept
        k *= 4


def _nearby_select(pt, conds, k: int, now: datetime) -> sa.Select:
    knn = Site.geog.op("<->", return_type=sa.Float)(pt)
    candidates = (
        sa.select(Site.id.label("cid"), knn.label("sphere_m"))
        .where(*conds)
        .order_by(knn)
        .limit(k)
        .cte("candidates")
    )
    distance = sa.func.ST_Distance(Site.geog, pt).label("distance_m")
    upcoming = open_state_columns(now)
    return (
        sa.select(
            *SITE_COLUMNS,
            distance,
            candidates.c.sphere_m,
            upcoming.c.lo.label("open_lo"),
            upcoming.c.hi.label("open_hi"),
        )
        .select_from(candidates)
        .join(Site, Site.id == candidates.c.cid)
        .join(Org, Org.id == Site.org_id)
        .outerjoin(upcoming, sa.true())
        .order_by(distance, Site.id)
    )


def bbox_condition(west: float, south: float, east: float, north: float):
    """Points inside the box; west > east means the box crosses the antimeridian."""
    if west <= east:
        return Site.geom.intersects(sa.func.ST_MakeEnvelope(west, south, east, north, 4326))
    return sa.or_(
        Site.geom.intersects(sa.func.ST_MakeEnvelope(west, south, 180, north, 4326)),
        Site.geom.intersects(sa.func.ST_MakeEnvelope(-180, south, east, north, 4326)),
    )


def sites_page(
    conn: sa.Connection,
    filters: Filters,
    limit: int,
    bbox: tuple[float, float, float, float] | None = None,
    updated_since: datetime | None = None,
    after_id: int | None = None,
) -> list[sa.Row]:
    """Up to `limit` + 1 listed sites in id order (keyset pagination)."""
    conds = filter_conditions(filters)
    if bbox is not None:
        conds.append(bbox_condition(*bbox))
    if updated_since is not None:
        conds.append(Site.updated_at >= updated_since)
    if after_id is not None:
        conds.append(Site.id > after_id)
    stmt = (
        sa.select(*SITE_COLUMNS)
        .join(Org, Org.id == Site.org_id)
        .where(*conds)
        .order_by(Site.id)
        .limit(limit + 1)
    )
    return conn.execute(stmt).all()


def site_by_id(conn: sa.Connection, site_id: int) -> sa.Row | None:
    """One site, closed ones included; deleted ones are gone."""
    stmt = (
        sa.select(*SITE_COLUMNS)
        .join(Org, Org.id == Site.org_id)
        .where(Site.id == site_id, Site.deleted_at.is_(None))
    )
    return conn.execute(stmt).first()
