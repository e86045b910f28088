"""Fuzz the map datum conversions (service/geo/datums.py): WGS-84 <-> GCJ-02 <-> BD-09.

For any valid coordinate (the API checks range and finiteness before converting) each
transform returns finite numbers no farther than a few kilometres from its input. Well
inside the mainland-China box the inverses are exact: a round trip returns to the start
within 1e-9 degrees (0.1 mm; the module iterates to 1e-12). Within a band of the box's
edges a round trip cannot be exact (a point just outside the box is left unchanged, so two
points can map to it); there only the bounds above hold.

    python fuzz/crs_fuzz.py [corpus dirs] -max_total_time=600
"""

import math
import sys

import _common  # noqa: F401
import atheris

with atheris.instrument_imports(include=["service"]):
    from service.geo import datums

PAIRS = [
    (datums.wgs84_to_gcj02, datums.gcj02_to_wgs84),
    (datums.wgs84_to_bd09, datums.bd09_to_wgs84),
    (datums.gcj02_to_bd09, datums.bd09_to_gcj02),
    (datums.gcj02_to_wgs84, datums.wgs84_to_gcj02),
    (datums.bd09_to_wgs84, datums.wgs84_to_bd09),
    (datums.bd09_to_gcj02, datums.gcj02_to_bd09),
]
ROUND_TRIP_DEG = 1e-9
MAX_SHIFT_DEG = 0.05  # GCJ-02 moves points by under 1 km, BD-09 by about 1 km more
EDGE_BAND_DEG = 0.1  # round trips are exact only this far inside the box


def well_inside(lat: float, lon: float) -> bool:
    return not any(
        datums.out_of_china(lat + d_lat, lon + d_lon)
        for d_lat in (-EDGE_BAND_DEG, EDGE_BAND_DEG)
        for d_lon in (-EDGE_BAND_DEG, EDGE_BAND_DEG)
    )


def check_point(lat: float, lon: float, name: str) -> tuple[float, float]:
    assert isinstance(lat, float) and isinstance(lon, float), (name, lat, lon)
    assert math.isfinite(lat) and math.isfinite(lon), (name, lat, lon)
    return lat, lon


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():  # anywhere on Earth
        lat, lon = fdp.ConsumeFloatInRange(-90, 90), fdp.ConsumeFloatInRange(-180, 180)
    else:  # in and around mainland China, where the offsets apply
        lat, lon = fdp.ConsumeFloatInRange(0, 57), fdp.ConsumeFloatInRange(71, 139)
    forward, inverse = PAIRS[fdp.ConsumeIntInRange(0, len(PAIRS) - 1)]
    there = check_point(*forward(lat, lon), forward.__name__)
    back = check_point(*inverse(*there), inverse.__name__)
    for point in (there, back):
        assert abs(point[0] - lat) < MAX_SHIFT_DEG and abs(point[1] - lon) < MAX_SHIFT_DEG, (
            forward.__name__, (lat, lon), there, back
        )  # fmt: skip
    if datums.out_of_china(lat, lon) and datums.out_of_china(*there):
        assert there == (lat, lon), (forward.__name__, (lat, lon), there)
    if well_inside(lat, lon):
        error = max(abs(back[0] - lat), abs(back[1] - lon))
        assert error < ROUND_TRIP_DEG, (forward.__name__, (lat, lon), there, back, error)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
