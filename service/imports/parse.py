"""Parse an uploaded bulk-import file (CSV, XLSX or GeoJSON) into validated site rows.

Pure: bytes in, ``(rows, errors)`` out; no Flask, no database. Every row is validated with
the same ``SiteWriteSchema`` as a single-site write, and every bad field of every bad row is
reported, so an admin can fix a whole file in one pass. The import is all-or-nothing: a
caller must write nothing when ``errors`` is non-empty.

In CSV, row numbers start at 1 after the header: a row is one spreadsheet row (a quoted cell
may span lines), and blank rows are skipped but keep their number, so row N is the row a
spreadsheet shows as N + 1. (csv.DictReader would not count fully blank lines; this does.)
In XLSX (the first worksheet; its first row with a value is the header) row N is the row Excel
shows as N: the worksheet's own numbering, header included, so the first row under a header in
row 1 is row 2; blank rows are skipped but keep their number here too. In GeoJSON row N is the
N-th feature. Row 0 holds file-level problems (field "file", or the offending column name for
a bad header).

Headers and property names may be Chinese (columns.py: 名称 for name, 纬度 for lat, ...); an
error names the column (`lat`), and its message starts with the header as the file wrote it
when that differs (`纬度: Must be between -90 and 90.`). Cells may give kinds, statuses and
amenities by their Chinese labels (core.vocabulary: 驿站, 暂停开放, 微波炉); a `crs` (坐标系)
cell gives that row's datum, overriding the request's.

Cells are stripped; an empty cell means "no value": the key is left out for fields with
a default (timezone, status, amenities) and set to None for nullable ones (cells.py). GeoJSON
``null``, empty strings and empty worksheet cells are treated the same way; a worksheet's
numbers, dates and booleans are read as such (xlsx.py).
"""

import csv
import io
import itertools
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from marshmallow import ValidationError

from service.core.api import NumberTooLong, load_json
from service.geo.datums import CRS_NAMES, to_wgs84
from service.imports import cells, columns, xlsx
from service.sites.schemas import SiteWriteSchema

logger = logging.getLogger(__name__)

COLUMNS = columns.COLUMNS
MEDIA_TYPES = {
    "text/csv": "csv",
    xlsx.MEDIA_TYPE: "xlsx",
    "application/geo+json": "geojson",
    "application/json": "geojson",
}


@dataclass(frozen=True)
class ImportRow:
    number: int  # CSV: data rows from 1; XLSX: the worksheet's row; GeoJSON: feature index + 1
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
            f"Unsupported content type {media!r}: send text/csv, an XLSX workbook or "
            "application/geo+json."
        )
    if crs not in CRS_NAMES:
        raise ValueError(f"Unknown crs {crs!r}; expected one of {', '.join(CRS_NAMES)}.")
    if MEDIA_TYPES[media] == "xlsx":
        records, errors = _xlsx_records(body, max_rows)
    elif (text := _decode(body)) is None:
        return [], [RowError(0, "file", "The file is not UTF-8 or GB18030 text.")]
    else:
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


# A record is (row number, property values, location, errors found while splitting, the header
# as written for columns named otherwise); values are None when there is nothing to validate,
# location is None when the geometry is unusable.
Record = tuple[int, dict | None, dict | None, list[RowError], dict[str, str]]


def _header(cells: list[str]) -> tuple[list[str], dict[str, str], list[RowError]]:
    names, written, problems = columns.header(cells)
    return names, written, [RowError(0, p.field, p.message) for p in problems]


def _csv_records(text: str, max_rows: int) -> tuple[Iterable[Record], list[RowError]]:
    try:
        lines = _csv_lines(text)
        names, written, errors = _header(next(lines, (0, []))[1])
        if errors:
            return [], errors
        # A first pass that keeps nothing: cheap, and it finds malformed CSV before any row.
        if sum(1 for _ in itertools.islice(lines, max_rows + 1)) > max_rows:
            raise TooLarge(f"More than {max_rows} rows.")
    except csv.Error as exc:
        return [], [RowError(0, "file", f"Unreadable CSV: {exc}.")]
    lines = _csv_lines(text)
    next(lines)
    return (_table_record(number, names, cells, written) for number, cells in lines), []


