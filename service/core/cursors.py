"""Opaque pagination cursors: base64url JSON bound to the query they came from."""

import base64
import hashlib
import math

import orjson


class CursorError(ValueError):
    pass


def fingerprint(params: dict) -> str:
    """A short hash of the query a cursor belongs to (everything but the cursor)."""
    canonical = orjson.dumps(
        {k: v for k, v in params.items() if k != "cursor"},
        option=orjson.OPT_SORT_KEYS,
        default=str,
    )
    return hashlib.sha256(canonical).hexdigest()[:16]


def encode(position: dict, params: dict) -> str:
    payload = {**position, "q": fingerprint(params)}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode(cursor: str, params: dict) -> dict:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise CursorError("Malformed cursor.") from None
    if not isinstance(payload, dict) or payload.get("q") != fingerprint(params):
        raise CursorError("This cursor belongs to a different query; start again without it.")
    for value in payload.values():
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise CursorError("Malformed cursor.")
        if isinstance(value, float) and not math.isfinite(value):
            raise CursorError("Malformed cursor.")
    return payload
