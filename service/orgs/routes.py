"""The org tree: read your subtree; admins create orgs below their own."""

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
