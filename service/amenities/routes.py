"""The amenity vocabulary."""

from flask.views import MethodView
from marshmallow import Schema, fields

from service.amenities import queries
from service.core.api import Blueprint
from service.core.db import db
from service.core.params import StrictQuery
from service.core.responses import json_response

blp = Blueprint("amenities", __name__, url_prefix="/v1/amenities", description="Amenity codes.")


class AmenitySchema(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True, metadata={"description": "Chinese label"})
    label_en = fields.String(required=True)
    category = fields.String(required=True, metadata={"description": "basic, service or home"})


class AmenityPage(Schema):
    items = fields.List(fields.Nested(AmenitySchema), required=True)
    next = fields.String(allow_none=True, required=True)


@blp.route("")
class Amenities(MethodView):
    @blp.arguments(StrictQuery, location="query")
    @blp.response(200, AmenityPage)
    def get(self, _args):
        """The amenity vocabulary: code, Chinese label, English label."""
        with db.reading() as conn:
            items = [dict(r._mapping) for r in queries.all_amenities(conn)]
        return json_response({"items": items, "next": None})
