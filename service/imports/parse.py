"""Parse an uploaded bulk-import file (CSV or GeoJSON) into validated site rows.

Pure: bytes in, ``(rows, errors)`` out; no Flask, no database. Every row is validated with
the same ``SiteWriteSchema`` as a single-site write, and every bad field of every bad row is
reported, so an admin can fix a whole file in one pass. The import is all-or-nothing: a
caller must write nothing when ``errors`` is non-empty.

Row numbers start at 1 after the header. In CSV a row is one spreadsheet row (a quoted cell
may span lines), and blank rows are skipped but keep their number, so row N is the row a
spreadsheet shows as N + 1. (csv.DictReader would not count fully blank lines; this does.)
In GeoJSON row N is the N-th feature. Row 0 holds file-level problems (field "file", or the
offending column name for a bad header).

CSV cells are stripped; an empty cell means "no value": the key is left out for fields with
a default (timezone, status, amenities) and set to None for nullable ones. GeoJSON ``null``
and empty strings are treated the same way.
"""

import csv
import io
import itertools
import logging
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from marshmallow import ValidationError

from service.core.api import NumberTooLong, load_json
from service.core.params import PLAIN_NUMBER
from service.geo.datums import CRS_NAMES, to_wgs84
from service.sites.schemas import SiteWriteSchema

logger = logging.getLogger(__name__)

COLUMNS = (
    "external_id", "kind", "name", "name_en", "address", "lat", "lon", "amenities",
    "opening_hours", "timezone", "workday_swaps", "special_days", "status", "closed_until",
    "closure_reason", "area_m2", "star_rating", "phone", "description", "org",
)  # fmt: skip
REQUIRED_COLUMNS = ("external_id", "kind", "name", "lat", "lon")
NULLABLE = {
    "name_en", "address", "opening_hours", "area_m2", "star_rating", "phone", "description",
    "closed_until", "closure_reason",
}  # fmt: skip
# A CSV cell of workday_swaps; special_days is a cell of JSON, as the API takes it.
FLAGS = {"true": True, "false": False, "1": True, "0": False, "是": True, "否": False}
MEDIA_TYPES = {"text/csv": "csv", "application/geo+json": "geojson", "application/json": "geojson"}
AMENITY_SEPARATORS = re.compile(r"[,，、]")
_OMIT = object()  # "leave the key out so the schema's default applies"


@dataclass(frozen=True)
class ImportRow:
    number: int  # 1-based: CSV data rows (header excluded), GeoJSON feature index + 1
    org: str | None  # the row's `org` column/property, None when absent or empty
    data: dict  # the validated write shape: exactly what SiteWriteSchema().load() returns


@dataclass(frozen=True)
class RowError:
    row: int  # 0 for file-level problems (encoding, header, not a FeatureCollection)
    field: str  # column/property name, or "file"
    message: str


class TooLarge(Exception):
    """More data rows than the caller allows."""


def parse(
    body: bytes, content_type: str, crs: str = "wgs84", max_rows: int = 200_000
) -> tuple[list[ImportRow], list[RowError]]:
    """Validated rows and every error found; ValueError for an unsupported media type or crs."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise ValueError(
            f"Unsupported content type {media!r}: send text/csv or application/geo+json."
        )
    if crs not in CRS_NAMES:
        raise ValueError(f"Unknown crs {crs!r}; expected one of {', '.join(CRS_NAMES)}.")
    text = _decode(body)
    if text is None:
        return [], [RowError(0, "file", "The file is not UTF-8 or GB18030 text.")]
    split = _csv_records if MEDIA_TYPES[media] == "csv" else _geojson_records
    records, errors = split(text, max_rows)
    rows = _validate(records, errors, crs)
    logger.debug("parsed %d rows, %d errors", len(rows), len(errors))
    return rows, errors


def _decode(body: bytes) -> str | None:
    # Excel writes UTF-8 with a BOM ("CSV UTF-8") or, in Chinese locales, GB18030/GBK.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return body.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError:
            continue
    return None


# A record is (row number, property values, location, errors found while splitting); values
# are None when there is nothing to validate, location is None when the geometry is unusable.
Record = tuple[int, dict | None, dict | None, list[RowError]]


def _csv_records(text: str, max_rows: int) -> tuple[Iterable[Record], list[RowError]]:
    try:
        lines = _csv_lines(text)
        header = [name.strip().lower() for name in next(lines, (0, []))[1]]
        errors = _header_errors(header)
        if errors:
            return [], errors
        # A first pass that keeps nothing: cheap, and it finds malformed CSV before any row.
        if sum(1 for _ in itertools.islice(lines, max_rows + 1)) > max_rows:
            raise TooLarge(f"More than {max_rows} rows.")
    except csv.Error as exc:
        return [], [RowError(0, "file", f"Unreadable CSV: {exc}.")]
    lines = _csv_lines(text)
    next(lines)
    return (_csv_record(number, header, cells) for number, cells in lines), []


def _csv_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """(number, cells) of the header (number 0) and of every data row that is not blank."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for number, cells in enumerate(reader):
            if number == 0 or any(cell.strip() for cell in cells):
                yield number, cells
    except csv.Error as exc:
        raise csv.Error(f"{exc} (line {reader.line_num})") from None


