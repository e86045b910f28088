"""The amenity vocabulary, read from `fixtures/amenities.json`.

The file is the single source: `yizhan db upgrade` syncs it into the
`amenities` table, and validators check codes against it in memory (no
database query inside a validator).
"""

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def amenities() -> tuple[dict, ...]:
    text = resources.files("fixtures").joinpath("amenities.json").read_text("utf-8")
    return tuple(json.loads(text))


@lru_cache(maxsize=1)
def codes() -> frozenset[str]:
    return frozenset(a["code"] for a in amenities())
