"""gunicorn's access log (service/ops/accesslog.py) writes no credential from a query string;
tests/hostile/test_live_server.py reads the log of a live server."""

import pytest

from service.ops.accesslog import redact_uri


@pytest.mark.parametrize(
    "uri, logged",
    [
        (
            "/v1/orgs?access_token=yz_abc&q=%E9%A9%BF",
            "/v1/orgs?access_token=[redacted]&q=%E9%A9%BF",
        ),
        ("/v1/sites?API-KEY=pk_1&limit=1", "/v1/sites?API-KEY=[redacted]&limit=1"),
        ("/v1/sites?%61pi_key=pk_1", "/v1/sites?%61pi_key=[redacted]"),
        ("/v1/sites?password=x&signature=y", "/v1/sites?password=[redacted]&signature=[redacted]"),
        ("/v1/sites?q=token&key", "/v1/sites?q=token&key"),  # values and bare names stay
        ("/v1/sites", "/v1/sites"),
    ],
)
def test_the_access_log_redacts_credentials_in_the_query(uri, logged):
    assert redact_uri(uri) == logged
