"""Public site reads: nearby, list/bbox (JSON and GeoJSON), one site, its hours."""

import logging
from datetime import timedelta

from flask import Response, request
from flask.views import MethodView
from flask_smorest import abort

from service.access import gate
from service.core import pagination
from service.core.api import Blueprint
from service.core.cache import cached
from service.core.clock import now, rfc3339
from service.core.db import db
from service.core.responses import GEOJSON, json_response, language
from service.geo import datums
from service.hours import calendar
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

# Answers with hours_text are in the language Accept-Language asks for.
VARY = {"Vary": "Accept-Language"}


@blp.route("/nearby")
class Nearby(MethodView):
    @blp.arguments(NearbyArgs, location="query")
    @blp.response(200, NearbyPage)
    def get(self, args):
        """Sites nearest a point, by geodesic distance (ties by id)."""
        at = now()
        lat, lon = datums.to_wgs84(args["lat"], args["lon"], args["crs"])
        pos = pagination.position(args, pagination.BY_DISTANCE)
        after = None if pos is None else (float(pos["d"]), pos["i"])
        with db.reading() as conn:
            search = filters.from_args(args, conn, at)
            state_at = search.open_at or at  # open_state is evaluated at open_at when given
            rows = queries.nearby(
                conn, lat, lon, args["radius"], args["limit"], search, state_at, after
            )
            reading = serialize.reading(conn, state_at, language(), rows)
        page, next_url = pagination.page(rows, args["limit"], serialize.distance_position)
        items = [serialize.nearby_site(r, reading, args["crs"]) for r in page]
        return json_response({"items": items, "next": next_url}, headers=VARY)


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
        if bbox is not None:
            bbox = datums.bbox_to_wgs84(bbox, args["crs"])
        after_id = pagination.after_id(args)
        geojson = _wants_geojson(args)
        whole = geojson and args["crs"] == "wgs84"  # Features made whole by PostgreSQL
        with db.reading() as conn:
            search = filters.from_args(args, conn, at)
            rows = queries.sites_page(
                conn,
                search,
                args["limit"],
                bbox,
                args.get("updated_since"),
                after_id,
                selective=filters.selective(conn, search),
                features=whole,
                now=search.open_at or at,
            )
            reading = serialize.reading(conn, search.open_at or at, language(), rows)
        page, next_url = pagination.page(rows, args["limit"])
        if geojson:
            body = {
                "type": "FeatureCollection",
                "features": serialize.features(page, reading)
                if whole
                else [serialize.feature(r, args["crs"], reading=reading) for r in page],
                "links": [{"rel": "next", "href": next_url, "type": GEOJSON}] if next_url else [],
                "next": next_url,
            }
            return json_response(body, mimetype=GEOJSON, headers=VARY)
        items = [serialize.site(r, args["crs"], reading=reading) for r in page]
        return json_response({"items": items, "next": next_url}, headers=VARY)


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


@blp.route("/<id:site_id>")
class SiteById(MethodView):
    @blp.arguments(SiteArgs, location="query")
    @blp.response(200, SiteDetailSchema)
    @blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
    def get(self, args, site_id):
        """One site by id (closed sites included); ETag and If-None-Match supported."""
        # Admins read the primary: the ETag they send back in If-Match must not lag their write.
        admin = request.headers.get("Authorization", "").lower().startswith("bearer ")
        at = now()
        with db.reading(primary=admin) as conn:
            state_at = filters.from_args(args, conn, at).open_at or at
            row = queries.site_by_id(conn, site_id, state_at)
            reading = serialize.reading(conn, state_at, language(), [row] if row else [])
        if row is None:
            abort(404, message=f"No site with id {site_id}.")
        extra = {}
        body = serialize.site(row, args["crs"], reading=reading)
        etag = serialize.etag(row.id, row.version, args["crs"], body)
        headers = {
            "ETag": f'"{etag}"',
            "Cache-Control": "no-cache",
            "Vary": "Authorization, Accept-Language",
        }
        if admin:
            # Admins of the site's subtree also see its open rider reports.
            me = gate.authenticate(now())
            if me.covers(row.org_code):
                with db.reading(primary=True) as conn:
                    extra["open_reports"] = reports.open_counts(conn, [site_id]).get(site_id, 0)
                etag += f"-r{extra['open_reports']}"
                headers.update(ETag=f'"{etag}"', **{"Cache-Control": "private, no-cache"})
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=headers)
        if extra:
            body = serialize.site(row, args["crs"], extra, reading)
        return json_response(body, headers=headers)


@blp.route("/<id:site_id>/hours")
class SiteHours(MethodView):
    @blp.arguments(HoursArgs, location="query")
    @blp.response(200, HoursSchema)
    def get(self, args, site_id):
        """Concrete open intervals for the next `days` days, in the site's own zone."""
        start = args.get("from_") or now()
        end = start + timedelta(days=args["days"])
        with db.reading() as conn:
            row = queries.site_by_id(conn, site_id, start)
            known = cached("calendar", lambda: calendar.read(conn))
        if row is None:
            abort(404, message=f"No site with id {site_id}.")
        intervals = []
        definition = hours_store.Definition.of(row._asdict())
        closing = row.status == "temporarily_closed" and row.closed_until is not None
        if definition is not None and (row.status == "active" or closing):
            for lo, hi in definition.intervals(start, end, known):
                intervals.append(
                    {
                        "start": rfc3339(max(lo, start), row.timezone),
                        "end": rfc3339(min(hi or end, end), row.timezone),
                    }
                )
        body = {
            "timezone": row.timezone,
            "opening_hours": row.opening_hours,
            "status": row.status,
            "intervals": intervals,
        }
        return json_response(body)