def _header_errors(header: list[str]) -> list[RowError]:
    if not any(header):
        return [RowError(0, "file", "The file is empty: expected a header row of column names.")]
    named = [name for name in header if name]
    errors = []
    for name in dict.fromkeys(named):
        if name not in COLUMNS:  # e.g. id or version: never writable (mass assignment)
            errors.append(RowError(0, name, f"Unknown column; allowed: {', '.join(COLUMNS)}."))
        elif named.count(name) > 1:
            errors.append(RowError(0, name, "Duplicate column."))
    errors += [
        RowError(0, name, "Missing required column.")
        for name in REQUIRED_COLUMNS
        if name not in named
    ]
    return errors


def _csv_record(number: int, header: list[str], cells: list[str]) -> Record:
    values, errors = {}, []
    for index, cell in enumerate(cells):
        name = header[index] if index < len(header) else ""
        if name:
            values[name] = cell
        elif cell.strip():  # Excel leaves nameless trailing columns; they must stay empty
            errors.append(
                RowError(number, f"column {index + 1}", "Value in a column without a name.")
            )
    location = {}
    for axis in ("lat", "lon"):
        value = values.pop(axis, "").strip()
        if value:
            location[axis] = value
    return number, values, location, errors


def _geojson_records(text: str, max_rows: int) -> tuple[Iterable[Record], list[RowError]]:
    try:
        document = load_json(text)
    except NumberTooLong as exc:
        return [], [RowError(0, "file", f"Not valid JSON: {exc}")]
    except (ValueError, RecursionError):
        return [], [RowError(0, "file", "Not valid JSON.")]
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        document = {}
    features = document.get("features")
    if not isinstance(features, list):
        return [], [
            RowError(0, "file", "Expected a GeoJSON FeatureCollection with a features list.")
        ]
    if len(features) > max_rows:
        raise TooLarge(f"More than {max_rows} features.")
    return (_geojson_record(n, feature) for n, feature in enumerate(features, start=1)), []


def _geojson_record(number: int, feature) -> Record:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return number, None, None, [RowError(number, "feature", "Not a GeoJSON Feature object.")]
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        return number, None, None, [RowError(number, "properties", "Must be an object.")]
    try:
        location = _point(feature.get("geometry"))
    except ValueError as exc:
        return number, properties, None, [RowError(number, "geometry", str(exc))]
    return number, properties, location, []


def _point(geometry) -> dict:
    """{"lat", "lon"} of a GeoJSON Point; ValueError saying what is wrong otherwise."""
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind != "Point":
        raise ValueError(f"Expected a Point geometry, got {kind or 'none'}.")
    coordinates = geometry.get("coordinates")
    if not (isinstance(coordinates, list) and len(coordinates) in (2, 3)) or not all(
        isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
        for c in coordinates
    ):
        raise ValueError("Point coordinates must be finite numbers: [lon, lat] or [lon, lat, alt].")
    return {"lon": coordinates[0], "lat": coordinates[1]}


