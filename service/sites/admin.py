"""Admin site writes: create (idempotent), update and delete with If-Match, history."""

import hashlib
import logging
import re

import orjson
from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, fields, validate

from service.access import gate
from service.core import pagination
from service.core.api import Blueprint, require_json
from service.core.clock import now, rfc3339
from service.core.db import db
from service.core.params import StrictQuery
from service.core.responses import json_response, language
from service.geo import datums
from service.sites import queries, serialize, store
from service.sites.schemas import (
    SitePatchSchema,
    SiteSchema,
    SiteWriteSchema,
    WriteArgs,
)

logger = logging.getLogger(__name__)

blp = Blueprint(
    "sites_admin",
    __name__,
    url_prefix="/v1/sites",
    description="Union admins: create, update and delete sites (Bearer token).",
)
blp.before_request(require_json)

IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "description": 'The ETag you read (e.g. "228-1"), or * (428 without it, 412 if stale).',
    # Any other value is a condition that fails (412), as RFC 9110 evaluates If-Match.
    "schema": {"type": "string", "minLength": 1},
}
ASCII_DIGITS = re.compile(r"[0-9]{1,9}")


def _link(path: str, method: str, description: str, **extra: str) -> dict:
    ref = "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method
    parameters = {"site_id": "$response.body#/id", **extra}
    return {"operationRef": ref, "parameters": parameters, "description": description}


# OpenAPI links: what a client (or a stateful tester) can do next with the site it created.
CREATED_SITE_LINKS = {
    "GetSite": _link("/v1/sites/{site_id}", "get", "Read the new site."),
    "PatchSite": _link(
        "/v1/sites/{site_id}",
        "patch",
        "Change it, with the ETag of this answer.",
        **{"header.If-Match": "$response.header.ETag"},
    ),
    "DeleteSite": _link(
        "/v1/sites/{site_id}",
        "delete",
        "Delete it, with the ETag of this answer.",
        **{"header.If-Match": "$response.header.ETag"},
    ),
    "GetHours": _link("/v1/sites/{site_id}/hours", "get", "Its opening intervals."),
    "GetHistory": _link("/v1/sites/{site_id}/history", "get", "Its audit trail."),
    "ReportProblem": _link("/v1/sites/{site_id}/reports", "post", "A rider reports on it."),
}


class HistoryArgs(StrictQuery):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String()


class AuditUser(Schema):
    id = fields.Integer(allow_none=True)
    name = fields.String(allow_none=True)


class AuditEntry(Schema):
    id = fields.Integer(required=True)
    action = fields.String(required=True)
    at = fields.String(required=True, metadata={"format": "date-time"})
    version = fields.Integer(required=True)
    user = fields.Nested(AuditUser, allow_none=True)
    changes = fields.Dict(
        required=True, metadata={"description": 'Each changed field: {"old": .., "new": ..}'}
    )


class HistoryPage(Schema):
    items = fields.List(fields.Nested(AuditEntry), required=True)
    next = fields.String(allow_none=True, required=True)


def _horizon_days() -> int:
    return current_app.config["HOURS_HORIZON_DAYS"]


def _to_wgs84(data: dict, crs: str) -> dict:
    if "location" in data and crs != "wgs84":
        lat, lon = datums.to_wgs84(data["location"]["lat"], data["location"]["lon"], crs)
        data = {**data, "location": {"lat": lat, "lon": lon}}
    return data


def _site_response(conn, site_id: int, status: int, crs: str) -> Response:
    at = now()
    row = queries.site_by_id(conn, site_id, at)
    body = serialize.site(row, crs, reading=serialize.reading(conn, at, language(), [row]))
    headers = {
        "ETag": f'"{serialize.etag(row.id, row.version, crs, body)}"',
        "Vary": "Accept-Language",
    }
    if status == 201:
        headers["Location"] = f"/v1/sites/{site_id}"
    return json_response(body, status=status, headers=headers)


def _expected_version(site_id: int) -> int | None:
    """The version named by If-Match (428 without it); None for `*`."""
    header = request.headers.get("If-Match")
    if not header:
        abort(428, message="If-Match is required: send the ETag of the site you read.")
    if header.strip() == "*":
        return None
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            continue  # If-Match compares strongly
        parts = tag.strip('"').split("-")
        if len(parts) >= 2 and parts[0] == str(site_id) and ASCII_DIGITS.fullmatch(parts[1]):
            return int(parts[1])
    abort(412, message="If-Match does not name a version of this site.")


def _writable_site(conn, site_id: int) -> dict:
    """The site's current state, 404 if it does not exist, 403 outside the caller's subtree."""
    state = store.snapshot(conn, site_id)
    if state is None:
        abort(404, message=f"No site with id {site_id}.")
    if not gate.principal().covers(state["org"]):
        abort(403, message="This site belongs to an org outside your subtree.")
    return state


