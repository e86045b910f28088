"""Request quotas in fixed windows, answered with 429 problem+json and Retry-After.

Counters live in Redis when REDIS_URL is set, so every app instance and worker shares
them; otherwise in this process (behind N workers a client then gets up to N x the
quota). The client address is `request.remote_addr`, which reflects X-Forwarded-For
only through the configured number of trusted proxies (TRUSTED_PROXIES, see
service/__init__.py).
"""

import logging
import threading
import time

import redis
from flask import current_app, request
from flask_smorest import abort

logger = logging.getLogger(__name__)

_lock = threading.Lock()


class MemoryCounters:
    """Per-process fixed-window counters."""

    def __init__(self) -> None:
        self.windows: dict[str, tuple[int, int]] = {}

    def incr(self, key: str, window: int, window_s: int) -> int:
        with _lock:
            start, count = self.windows.get(key, (window, 0))
            if start != window:
                start, count = window, 0
            self.windows[key] = (start, count + 1)
            if len(self.windows) > 100_000:  # forget old windows rather than grow
                for k in [k for k, (w, _) in self.windows.items() if w < window - 1]:
                    del self.windows[k]
            return count + 1


class RedisCounters:
    """Shared fixed-window counters: INCR plus EXPIRE in one round trip."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)

    def incr(self, key: str, window: int, window_s: int) -> int:
        name = f"yizhan:rl:{key}:{window}"
        pipe = self.client.pipeline()
        pipe.incr(name)
        pipe.expire(name, window_s * 2)
        return int(pipe.execute()[0])


def counters():
    ext = current_app.extensions
    if "yizhan.limits" not in ext:
        url = current_app.config.get("REDIS_URL")
        ext["yizhan.limits"] = RedisCounters(url) if url else MemoryCounters()
    return ext["yizhan.limits"]


def hit(bucket: str, limit: int, window_s: int, client: str | None = None) -> None:
    """Count one request of `client` in `bucket`; 429 once it exceeds `limit` per window.

    A limit of 0 or less means unlimited. When Redis cannot be reached the request is
    let through (and logged): quotas protect the service, they must not take it down.
    """
    if limit <= 0:
        return
    client = client or request.remote_addr or "unknown"
    now = time.time()
    window = int(now // window_s)
    try:
        count = counters().incr(f"{bucket}:{client}", window, window_s)
    except redis.RedisError as exc:
        logger.warning("rate limit counters unavailable: %s", exc.__class__.__name__)
        return
    if count > limit:
        retry = max(1, int((window + 1) * window_s - now))
        abort(
            429,
            message=f"Too many requests: at most {limit} per {window_s} s. Retry later.",
            headers={"Retry-After": str(retry)},
        )