def _validate(records: Iterable[Record], errors: list[RowError], crs: str) -> list[ImportRow]:
    """Validate each record (appending to `errors`) and reject repeated (org, external_id)."""
    schema = SiteWriteSchema()
    first_seen: dict[tuple, int] = {}
    rows = []
    for number, values, location, split_errors in records:
        if values is None:
            errors.extend(split_errors)
            continue
        body, row_errors = _body(number, values, location)
        row_errors = split_errors + row_errors + _duplicate(number, body, first_seen)
        try:
            data = schema.load(body)
        except ValidationError as err:
            data = None
            flat = _flatten(number, err.messages)
            # A bad geometry is already reported; do not add "location: missing" to it.
            row_errors += [e for e in flat if location is not None or e.field != "location"]
        if row_errors or data is None:
            errors.extend(sorted(row_errors, key=lambda e: e.field))  # marshmallow's order varies
            continue
        if crs != "wgs84":
            lat, lon = to_wgs84(data["location"]["lat"], data["location"]["lon"], crs)
            data["location"] = {"lat": lat, "lon": lon}
        rows.append(ImportRow(number, data.get("org"), data))
    return rows


def _duplicate(number: int, body: dict, first_seen: dict[tuple, int]) -> list[RowError]:
    external_id = body.get("external_id")
    if not isinstance(external_id, str):
        return []
    org = body.get("org")
    if org is not None and not isinstance(org, str):
        return []  # the schema reports the bad `org` itself
    key = (org, external_id)
    first = first_seen.setdefault(key, number)
    if first == number:
        return []
    where = f" in org {key[0]}" if key[0] else ""
    message = f"Duplicate external_id{where}: first used on row {first}."
    return [RowError(number, "external_id", message)]


def _body(number: int, values: dict, location: dict | None) -> tuple[dict, list[RowError]]:
    """The dict SiteWriteSchema loads, and the errors met converting text to values."""
    body, errors = {}, []
    for field, raw in values.items():
        try:
            value = _convert(field, raw)
        except ValueError as exc:
            errors.append(RowError(number, field, str(exc)))
            continue
        if value is not _OMIT:
            body[field] = value
    if not body.get("external_id"):
        message = "Required in imports: it is the key that updates the site on re-import."
        errors.append(RowError(number, "external_id", message))
    if location is not None:
        body["location"] = location
    return body, errors


def _convert(field: str, value):
    """One cell or property as the schema expects it; ValueError when it cannot be."""
    if isinstance(value, str):
        value = value.strip()
        if "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise ValueError("Must not contain NUL characters.")
    if value is None or value == "":
        return None if field in NULLABLE else _OMIT
    if field == "amenities" and isinstance(value, str):
        codes = (code.strip() for code in AMENITY_SEPARATORS.split(value))
        return list(dict.fromkeys(code for code in codes if code))
    if field == "area_m2" and isinstance(value, str):
        return _number(value, "Not a valid number.")
    if field == "star_rating" and isinstance(value, str | float):
        number = _number(value, "Not a valid integer.") if isinstance(value, str) else value
        if not number.is_integer():  # "3" and "3.0" are 3; "3.5" and NaN are errors
            raise ValueError("Not a valid integer.")
        return int(number)
    if field == "workday_swaps" and isinstance(value, str):
        if value.lower() not in FLAGS:
            raise ValueError("Must be true or false (是/否).")
        return FLAGS[value.lower()]
    if field == "special_days" and isinstance(value, str):
        try:
            return load_json(value)
        except (ValueError, NumberTooLong):
            raise ValueError(
                'Must be a JSON list, e.g. [{"from": "2027-02-10", "hours": "off"}].'
            ) from None
    if field == "external_id" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # GeoJSON exports often carry numeric ids
    return value


def _number(text: str, message: str) -> float:
    # float() alone would also take "nan", "inf" and "1_000"; a cell must be a plain decimal.
    if not PLAIN_NUMBER.fullmatch(text):
        raise ValueError(message)
    return float(text)


def _column(field: str, key) -> str:
    """The column a nested message belongs to: location.lat is "lat", but special_days.0.hours
    is the special_days cell (its message names the entry)."""
    if field == "special_days" or not isinstance(key, str):
        return field
    return key


def _flatten(number: int, messages, field: str = "file") -> list[RowError]:
    """marshmallow's nested messages as one RowError each: location.lat -> "lat",
    amenities.3 -> "amenities"."""
    if isinstance(messages, dict):
        return [
            error
            for key, inner in messages.items()
            for error in _flatten(number, inner, _column(field, key))
        ]
    if isinstance(messages, list):
        return [error for inner in messages for error in _flatten(number, inner, field)]
    return [RowError(number, field, str(messages))]
