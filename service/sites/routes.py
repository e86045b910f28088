"""Public site reads: nearby, list/bbox (JSON and GeoJSON), one site, its hours."""

import logging
from datetime import timedelta

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import abort

from service.access import auth
from service.core import cursors
from service.core.db import db
from service.core.http import Blueprint, cached, invalid, json_response, keyset_after, now, url_with
from service.geo import datums as datum
from service.hours import evaluate
from service.hours import store as hours_store
from service.reports import queries as reports
from service.sites import filters, queries, serialize
from service.sites.schemas import (
    HoursArgs,
    HoursSchema,
    NearbyArgs,
    NearbyPage,
    SiteArgs,
    SiteDetailSchema,
    SiteFeatureCollection,
    SitePage,
    SitesArgs,
)

logger = logging.getLogger(__name__)

blp = Blueprint("sites", __name__, url_prefix="/v1/sites", description="Find and read sites.")

GEOJSON = "application/geo+json"


def search_filters(args: dict, conn, at) -> filters.Filters:
    """Shared filters; open_now/open_at must fall inside the materialised hours horizon."""
    open_at = at if args.get("open_now") else args.get("open_at")
    if open_at is not None:
        horizon = cached("hours_horizon", lambda: hours_store.current_horizon(conn))
        if horizon is None or not horizon.covers(open_at):
            if args.get("open_now"):
                abort(
                    503,
                    message="Opening hours are not materialised for now; "
                    "run `yizhan hours refresh`.",
                    headers={"Retry-After": "60"},
                )
            span = (
                f"{horizon.valid_from.isoformat()} to {horizon.valid_until.isoformat()}"
                if horizon
                else "none"
            )
            invalid("open_at", f"Must lie within the opening-hours horizon ({span}).")
    return filters.Filters(
        kinds=args.get("kind"),
        amenities_all=args.get("amenities"),
        amenities_any=args.get("any_amenities"),
        open_at=open_at,
        q=args.get("q"),
        org=args.get("org"),
    )


def _position(args: dict) -> dict:
    """Decode the cursor of a paged request, or 422 naming it."""
    try:
        return cursors.decode(args["cursor"], request.args.to_dict())
    except cursors.CursorError as exc:
        invalid("cursor", str(exc))


@blp.route("/nearby")
class Nearby(MethodView):
    @blp.arguments(NearbyArgs, location="query")
    @blp.response(200, NearbyPage)
    def get(self, args):
        """Sites nearest a point, by geodesic distance (ties by id)."""
        at = now()
        lat, lon = datum.to_wgs84(args["lat"], args["lon"], args["crs"])
        after = None
        if "cursor" in args:
            pos = _position(args)
            if not (type(pos.get("d")) in (float, int) and type(pos.get("i")) is int):
                invalid("cursor", "Malformed cursor.")
            after = (float(pos["d"]), pos["i"])
        with db.reading() as conn:
            search = search_filters(args, conn, at)
            rows = queries.nearby(conn, lat, lon, args["radius"], args["limit"], search, at, after)
        page, more = rows[: args["limit"]], len(rows) > args["limit"]
        items = [serialize.nearby_site(r, at, args["crs"]) for r in page]
        next_url = None
        if more:
            last = page[-1]
            cursor = cursors.encode({"d": last.distance_m, "i": last.id}, request.args.to_dict())
            next_url = url_with(cursor=cursor)
        return json_response({"items": items, "next": next_url})


@blp.route("")
class Sites(MethodView):
    @blp.arguments(SitesArgs, location="query")
    @blp.response(200, SitePage)
    @blp.doc(
        responses={
            200: {
                "description": "A page of sites, or a GeoJSON FeatureCollection of them",
                "content": {GEOJSON: {"schema": SiteFeatureCollection}},
            }
        }
    )
    def get(self, args):
        """Sites in a bounding box and/or matching filters, in id order."""
        at = now()
        bbox = args.get("bbox")
        if bbox is not None and args["crs"] != "wgs84":
            bbox = _bbox_to_wgs84(bbox, args["crs"])
        after_id = keyset_after(args)
        geojson = _wants_geojson(args)
        whole = geojson and args["crs"] == "wgs84"  # Features made whole by PostgreSQL
        with db.reading() as conn:
            search = search_filters(args, conn, at)
            frequencies = cached("amenity_frequencies", lambda: filters.amenity_frequencies(conn))
            rows = queries.sites_page(
                conn,
                search,
                args["limit"],
                bbox,
                args.get("updated_since"),
                after_id,
                selective=filters.is_selective(search, frequencies),
                features=whole,
            )
        page, more = rows[: args["limit"]], len(rows) > args["limit"]
        next_url = None
        if more:
            cursor = cursors.encode({"i": page[-1].id}, request.args.to_dict())
            next_url = url_with(cursor=cursor)
        if geojson:
            body = {
                "type": "FeatureCollection",
                "features": serialize.features(page)
                if whole
                else [serialize.feature(r, args["crs"]) for r in page],
                "links": [{"rel": "next", "href": next_url, "type": GEOJSON}] if next_url else [],
                "next": next_url,
            }
            return json_response(body, mimetype=GEOJSON)
        items = [serialize.site(r, args["crs"]) for r in page]
        return json_response({"items": items, "next": next_url})


