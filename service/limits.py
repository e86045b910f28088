"""Per-client request limits (fixed windows), answered with 429 problem+json and Retry-After.

Counters live in this process. Behind several gunicorn workers a client gets up to
`workers x limit` per window; shared counters in Redis come with the partner-key
work (issue #4). The client is `request.remote_addr`: behind a proxy, configure the
trusted proxy count before relying on it.
"""

import threading
import time

from flask import current_app, request
from flask_smorest import abort

_lock = threading.Lock()


def _store() -> dict:
    return current_app.extensions.setdefault("yizhan.limits", {})


def hit(bucket: str, limit: int, window_s: int, client: str | None = None) -> None:
    """Count one request of `client` in `bucket`; 429 once it exceeds `limit` per window."""
    client = client or request.remote_addr or "unknown"
    now = time.monotonic()
    window = int(now // window_s)
    key = (bucket, client)
    with _lock:
        store = _store()
        start, count = store.get(key, (window, 0))
        if start != window:
            start, count = window, 0
        count += 1
        store[key] = (start, count)
        if len(store) > 100_000:  # forget old windows rather than grow without bound
            for k in [k for k, (w, _) in store.items() if w != window]:
                del store[k]
    if count > limit:
        retry = max(1, int((window + 1) * window_s - now))
        abort(
            429,
            message=f"Too many requests: at most {limit} per {window_s} s. Retry later.",
            headers={"Retry-After": str(retry)},
        )
