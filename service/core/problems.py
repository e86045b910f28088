"""One RFC 9457 problem+json shape; every error handler lives here."""

import logging

import orjson
import sqlalchemy.exc
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, InternalServerError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:yizhan:problem:"


def problem(
    status: int,
    detail: str,
    title: str | None = None,
    kind: str | None = None,
    errors: dict | list | None = None,
    headers: dict | None = None,
) -> Response:
    """A problem+json response. `kind` names a Yizhan problem type; else about:blank."""
    if title is None:
        title = _status_title(status)
    body = {
        "type": f"{TYPE_PREFIX}{kind}" if kind else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    response = Response(orjson.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _status_title(status: int) -> str:
    from werkzeug.http import HTTP_STATUS_CODES

    return HTTP_STATUS_CODES.get(status, "Error")


def flatten_messages(messages: dict) -> dict:
    """Field paths to their messages, e.g. {"lat": [..], "location.lat": [..], "amenities.0": [..]}.

    webargs nests messages by location ({"query": {"lat": [...]}}) and marshmallow by
    nested field and list index; clients want one flat object with string keys.
    """
    flat: dict[str, list[str]] = {}

    def walk(path: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                name = "request" if key == "_schema" else str(key)
                walk(f"{path}.{name}" if path else name, inner)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(path, item)
        else:
            flat.setdefault(path or "request", []).append(str(value))

    for fields in messages.values():
        walk("", fields)
    return flat


def handle_http_exception(exc: HTTPException) -> Response:
    data = getattr(exc, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if exc.code == 422 and "messages" in data:
        errors = flatten_messages(data["messages"])
        names = ", ".join(sorted(errors))
        return problem(
            422,
            f"Invalid parameters: {names}.",
            title="Invalid request",
            kind="validation",
            errors=errors,
            headers=headers,
        )
    if exc.code == 405 and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    detail = data.get("message") or exc.description or _status_title(exc.code or 500)
    return problem(exc.code or 500, detail, headers=headers)


def handle_database_error(exc: sqlalchemy.exc.DBAPIError) -> Response:
    """Unreachable database or cancelled statement: 503, and never the database's text."""
    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        return problem(
            503,
            "The database is unavailable or too slow right now; retry shortly.",
            kind="database-unavailable",
            headers={"Retry-After": "2"},
        )
    return handle_unexpected(exc)


def handle_unexpected(exc: Exception) -> Response:
    logger.exception("unhandled error", exc_info=exc)
    return problem(500, "An unexpected error occurred; it has been logged.")


def reject_undecodable_query() -> Response | None:
    """A 400 for raw (not percent-encoded) non-UTF-8 bytes in the query string.

    werkzeug decodes the query string as strict UTF-8 when `request.args` is first read,
    so such a request would otherwise end in a UnicodeDecodeError and a 500.
    """
    try:
        request.query_string.decode()
    except UnicodeDecodeError:
        return problem(400, "The query string is not UTF-8; percent-encode its bytes.")
    return None


def register(app: Flask) -> None:
    app.before_request(reject_undecodable_query)  # before any hook reads request.args
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(sqlalchemy.exc.DBAPIError, handle_database_error)
    app.register_error_handler(InternalServerError, lambda e: handle_unexpected(e))
    app.register_error_handler(Exception, handle_unexpected)
