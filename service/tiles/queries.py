"""The SQL of vector tiles: one prepared statement per (filter shape, clustered, datum).

High zooms draw one point per site through `ST_AsMVTGeom`; low zooms group the sites
that pass the filters into cells of the tile grid and draw one point per cell.
"""

import math
from functools import lru_cache

import sqlalchemy as sa

from service.core.models import Site
from service.core.prepared import Prepared
from service.geo import datums as datum
from service.sites.filters import TSTZ, Filters, conditions, open_at_condition

LAYER = "sites"
EXTENT = 4096  # tile units per side
BUFFER = 64  # units drawn beyond the edge, so symbols are not cut between tiles
CLUSTER_BELOW_ZOOM = 12  # z < this: clusters; z >= this: one point per site
CELL = 64  # cluster cell side, in tile units
# Farthest the GCJ-02 shift moves a point, in degrees, with slack: max 0.0108° of
# longitude and 0.0041° of latitude over the whole area where it applies.
GCJ02_REACH = 0.02
# Bound on how fast the shift varies: each of its partial derivatives stays below
# 0.0071 degree per degree (sampled over the whole area), with slack.
GCJ02_GRADIENT = 0.01
# The area where GCJ-02 shifts points (as in service.geo.datums.out_of_china).
CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)

_P = sa.bindparam


def _n(value: int | float) -> sa.ColumnElement:
    """A numeric constant written into the SQL (not a bind parameter)."""
    return sa.literal_column(
        repr(value), type_=sa.Float if isinstance(value, float) else sa.Integer
    )


def tile(conn: sa.Connection, z: int, x: int, y: int, filters: Filters, now, crs: str) -> bytes:
    """The MVT bytes of tile z/x/y (empty when nothing is drawn in it)."""
    params = filters.params()
    clustered = z < CLUSTER_BELOW_ZOOM
    stmt = _statement(frozenset(params), clustered, crs)
    values = {**params, "z": z, "x": x, "y": y, "now": now}
    if crs == "gcj02":
        values.update(gcj02_window(z, x, y, 0.0 if clustered else BUFFER / EXTENT))
    rows = stmt.all(conn, values)
    return bytes(rows[0][0] or b"")


def tile_bounds(z: int, x: int, y: int, margin: float = 0.0) -> tuple[float, ...]:
    """(west, south, east, north) in degrees of tile z/x/y widened by `margin` of its
    side, clipped to the Web Mercator world."""
    n = 2**z

    def lat(t: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * t / n))))

    west = max(-180.0, (x - margin) / n * 360 - 180)
    east = min(180.0, (x + 1 + margin) / n * 360 - 180)
    return west, lat(min(n, y + 1 + margin)), east, lat(max(0, y - margin))


def gcj02_window(z: int, x: int, y: int, margin: float) -> dict[str, float]:
    """Where the sites drawn in a tile of a GCJ-02 map lie in WGS-84: its box moved back
    by the shift at its centre, widened by how much the shift can vary inside it.

    A site w is drawn at g = w + s(w), so w = g - s(c) - (s(w) - s(c)) for the box's
    centre c, and |s(w) - s(c)| <= GCJ02_GRADIENT * (|w - c| in lat + in lon), with w
    within GCJ02_REACH of the box. Near the edge of the shifted area (where s jumps to
    zero) and for big tiles, the box is simply widened by GCJ02_REACH.
    """
    west, south, east, north = tile_bounds(z, x, y, margin)
    wide = {"shift_lon": 0.0, "shift_lat": 0.0, "slack": GCJ02_REACH}
    r = GCJ02_REACH
    c_west, c_south, c_east, c_north = CHINA_BOX
    if west - r < c_west or east + r > c_east or south - r < c_south or north + r > c_north:
        return wide
    slack = GCJ02_GRADIENT * ((north - south) / 2 + (east - west) / 2 + 2 * r) + 1e-7
    if slack >= r:
        return wide
    lat, lon = (north + south) / 2, (west + east) / 2
    g_lat, g_lon = datum.wgs84_to_gcj02(lat, lon)
    return {"shift_lon": lon - g_lon, "shift_lat": lat - g_lat, "slack": slack}


def _zxy() -> tuple:
    return tuple(_P(name, type_=sa.Integer) for name in ("z", "x", "y"))


def _candidates(crs: str, margin: float) -> sa.ColumnElement[bool]:
    """`geom &&` the tile's box in degrees, widened by `margin` (a share of its side).

    The box is clipped to the world first: ST_TileEnvelope's margin runs past 180° on
    the edge columns, and ST_Transform wraps that to the other side (z2/0/1 gave a
    box from 88.6°W to 178.6°E instead of 180°W to 88.6°W). Sites are then compared
    with the index's column itself, so the GiST index answers it.
    """
    z, x, y = _zxy()
    envelope = sa.func.ST_TileEnvelope(z, x, y)
    if margin:
        envelope = sa.func.ST_ClipByBox2D(
            sa.func.ST_TileEnvelope(z, x, y, sa.literal_column(f"margin => {margin!r}")),
            sa.func.ST_TileEnvelope(_n(0), _n(0), _n(0)),
        )
    box = sa.func.ST_Transform(envelope, _n(4326))
    if crs == "gcj02":  # a site is drawn where its shifted position falls
        shift = (_P("shift_lon", type_=sa.Float), _P("shift_lat", type_=sa.Float))
        box = sa.func.ST_Expand(sa.func.ST_Translate(box, *shift), _P("slack", type_=sa.Float))
    return Site.geom.op("&&", return_type=sa.Boolean)(box)


