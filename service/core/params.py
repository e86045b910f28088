"""Query and body parameters shared by every resource: fields, validators, the strict query.

Coordinates, boxes, datums, org codes, instants and text are checked here, before any SQL
(PostGIS silently wraps out-of-range geography).
"""

import math
import re
from datetime import date, datetime
from typing import NoReturn

from flask_smorest import abort
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from service.core import vocabulary
from service.core.clock import to_utc
from service.core.models import KINDS
from service.geo.datums import CRS_NAMES

# Python's float() also takes "3_0", " 30 " and "nan"; a coordinate is a plain decimal.
PLAIN_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
ORG_CODE = re.compile(r"^[a-z0-9_]{1,30}(\.[a-z0-9_]{1,30}){0,9}$")
# For the OpenAPI document only (the fields validate with numbers, not text): a longitude or
# latitude in range as plain decimal text, so that generated clients and fuzzers send valid ones.
LON_TEXT = r"-?(180(\.0{1,7})?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]{1,7})?)"
LAT_TEXT = r"-?(90(\.0{1,7})?|[1-8]?[0-9](\.[0-9]{1,7})?)"


# Control characters: never in a one-line field; a multi-line one (a description, a comment)
# takes line breaks and tabs.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
ONE_LINE_PATTERN = "^[^\\x00-\\x1f\\x7f]*$"  # documented (OpenAPI) forms of the two
MULTILINE_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$"


