"""Answers: JSON and GeoJSON bodies written by orjson, with their headers."""

import orjson
from flask import Response, request

JSON = "application/json"
GEOJSON = "application/geo+json"


def json_response(
    data, status: int = 200, headers: dict | None = None, mimetype: str = JSON
) -> Response:
    response = Response(orjson.dumps(data), status=status, mimetype=mimetype)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def language() -> str:
    """The language of texts written for people (`hours_text`): `zh`, the default, or `en`
    when Accept-Language prefers it. Answers that use it send `Vary: Accept-Language`."""
    return request.accept_languages.best_match(["zh", "en"], default="zh")