@lru_cache(maxsize=256)
def _statement(shape: frozenset[str], clustered: bool, crs: str) -> Prepared:
    """ST_AsMVT over the features of one tile.

    PostgreSQL keeps planning these per execution with the tile's values (a "custom
    plan"): the tile box must be a constant for the planner to pick a seq scan at z5 and
    the GiST index at z16, and the listed-sites partial indexes need the literal
    status. A generic plan costs ~1 s per tile, and its estimate says so, so the
    planner never switches to it.
    """
    conds = conditions(shape)
    rows = _clusters(conds, crs) if clustered else _sites(conds, crs)
    args = [rows.table_valued(), sa.literal_column(f"'{LAYER}'"), _n(EXTENT)]
    args.append(sa.literal_column("'geom'"))
    if not clustered:
        args.append(sa.literal_column("'fid'"))  # the site id is also the feature id
    mvt = sa.func.ST_AsMVT(*args)
    # Rows whose geometry is NULL (ST_AsMVTGeom clipped them away) are skipped by ST_AsMVT.
    return Prepared(sa.select(mvt).select_from(rows))


def _is_open() -> sa.ColumnElement:
    """Open at `now` by the materialised hours; false when temporarily closed, NULL
    (left out of the feature) when an active site publishes no hours."""
    return sa.case(
        (sa.and_(Site.status == "active", Site.opening_hours.is_(None)), sa.null()),
        else_=open_at_condition(_P("now", type_=TSTZ)),
    )


def _sites(conds: list, crs: str) -> sa.Subquery:
    """One point per site, in tile units, with its id, kind, name, is_open, star_rating."""
    z, x, y = _zxy()
    position = Site.geom if crs == "wgs84" else sa.func.wgs84_to_gcj02(Site.geom)
    geom = sa.func.ST_AsMVTGeom(
        sa.func.ST_Transform(position, _n(3857)),
        sa.func.ST_TileEnvelope(z, x, y),
        _n(EXTENT),
        _n(BUFFER),
        sa.true(),
    )
    return (
        sa.select(
            geom.label("geom"),
            Site.id.label("fid"),
            Site.id,
            Site.kind,
            Site.name,
            _is_open().label("is_open"),
            Site.star_rating,
        )
        .where(_candidates(crs, BUFFER / EXTENT), *conds)
        .subquery("features")
    )


def _clusters(conds: list, crs: str) -> sa.Subquery:
    """One point per CELL x CELL cell holding sites: at their mean position, with
    `count`, `kind` when all share one, and `cluster: true`.

    Only sites inside the tile count (left and top edges included, right and bottom
    excluded), so adjacent tiles never count a site twice. Positions come from the
    mercator formulas in SQL: ST_Transform per site made a z5 tile 2.5x slower.
    """
    z, x, y = _zxy()
    # Fences (OFFSET 0) make each site's coordinates and position computed once: inlined
    # into every expression that uses them, ST_X/ST_Y ran dozens of times per site.
    listed = (
        sa.select(
            Site.kind,
            sa.func.ST_X(Site.geom).label("lon"),
            sa.func.ST_Y(Site.geom).label("lat"),
        )
        .where(_candidates(crs, 0), *conds)
        .offset(_n(0))
        .subquery("listed")
    )
    lon, lat = listed.c.lon, listed.c.lat
    if crs == "gcj02":
        lon, lat = lon + sa.func.gcj02_dlon(lat, lon), lat + sa.func.gcj02_dlat(lat, lon)
    points = (
        sa.select(
            listed.c.kind,
            ((sa.func.web_mercator_tile_x(lon, z) - x) * _n(EXTENT)).label("px"),
            ((sa.func.web_mercator_tile_y(lat, z) - y) * _n(EXTENT)).label("py"),
        )
        .offset(_n(0))
        .subquery("points")
    )
    cx = sa.func.floor(points.c.px / _n(float(CELL)))
    cy = sa.func.floor(points.c.py / _n(float(CELL)))
    kinds = sa.case(
        (sa.func.min(points.c.kind) == sa.func.max(points.c.kind), sa.func.min(points.c.kind))
    )
    # MATERIALIZED keeps the in-tile test below out of the grouping query: pushed into
    # its WHERE, the planner guessed a dozen rows, sorted ~500k on disk instead of
    # hashing them (0.2 s of a z5 tile).
    cells = (
        sa.select(
            cx.label("cx"),
            cy.label("cy"),
            sa.func.floor(sa.func.avg(points.c.px)).label("px"),
            sa.func.floor(sa.func.avg(points.c.py)).label("py"),
            sa.func.count().label("count"),
            kinds.label("kind"),
        )
        .group_by(cx, cy)
        .cte("cells")
        .prefix_with("MATERIALIZED")
    )
    last = _n(EXTENT // CELL - 1)
    return (
        sa.select(
            sa.func.ST_MakePoint(cells.c.px, cells.c.py).label("geom"),
            cells.c["count"],
            cells.c.kind,
            sa.true().label("cluster"),
        )
        .where(cells.c.cx.between(_n(0), last), cells.c.cy.between(_n(0), last))
        .subquery("features")
    )
