"""Query parameters and documented shapes of the OGC API - Features endpoints."""

import datetime as dt
import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.core.clock import to_utc
from service.core.params import LAT_TEXT, LON_TEXT, PLAIN_NUMBER, Bbox, StrictQuery
from service.sites.schemas import FilterArgs

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

NEAREST_NOTE = (
    "Yizhan extension, not part of OGC API - Features: "
    "`nearest=lon,lat` orders the features by geodesic distance from that point (ties by "
    "id) within `radius` metres (default 3000, at most 50000), with the same search as "
    "GET /v1/sites/nearby; each feature then carries `distance_m` in its properties. "
    "It cannot be combined with `bbox` or `datetime`."
)

# RFC 3339 date-time as OGC API - Features requires it: full date, "T", time, offset.
_DATE_TIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


# The documented shapes of bbox, nearest and datetime (the fields parse them by hand).
_HEIGHT = r"-?[0-9]{1,5}(\.[0-9]{1,3})?"
BBOX_PATTERN = (
    f"^{LON_TEXT},{LAT_TEXT},{LON_TEXT},{LAT_TEXT}$"
    f"|^{LON_TEXT},{LAT_TEXT},{_HEIGHT},{LON_TEXT},{LAT_TEXT},{_HEIGHT}$"
)
_DOC_INSTANT = (
    r"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-5]):[0-5][0-9])"
)
DATETIME_PATTERN = f"^{_DOC_INSTANT}$|^({_DOC_INSTANT}|\\.\\.)?/({_DOC_INSTANT}|\\.\\.)?$"


class OgcBbox(Bbox):
    """4 numbers (lon/lat) or 6 (with heights, which are ignored), in CRS84."""

    def _deserialize(self, value, attr, data, **kwargs):
        parts = value.split(",") if isinstance(value, str) else []
        if len(parts) not in (4, 6):
            raise ValidationError("Expected 4 numbers (west,south,east,north) or 6 (with heights).")
        if not all(PLAIN_NUMBER.fullmatch(p.strip()) for p in parts):
            raise ValidationError("Coordinates must be plain decimal numbers.")
        if len(parts) == 6:  # minlon,minlat,minh,maxlon,maxlat,maxh: sites have no height
            parts = [parts[0], parts[1], parts[3], parts[4]]
        return super()._deserialize(",".join(parts), attr, data, **kwargs)


def _instant(text: str) -> dt.datetime:
    if not _DATE_TIME.fullmatch(text):
        raise ValidationError(
            "Expected an RFC 3339 date-time with offset (2026-11-26T10:00:00+08:00), "
            "an interval start/end, or an open one with '..'."
        )
    try:
        return to_utc(dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00")))
    except ValueError:
        raise ValidationError(f"Not a valid date-time: {text}.") from None


class Interval(fields.Field):
    """`instant`, `start/end`, `../end` or `start/..` (an empty end means open, too)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or value.count("/") > 1:
            raise ValidationError("Expected an instant or an interval start/end.")
        if "/" not in value:
            t = _instant(value)
            return t, t
        lo, hi = (None if p in ("", "..") else _instant(p) for p in value.split("/"))
        if lo is not None and hi is not None and lo > hi:
            raise ValidationError("The interval's start is after its end.")
        return lo, hi


class NearestPoint(fields.Field):
    """`lon,lat` in CRS84 (longitude first, as in GeoJSON and bbox)."""

    def _deserialize(self, value, attr, data, **kwargs):
        parts = value.split(",") if isinstance(value, str) else []
        if len(parts) != 2 or not all(PLAIN_NUMBER.fullmatch(p.strip()) for p in parts):
            raise ValidationError("Expected lon,lat (two decimal numbers).")
        lon, lat = (float(p) for p in parts)
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValidationError("lon must be within -180..180 and lat within -90..90.")
        return lat, lon


class NoArgs(StrictQuery):
    """Resources without parameters: any query parameter is unknown (400)."""


class ItemsArgs(FilterArgs):
    class Meta(FilterArgs.Meta):
        exclude = ("crs",)  # output is always CRS84

    bbox = OgcBbox(
        metadata={
            "description": "minLon,minLat,maxLon,maxLat in CRS84; 6 numbers with heights "
            "are accepted (heights are ignored). minLon > maxLon crosses the antimeridian; "
            "minLat <= maxLat.",
            "type": "string",
            "pattern": BBOX_PATTERN,
        }
    )
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1),
        metadata={
            "description": f"Features per page (default {DEFAULT_LIMIT}); values above "
            f"{MAX_LIMIT} are served as {MAX_LIMIT}.",
            "maximum": MAX_LIMIT,
            "default": DEFAULT_LIMIT,
        },
    )
    datetime = Interval(
        metadata={
            "description": "Applies to `updated_at`: an RFC 3339 instant, or an interval "
            "start/end where `..` (or nothing) leaves an end open; start <= end.",
            "type": "string",
            "pattern": DATETIME_PATTERN,
        }
    )
    cursor = fields.String(
        validate=validate.Length(max=500),
        metadata={"description": "Opaque position from a `next` link."},
    )
    nearest = NearestPoint(
        metadata={
            "description": NEAREST_NOTE,
            "type": "string",
            "pattern": f"^{LON_TEXT},{LAT_TEXT}$",
        }
    )
    radius = fields.Float(
        allow_nan=False,
        validate=validate.Range(1, 50000),
        metadata={"description": "With `nearest` only (Yizhan extension): metres."},
    )

    @validates_schema
    def _nearest_combinations(self, data, **kwargs):
        if "radius" in data and "nearest" not in data:
            raise ValidationError("radius needs nearest=lon,lat.", "radius")
        if "nearest" in data:
            for other in ("bbox", "datetime"):
                if other in data:
                    raise ValidationError(f"nearest cannot be combined with {other}.", other)


class OgcLink(Schema):
    href = fields.String(required=True)
    rel = fields.String(required=True)
    type = fields.String()
    title = fields.String()


class OgcLandingPage(Schema):
    title = fields.String(required=True)
    description = fields.String()
    links = fields.List(fields.Nested(OgcLink), required=True)


class OgcConformance(Schema):
    conformsTo = fields.List(fields.String(), required=True)


class OgcCollection(Schema):
    id = fields.String(required=True)
    title = fields.String()
    description = fields.String()
    extent = fields.Dict(metadata={"description": "spatial.bbox in CRS84, temporal.interval"})
    itemType = fields.String()
    crs = fields.List(fields.String())
    links = fields.List(fields.Nested(OgcLink), required=True)


class OgcCollections(Schema):
    collections = fields.List(fields.Nested(OgcCollection), required=True)
    links = fields.List(fields.Nested(OgcLink), required=True)


class OgcFeature(Schema):
    type = fields.String(required=True, metadata={"enum": ["Feature"]})
    id = fields.Integer(required=True)
    geometry = fields.Dict(required=True, metadata={"description": "GeoJSON Point"})
    properties = fields.Dict(required=True, metadata={"description": "The Site fields"})
    links = fields.List(fields.Nested(OgcLink))


class OgcFeatureCollection(Schema):
    type = fields.String(required=True, metadata={"enum": ["FeatureCollection"]})
    features = fields.List(fields.Nested(OgcFeature), required=True)
    links = fields.List(fields.Nested(OgcLink), required=True)
    timeStamp = fields.String(metadata={"format": "date-time"})
    numberReturned = fields.Integer()
