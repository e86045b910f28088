"""The org tree: read your subtree; admins create orgs below their own."""

import hashlib

import orjson
from flask import Response, request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, fields, validate

from service.access import gate
from service.core import orgs
from service.core.api import Blueprint, require_json
from service.core.db import db
from service.core.params import StrictQuery, Text, org_code
from service.core.responses import json_response
from service.orgs import store

blp = Blueprint("orgs", __name__, url_prefix="/v1/orgs", description="The org tree.")
blp.before_request(require_json)


class OrgSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    parent = fields.String(allow_none=True, required=True)


class OrgPage(Schema):
    items = fields.List(fields.Nested(OrgSchema), required=True)
    next = fields.String(allow_none=True, required=True)


class OrgIn(Schema):
    class Meta:
        unknown = RAISE

    code = org_code(required=True)
    name = Text(required=True, validate=validate.Length(1, 200))


def _shape(code: str, name: str) -> dict:
    return {"code": code, "name": name, "parent": orgs.parent(code)}


class PublicOrgArgs(StrictQuery):
    under = org_code(metadata={"description": "Only this org and the orgs below it."})


@blp.route("/public")
class PublicOrgs(MethodView):
    @blp.arguments(PublicOrgArgs, location="query")
    @blp.response(200, OrgPage)
    @blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
    def get(self, args):
        """The org tree's codes and names, for district pickers (no credentials)."""
        under = args.get("under")
        with db.reading() as conn:
            rows = store.subtree(conn, under)
        if under is not None and not rows:
            abort(404, message=f"No org {under}.")
        body = {"items": [_shape(c, n) for c, n in rows], "next": None}
        tag = hashlib.blake2b(orjson.dumps(body), digest_size=8).hexdigest()
        headers = {"ETag": f'"{tag}"', "Cache-Control": "public, max-age=3600"}
        if request.if_none_match.contains_weak(tag):
            return Response(status=304, headers=headers)
        return json_response(body, headers=headers)


@blp.route("")
class Orgs(MethodView):
    @gate.required(*gate.READERS)
    @blp.arguments(StrictQuery, location="query")
    @blp.response(200, OrgPage)
    @blp.doc(security=gate.BEARER)
    def get(self, _args):
        """Your org and every org below it, in tree order."""
        with db.reading(primary=True) as conn:  # an admin lists right after adding
            rows = store.subtree(conn, gate.principal().org_code)
        return json_response({"items": [_shape(c, n) for c, n in rows], "next": None})

    @gate.required("admin")
    @blp.arguments(OrgIn, location="json")
    @blp.response(201, OrgSchema)
    @blp.doc(security=gate.BEARER)
    def post(self, data):
        """Create an org below yours (its parent must exist)."""
        me, code = gate.principal(), data["code"]
        gate.check(code)  # outside the caller's subtree: 403, as every write there
        if code == me.org_code:
            abort(422, messages={"json": {"code": [f"Must be below your org {me.org_code}."]}})
        parent = orgs.parent(code)
        with db.writing() as conn:
            if orgs.org_id(conn, parent) is None:
                abort(422, messages={"json": {"code": [f"Parent org {parent} does not exist."]}})
            created = store.create(conn, code, data["name"])
        if created is None:
            abort(409, message=f"Org {code} already exists.")
        return json_response(
            _shape(code, data["name"]), status=201, headers={"Location": "/v1/orgs"}
        )