def _csv_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """(number, cells) of the header (number 0) and of every data row that is not blank."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for number, cells in enumerate(reader):
            if number == 0 or any(cell.strip() for cell in cells):
                yield number, cells
    except csv.Error as exc:
        raise csv.Error(f"{exc} (line {reader.line_num})") from None


def _xlsx_records(body: bytes, max_rows: int) -> tuple[Iterable[Record], list[RowError]]:
    try:
        lines = xlsx.read(body, max_rows + 2)  # the header, max_rows rows and one too many
    except xlsx.Unreadable as exc:
        return [], [RowError(0, "file", str(exc))]
    header = [xlsx.header_text(value) for value in lines[0][1]] if lines else []
    names, written, errors = _header(header)
    if errors:
        return [], errors
    if len(lines) - 1 > max_rows:
        raise TooLarge(f"More than {max_rows} rows.")
    # An empty cell is an empty value, as in CSV, also right of a row's last value.
    padded = ((number, cells + [None] * (len(names) - len(cells))) for number, cells in lines[1:])
    return (
        _table_record(
            number, names, [xlsx.cell(_name(names, i), v) for i, v in enumerate(cells)], written
        )
        for number, cells in padded
    ), []


def _name(names: list[str], index: int) -> str:
    return names[index] if index < len(names) else ""


def _table_record(number: int, names: list[str], cells: list, written: dict) -> Record:
    """A CSV or worksheet row: cells by column, and lat/lon as the location."""
    values, errors = {}, []
    for index, cell in enumerate(cells):
        name = _name(names, index)
        if name:
            values[name] = cell
        elif not xlsx.blank(cell):  # Excel leaves nameless trailing columns; they must stay empty
            errors.append(
                RowError(number, f"column {index + 1}", "Value in a column without a name.")
            )
    location = {}
    for axis in ("lat", "lon"):
        value = values.pop(axis, None)
        if not xlsx.blank(value):
            location[axis] = value.strip() if isinstance(value, str) else value
    return number, values, location, errors, written


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
        error = RowError(number, "feature", "Not a GeoJSON Feature object.")
        return number, None, None, [error], {}
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        return number, None, None, [RowError(number, "properties", "Must be an object.")], {}
    values, written, problems = columns.properties(properties)
    errors = [RowError(number, p.field, p.message) for p in problems]
    try:
        location = _point(feature.get("geometry"))
    except ValueError as exc:
        return number, values, None, [*errors, RowError(number, "geometry", str(exc))], written
    return number, values, location, errors, written


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
    for number, values, location, split_errors, written in records:
        if values is None:
            errors.extend(split_errors)
            continue
        row_crs, crs_errors = _row_crs(number, values.pop("crs", None), crs)
        body, cell_errors = _body(number, values, location)
        row_errors = crs_errors + cell_errors + _duplicate(number, body, first_seen)
        try:
            data = schema.load(body)
        except ValidationError as err:
            data = None
            # A bad geometry or cell is already reported; do not add "missing" to it.
            reported = {e.field for e in cell_errors} | (
                {"location"} if location is None else set()
            )
            row_errors += [e for e in _flatten(number, err.messages) if e.field not in reported]
        row_errors = split_errors + [_as_written(e, written) for e in row_errors]
        if row_errors or data is None:
            errors.extend(sorted(row_errors, key=lambda e: e.field))  # marshmallow's order varies
            continue
        if row_crs != "wgs84":
            lat, lon = to_wgs84(data["location"]["lat"], data["location"]["lon"], row_crs)
            data["location"] = {"lat": lat, "lon": lon}
        rows.append(ImportRow(number, data.get("org"), data))
    return rows


def _as_written(error: RowError, written: dict[str, str]) -> RowError:
    """The error with the column's header as the file wrote it (纬度 for lat) in front."""
    name = written.get(error.field)
    return error if name is None else RowError(error.row, error.field, f"{name}: {error.message}")


def _row_crs(number: int, value, crs: str) -> tuple[str, list[RowError]]:
    """The datum of a row: its own `crs` cell (wgs84, 高德, BD-09, ...) or the request's."""
    try:
        return cells.datum(value, crs), []
    except ValueError as exc:
        return crs, [RowError(number, "crs", str(exc))]


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
            value = cells.convert(field, raw)
        except ValueError as exc:
            errors.append(RowError(number, field, str(exc)))
            continue
        if value is not cells.OMIT:
            body[field] = value
    if not body.get("external_id"):
        message = "Required in imports: it is the key that updates the site on re-import."
        errors.append(RowError(number, "external_id", message))
    if location is not None:
        body["location"] = location
    return body, errors


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
