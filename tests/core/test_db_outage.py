"""A database host that went silent must cost a request a few seconds and a 503, not a worker.

A restarted PostgreSQL refuses connections at once (scripts/drill.py covers that); a host
that vanished behind a network fault, or a server that accepts TCP connections but never
answers, makes libpq wait for ever unless `connect_timeout` is set: every sync worker would
hang in `connect()` until gunicorn kills it, and clients would see resets instead of 503s.
"""

import socket
import threading

from service import create_app
from service.core.settings import TestConfig

WAIT_S = 15  # well above the connect timeout, well below gunicorn's 150 s worker timeout


def test_a_silent_database_is_a_503_within_the_connect_timeout():
    silent = socket.socket()  # accepts connections into its backlog, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    config = type(
        "SilentDatabase",
        (TestConfig,),
        {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/yizhan"},
    )
    app = create_app(config)
    answers = []

    def ask():
        answers.append(app.test_client().get("/v1/sites/1"))

    asking = threading.Thread(target=ask, daemon=True)
    try:
        asking.start()
        asking.join(timeout=WAIT_S)
        assert not asking.is_alive(), f"the request still waits after {WAIT_S} s"
    finally:
        silent.close()  # resets the queued connection, so a hung request ends too
        asking.join(timeout=5)
        app.extensions["yizhan.db"]["primary"].dispose()
    response = answers[0]
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"].isdigit()
    assert response.get_json()["status"] == 503
