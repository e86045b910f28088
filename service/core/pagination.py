"""Keyset pages: opaque cursors bound to their query, and the one page/more/next helper.

Every paged list fetches `limit + 1` rows. `page()` keeps `limit` of them and, when there
was one more, builds the `next` URL: the current URL with a cursor that encodes where the
next page starts (`position(last row)`), as base64url JSON bound by a hash to the query it
came from. `position()` decodes such a cursor, or refuses it through `fail` (a 422 naming
`cursor` by default; OGC API answers 400).
"""

import base64
import hashlib
import math
from collections.abc import Callable, Sequence
from typing import NoReturn
from urllib.parse import urlencode

import orjson
from flask import request

from service.core.params import invalid

# What a position holds: key -> the types allowed for its value.
BY_ID = {"i": (int,)}
BY_DISTANCE = {"d": (float, int), "i": (int,)}


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


def token(value: dict) -> str:
    """A position as URL-safe text (unpadded base64 of its JSON); `untoken` reads it back."""
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def untoken(text: str) -> object:
    """What `token` wrote, or None for text it cannot have written (to be validated)."""
    try:
        return orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        return None


def encode(position: dict, params: dict) -> str:
    return token({**position, "q": fingerprint(params)})


def decode(cursor: str, params: dict) -> dict:
    payload = untoken(cursor)
    if payload is None:
        raise CursorError("Malformed cursor.")
    if not isinstance(payload, dict) or payload.get("q") != fingerprint(params):
        raise CursorError("This cursor belongs to a different query; start again without it.")
    for value in payload.values():
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise CursorError("Malformed cursor.")
        if isinstance(value, float) and not math.isfinite(value):
            raise CursorError("Malformed cursor.")
    return payload


def _invalid_cursor(message: str) -> NoReturn:
    invalid("cursor", message)


def position(
    args: dict, keys: dict = BY_ID, fail: Callable[[str], NoReturn] = _invalid_cursor
) -> dict | None:
    """Where the page named by the `cursor` parameter starts; None without one."""
    if "cursor" not in args:
        return None
    try:
        found = decode(args["cursor"], request.args.to_dict())
    except CursorError as exc:
        fail(str(exc))
    if not all(type(found.get(k)) in types for k, types in keys.items()):
        fail("Malformed cursor.")
    return found


def after_id(args: dict) -> int | None:
    """The id a page in id order continues after (the `cursor` parameter), or None."""
    found = position(args)
    return None if found is None else found["i"]


def url_with(**changes) -> str:
    """The current URL with some query parameters replaced (for `next` links)."""
    args = request.args.to_dict(flat=True)
    args.update({k: v for k, v in changes.items() if v is not None})
    return f"{request.base_url}?{urlencode(args)}"


def page(
    rows: Sequence,
    limit: int,
    position_of: Callable[[object], dict] = lambda row: {"i": row.id},
    param: str = "cursor",
    encode_with: Callable[[dict], str] | None = None,
) -> tuple[Sequence, str | None]:
    """(the first `limit` rows, the `next` URL or None when they were all).

    The next URL carries `param` = `encode_with(position_of(last row))`, by default a cursor
    bound to this query.
    """
    shown = rows[:limit]
    if len(rows) <= limit:
        return shown, None
    where = position_of(shown[-1])
    value = encode_with(where) if encode_with else encode(where, request.args.to_dict())
    return shown, url_with(**{param: value})