class Text(fields.String):
    """A string PostgreSQL can store and a person can read: valid UTF-8 without control
    characters (NUL, which psycopg2 refuses, among them); `multiline` allows line breaks and
    tabs."""

    def __init__(self, multiline: bool = False, **kwargs) -> None:
        self.control = CONTROL_BUT_LINES if multiline else CONTROL
        pattern = MULTILINE_PATTERN if multiline else ONE_LINE_PATTERN
        kwargs["metadata"] = {"pattern": pattern, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if self.control.search(text):
            raise ValidationError("Must not contain control characters (line breaks, tabs, NUL).")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate such as "\ud800" in the JSON
            raise ValidationError("Must be valid Unicode text.") from None
        return text


DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class Day(fields.Date):
    """A calendar date, exactly `YYYY-MM-DD` (marshmallow's own parser also took a trailing
    line break)."""

    ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

    def __init__(self, **kwargs) -> None:
        doc = {"example": "2027-02-10", "pattern": DATE_PATTERN}
        kwargs["metadata"] = {**doc, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        if not isinstance(value, str) or not self.ISO.fullmatch(value):
            raise ValidationError("Must be a date, YYYY-MM-DD (日期格式应为 YYYY-MM-DD).")
        return super()._deserialize(value, attr, data, **kwargs)


class Flag(fields.Boolean):
    """A JSON true or false, nothing that merely looks like one ("yes", 1)."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):  # 1 == True, so truthy={True} alone takes 1 and 1.0
            raise ValidationError("Must be true or false.")
        return value


class CommaList(fields.Field):
    """`a,b,c` in a query string: a de-duplicated list of allowed codes. With `words` (code ->
    its Chinese label and synonyms) and `resolve` (a word -> its code or None), an item may also
    be a label (`驿站`, `微波炉`, `热饭`); an unknown one is refused naming the nearest labels."""

    def __init__(
        self,
        allowed,
        what: str,
        max_items: int = 20,
        words=None,
        resolve=None,
        nearest=None,
        **kwargs,
    ) -> None:
        codes = sorted(allowed() if callable(allowed) else allowed)
        also = sorted(
            {w for ws in (words() if callable(words) else words or {}).values() for w in ws}
        )
        one = "(" + "|".join(re.escape(c) for c in [*codes, *also]) + ")"
        # Documented as what a client should send: known codes or labels, no spaces, no empties.
        doc = {"type": "string", "pattern": f"^{one}(,{one}){{0,{max_items - 1}}}$"}
        kwargs["metadata"] = {**doc, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)
        self.allowed = allowed
        self.what = what
        self.max_items = max_items
        self.resolve = resolve
        self.nearest = nearest

    def _deserialize(self, value, attr, data, **kwargs) -> list[str]:
        if not isinstance(value, str):
            raise ValidationError("Expected a comma-separated list.")
        items = [v.strip() for v in re.split(r"[,，、]", value) if v.strip()]
        if not items:
            raise ValidationError("Expected at least one value.")
        if len(items) > self.max_items:
            raise ValidationError(f"At most {self.max_items} values.")
        allowed = self.allowed() if callable(self.allowed) else self.allowed
        found, unknown = [], []
        for item in items:
            code = item if item in allowed else self.resolve(item) if self.resolve else None
            (found if code in allowed else unknown).append(code if code in allowed else item)
        if unknown:
            hints = []
            for word in unknown[:3]:
                near = self.nearest(word) if self.nearest else []
                hints.append(f"{word} (nearest: {', '.join(near)})" if near else word)
            raise ValidationError(f"Unknown {self.what}: {'; '.join(hints)}.")
        return list(dict.fromkeys(found))


class Coordinate(fields.Float):
    """A latitude or longitude: finite, in range, and a hint when it looks swapped."""

    def __init__(self, axis: str, **kwargs) -> None:
        limit = 90 if axis == "lat" else 180
        kwargs["metadata"] = {"minimum": -limit, "maximum": limit, **kwargs.get("metadata", {})}
        super().__init__(allow_nan=False, **kwargs)
        self.axis = axis

    def _deserialize(self, value, attr, data, **kwargs) -> float:
        if isinstance(value, str) and not PLAIN_NUMBER.fullmatch(value):
            raise ValidationError("Not a valid number.")
        number = super()._deserialize(value, attr, data, **kwargs)
        limit = 90 if self.axis == "lat" else 180
        if not math.isfinite(number) or not -limit <= number <= limit:
            hint = ""
            if self.axis == "lat" and -180 <= number <= 180:
                hint = " (it looks like a longitude: are lat and lon swapped?)"
            raise ValidationError(f"Must be between -{limit} and {limit}{hint}.")
        return number


class Instant(fields.DateTime):
    """An RFC 3339 timestamp that must carry its UTC offset."""

    def __init__(self, **kwargs) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        if isinstance(value, str) and re.search(r"\d \d\d:?\d\d$", value):
            value = value[:-6] + "+" + value[-5:]  # an unencoded "+08:00" arrives as " 08:00"
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            raise ValidationError("Must include a UTC offset, e.g. 2026-11-26T20:50:00+08:00.")
        return to_utc(parsed)


def kind_list(**kwargs) -> CommaList:
    """Kinds by code or label: `station` or 驿站, `home` or 职工之家, `facility` or 服务设施."""
    return CommaList(
        KINDS,
        "kind",
        words=vocabulary.KIND_LABELS,
        resolve=vocabulary.kind_code,
        nearest=lambda word: [ws[0] for ws in vocabulary.KIND_LABELS.values()],
        **kwargs,
    )


def amenity_list(**kwargs) -> CommaList:
    """Amenities by code, Chinese label or synonym (GET /v1/amenities; 微波炉 or 热饭)."""
    return CommaList(
        vocabulary.codes,
        "amenity",
        words=vocabulary.amenity_words,
        resolve=vocabulary.amenity_code,
        nearest=vocabulary.nearest_amenities,
        **kwargs,
    )


def crs_field() -> fields.String:
    from marshmallow.validate import OneOf

    return fields.String(
        load_default="wgs84",
        validate=OneOf(CRS_NAMES),
        metadata={
            "description": "Datum of coordinates in and out: wgs84, gcj02 (Amap, Tencent) "
            "or bd09 (Baidu)."
        },
    )


class FullMatch(validate.Regexp):
    """marshmallow's Regexp with `fullmatch`: `re.match` with `$` also passes "zj\\n" (Python's
    `$` matches before a final line break), and that once reached SQL as an ltree."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def org_code(**kwargs) -> fields.String:
    return fields.String(
        validate=FullMatch(
            ORG_CODE, error="Not an org code (dotted lowercase labels, e.g. zj.zs.dh)."
        ),
        **kwargs,
    )


def invalid(field: str, message: str) -> NoReturn:
    """A 422 for one query parameter, in the same shape as schema validation errors."""
    abort(422, messages={"query": {field: [message]}})


class StrictQuery(Schema):
    class Meta:
        unknown = RAISE  # a misspelt parameter is an error, not silently ignored

    @pre_load
    def _ascii_numbers(self, data, **kwargs):
        """No control characters in any parameter (a trailing line break once passed a `$`
        check); int() and float() also read "１" and "١": query numbers are ASCII digits."""
        bad = {}
        for name, field in self.fields.items():
            value = data.get(field.data_key or name)
            numeric = isinstance(field, fields.Integer | fields.Float)
            if isinstance(value, str) and CONTROL.search(value):
                bad[field.data_key or name] = ["Must not contain control characters."]
            elif numeric and isinstance(value, str) and not PLAIN_NUMBER.fullmatch(value.strip()):
                bad[field.data_key or name] = ["Not a valid number."]
        if bad:
            raise ValidationError(bad)
        return data


class Bbox(fields.Field):
    """`west,south,east,north` in degrees; west > east crosses the antimeridian."""

    def _deserialize(self, value, attr, data, **kwargs):
        parts = value.split(",") if isinstance(value, str) else []
        if len(parts) != 4 or not all(PLAIN_NUMBER.fullmatch(p) for p in parts):
            raise ValidationError("Expected four numbers: west,south,east,north.")
        try:
            west, south, east, north = (float(p) for p in parts)
        except ValueError:
            raise ValidationError("Expected four numbers: west,south,east,north.") from None
        if any(v != v or v in (float("inf"), float("-inf")) for v in (west, south, east, north)):
            raise ValidationError("Coordinates must be finite numbers.")
        if not (-180 <= west <= 180 and -180 <= east <= 180):
            raise ValidationError("west and east must be between -180 and 180.")
        if not (-90 <= south <= 90 and -90 <= north <= 90):
            raise ValidationError("south and north must be between -90 and 90.")
        if south > north:
            raise ValidationError("south must not be greater than north.")
        return west, south, east, north
