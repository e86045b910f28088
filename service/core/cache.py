"""The one in-process cache: slow-moving facts, partner keys and low-zoom tiles, briefly.

Each named cache of an app keeps entries for CACHE_SECONDS (read at every call, so a
test may change it; 0 keeps nothing) and at most `maxsize` of them, the least recently
used going first. Hand-written rather than cachetools': its TTL is fixed per instance,
and callers here need a per-call TTL and "do not keep this value" (unknown partner keys).
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

T = TypeVar("T")


class TTLCache:
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, tuple[object, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self,
        key: Hashable,
        load: Callable[[], T],
        ttl: float,
        keep: Callable[[T], bool] | None = None,
    ) -> T:
        """The value kept for `key`, or `load()` (kept for `ttl` s when `keep` allows it)."""
        if ttl <= 0:
            return load()
        clock = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and clock < hit[1]:
                self._entries.move_to_end(key)
                return hit[0]
        value = load()
        if keep is None or keep(value):
            with self._lock:
                self._entries[key] = (value, clock + ttl)
                self._entries.move_to_end(key)
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)
        return value


def named(name: str, maxsize: int = 1024) -> TTLCache:
    """The current app's cache called `name`, made on first use."""
    caches = current_app.extensions.setdefault("yizhan.caches", {})
    found = caches.get(name)
    if found is None:
        found = caches.setdefault(name, TTLCache(maxsize))
    return found


def cached(name: str, load: Callable[[], T], keep: Callable[[T], bool] | None = None) -> T:
    """`load()` at most once per CACHE_SECONDS per process, for slow-moving facts."""
    return named("facts").get(name, load, current_app.config["CACHE_SECONDS"], keep)