def _wants_geojson(args: dict) -> bool:
    if "f" in args:
        return args["f"] == "geojson"
    # Compare media types without parameters: "application/geo+json; charset=utf-8" counts.
    quality = {"application/json": 0.0, GEOJSON: 0.0}
    for value, q in request.accept_mimetypes:
        media = value.split(";", 1)[0].strip().lower()
        if media in quality:
            quality[media] = max(quality[media], q)
    return quality[GEOJSON] > quality["application/json"]


def _bbox_to_wgs84(bbox, crs: str):
    """Convert a box drawn on a GCJ-02/BD-09 map: corners and edge midpoints, enveloped.

    The datum shift varies by a few metres across a city-sized box, so the
    envelope of converted boundary points is padded by ~20 m to lose nothing.
    """
    west, south, east, north = bbox
    if west > east:  # antimeridian boxes lie outside China: nothing is shifted
        return bbox
    mid_lat, mid_lon = (south + north) / 2, (west + east) / 2
    points = [
        datum.to_wgs84(lat, lon, crs)
        for lat in (south, mid_lat, north)
        for lon in (west, mid_lon, east)
    ]
    pad = 0.0002
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    return (
        max(-180.0, min(lons) - pad),
        max(-90.0, min(lats) - pad),
        min(180.0, max(lons) + pad),
        min(90.0, max(lats) + pad),
    )


@blp.route("/<id:site_id>")
class SiteById(MethodView):
    @blp.arguments(SiteArgs, location="query")
    @blp.response(200, SiteDetailSchema)
    @blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
    def get(self, args, site_id):
        """One site by id (closed sites included); ETag and If-None-Match supported."""
        # Admins read the primary: the ETag they send back in If-Match must not lag their write.
        admin = request.headers.get("Authorization", "").lower().startswith("bearer ")
        with db.reading(primary=admin) as conn:
            row = queries.site_by_id(conn, site_id)
        if row is None:
            abort(404, message=f"No site with id {site_id}.")
        extra = {}
        etag = _etag(row, args["crs"])
        headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache", "Vary": "Authorization"}
        if admin:
            # Admins of the site's subtree also see its open rider reports.
            me = auth.authenticate(now())
            if me.covers(row.org_code):
                with db.reading(primary=True) as conn:
                    extra["open_reports"] = reports.open_counts(conn, [site_id]).get(site_id, 0)
                etag += f"-r{extra['open_reports']}"
                headers.update(ETag=f'"{etag}"', **{"Cache-Control": "private, no-cache"})
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=headers)
        return json_response(serialize.site(row, args["crs"], extra), headers=headers)


def _etag(row, crs: str) -> str:
    """Changes whenever the representation does: a new version or another datum."""
    return f"{row.id}-{row.version}" + ("" if crs == "wgs84" else f"-{crs}")


@blp.route("/<id:site_id>/hours")
class SiteHours(MethodView):
    @blp.arguments(HoursArgs, location="query")
    @blp.response(200, HoursSchema)
    def get(self, args, site_id):
        """Concrete open intervals for the next `days` days, in the site's own zone."""
        with db.reading() as conn:
            row = queries.site_by_id(conn, site_id)
        if row is None:
            abort(404, message=f"No site with id {site_id}.")
        start = args.get("from_") or now()
        end = start + timedelta(days=args["days"])
        intervals = []
        if row.opening_hours and row.status == "active":
            country = current_app.config["HOLIDAY_COUNTRY"]
            for lo, hi in evaluate.open_intervals(
                row.opening_hours, row.timezone, start, end, country
            ):
                intervals.append(
                    {
                        "start": serialize.rfc3339(max(lo, start), row.timezone),
                        "end": serialize.rfc3339(min(hi or end, end), row.timezone),
                    }
                )
        body = {
            "timezone": row.timezone,
            "opening_hours": row.opening_hours,
            "status": row.status,
            "intervals": intervals,
        }
        return json_response(body)
