"""OGC API - Features, Part 1: Core, over the listed sites (JSON and GeoJSON only).

GIS clients (QGIS, GDAL/OGR, OWSLib, ArcGIS Pro) read the sites as one collection,
`sites`. Invalid and unknown query parameters are 400 here, as the standard requires
(/req/core/query-param-unknown, /req/core/query-param-invalid), not the 422 of /v1.
"""

import logging
from datetime import UTC, datetime

from flask import Response, abort, request, url_for
from flask.views import MethodView
from werkzeug.exceptions import UnprocessableEntity

from service.core import pagination, problems
from service.core.api import Blueprint, StrictParser
from service.core.cache import cached
from service.core.clock import now
from service.core.db import db
from service.core.responses import GEOJSON, JSON, json_response, language
from service.ogc import queries
from service.ogc.schemas import (
    CRS84,
    MAX_LIMIT,
    NEAREST_NOTE,
    ItemsArgs,
    NoArgs,
    OgcCollection,
    OgcCollections,
    OgcConformance,
    OgcFeature,
    OgcFeatureCollection,
    OgcLandingPage,
)
from service.sites import filters, serialize
from service.sites import queries as site_queries

logger = logging.getLogger(__name__)

OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
COLLECTION_TITLE = "Union rest stations, workers' homes and service points"
COLLECTION_DESCRIPTION = (
    "Listed sites of the Yizhan registry (户外劳动者驿站, 职工之家 and other union service "
    "points); permanently closed sites are not listed but stay readable by id. Feature ids "
    "are the site ids and properties are the Site fields of /v1. Besides bbox, datetime "
    "(on updated_at) and limit, items take the Yizhan filters kind, amenities, "
    "any_amenities, open_now, open_at, q and org. " + NEAREST_NOTE
)


class OgcParser(StrictParser):
    """Validation errors as 400 problem+json with an `errors` object (the standard's code)."""

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        bad_request(problems.flatten_messages(error.messages))


class OgcBlueprint(Blueprint):
    ARGUMENTS_PARSER = OgcParser()


blp = OgcBlueprint(
    "ogc",
    __name__,
    url_prefix="/ogc",
    description="OGC API - Features (Part 1: Core): the listed sites as collection `sites`, "
    "for GIS clients. " + NEAREST_NOTE,
)


def bad_request(wrong: dict[str, list[str]]):
    """Abort with a 400 validation problem naming each bad parameter."""
    abort(
        problems.problem(
            400,
            f"Invalid parameters: {', '.join(sorted(wrong))}.",
            title="Invalid request",
            kind="validation",
            errors=wrong,
        )
    )


def _link(endpoint: str, rel: str, media_type: str, title: str | None = None) -> dict:
    link = {"href": url_for(endpoint, _external=True), "rel": rel, "type": media_type}
    if title:
        link["title"] = title
    return link


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@blp.route("", endpoint="landing", strict_slashes=False)
class Landing(MethodView):
    @blp.arguments(NoArgs, location="query", error_status_code=400)
    @blp.response(200, OgcLandingPage)
    def get(self, args):
        """OGC API - Features landing page: links to the API definition and the data."""
        body = {
            "title": "Yizhan OGC API - Features",
            "description": "Trade-union rest stations (驿站) and service points in China, "
            "as OGC API - Features for GIS clients.",
            "links": [
                _link("ogc.landing", "self", JSON, "This document"),
                _link("api-docs.openapi_json", "service-desc", OPENAPI, "API definition"),
                _link("api-docs.openapi_swagger_ui", "service-doc", "text/html", "API docs"),
                _link("ogc.conformance", "conformance", JSON, "Conformance classes"),
                _link("ogc.collections", "data", JSON, "Collections"),
            ],
        }
        return json_response(body)


@blp.route("/conformance", endpoint="conformance")
class Conformance(MethodView):
    @blp.arguments(NoArgs, location="query", error_status_code=400)
    @blp.response(200, OgcConformance)
    def get(self, args):
        """Conformance classes this API implements."""
        return json_response({"conformsTo": CONFORMANCE})


def _collection() -> dict:
    with db.reading() as conn:
        space, time = cached(
            "ogc_extent", lambda: (queries.spatial_extent(conn), queries.temporal_extent(conn))
        )
    extent = {"spatial": {"bbox": [list(space or (-180, -90, 180, 90))], "crs": CRS84}}
    if time is not None:
        extent["temporal"] = {"interval": [[_utc(time[0]), _utc(time[1])]], "trs": GREGORIAN}
    return {
        "id": "sites",
        "title": COLLECTION_TITLE,
        "description": COLLECTION_DESCRIPTION,
        "extent": extent,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link("ogc.collection", "self", JSON, "This collection"),
            _link("ogc.items", "items", GEOJSON, "The sites as GeoJSON"),
        ],
    }