@blp.route("", endpoint="create")
class SiteCreate(MethodView):
    @gate.required(*gate.WRITERS)
    @blp.arguments(WriteArgs, location="query")
    @blp.arguments(SiteWriteSchema, location="json")
    @blp.response(201, SiteSchema)
    @blp.doc(
        security=gate.BEARER,
        parameters=[
            {
                "in": "header",
                "name": "Idempotency-Key",
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
            }
        ],
        responses={201: {"links": CREATED_SITE_LINKS}},
    )
    def post(self, args, data):
        """Create a site (201 with Location and ETag); Idempotency-Key makes retries safe."""
        crs, me, at = args["crs"], gate.principal(), now()
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 1 <= len(key) <= 200:
            abort(400, message="Idempotency-Key must be 1 to 200 characters.")
        fingerprint = hashlib.sha256(
            orjson.dumps({"body": data, "crs": crs}, option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        days = _horizon_days()
        with db.writing() as conn:
            if key is not None:
                replay = _claim_key(conn, me.user_id, key, fingerprint)
                if replay is not None:
                    if queries.site_by_id(conn, replay, at) is None:
                        abort(409, message="The site created with this key has been deleted.")
                    return _site_response(conn, replay, 201, crs)
            org_id = gate.writable_org(conn, data.get("org") or me.org_code)
            try:
                site_id = store.create(conn, org_id, _to_wgs84(data, crs), me.user_id, at, days)
            except store.Conflict:
                abort(409, message="This org already has a site with that external_id.")
            if key is not None:
                store.settle_key(conn, me.user_id, key, site_id)
            return _site_response(conn, site_id, 201, crs)


def _claim_key(conn, user_id: int, key: str, fingerprint: str) -> int | None:
    """store.claim_key, with a key reused for another request as a 422 naming the header."""
    try:
        return store.claim_key(conn, user_id, key, fingerprint)
    except store.KeyReused:
        abort(
            422,
            messages={
                "headers": {"Idempotency-Key": ["This key was used for a different request."]}
            },
        )


@blp.route("/<id:site_id>", endpoint="change")
class SiteChange(MethodView):
    @gate.required(*gate.WRITERS)
    @blp.arguments(WriteArgs, location="query")
    @blp.arguments(SitePatchSchema, location="json")
    @blp.response(200, SiteSchema)
    @blp.doc(
        security=gate.BEARER,
        parameters=[IF_MATCH],
    )
    def patch(self, args, changes, site_id):
        """Change some fields; If-Match is required (428 without it, 412 when stale)."""
        crs, me, at = args["crs"], gate.principal(), now()
        days = _horizon_days()
        with db.writing() as conn:
            _writable_site(conn, site_id)  # 404 or 403 before anything else
            expected = _expected_version(site_id)
            org_id = gate.writable_org(conn, changes["org"]) if "org" in changes else None
            try:
                version = store.update(
                    conn,
                    site_id,
                    expected,  # None for `*`: the version the locked row has
                    _to_wgs84(changes, crs),
                    org_id,
                    me.user_id,
                    at,
                    days,
                )
            except store.Stale:
                abort(412, message="The site has changed since you read it; GET it again.")
            except store.Invalid as exc:
                field, message = exc.args
                abort(422, messages={"json": {field: [message]}})
            except store.Conflict:
                abort(409, message="This org already has a site with that external_id.")
            if version is None:
                abort(404, message=f"No site with id {site_id}.")
            return _site_response(conn, site_id, 200, crs)

    @gate.required(*gate.WRITERS)
    @blp.response(204)
    @blp.doc(
        security=gate.BEARER,
        parameters=[IF_MATCH],
    )
    def delete(self, site_id):
        """Soft-delete a site (it leaves search; a tombstone stays); If-Match is required."""
        me, at = gate.principal(), now()
        with db.writing() as conn:
            _writable_site(conn, site_id)  # 404 or 403 before anything else
            expected = _expected_version(site_id)
            try:
                store.delete(
                    conn,
                    site_id,
                    expected,
                    me.user_id,
                    at,
                )
            except store.Stale:
                abort(412, message="The site has changed since you read it; GET it again.")
            except store.Invalid as exc:
                field, message = exc.args
                abort(422, messages={"json": {field: [message]}})
        return Response(status=204)


@blp.route("/<id:site_id>/history", endpoint="history")
class SiteHistory(MethodView):
    @gate.required(*gate.READERS)
    @blp.arguments(HistoryArgs, location="query")
    @blp.response(200, HistoryPage)
    @blp.doc(security=gate.BEARER)
    def get(self, args, site_id):
        """Audit trail of a site in your subtree: who changed what, when, old and new."""
        after = pagination.after_id(args)
        with db.reading(primary=True) as conn:  # read right after the change it shows
            gate.in_subtree(store.org_of(conn, site_id), f"site with id {site_id}")
            rows = store.history(conn, site_id, after, args["limit"])
        page, next_url = pagination.page(rows, args["limit"])
        items = [
            {
                "id": r.id,
                "action": r.action,
                "at": rfc3339(r.at),
                "version": r.version,
                "user": {"id": r.user_id, "name": r.user_name} if r.user_id else None,
                "changes": r.changes,
            }
            for r in page
        ]
        return json_response({"items": items, "next": next_url})
