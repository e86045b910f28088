"""Marshmallow schemas: the documented shapes of site queries and responses."""

from datetime import UTC, datetime

from flask import has_app_context
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from service.core import clock, vocabulary
from service.core.models import KINDS, STATUSES
from service.core.params import (
    DATE_PATTERN,
    LAT_TEXT,
    LON_TEXT,
    ONE_LINE_PATTERN,
    Bbox,
    Coordinate,
    Day,
    Flag,
    FullMatch,
    Instant,
    StrictQuery,
    Text,
    amenity_list,
    crs_field,
    kind_list,
    org_code,
)
from service.hours import evaluate, special
from service.sites.hours_schemas import closure_problem, special_days_in

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class FilterArgs(StrictQuery):
    """Filters shared by nearby, sites and tiles."""

    kind = kind_list(metadata={"description": "Comma list of kinds; any of them."})
    amenities = amenity_list(metadata={"description": "Comma list; the site has ALL of them."})
    any_amenities = amenity_list(
        metadata={"description": "Comma list; the site has AT LEAST ONE of them."}
    )
    open_now = fields.Boolean(
        metadata={"description": "Only sites open at request time, in each site's own zone."}
    )
    open_at = Instant(
        metadata={"description": "RFC 3339 instant; only sites open then. Not with open_now."}
    )
    q = fields.String(
        validate=[
            validate.Length(min=1, max=100),
            FullMatch(r"^[^\x00-\x1f\x7f]*$", error="Must not contain control characters."),
        ],
        metadata={"description": "Substring of name, English name or address (Chinese works)."},
    )
    org = org_code(metadata={"description": "Org code; that org and its whole subtree."})
    crs = crs_field()

    @validates_schema
    def _exclusive_times(self, data, **kwargs):
        if data.get("open_now") and data.get("open_at") is not None:
            raise ValidationError("open_now and open_at are exclusive.", "open_at")


class NearbyArgs(FilterArgs):
    lat = Coordinate("lat", required=True)
    lon = Coordinate("lon", required=True)
    radius = fields.Float(
        load_default=3000,
        allow_nan=False,
        validate=validate.Range(1, 50000),
        metadata={"description": "Search radius in metres (1..50000)."},
    )
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    cursor = fields.String(validate=validate.Length(max=500))