@blp.route("/collections", endpoint="collections")
class Collections(MethodView):
    @blp.arguments(NoArgs, location="query", error_status_code=400)
    @blp.response(200, OgcCollections)
    def get(self, args):
        """The feature collections: one, `sites`."""
        body = {
            "collections": [_collection()],
            "links": [_link("ogc.collections", "self", JSON, "This document")],
        }
        return json_response(body)


@blp.route("/collections/sites", endpoint="collection")
class Collection(MethodView):
    @blp.arguments(NoArgs, location="query", error_status_code=400)
    @blp.response(200, OgcCollection)
    def get(self, args):
        """The `sites` collection: extent, CRS and links to its items."""
        return json_response(_collection())


@blp.route("/collections/sites/items", endpoint="items")
class Items(MethodView):
    @blp.arguments(ItemsArgs, location="query", error_status_code=400)
    @blp.response(200, OgcFeatureCollection, content_type=GEOJSON)
    def get(self, args):
        """Features of `sites` in id order (or by distance with `nearest`), paged by `next`."""
        at = now()
        limit = min(args["limit"], MAX_LIMIT)
        with db.reading() as conn:
            search = _search(args, conn, at)
            if "nearest" in args:
                rows, next_url = _nearest_page(conn, args, search, limit, search.open_at or at)
            else:
                rows, next_url = _listed_page(conn, args, search, limit, search.open_at or at)
            reading = serialize.reading(conn, search.open_at or at, language(), rows)
        if "nearest" in args:
            features = [
                serialize.feature(row, "wgs84", {"distance_m": round(row.distance_m, 1)}, reading)
                for row in rows
            ]
        else:
            features = serialize.features(rows, reading)
        links = [
            {"href": request.url, "rel": "self", "type": GEOJSON, "title": "This page"},
            _link("ogc.collection", "collection", JSON, "The sites collection"),
        ]
        if next_url is not None:
            links.append({"href": next_url, "rel": "next", "type": GEOJSON})
        body = {
            "type": "FeatureCollection",
            "features": features,
            "links": links,
            "timeStamp": _utc(at),
            "numberReturned": len(rows),
        }
        return json_response(body, mimetype=GEOJSON, headers={"Vary": "Accept-Language"})


def _search(args: dict, conn, at) -> filters.Filters:
    """The shared /v1 filters, with their 422s turned into this API's 400s."""
    try:
        return filters.from_args(args, conn, at)
    except UnprocessableEntity as exc:
        messages = (getattr(exc, "data", None) or {}).get("messages") or {}
        bad_request(problems.flatten_messages(messages) or {"request": [exc.description]})


def _cursor_error(message: str):
    bad_request({"cursor": [message]})


def _listed_page(conn, args: dict, search, limit: int, at):
    """(rows, the next page's URL or None) in id order."""
    pos = pagination.position(args, pagination.BY_ID, _cursor_error)
    rows = queries.items_page(
        conn,
        search,
        limit,
        args.get("bbox"),
        args.get("datetime"),
        None if pos is None else pos["i"],
        selective=filters.selective(conn, search),
        now=at,
    )
    return pagination.page(rows, limit)


def _nearest_page(conn, args: dict, search, limit: int, at):
    """(rows, the next page's URL or None) by distance from `nearest` (extension)."""
    pos = pagination.position(args, pagination.BY_DISTANCE, _cursor_error)
    after = None if pos is None else (float(pos["d"]), pos["i"])
    lat, lon = args["nearest"]
    radius = args.get("radius", 3000.0)
    rows = site_queries.nearby(conn, lat, lon, radius, limit, search, at, after)
    return pagination.page(rows, limit, serialize.distance_position)


@blp.route("/collections/sites/items/<id:feature_id>", endpoint="item")
class Item(MethodView):
    @blp.arguments(NoArgs, location="query", error_status_code=400)
    @blp.response(200, OgcFeature, content_type=GEOJSON)
    @blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, feature_id):
        """One site as a GeoJSON Feature (closed sites too); ETag and If-None-Match."""
        at = now()
        with db.reading() as conn:
            row = site_queries.site_by_id(conn, feature_id, at)
            reading = serialize.reading(conn, at, language(), [row] if row else [])
        if row is None:
            abort(problems.problem(404, f"No feature with id {feature_id} in collection sites."))
        body = serialize.feature(row, "wgs84", reading=reading)
        etag = "ogc-" + serialize.etag(row.id, row.version, "wgs84", body["properties"])
        headers = {
            "ETag": f'"{etag}"',
            "Cache-Control": "no-cache",
            "Vary": "Accept-Language",
        }
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=headers)
        body["links"] = [
            {"href": request.base_url, "rel": "self", "type": GEOJSON, "title": "This feature"},
            _link("ogc.collection", "collection", JSON, "The sites collection"),
        ]
        return json_response(body, headers=headers, mimetype=GEOJSON)
