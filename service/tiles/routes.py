"""Mapbox Vector Tiles of the listed sites, with the filters of /v1/sites."""

import hashlib
import logging

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import ValidationError, fields

from service.core import cache
from service.core.api import Blueprint
from service.core.clock import now
from service.core.db import db
from service.sites import filters
from service.sites.schemas import FilterArgs
from service.tiles import queries

logger = logging.getLogger(__name__)

blp = Blueprint(
    "tiles", __name__, url_prefix="/v1/tiles", description="Vector tiles of sites for maps."
)

MVT = "application/vnd.mapbox-vector-tile"
MAX_ZOOM = 22
TILE_DATUMS = ("wgs84", "gcj02")
CACHE_CONTROL = "public, max-age=60"
# A z5 tile over eastern China groups ~470k sites (0.5 s at 1e6 sites), hardly ever changes,
# and every map that opens asks for it: low-zoom tiles are kept for CACHE_SECONDS (30 s; 0 in
# tests), within the 60 s of their Cache-Control. Tiles whose filters depend on the moment
# (open_now) and high-zoom tiles (cheap; their `is_open` changes with the clock) are not.
# Low-zoom tiles are at most ~100 kB: a bounded few tens of MB.
MAX_CACHED_TILES = 512


def _tile_datum(value: str) -> None:
    if value == "bd09":
        raise ValidationError(
            "Baidu maps (bd09) use their own tile grid, not the Web Mercator XYZ grid of "
            "these tiles; use wgs84, or gcj02 for Amap and Tencent maps."
        )
    if value not in TILE_DATUMS:
        raise ValidationError(f"Must be one of: {', '.join(TILE_DATUMS)}.")


class TileArgs(FilterArgs):
    crs = fields.String(
        load_default="wgs84",
        validate=_tile_datum,
        metadata={
            "enum": list(TILE_DATUMS),
            "description": "Datum the points are drawn in: wgs84, or gcj02 to overlay "
            "Amap/Tencent base maps. bd09 is refused: Baidu uses its own tile grid.",
        },
    )


TILE_DESCRIPTION = (
    "A Mapbox Vector Tile (layer `sites`, extent 4096) of the listed sites that pass the "
    f"filters. Below zoom {queries.CLUSTER_BELOW_ZOOM} sites are grouped into cells of "
    f"{queries.CELL}x{queries.CELL} tile units: one point per cell with `count`, `kind` "
    "(when all its sites share it) and `cluster: true`. From that zoom on, one point per "
    "site (feature id = site id) with `id`, `kind`, `name`, `is_open` (at request time; "
    "absent when the site publishes no hours) and `star_rating` (when rated). An empty "
    "tile is 204 No Content."
)


def _check_tile(z: int, x: int, y: int) -> None:
    """422 naming the first path parameter outside the tile grid."""
    if not 0 <= z <= MAX_ZOOM:
        _bad("z", f"Must be between 0 and {MAX_ZOOM}.")
    last = 2**z - 1
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value <= last:
            _bad(name, f"Must be between 0 and {last} at zoom {z}.")


def _bad(name: str, message: str):
    abort(422, messages={"path": {name: [message]}})


PATH_PARAMETERS = [
    {
        "in": "path",
        "name": "z",
        "description": f"Zoom, 0..{MAX_ZOOM}.",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM},
    },
    *(
        {
            "in": "path",
            "name": axis,
            "description": f"Tile {what}, 0..2^z-1 (XYZ scheme: {origin}).",
            "schema": {"type": "integer", "minimum": 0},
        }
        for axis, what, origin in (
            ("x", "column", "0 at 180°W"),
            ("y", "row", "0 at the top, 85.05°N"),
        )
    ),
]


# Signed, so that a negative coordinate is a 422 naming it rather than a 404.
@blp.route(
    "/<int(signed=True):z>/<int(signed=True):x>/<int(signed=True):y>.mvt",
    parameters=PATH_PARAMETERS,
)
class Tile(MethodView):
    @blp.arguments(TileArgs, location="query")
    @blp.alt_response(
        200,
        description=TILE_DESCRIPTION,
        content_type=MVT,
        schema={"type": "string", "format": "binary"},
        success=True,
    )
    @blp.alt_response(204, description="Empty tile: nothing to draw here.", success=True)
    @blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
    def get(self, args, z, x, y):
        """Vector tile z/x/y of the listed sites (layer `sites`); 204 when empty."""
        _check_tile(z, x, y)
        at = now()
        with db.reading() as conn:
            search = filters.from_args(args, conn, at)
            cacheable = z < queries.CLUSTER_BELOW_ZOOM and not args.get("open_now")
            body = cache.named("tiles", MAX_CACHED_TILES).get(
                (z, x, y, args["crs"], search.key()),
                lambda: queries.tile(conn, z, x, y, search, at, args["crs"]),
                current_app.config["CACHE_SECONDS"] if cacheable else 0,
            )
        headers = {"Cache-Control": CACHE_CONTROL}
        if not body:
            return Response(status=204, headers=headers)
        etag = hashlib.blake2b(body, digest_size=16).hexdigest()
        headers["ETag"] = f'"{etag}"'
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=headers)
        return Response(body, mimetype=MVT, headers=headers)
