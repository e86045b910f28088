"""Chinese map datum transforms: WGS-84 <-> GCJ-02 <-> BD-09.

GCJ-02 ("Mars coordinates") is the obfuscated datum that Chinese law requires for
published maps of mainland China: a deterministic, non-linear offset of a few hundred
metres applied to WGS-84.  Amap (Gaode), Tencent Maps and Google Maps inside China use it.
BD-09 is Baidu's own extra obfuscation layered on top of GCJ-02; Baidu Maps uses it.

The forward transforms are the published ones.  Neither has an exact closed-form inverse:
the usual one-step approximation (subtract the offset evaluated at the shifted point) is off
by several metres in places, so the inverses here refine it by fixed-point iteration until
they are exact to ~1e-12 degrees.

Every function takes and returns ``(lat, lon)`` in degrees.  Points outside the rough
mainland-China rectangle are returned unchanged: the offsets only apply inside China.
"""

import math
from collections.abc import Callable

CRS_NAMES = ("wgs84", "gcj02", "bd09")

LatLon = tuple[float, float]
Transform = Callable[[float, float], LatLon]

# Krasovsky 1940 ellipsoid, which the GCJ-02 algorithm is defined on.
_A = 6378245.0
_EE = 0.00669342162296594323
# BD-09 uses degrees scaled by 3000 inside its trig terms.
_X_PI = math.pi * 3000.0 / 180.0

# Inverse iteration limits; in practice about five steps reach the tolerance.
_TOLERANCE = 1e-12  # degrees, ~0.1 micrometre
_MAX_ITER = 30


def _identity(lat: float, lon: float) -> LatLon:
    return float(lat), float(lon)


def out_of_china(lat: float, lon: float) -> bool:
    """Rough bounding box of mainland China; nothing outside it is shifted.

    It is the box every reference implementation uses, so it also covers e.g. Seoul and
    Singapore; callers must not treat False as "this point is in China"."""
    return lon < 72.004 or lon > 137.8347 or lat < 0.8293 or lat > 55.8271


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _invert(forward: Transform, lat: float, lon: float) -> LatLon:
    """Solve forward(w) == (lat, lon) by fixed-point iteration from the classic one-step
    guess g - (f(g) - g); converges because the offsets are nearly constant locally."""
    if out_of_china(lat, lon):
        return _identity(lat, lon)
    f_lat, f_lon = forward(lat, lon)
    w_lat, w_lon = 2.0 * lat - f_lat, 2.0 * lon - f_lon
    for _ in range(_MAX_ITER):
        f_lat, f_lon = forward(w_lat, w_lon)
        d_lat, d_lon = lat - f_lat, lon - f_lon
        w_lat, w_lon = w_lat + d_lat, w_lon + d_lon
        if abs(d_lat) < _TOLERANCE and abs(d_lon) < _TOLERANCE:
            break
    return w_lat, w_lon


def wgs84_to_gcj02(lat: float, lon: float) -> LatLon:
    if out_of_china(lat, lon):
        return _identity(lat, lon)
    d_lat = _transform_lat(lon - 105.0, lat - 35.0)
    d_lon = _transform_lon(lon - 105.0, lat - 35.0)
    # The polynomials give offsets in metres; convert to degrees with the Krasovsky radii.
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lat + d_lat, lon + d_lon


def gcj02_to_wgs84(lat: float, lon: float) -> LatLon:
    return _invert(wgs84_to_gcj02, lat, lon)


def gcj02_to_bd09(lat: float, lon: float) -> LatLon:
    if out_of_china(lat, lon):
        return _identity(lat, lon)
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def bd09_to_gcj02(lat: float, lon: float) -> LatLon:
    # The published closed-form inverse is off by up to ~1.5e-6 deg (~0.17 m); iterate instead.
    return _invert(gcj02_to_bd09, lat, lon)


def wgs84_to_bd09(lat: float, lon: float) -> LatLon:
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> LatLon:
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


# crs name -> (transform to WGS-84, transform from WGS-84)
_DISPATCH: dict[str, tuple[Transform, Transform]] = {
    "wgs84": (_identity, _identity),
    "gcj02": (gcj02_to_wgs84, wgs84_to_gcj02),
    "bd09": (bd09_to_wgs84, wgs84_to_bd09),
}


def _transforms(crs: str) -> tuple[Transform, Transform]:
    if crs not in _DISPATCH:
        raise ValueError(f"unknown CRS {crs!r}; expected one of {CRS_NAMES}")
    return _DISPATCH[crs]


def to_wgs84(lat: float, lon: float, crs: str) -> LatLon:
    """Convert a point given in ``crs`` (one of CRS_NAMES) to WGS-84."""
    return _transforms(crs)[0](lat, lon)


def from_wgs84(lat: float, lon: float, crs: str) -> LatLon:
    """Convert a WGS-84 point to ``crs`` (one of CRS_NAMES)."""
    return _transforms(crs)[1](lat, lon)


def bbox_to_wgs84(bbox: tuple[float, float, float, float], crs: str):
    """A (west, south, east, north) box drawn on a `crs` map, as a WGS-84 box containing it.

    Corners and edge midpoints are converted and enveloped; the datum shift varies by a
    few metres across a city-sized box, so the envelope is padded by ~20 m to lose nothing.
    """
    west, south, east, north = bbox
    if crs == "wgs84" or west > east:  # antimeridian boxes lie outside China: no shift
        return bbox
    mid_lat, mid_lon = (south + north) / 2, (west + east) / 2
    points = [
        to_wgs84(lat, lon, crs) for lat in (south, mid_lat, north) for lon in (west, mid_lon, east)
    ]
    pad = 0.0002
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    return (
        max(-180.0, min(lons) - pad),
        max(-90.0, min(lats) - pad),
        min(180.0, max(lons) + pad),
        min(90.0, max(lats) + pad),
    )