class SitesArgs(FilterArgs):
    bbox = Bbox(
        metadata={
            "description": "west,south,east,north (degrees, in `crs`); south <= north.",
            "type": "string",
            "pattern": f"^{LON_TEXT},{LAT_TEXT},{LON_TEXT},{LAT_TEXT}$",
        }
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    cursor = fields.String(validate=validate.Length(max=500))
    updated_since = Instant()
    f = fields.String(validate=validate.OneOf(["json", "geojson"]))


class SiteArgs(StrictQuery):
    crs = crs_field()
    open_at = Instant(
        metadata={"description": "RFC 3339 instant: `open_state` as it will be then (default now)."}
    )


class HoursArgs(StrictQuery):
    from_ = Instant(
        data_key="from",
        validate=validate.Range(min=EARLIEST, max=LATEST),
        metadata={"description": "Window start (default: now), 1970 to 2100."},
    )
    days = fields.Integer(load_default=7, validate=validate.Range(1, 31))


class LatLon(Schema):
    lat = fields.Float(required=True)
    lon = fields.Float(required=True)


class OrgRef(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class SiteSchema(Schema):
    """The Site resource, as every read endpoint returns it."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    name = fields.String(required=True)
    name_en = fields.String(allow_none=True)
    org = fields.Nested(OrgRef, required=True)
    external_id = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    location = fields.Nested(LatLon, required=True)
    amenities = fields.List(fields.String(), required=True)
    opening_hours = fields.String(allow_none=True)
    timezone = fields.String(required=True)
    workday_swaps = fields.Boolean(required=True)
    special_days = fields.List(fields.Nested(lambda: SpecialDaySchema()), required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    closed_until = fields.String(allow_none=True, required=True, metadata={"format": "date"})
    closure_reason = fields.String(allow_none=True, required=True)
    area_m2 = fields.Float(allow_none=True)
    star_rating = fields.Integer(allow_none=True)
    phone = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    updated_at = fields.String(required=True, metadata={"format": "date-time"})
    version = fields.Integer(required=True)
    open_state = fields.Nested(lambda: OpenState(), required=True)
    hours_text = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The week's hours for people; English with Accept-Language: en"},
    )


class SpecialDaySchema(Schema):
    """A special day as sites show it: `to` is always there, hours normalised."""

    from_ = fields.String(data_key="from", required=True, metadata={"format": "date"})
    to = fields.String(required=True, metadata={"format": "date"})
    hours = fields.String(required=True, metadata={"example": "off"})
    reason = fields.String(allow_none=True, required=True)


class SiteDetailSchema(SiteSchema):
    """One site by id: admins of its subtree also see its open rider reports."""

    open_reports = fields.Integer(
        metadata={"description": "Open rider reports; only for admins of the site's subtree."}
    )


class OpenState(Schema):
    is_open = fields.Boolean(
        allow_none=True, required=True, metadata={"description": "null: hours unknown"}
    )
    next_change = fields.String(allow_none=True, required=True, metadata={"format": "date-time"})
    today = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "That local day's hours (`off`: closed all day); null: unknown"},
    )
    reason = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The holiday, special day or closure that decides the state"},
    )


class NearbySiteSchema(SiteSchema):
    distance_m = fields.Float(required=True)


class NearbyPage(Schema):
    items = fields.List(fields.Nested(NearbySiteSchema), required=True)
    next = fields.String(allow_none=True, required=True)


class SitePage(Schema):
    items = fields.List(fields.Nested(SiteSchema), required=True)
    next = fields.String(allow_none=True, required=True)


class SiteProperties(SiteSchema):
    """A Site as GeoJSON feature properties: its location is the feature's geometry."""

    class Meta:
        exclude = ("location",)


class PointGeometry(Schema):
    type = fields.String(required=True, validate=validate.OneOf(["Point"]))
    coordinates = fields.List(
        fields.Float(),
        required=True,
        validate=validate.Length(2, 2),
        metadata={"description": "[lon, lat]"},
    )


class SiteFeature(Schema):
    type = fields.String(required=True, validate=validate.OneOf(["Feature"]))
    id = fields.Integer(required=True)
    geometry = fields.Nested(PointGeometry, required=True)
    properties = fields.Nested(SiteProperties, required=True)


class GeoLink(Schema):
    rel = fields.String(required=True)
    href = fields.String(required=True)
    type = fields.String(required=True)


class SiteFeatureCollection(Schema):
    """GET /v1/sites as GeoJSON (f=geojson or Accept: application/geo+json)."""

    type = fields.String(required=True, validate=validate.OneOf(["FeatureCollection"]))
    features = fields.List(fields.Nested(SiteFeature), required=True)
    links = fields.List(fields.Nested(GeoLink), required=True)
    next = fields.String(allow_none=True, required=True)


class Interval(Schema):
    start = fields.String(required=True, metadata={"format": "date-time"})
    end = fields.String(required=True, metadata={"format": "date-time"})


class HoursSchema(Schema):
    timezone = fields.String(required=True)
    opening_hours = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    intervals = fields.List(fields.Nested(Interval), required=True)


def _valid_hours(value: str) -> None:
    message = evaluate.explain(value)
    if message:
        raise ValidationError(message)


def _valid_timezone(value: str) -> None:
    try:
        evaluate.check_timezone(value)
    except evaluate.HoursError as exc:
        raise ValidationError(str(exc)) from None


def _valid_amenities(value: list[str]) -> None:
    unknown = sorted(set(value) - vocabulary.codes())
    if unknown:
        raise ValidationError(f"Unknown amenity: {', '.join(unknown)} (see GET /v1/amenities).")


class Area(fields.Float):
    """Square metres, stored to one decimal: rounded before range checks."""

    def __init__(self, **kwargs) -> None:
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> float:
        return round(super()._deserialize(value, attr, data, **kwargs), 1)


class LocationIn(Schema):
    class Meta:
        unknown = RAISE

    lat = Coordinate("lat", required=True)
    lon = Coordinate("lon", required=True)


class SiteWriteSchema(Schema):
    """The fields an editor may set. Anything else in a body (id, version, ...) is a 422."""

    class Meta:
        unknown = RAISE

    kind = Text(required=True, validate=validate.OneOf(KINDS))
    name = Text(required=True, validate=validate.Length(1, 200))
    name_en = Text(allow_none=True, validate=validate.Length(max=200))
    org = org_code(metadata={"description": "Org code in your subtree (default: your org)."})
    external_id = Text(allow_none=True, validate=validate.Length(1, 100))
    address = Text(allow_none=True, validate=validate.Length(max=500))
    location = fields.Nested(LocationIn, required=True)
    amenities = fields.List(
        Text(
            validate=validate.Length(1, 40),
            metadata={"enum": sorted(vocabulary.codes()), "description": "GET /v1/amenities"},
        ),
        validate=[validate.Length(max=60), _valid_amenities],
    )
    opening_hours = Text(allow_none=True, validate=[validate.Length(1, 1000), _valid_hours])
    timezone = Text(validate=_valid_timezone)
    status = Text(validate=validate.OneOf(STATUSES))
    area_m2 = Area(allow_none=True, validate=validate.Range(0.1, 1e6))
    star_rating = fields.Integer(allow_none=True, strict=True, validate=validate.Range(1, 5))
    phone = Text(allow_none=True, validate=validate.Length(max=50))
    description = Text(multiline=True, allow_none=True, validate=validate.Length(max=2000))
    workday_swaps = Flag(
        metadata={"description": "On a make-up working day (调休上班) open with Monday's hours."}
    )
    special_days = fields.Method(
        deserialize="_special_days",
        metadata={
            "type": "array",
            "maxItems": special.MAX_ENTRIES,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["from", "hours"],
                "properties": {
                    "from": {"type": "string", "format": "date", "pattern": DATE_PATTERN},
                    "to": {
                        "type": "string",
                        "format": "date",
                        "pattern": DATE_PATTERN,
                        "nullable": True,
                    },
                    "hours": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "pattern": ONE_LINE_PATTERN,
                        "example": "08:00-12:00,14:00-18:00",
                    },
                    "reason": {
                        "type": "string",
                        "maxLength": 100,
                        "pattern": ONE_LINE_PATTERN,
                        "nullable": True,
                    },
                },
            },
        },
    )
    closed_until = Day(
        allow_none=True,
        metadata={"description": "With status temporarily_closed: reopens at 00:00 that day."},
    )
    closure_reason = Text(allow_none=True, validate=validate.Length(max=200))

    def _special_days(self, value) -> list[dict]:
        return special_days_in(value)

    @validates_schema
    def _closure(self, data, partial, **kwargs):
        if not partial:  # a patch is checked against the site it changes (store.update)
            # Imports parse rows outside a request (pure): then the wall clock.
            at = clock.now() if has_app_context() else datetime.now(UTC)
            problem = closure_problem(data, at)
            if problem:
                raise ValidationError(problem[1], problem[0])


class WriteArgs(StrictQuery):
    crs = crs_field()


class SitePatchSchema(SiteWriteSchema):
    """A partial update: any subset of the writable fields."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)
