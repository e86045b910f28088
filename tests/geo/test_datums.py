"""Tests for service.geo.datums: reference vectors, exact round trips, out-of-China passthrough."""

import math

import pytest

from service.geo import datums

M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)
ONE_MM = 1e-3
ZHEJIANG_DEMO = (30.0176, 122.1069)

# Deterministic grid across mainland China: lat 18..53 step 2.5, lon 74..134 step 3.
CHINA_GRID = [(18.0 + 2.5 * i, 74.0 + 3.0 * j) for i in range(15) for j in range(21)] + [
    ZHEJIANG_DEMO
]

# Singapore (1.29, 103.85) is NOT here: it lies inside the crude rectangle (see below).
OUTSIDE_CHINA = [(35.68, 139.69), (51.5, -0.12), (-33.87, 151.21)]  # Tokyo, London, Sydney

ALL_FUNCTIONS = [
    datums.wgs84_to_gcj02,
    datums.gcj02_to_wgs84,
    datums.gcj02_to_bd09,
    datums.bd09_to_gcj02,
    datums.wgs84_to_bd09,
    datums.bd09_to_wgs84,
]


def error_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Ground distance in metres between two nearby (lat, lon) points."""
    d_lat = (a[0] - b[0]) * M_PER_DEG
    d_lon = (a[1] - b[1]) * M_PER_DEG * math.cos(math.radians(a[0]))
    return math.hypot(d_lat, d_lon)


def approx_gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """The common one-step inverse: subtract the offset measured at the GCJ-02 point."""
    g_lat, g_lon = datums.wgs84_to_gcj02(lat, lon)
    return 2 * lat - g_lat, 2 * lon - g_lon


@pytest.mark.parametrize(
    ("func", "point", "expected"),
    [
        (datums.wgs84_to_gcj02, (39.915, 116.404), (39.91640428150164, 116.41024449916938)),
        (datums.gcj02_to_bd09, (39.915, 116.404), (39.92133699351021, 116.41036949371029)),
        (datums.gcj02_to_wgs84, (39.91640428150164, 116.41024449916938), (39.915, 116.404)),
        (datums.bd09_to_gcj02, (39.92133699351021, 116.41036949371029), (39.915, 116.404)),
    ],
    ids=["wgs84->gcj02", "gcj02->bd09", "gcj02->wgs84", "bd09->gcj02"],
)
def test_reference_vectors(func, point, expected):
    lat, lon = func(*point)
    assert lat == pytest.approx(expected[0], abs=1e-9)
    assert lon == pytest.approx(expected[1], abs=1e-9)


@pytest.mark.parametrize("func", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_returns_float_tuple(func):
    result = func(*ZHEJIANG_DEMO)
    assert isinstance(result, tuple) and len(result) == 2
    assert all(isinstance(v, float) for v in result)


def test_grid_is_inside_china_and_actually_shifted():
    # Guards the round-trip tests against passing trivially on unshifted points.
    for lat, lon in CHINA_GRID:
        assert not datums.out_of_china(lat, lon)
        assert error_m(datums.wgs84_to_gcj02(lat, lon), (lat, lon)) > 1.0


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        (datums.wgs84_to_gcj02, datums.gcj02_to_wgs84),
        (datums.wgs84_to_bd09, datums.bd09_to_wgs84),
        (datums.gcj02_to_bd09, datums.bd09_to_gcj02),
    ],
    ids=["gcj02", "bd09", "gcj02<->bd09"],
)
def test_round_trip_within_1mm(forward, inverse):
    worst = max(error_m(inverse(*forward(*p)), p) for p in CHINA_GRID)
    assert worst < ONE_MM


@pytest.mark.parametrize("point", CHINA_GRID[::7] + [ZHEJIANG_DEMO])
def test_bd09_to_gcj02_is_exact_inverse(point):
    lat, lon = datums.bd09_to_gcj02(*datums.gcj02_to_bd09(*point))
    assert abs(lat - point[0]) < 1e-9
    assert abs(lon - point[1]) < 1e-9


def test_zhejiang_demo_round_trip():
    for name in ("gcj02", "bd09"):
        shifted = datums.from_wgs84(*ZHEJIANG_DEMO, name)
        assert error_m(shifted, ZHEJIANG_DEMO) > 100  # genuinely moved
        assert error_m(datums.to_wgs84(*shifted, name), ZHEJIANG_DEMO) < ONE_MM


def test_iteration_beats_one_step_approximation():
    approx_worst = ours_worst = 0.0
    for p in CHINA_GRID:
        gcj = datums.wgs84_to_gcj02(*p)
        approx_worst = max(approx_worst, error_m(approx_gcj02_to_wgs84(*gcj), p))
        ours_worst = max(ours_worst, error_m(datums.gcj02_to_wgs84(*gcj), p))
    assert approx_worst > 0.5
    assert ours_worst < ONE_MM


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (30.0176, 122.1069, False),
        (39.915, 116.404, False),
        (35.68, 139.69, True),
        (51.5, -0.12, True),
        (-33.87, 151.21, True),
        # The usual test is a crude rectangle, so nearby countries count as "China".
        (1.29, 103.85, False),  # Singapore
        (37.57, 126.98, False),  # Seoul
        (60.0, 100.0, True),
        (30.0, 70.0, True),
    ],
)
def test_out_of_china(lat, lon, expected):
    assert datums.out_of_china(lat, lon) is expected


@pytest.mark.parametrize("func", ALL_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("point", OUTSIDE_CHINA, ids=["tokyo", "london", "sydney"])
def test_outside_china_unchanged(func, point):
    assert func(*point) == point


@pytest.mark.parametrize("name", datums.CRS_NAMES)
def test_dispatch_matches_direct_functions(name):
    direct = {
        "wgs84": (lambda lat, lon: (lat, lon), lambda lat, lon: (lat, lon)),
        "gcj02": (datums.gcj02_to_wgs84, datums.wgs84_to_gcj02),
        "bd09": (datums.bd09_to_wgs84, datums.wgs84_to_bd09),
    }[name]
    assert datums.to_wgs84(*ZHEJIANG_DEMO, name) == direct[0](*ZHEJIANG_DEMO)
    assert datums.from_wgs84(*ZHEJIANG_DEMO, name) == direct[1](*ZHEJIANG_DEMO)


@pytest.mark.parametrize("func", [datums.to_wgs84, datums.from_wgs84])
@pytest.mark.parametrize("name", ["epsg:3857", ""])
def test_dispatch_unknown_crs_raises(func, name):
    with pytest.raises(ValueError):
        func(*ZHEJIANG_DEMO, name)
