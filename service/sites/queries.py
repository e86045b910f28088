"""Every SQL statement of the public site reads, built one concern at a time.

Hot paths return Core rows; `serialize.py` turns them into plain dicts for orjson.
"""

from datetime import datetime
from functools import lru_cache

import sqlalchemy as sa
from geoalchemy2 import Geography

from service.core.models import Org, Site
from service.core.prepared import Prepared
from service.sites.filters import TSTZ, Filters, conditions
from service.sites.open_queries import OPEN_COLUMNS, open_columns, with_open

_P = sa.bindparam

# Geography KNN (`<->`) ranks by distance on a sphere; `distance_m` is on the
# WGS-84 spheroid. Over distances up to 50 km the spheroid/sphere ratio lies in
# [0.99442, 1.00449] (measured over 200k random pairs; tests/sites/test_nearby.py
# re-checks it against PostGIS). These bounds make the over-fetch provably exact.
SPHERE_LOW, SPHERE_HIGH = 0.994, 1.005

# A site as the public reads send it: its stored documents and its org's (schema/versions/
# 0011_site_documents.py); `location` is written from its point's, in the datum asked for
# (serialize.site). Statements that read them join `orgs`.
SITE_COLUMNS = (Site.id, Site.doc, Org.doc.label("org_doc"), Site.geometry_doc)
# A GeoJSON Feature in WGS-84 from the stored documents, its properties left open for the
# members that depend on the request (open state, hours text: serialize.features).
FEATURE = (
    sa.literal_column('\'{"type":"Feature","id":\'')
    .op("||")(Site.id)
    .op("||")(sa.literal_column("',\"geometry\":'"))
    .op("||")(Site.geometry_doc)
    .op("||")(sa.literal_column("',\"properties\":'"))
    .op("||")(Site.doc)
    .op("||")(sa.literal_column("',\"org\":'"))
    .op("||")(Org.doc)
    .label("feature")
)


