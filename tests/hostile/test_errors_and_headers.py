"""Errors and headers: no stack traces or SQL in responses, problem+json for every 404 and 405,
security headers on every response, /docs under its CSP in a real browser, and credentials that
are not ours neither block public reads nor escape the anonymous quota.
"""

import base64
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support import LEAKS, PROBLEM, ROOT, assert_problem


def assert_generic_500(response) -> None:
    assert response.status_code == 500
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "An unexpected error occurred; it has been logged.",
    }
    assert not LEAKS.search(response.get_data(as_text=True))


def test_an_unexpected_exception_is_a_generic_500_and_is_logged(client, monkeypatch, caplog):
    def boom(conn):
        raise RuntimeError("boom: SELECT secret FROM somewhere")

    monkeypatch.setattr("service.amenities.queries.all_amenities", boom)
    with caplog.at_level(logging.ERROR, logger="service.core.problems"):
        response = client.get("/v1/amenities")
    assert_generic_500(response)
    assert "boom: SELECT secret" in caplog.text  # the operator sees it, the client does not


@pytest.mark.parametrize(
    "table, path, admin",
    [
        ("amenities", "/v1/amenities", False),
        ("reports", "/v1/reports", True),
    ],
)
def test_a_database_error_is_a_generic_500_without_sql(
    client, conn, bearer, caplog, table, path, admin
):
    headers = bearer("zj", "admin") if admin else {}
    assert client.get(path, headers=headers).status_code == 200
    conn.execute(sa.text(f"ALTER TABLE {table} RENAME TO {table}_gone"))  # rolled back
    with caplog.at_level(logging.ERROR, logger="service.core.problems"):
        response = client.get(path, headers=headers)
    assert_generic_500(response)
    assert f'relation "{table}" does not exist' in caplog.text
    if admin:  # the log holds the SQL and its parameters, never the token
        assert headers["Authorization"].split()[1] not in caplog.text


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/nope", 404),
        ("GET", "/v1/sites/abc", 404),
        ("GET", "/v1/sites/1/nope", 404),
        ("GET", "/static/web/nope.js", 404),
        ("GET", "/static/swagger-ui/nope.js", 404),
        ("GET", "/ogc/collections/nope", 404),
        ("DELETE", "/v1/amenities", 405),
        ("PUT", "/v1/sites/1", 405),
        ("POST", "/ogc/collections/sites/items", 405),
        ("POST", "/", 405),
    ],
)
def test_404_and_405_are_problem_json_not_html(client, method, path, status):
    response = client.open(path, method=method, headers={"Accept": "text/html"})
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    assert response.get_json()["status"] == status
    assert "<html" not in response.get_data(as_text=True).lower()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if status == 405:
        assert response.headers["Allow"]


def test_post_to_a_read_only_resource_is_a_405_problem_with_allow(client):
    """POST /v1/amenities: 405 problem+json with an Allow header listing GET."""
    response = client.post("/v1/amenities", json={"code": "jacuzzi"})
    assert_problem(response, 405)
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert "GET" in allowed and "POST" not in allowed


def csp_of(response) -> dict[str, list[str]]:
    directives = [d.split() for d in response.headers["Content-Security-Policy"].split(";")]
    return {name: values for name, *values in directives}


