"""The org tree: read your subtree; admins create orgs below their own."""

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, fields, validate

from service.access import auth
from service.core.db import db
from service.core.http import Blueprint, json_response, require_json
from service.core.models import Org
from service.core.params import Text, org_code
from service.sites.schemas import StrictQuery

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
    return {"code": code, "name": name, "parent": code.rsplit(".", 1)[0] if "." in code else None}


@blp.route("")
class Orgs(MethodView):
    @auth.required("admin", "editor", "viewer")
    @blp.arguments(StrictQuery, location="query")
    @blp.response(200, OrgPage)
    @blp.doc(security=auth.BEARER)
    def get(self, _args):
        """Your org and every org below it, in tree order."""
        with db.reading(primary=True) as conn:  # an admin lists right after adding
            rows = conn.execute(
                sa.select(sa.cast(Org.code, sa.Text), Org.name)
                .where(Org.code.descendant_of(auth.principal().org_code))
                .order_by(Org.code)
            ).all()
        return json_response({"items": [_shape(c, n) for c, n in rows], "next": None})

    @auth.required("admin")
    @blp.arguments(OrgIn, location="json")
    @blp.response(201, OrgSchema)
    @blp.doc(security=auth.BEARER)
    def post(self, data):
        """Create an org below yours (its parent must exist)."""
        me, code = auth.principal(), data["code"]
        if not me.covers(code):  # outside the caller's subtree: 403, as every write there
            abort(403, message=f"{code} is not in your org subtree.")
        if code == me.org_code:
            abort(422, messages={"json": {"code": [f"Must be below your org {me.org_code}."]}})
        parent = code.rsplit(".", 1)[0]
        with db.writing() as conn:
            if conn.scalar(sa.select(Org.id).where(Org.code == parent)) is None:
                abort(422, messages={"json": {"code": [f"Parent org {parent} does not exist."]}})
            created = conn.scalar(
                sa.text(
                    "INSERT INTO orgs (code, name) VALUES (CAST(:code AS ltree), :name) "
                    "ON CONFLICT (code) DO NOTHING RETURNING id"
                ),
                {"code": code, "name": data["name"]},
            )
        if created is None:
            abort(409, message=f"Org {code} already exists.")
        return json_response(
            _shape(code, data["name"]), status=201, headers={"Location": "/v1/orgs"}
        )
