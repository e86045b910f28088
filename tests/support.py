"""Helpers the test packages share: the repository's paths, the problem+json assertion, a free
port and a forged cursor. Fixtures live in conftest.py; this module holds plain functions."""

import base64
import re
import socket
from pathlib import Path

import orjson

from service.core.pagination import fingerprint

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PROBLEM = "application/problem+json"
# What must never reach a client: Python or driver internals, SQL, object names.
LEAKS = re.compile(
    r"traceback|file \"|psycopg|sqlalchemy|select |insert |update |relation|"
    r"amenities_gone|reports_gone|boom",
    re.IGNORECASE,
)


def assert_problem(response, status: int, fields: str | tuple[str, ...] = ()) -> dict:
    """An RFC 9457 body with this status, never a partial answer; with `fields`, its `errors`
    object names at least one of them."""
    assert response.status_code == status, response.get_data(as_text=True)[:1000]
    assert response.mimetype == PROBLEM
    body = response.get_json()
    for key in ("type", "title", "status", "detail"):
        assert key in body, f"problem lacks {key!r}: {body}"
    assert body["status"] == response.status_code
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert "items" not in body and "features" not in body
    fields = (fields,) if isinstance(fields, str) else fields
    if fields:
        assert isinstance(body.get("errors"), dict), body
        assert set(fields) & set(body["errors"]), f"errors should name one of {fields}: {body}"
    return body


def forged_cursor(position: dict, params: dict) -> str:
    """A cursor with the right query fingerprint for `params` and a hand-made position."""
    payload = {**position, "q": fingerprint(params)}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
