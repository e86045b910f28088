"""A small per-process cache of low-zoom tiles.

A z5 tile over eastern China groups ~470k sites (0.5 s at 1e6 sites) and hardly ever
changes, and every map that opens asks for it. Such tiles are kept for CACHE_SECONDS
(30 s; 0 in tests), within the 60 s that their Cache-Control lets any proxy keep them
anyway. Tiles whose filters depend on the moment (open_now) and high-zoom tiles
(cheap, and their `is_open` changes with the clock) are never cached.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import current_app

MAX_TILES = 512  # low-zoom tiles are at most ~100 kB: a bounded few tens of MB

_lock = threading.Lock()


def key(z: int, x: int, y: int, crs: str, params: dict) -> Hashable:
    """A hashable key from the tile and its filters' bind values (lists become tuples)."""
    values = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
    return z, x, y, crs, values


def tile(cache_key: Hashable, load: Callable[[], bytes], cacheable: bool) -> bytes:
    ttl = current_app.config["CACHE_SECONDS"]
    if not cacheable or ttl <= 0:
        return load()
    store: OrderedDict = current_app.extensions.setdefault("yizhan.tiles", OrderedDict())
    clock = time.monotonic()
    with _lock:
        hit = store.get(cache_key)
        if hit is not None and clock < hit[1]:
            store.move_to_end(cache_key)
            return hit[0]
    body = load()
    with _lock:
        store[cache_key] = (body, clock + ttl)
        store.move_to_end(cache_key)
        while len(store) > MAX_TILES:
            store.popitem(last=False)
    return body
