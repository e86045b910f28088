"""Answers: JSON and GeoJSON bodies written by orjson, with their headers."""

import orjson
from flask import Response

JSON = "application/json"
GEOJSON = "application/geo+json"


def json_response(
    data, status: int = 200, headers: dict | None = None, mimetype: str = JSON
) -> Response:
    response = Response(orjson.dumps(data), status=status, mimetype=mimetype)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
