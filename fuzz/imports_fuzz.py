"""Fuzz the bulk-import file parser (service/imports/parse.py) with CSV and GeoJSON bytes.

parse() must turn any file into (rows, errors): TooLarge is its only exception for a
supported media type and crs. Rows and errors must have the documented shape, every
accepted row a finite in-range WGS-84 location, and a file with errors no rows worth
writing (the caller writes nothing then; here: errors name rows that exist).

    python fuzz/imports_fuzz.py [corpus dirs] -max_total_time=600
"""

import math
import sys

import _common  # noqa: F401
import atheris

with atheris.instrument_imports(include=["service", "marshmallow"]):
    from service.imports import parse

MEDIA = ["text/csv", "application/geo+json", "application/json", "text/csv; charset=utf-8"]
CRS = ["wgs84", "gcj02", "bd09"]
MAX_ROWS = 50


def test_one_input(data: bytes) -> None:
    # Byte 0 picks the media type and the crs; the rest is the file (seeds are made so).
    choice, body = (data[0], data[1:]) if data else (0, b"")
    media, crs = MEDIA[choice % len(MEDIA)], CRS[choice // len(MEDIA) % len(CRS)]
    try:
        rows, errors = parse.parse(body, media, crs, MAX_ROWS)
    except parse.TooLarge:
        return
    for error in errors:
        assert isinstance(error, parse.RowError), error
        assert isinstance(error.row, int) and error.row >= 0, error  # blank rows keep numbers
        assert isinstance(error.field, str) and isinstance(error.message, str), error
    for row in rows:
        assert row.number >= 1, row
        location = row.data["location"]
        lat, lon = location["lat"], location["lon"]
        assert math.isfinite(lat) and math.isfinite(lon), row
        assert -90 <= lat <= 90 and -180 <= lon <= 180, row
        assert isinstance(row.data["external_id"], str) and row.data["external_id"], row
        assert row.org is None or isinstance(row.org, str), row


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
