"""A live `yizhan serve` (gunicorn on 127.0.0.1) refuses oversized request lines and headers,
limits bodies without a length, survives a timed-out statement and never logs a credential.

gunicorn with one sync worker against the session database, a 500 ms statement timeout, its
access log (stdout) and error log (stderr) in files. The admin token and the partner key are
committed (the server's own connections must see them) and deleted at the end.
"""

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
import sqlalchemy as sa

from service.access import partners, tokens, users
from service.core.db import make_engine
from tests.conftest import sites_locked
from tests.support import LEAKS, PROBLEM, ROOT, free_port

SERVE_TIMEOUT_MS = 500


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


def raw_answer(base: str, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes on a fresh connection; the whole answer (the server closes after it)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def raw_request(base: str, data: bytes, timeout: float = 10) -> bytes:
    """The answer's first line."""
    return raw_answer(base, data, timeout).split(b"\r\n", 1)[0]


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
        ("20 KB cookie", b"GET /healthz HTTP/1.1\r\nCookie: " + b"c=" * 10000 + b"\r\n\r\n", 431),
        ("bad request line", b"GET /healthz?token=yz_SECRET HTTP/9\r\n\r\n", 400),
        ("garbage", b"\x16\x03\x01 hello\r\n\r\n", 400),
    ],
)
def test_the_server_refuses_bad_requests_at_once_with_a_problem(live, what, request_bytes, status):
    """gunicorn's own refusals (before the app) are problem+json too, and echo nothing."""
    base, _, _ = live
    started = time.monotonic()
    answer = raw_answer(base, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(head.split(b"\r\n", 1)[0]) == status, (what, answer[:300])
    assert b"Content-Type: application/problem+json" in head, head
    problem = json.loads(body)
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert b"SECRET" not in answer and b"<html" not in answer
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
    # No route takes a credential in the query string, and the access log, which records the
    # request line, writes such a parameter's name without its value.
    in_url = requests.get(f"{base}/v1/orgs", params={"access_token": token}, timeout=10)
    assert in_url.status_code == 401
    in_url = requests.get(f"{base}/v1/sites", params={"api_key": key, "limit": 1}, timeout=10)
    assert in_url.status_code == 422
    time.sleep(0.5)  # gunicorn writes the access log line after the response
    logged = access.read_text() + errors.read_text()
    assert "/v1/orgs" in access.read_text() and "/v1/amenities" in access.read_text()
    assert "/v1/orgs?access_token=[redacted]" in access.read_text()
    assert "/v1/sites?api_key=[redacted]&limit=1" in access.read_text()
    for secret in (token, key, wrong_token, wrong_key, token[3:20], key[3:20]):
        assert secret not in logged
