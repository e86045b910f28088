"""Hardening: no stack traces or SQL in responses, problem+json everywhere, security headers,
/docs under its CSP in a browser, and a live `yizhan serve` (gunicorn on 127.0.0.1) that
refuses oversized request lines and headers, survives a timed-out statement and never logs
a token.
"""

import base64
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from service.access import partners, tokens, users
from service.core.db import make_engine
from tests.conftest import sites_locked

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = "application/problem+json"
# What must never reach a client: Python or driver internals, SQL, object names.
LEAKS = re.compile(
    r"traceback|file \"|psycopg|sqlalchemy|select |insert |update |relation|"
    r"amenities_gone|reports_gone|boom",
    re.IGNORECASE,
)


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


# --- errors ---------------------------------------------------------------------------------


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


# --- security headers -------------------------------------------------------------------------


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
        [node, str(ROOT / "tests" / "docs_page.mjs"), server],
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


# --- a live `yizhan serve` ----------------------------------------------------------------------
#
# gunicorn with one sync worker on 127.0.0.1 against the session database, a 500 ms statement
# timeout, its access log (stdout) and error log (stderr) in files. The admin token and the
# partner key are committed (the server's own connections must see them) and deleted at the end.

SERVE_TIMEOUT_MS = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def credentials(database_url):
    engine = make_engine(database_url, pool_size=1, statement_timeout_ms=0)
    name = f"hardening-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        user_id = users.ensure_user(conn, "zj", name, "admin")
        token_id, token = tokens.create_token(conn, user_id, datetime.now(UTC))
        key_id, key = partners.create(conn, name, 100_000)
    try:
        yield {"token": token, "key": key}
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM api_tokens WHERE id = :t"), {"t": token_id})
            conn.execute(sa.text("DELETE FROM users WHERE id = :u"), {"u": user_id})
            conn.execute(sa.text("DELETE FROM partner_key_usage WHERE key_id = :k"), {"k": key_id})
            conn.execute(sa.text("DELETE FROM partner_keys WHERE id = :k"), {"k": key_id})
        engine.dispose()


@pytest.fixture(scope="module")
def live(database_url, credentials, tmp_path_factory):
    """`yizhan serve --workers 1` on a free local port: (base URL, access log, error log)."""
    logs = tmp_path_factory.mktemp("serve")
    access, errors = logs / "access.log", logs / "error.log"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
        "DATABASE_URL": database_url,
        "DB_STATEMENT_TIMEOUT_MS": str(SERVE_TIMEOUT_MS),
        "DB_POOL_SIZE": "2",
        "USAGE_FLUSH_SECONDS": "0",
    }
    env.pop("DATABASE_REPLICA_URL", None)
    yizhan = ROOT / ".venv" / "bin" / "yizhan"
    with open(access, "wb") as out, open(errors, "wb") as err:
        process = subprocess.Popen(
            [str(yizhan), "serve", "--workers", "1", "--bind", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, errors.read_text()[-3000:]
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still booting
                pass
            assert time.monotonic() < deadline, "yizhan serve did not answer within 60 s"
            time.sleep(0.2)
        yield base, access, errors
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def raw_request(base: str, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes on a fresh connection; the answer's first line (the server closes after it)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(data)
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def status_of(first_line: bytes) -> int:
    assert first_line.startswith(b"HTTP/1."), first_line
    return int(first_line.split()[1])


@pytest.mark.parametrize(
    "what, request_bytes, status",
    [
        ("request line", b"GET /v1/sites?q=" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (
            "header size",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
            431,
        ),
        (
            "header count",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: 1\r\n" % i for i in range(60))
            + b"\r\n",
            431,
        ),
    ],
)
def test_oversized_request_lines_and_headers_are_refused_at_once(live, what, request_bytes, status):
    base, _, _ = live
    started = time.monotonic()
    assert status_of(raw_request(base, request_bytes)) == status, what
    assert time.monotonic() - started < 5
    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200


def test_a_body_without_content_length_is_still_limited(live):
    """A chunked upload over MAX_CONTENT_LENGTH is cut off with a 413, not read to the end."""
    base, _, _ = live

    def chunks():
        for _ in range(40):
            yield b" " * 65536  # 2.5 MiB of JSON whitespace in all

    response = requests.post(
        f"{base}/v1/sites/1/reports",
        data=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=20,
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"] == PROBLEM


def test_a_timed_out_statement_is_a_503_and_the_worker_survives(live, database_url):
    base, _, errors = live
    with sites_locked(database_url):
        started = time.monotonic()
        slow = requests.get(f"{base}/v1/sites", params={"limit": 3}, timeout=30)
        took = time.monotonic() - started
    assert slow.status_code == 503, slow.text
    assert slow.headers["Content-Type"] == PROBLEM and slow.headers["Retry-After"]
    assert not LEAKS.search(slow.text)
    assert took < 5  # the 500 ms statement timeout, not gunicorn's 150 s worker timeout
    after = requests.get(f"{base}/v1/sites", params={"limit": 3}, timeout=30)
    assert after.status_code == 200 and len(after.json()["items"]) == 3
    log = errors.read_text()
    assert log.count("Booting worker") == 1, log[-3000:]  # the same worker answered
    assert "database unavailable: OperationalError" in log


def test_tokens_and_keys_never_reach_the_logs(live, credentials, database_url):
    base, access, errors = live
    token, key = credentials["token"], credentials["key"]
    wrong_token, wrong_key = "yz_" + "W" * 43, "pk_" + "K" * 43
    admin = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{base}/v1/orgs", headers=admin, timeout=10).status_code == 200
    wrong = {"Authorization": f"Bearer {wrong_token}"}
    assert requests.get(f"{base}/v1/orgs", headers=wrong, timeout=10).status_code == 401
    assert requests.get(f"{base}/v1/amenities", headers={"X-API-Key": key}, timeout=10).ok
    bad_key = requests.get(f"{base}/v1/amenities", headers={"X-API-Key": wrong_key}, timeout=10)
    assert bad_key.status_code == 401
    with sites_locked(database_url):  # an error the app logs, with the token in the request
        slow = requests.get(f"{base}/v1/sites/1/history", headers=admin, timeout=30)
    assert slow.status_code == 503
    # Too big a header: gunicorn refuses it and logs the refusal, not the header.
    huge = b"GET /v1/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode()
    assert status_of(raw_request(base, huge + b"x" * 9000 + b"\r\n\r\n")) == 431
    # No route takes a credential in the query string (the access log records the URL).
    in_url = requests.get(f"{base}/v1/orgs", params={"access_token": "q" * 20}, timeout=10)
    assert in_url.status_code == 401
    in_url = requests.get(f"{base}/v1/sites", params={"api_key": "q" * 20}, timeout=10)
    assert in_url.status_code == 422
    time.sleep(0.5)  # gunicorn writes the access log line after the response
    logged = access.read_text() + errors.read_text()
    assert "/v1/orgs" in access.read_text() and "/v1/amenities" in access.read_text()
    for secret in (token, key, wrong_token, wrong_key, token[3:20], key[3:20]):
        assert secret not in logged