def geog_point(lat, lon) -> sa.ColumnElement:
    point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), 4326)
    return sa.cast(point, Geography(srid=4326))


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
    site the scan did not reach could be; otherwise `k` grows and it runs again.
    """
    params = filters.params()
    # The scan is bounded on the sphere (cheap; the spheroid test cost 4x the whole query
    # at 1e6 sites), widened so no site within the true radius is lost; the exact
    # spheroid radius is applied to the few candidates below.
    params.update(lat=lat, lon=lon, scan_radius=radius / SPHERE_LOW, now=now)
    skip_nearer = after is not None and after[0] / SPHERE_HIGH - 0.01 > 0
    if skip_nearer:
        # Pages already served: sites certainly nearer than the cursor.
        params["floor"] = after[0] / SPHERE_HIGH - 0.01
    if after is not None:
        params.update(after_d=after[0], after_id=after[1])
    stmt = _nearby_statement(frozenset(filters.params()), skip_nearer, after is not None)
    want = limit + 1
    # A few spare candidates nearly always prove the order (the n-th neighbour is ~sqrt(n)
    # away, far beyond the 0.6% sphere error); when not, the scan widens.
    k = want + 4
    while True:
        rows = stmt.all(conn, {**params, "k": k, "want": want, "radius": radius})
        stats, kept = rows[0], [r for r in rows if r.id is not None]
        if stats.n_candidates < k:  # every matching site within the radius was a candidate
            return kept
        # A site the scan did not reach is at least this far away on the spheroid.
        unreached = stats.sphere_max * SPHERE_LOW
        if unreached > radius or (len(kept) == want and kept[-1].distance_m < unreached):
            return kept
        k *= 4


@lru_cache(maxsize=256)
def _nearby_statement(shape: frozenset[str], skip_nearer: bool, paged: bool) -> Prepared:
    """candidates (KNN, sphere order) -> ranked by spheroid distance -> one page, in full.

    Only the page's rows are joined to their columns and open state; every row also
    carries the candidate count and the farthest sphere distance for the exactness check.
    """
    pt = geog_point(_P("lat", type_=sa.Float), _P("lon", type_=sa.Float))
    conds = [
        *conditions(shape, keyed=True),
        sa.func.ST_DWithin(Site.geog, pt, _P("scan_radius"), False),
    ]
    if skip_nearer:
        conds.append(sa.not_(sa.func.ST_DWithin(Site.geog, pt, _P("floor"), False)))
    knn = Site.geog.op("<->", return_type=sa.Float)(pt)
    candidates = (
        sa.select(
            Site.id.label("cid"),
            knn.label("sphere_m"),
            sa.func.ST_Distance(Site.geog, pt).label("distance_m"),
        )
        .where(*conds)
        .order_by(knn)
        .limit(_P("k", type_=sa.Integer))
        .cte("candidates")
    )
    stats = sa.select(
        sa.func.count().label("n_candidates"),
        sa.func.max(candidates.c.sphere_m).label("sphere_max"),
    ).cte("stats")
    in_page = [candidates.c.distance_m <= _P("radius", type_=sa.Float)]
    if paged:
        in_page.append(
            sa.tuple_(candidates.c.distance_m, candidates.c.cid)
            > sa.tuple_(_P("after_d", type_=sa.Float), _P("after_id", type_=sa.BigInteger))
        )
    page = (
        sa.select(candidates.c.cid, candidates.c.distance_m)
        .where(*in_page)
        .order_by(candidates.c.distance_m, candidates.c.cid)
        .limit(_P("want", type_=sa.Integer))
        .cte("page")
    )
    columns, laterals = open_columns(_P("now", type_=TSTZ))
    detail = with_open(
        sa.select(*SITE_COLUMNS, *columns, page.c.distance_m)
        .select_from(page)
        .join(Site, Site.id == page.c.cid)
        .join(Org, Org.id == Site.org_id),
        laterals,
    ).subquery("detail")
    # One row even for an empty page, so the stats always come back.
    return Prepared(
        sa.select(stats.c.n_candidates, stats.c.sphere_max, *detail.c)
        .select_from(stats)
        .outerjoin(detail, sa.true())
        .order_by(detail.c.distance_m, detail.c.id)
    )


def _in_points(boxes) -> sa.ColumnElement[bool]:
    """Exactly inside or on a box, tested on the plain `point` copy of each site.

    `geom && box` (GeoAlchemy's `intersects`) compares single-precision boxes and let in
    sites up to ~1e-5 degrees outside. `pt <@ box` is exact (double precision, edges
    included), and its index also returns ids, so a page reads only the rows it keeps."""
    return sa.or_(
        *(
            Site.pt.op("<@", is_comparison=True)(
                sa.func.box(sa.func.point(w, s), sa.func.point(e, n))
            )
            for w, s, e, n in boxes
        )
    )


def _walked(boxes) -> sa.ColumnElement[bool]:
    """The same exact test, written so that no index can serve it (`on_pb` is the function
    behind `<@`): the planner then walks ids in order through `sites_listed_id_pt`, which
    holds each point beside its id, and tests every site there (schema 0010)."""
    return sa.or_(
        *(
            sa.func.on_pb(Site.pt, sa.func.box(sa.func.point(w, s), sa.func.point(e, n)))
            for w, s, e, n in boxes
        )
    )


def _from_points(boxes) -> sa.ColumnElement[bool]:
    """Is the point index the cheaper way to a page of these boxes, rather than walking ids?
    By PostGIS's estimate of their share of all sites (schema/versions/0008_list_points.py,
    re-fitted in 0010)."""
    shares = [sa.func.box_share(*b) for b in boxes]
    share = sum(shares[1:], shares[0])
    return sa.func.list_box_from_points(share, _P("limit", type_=sa.Integer), type_=sa.Boolean)


def sites_page(
    conn: sa.Connection,
    filters: Filters,
    limit: int,
    bbox: tuple[float, float, float, float] | None = None,
    updated_since: datetime | None = None,
    after_id: int | None = None,
    selective: bool = False,
    updated_until: datetime | None = None,
    features: bool = False,
    now: datetime | None = None,
) -> list[sa.Row]:
    """Up to `limit` + 1 listed sites in id order (keyset pagination): SITE_COLUMNS, or with
    `features` (id, feature): each a GeoJSON Feature in WGS-84, as text; with `now`, also
    what open_state reads at that instant.

    `selective` sorts by an expression of id, so that the filters' indexes find the few
    matches and they are sorted, instead of the id index being walked.
    """
    params = filters.params()
    extra = {
        "limit": limit + 1,
        "updated_since": updated_since,
        "updated_until": updated_until,
        "after_id": after_id,
    }
    if bbox is not None:
        extra.update(zip(("west", "south", "east", "north"), bbox, strict=True))
    extras = {k: v for k, v in extra.items() if v is not None}
    wraps = bbox is not None and bbox[0] > bbox[2]
    stmt = _sites_statement(
        frozenset(params), frozenset(extras), wraps, selective, features, now is not None
    )
    return conn.execute(stmt, {**params, **extras, "now": now}).all()


@lru_cache(maxsize=256)
def _sites_statement(
    shape: frozenset[str],
    extras: frozenset[str],
    wraps: bool,
    selective: bool,
    features: bool,
    with_state: bool,
) -> sa.Select:
    conds = conditions(shape)
    if "updated_since" in extras:
        conds.append(Site.updated_at >= _P("updated_since", type_=TSTZ))
    if "updated_until" in extras:
        conds.append(Site.updated_at <= _P("updated_until", type_=TSTZ))
    if "after_id" in extras:
        conds.append(Site.id > _P("after_id", type_=sa.BigInteger))

    # The page's ids first, then their columns: joined before the limit, every site in a
    # dense 0.1-degree box (~4,000 at 1e6 sites) was joined to its org and sorted in full
    # width to keep 251 (25.7 ms against 11.6 ms in two steps).
    def ids(*more: sa.ColumnElement[bool]) -> sa.Select:
        return (
            sa.select(Site.id)
            .where(*conds, *more)
            .order_by(Site.id + 0 if selective else Site.id)
            .limit(_P("limit", type_=sa.Integer))
        )

    if "west" in extras:
        w, s, e, n = (_P(name, type_=sa.Float) for name in ("west", "south", "east", "north"))
        # west > east: the box crosses the antimeridian
        boxes = [(w, s, 180.0, n), (-180.0, s, e, n)] if wraps else [(w, s, e, n)]
        # Both branches are planned, and one runs: the choice is computed once (a CTE, as
        # both branches read it) and gates each branch as a one-time filter.
        choice = sa.select(_from_points(boxes).label("points")).cte("choice")
        points = sa.select(choice.c.points).scalar_subquery()
        page = sa.union_all(
            ids(_in_points(boxes), points), ids(_walked(boxes), sa.not_(points))
        ).subquery("page")
    else:
        page = ids().subquery("page")
    # What open_state reads, but its intervals: those come for the page's few patterns at
    # once (day_intervals), not from a probe per row.
    columns = [*OPEN_COLUMNS, Site.hours_pattern_id] if with_state else []
    return (
        sa.select(*((Site.id, FEATURE) if features else SITE_COLUMNS), *columns)
        .select_from(page)
        .join(Site, Site.id == page.c.id)
        .join(Org, Org.id == Site.org_id)
        .order_by(Site.id)
    )


def site_by_id(conn: sa.Connection, site_id: int, now: datetime) -> sa.Row | None:
    """One site, closed ones included; deleted ones are gone. Beside its document, what the
    routes check: its version (ETags), org (admins' reach), and its open state at `now`."""
    return conn.execute(_site_statement(), {"site_id": site_id, "now": now}).first()


@lru_cache(maxsize=1)
def _site_statement() -> sa.Select:
    # Built once: a new statement object per request cost ~0.9 ms (construction, and
    # SQLAlchemy matching its columns to the cached compilation), twice the SQL's time.
    columns, laterals = open_columns(_P("now", type_=TSTZ))
    return with_open(
        sa.select(*SITE_COLUMNS, *columns, Site.version, Org.code.label("org_code")).join(
            Org, Org.id == Site.org_id
        ),
        laterals,
    ).where(Site.id == _P("site_id", type_=sa.BigInteger), Site.deleted_at.is_(None))
