"""GET /v1/holidays: a year of China's statutory calendar, as `PH` in opening hours reads it."""

import hashlib

import orjson
from flask import Response, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from service.core.api import Blueprint
from service.core.clock import now, zone
from service.core.db import db
from service.core.params import StrictQuery
from service.core.responses import json_response
from service.core.settings import DEFAULT_TIMEZONE
from service.hours import calendar

blp = Blueprint(
    "holidays",
    __name__,
    url_prefix="/v1/holidays",
    description="China's statutory days off and make-up working days (调休), by year.",
)

# A loaded notice does not change (a correction is a new load, which changes the ETag); a year
# not loaded yet may get its notice any day.
OFFICIAL_MAX_AGE = 86400
UNOFFICIAL_MAX_AGE = 3600


class HolidaysArgs(StrictQuery):
    year = fields.Integer(
        validate=validate.Range(1949, 2200),
        metadata={"description": "The notice's year (default: this year in China)."},
    )


class CalendarDaySchema(Schema):
    date = fields.Date(required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(calendar.KINDS),
        metadata={"description": "holiday (a day off) or workday (a make-up working day)"},
    )
    name = fields.String(required=True, metadata={"description": "e.g. 国庆节, 国庆节调休"})


class HolidaysSchema(Schema):
    year = fields.Integer(required=True)
    official = fields.Boolean(
        required=True,
        metadata={
            "description": "false: the notice is not loaded; only the fixed-date holidays "
            "(New Year, Labour Day, National Day) are listed"
        },
    )
    items = fields.List(fields.Nested(CalendarDaySchema), required=True)


@blp.route("")
class Holidays(MethodView):
    @blp.arguments(HolidaysArgs, location="query")
    @blp.response(200, HolidaysSchema)
    @blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
    def get(self, args):
        """A year's days off and make-up working days; ETag and long cache headers."""
        year = args.get("year") or now().astimezone(zone(DEFAULT_TIMEZONE)).year
        with db.reading() as conn:
            official, days = calendar.year_of(conn, year)
        body = orjson.dumps(
            {
                "year": year,
                "official": official,
                "items": [
                    {"date": d.day.isoformat(), "kind": d.kind, "name": d.name} for d in days
                ],
            }
        )
        etag = hashlib.sha256(body).hexdigest()[:20]
        age = OFFICIAL_MAX_AGE if official else UNOFFICIAL_MAX_AGE
        headers = {"ETag": f'"{etag}"', "Cache-Control": f"public, max-age={age}"}
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=headers)
        return json_response(orjson.Fragment(body), headers=headers)
