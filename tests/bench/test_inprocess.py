"""bench/inprocess.py: it replays the benchmark's requests through the whole app, and a
request that fails stops it rather than being timed."""

import pytest

from bench import inprocess


@pytest.mark.parametrize("kind", ["healthz", "nearby-2", "bbox", "tiles"])
def test_the_seeded_requests_run_through_the_whole_app(app, conn, kind):
    environs = inprocess.environs(kind, 5, [])
    assert len(environs) == 5 and all(e["REQUEST_METHOD"] == "GET" for e in environs)
    for environ in environs:
        inprocess.call(app, environ)  # raises unless 200 (or 204, an empty tile)


def test_a_failing_request_is_an_error_not_a_measurement(app, conn):
    (environ,) = inprocess.environs("nearby-2", 1, [])
    environ["QUERY_STRING"] = environ["QUERY_STRING"].replace("lat=", "lat=9")  # lat 9xx: 422
    with pytest.raises(RuntimeError, match="422"):
        inprocess.call(app, environ)