def test_docs_page_has_a_csp_allowing_only_its_own_inline_script(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = csp_of(response)
    page = response.get_data()
    inline = re.findall(rb"<script>(.*?)</script>", page, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0]).digest()).decode()
    assert csp["script-src"] == ["'self'", f"'sha256-{digest}'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    every = {v for values in csp.values() for v in values}
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"} & every
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    # Its assets come from this origin, and no validator badge from validator.swagger.io.
    assert b"https://" not in page and b"http://" not in page
    assert b'"validatorUrl": null' in page


def test_map_page_keeps_its_own_csp(client):
    response = client.get("/")
    csp = csp_of(response)
    assert csp["script-src"] == ["'self'"] and csp["worker-src"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "path, mimetype",
    [
        ("/v1/amenities", "application/json"),
        ("/v1/sites?f=geojson&limit=1", "application/geo+json"),
        ("/v1/tiles/8/213/105.mvt", "application/vnd.mapbox-vector-tile"),
        ("/openapi.json", "application/json"),
        ("/v1/sites/nearby", PROBLEM),
        ("/static/swagger-ui/swagger-ui-bundle.js", "text/javascript"),
    ],
)
def test_every_response_has_nosniff(client, path, mimetype):
    response = client.get(path)
    assert response.mimetype == mimetype
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Content-Security-Policy" not in response.headers  # pages only
    response.close()


def test_docs_page_works_in_a_browser_under_its_csp(server):
    """Swagger UI renders every operation and runs one ("Try it out") with no CSP violation."""
    node = shutil.which("node")
    assert node and Path("/usr/bin/chromium").exists(), "run scripts/ensure-browser.sh"
    result = subprocess.run(
        [node, str(ROOT / "tests" / "web" / "docs_page.mjs"), server],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr[-3000:]
    seen = json.loads(lines[-1])
    assert "error" not in seen, seen
    assert seen["status"] == 200 and "sha256-" in seen["csp"]
    assert seen["cspViolations"] == []
    assert seen["console"] == [] and seen["pageErrors"] == []
    assert seen["external"] == [] and seen["failed"] == [] and seen["httpErrors"] == []
    assert seen["title"].startswith("Yizhan")
    assert seen["operations"] >= 20
    assert seen["tryItOutStatus"] == "200"


def test_a_non_bearer_authorization_header_does_not_block_public_reads(client, make_site):
    site_id = make_site(29.9, 121.6)
    r = client.get(f"/v1/sites/{site_id}", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert r.status_code == 200 and "open_reports" not in r.json


def test_bogus_keys_count_against_the_anonymous_quota(client, app):
    app.config.update(ANON_PER_MINUTE=2)
    try:
        env = {"REMOTE_ADDR": "192.0.2.77"}
        codes = [
            client.get(
                "/v1/amenities", headers={"X-API-Key": f"yzk_{i}"}, environ_base=env
            ).status_code
            for i in range(3)
        ]
        assert codes == [401, 401, 429]
        assert not app.extensions.get("yizhan.caches", {}).get("partners")
    finally:
        app.config.update(ANON_PER_MINUTE=0)


# --- the Host header ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/v1/sites?limit=1", "/v1/sites/nearby?lat=30.0176&lon=122.1069&limit=1", "/ogc/collections"],
)
@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "127.0.0.2"])
def test_an_untrusted_host_is_a_400_and_never_echoed_in_a_link(client, path, host):
    response = client.get(path, headers={"Host": host})
    assert_problem(response, 400)
    assert "Location" not in response.headers and "next" not in response.get_json()


def test_links_carry_the_trusted_host(client):
    response = client.get("/v1/sites?limit=1", headers={"Host": "127.0.0.1:8000"})
    assert response.get_json()["next"].startswith("http://127.0.0.1:8000/v1/sites?")


def test_behind_a_proxy_the_forwarded_host_is_checked_too(app):
    from werkzeug.middleware.proxy_fix import ProxyFix

    proxied = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    from werkzeug.test import Client

    client = Client(proxied)
    response = client.get("/v1/sites?limit=1", headers={"X-Forwarded-Host": "evil.example"})
    assert response.status_code == 400
    assert b"evil.example/v1" not in response.data


@pytest.mark.parametrize(
    "value, hosts",
    [
        (None, ["localhost", "127.0.0.1", "[::1]"]),
        ("yizhan.example.cn, .yizhan.example.cn", ["yizhan.example.cn", ".yizhan.example.cn"]),
        ("Yizhan.Example.CN", ["yizhan.example.cn"]),
        ("*", None),
    ],
)
def test_trusted_hosts_come_from_the_environment(monkeypatch, value, hosts):
    from service.core import settings

    if value is None:
        monkeypatch.delenv("TRUSTED_HOSTS", raising=False)
    else:
        monkeypatch.setenv("TRUSTED_HOSTS", value)
    assert settings._hosts("TRUSTED_HOSTS", "localhost,127.0.0.1,[::1]") == hosts
