"""The benchmark's seeded requests, and how each server is asked for the same thing.

A request is a plain tuple (its kind first); `yizhan_path`, `pygeoapi_path` and
`tipg_path` turn it into a URL path for that server (None: the server has no
equivalent). The same seed gives the same sequences, so every run, repetition and
server replays the same requests.
"""

import math
import random
from urllib.parse import urlencode

from fixtures.synthetic import ABSENT_AMENITY, CITIES, RARE_AMENITIES

COMMON = ("microwave", "wifi", "water_dispenser", "air_conditioning", "phone_charging", "toilet")
BBOX_SIZES = (0.1, 0.5, 1.0)  # degrees: a street, a district, a city viewport
BBOX_LIMIT = 250
NEARBY_LIMIT = 20
TILE_ZOOMS = (12, 13, 14, 15, 16)  # from z12 both Yizhan and tipg draw one point per site
TIPG_COLLECTION = "bench_peer.sites"
# Yizhan's tile properties (id, kind, name, is_open, star_rating); tipg has no is_open.
TIPG_TILE_PROPERTIES = "id,kind,name,star_rating"

# The mix of the issue: share of each kind in a mixed sequence.
MIX = (("nearby", 50), ("nearby-rare", 10), ("bbox", 25), ("tiles", 10), ("site", 5))

KINDS = {
    "mix": "the mix: nearby 50%, rare nearby 10%, bbox 25%, tiles 10%, site 5%",
    "nearby": "nearby, open_now, 0-2 common amenities, limit 20",
    "nearby-2": "nearby, open_now, 2 common amenities, limit 20 (the target's query)",
    "nearby-rare": "nearby, one rare or absent amenity, radius 3 km",
    "bbox": "bbox 0.1°/0.5°/1° near a city, GeoJSON, limit 250",
    "tiles": "vector tile z12-16 near a city",
    "site": "one site by id",
    "healthz": "/healthz (framework floor: no database)",
}


def _near_city(rng: random.Random) -> tuple[float, float]:
    _, lat, lon, _, spread = rng.choice(CITIES)
    return round(rng.gauss(lat, spread), 6), round(rng.gauss(lon, spread * 1.2), 6)


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    n = 2**z
    phi = math.radians(lat)
    x = (lon + 180) / 360 * n
    y = (1 - math.log(math.tan(phi) + 1 / math.cos(phi)) / math.pi) / 2 * n
    return int(x), int(y)


def one(kind: str, rng: random.Random, ids: list[int]) -> tuple:
    """One request of `kind` (not the mix)."""
    if kind in ("nearby", "nearby-2"):
        lat, lon = _near_city(rng)
        amenities = rng.sample(COMMON, 2 if kind == "nearby-2" else rng.randint(0, 2))
        return ("nearby", lat, lon, tuple(amenities), True)
    if kind == "nearby-rare":
        lat, lon = _near_city(rng)
        return ("nearby", lat, lon, (rng.choice((*RARE_AMENITIES, ABSENT_AMENITY)),), False)
    if kind == "bbox":
        lat, lon = _near_city(rng)
        h = rng.choice(BBOX_SIZES) / 2
        return ("bbox", round(lon - h, 5), round(lat - h, 5), round(lon + h, 5), round(lat + h, 5))
    if kind == "tiles":
        lat, lon = _near_city(rng)
        z = rng.choice(TILE_ZOOMS)
        return ("tile", z, *tile_of(lat, lon, z))
    if kind == "site":
        return ("site", rng.choice(ids))
    if kind == "healthz":
        return ("healthz",)
    raise ValueError(kind)


def sequence(kind: str, n: int, seed: int, ids: list[int]) -> list[tuple]:
    """n seeded requests of `kind`; the mix draws each request's kind by MIX's weights."""
    rng = random.Random(f"{seed}-{kind}")
    if kind != "mix":
        return [one(kind, rng, ids) for _ in range(n)]
    names, weights = zip(*MIX, strict=True)
    return [one(rng.choices(names, weights)[0], rng, ids) for _ in range(n)]


def yizhan_path(req: tuple) -> str:
    what = req[0]
    if what == "nearby":
        _, lat, lon, amenities, open_now = req
        params = {"lat": lat, "lon": lon}
        if open_now:
            params.update(open_now="true", limit=NEARBY_LIMIT)
        if amenities:
            params["amenities"] = ",".join(amenities)
        return "/v1/sites/nearby?" + urlencode(params)
    if what == "bbox":
        bbox = ",".join(f"{v:.5f}" for v in req[1:])
        return "/v1/sites?" + urlencode({"bbox": bbox, "f": "geojson", "limit": BBOX_LIMIT})
    if what == "tile":
        return f"/v1/tiles/{req[1]}/{req[2]}/{req[3]}.mvt"
    if what == "site":
        return f"/v1/sites/{req[1]}"
    if what == "healthz":
        return "/healthz"
    raise ValueError(what)


def pygeoapi_path(req: tuple) -> str | None:
    if req[0] == "bbox":
        bbox = ",".join(f"{v:.5f}" for v in req[1:])
        return "/collections/sites/items?" + urlencode(
            {"bbox": bbox, "limit": BBOX_LIMIT, "f": "json"}
        )
    if req[0] == "site":
        return f"/collections/sites/items/{req[1]}?f=json"
    return None


def tipg_path(req: tuple) -> str | None:
    base = f"/collections/{TIPG_COLLECTION}"
    if req[0] == "bbox":
        bbox = ",".join(f"{v:.5f}" for v in req[1:])
        return f"{base}/items?" + urlencode({"bbox": bbox, "limit": BBOX_LIMIT, "f": "geojson"})
    if req[0] == "site":
        return f"{base}/items/{req[1]}?f=geojson"
    if req[0] == "tile":
        z, x, y = req[1:]
        return f"{base}/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={TIPG_TILE_PROPERTIES}"
    return None


PATHS = {"yizhan": yizhan_path, "pygeoapi": pygeoapi_path, "tipg": tipg_path}
