"""Probes and the database-down path: 503 problem+json with Retry-After, never a 500."""

import uuid

import pytest
from psycopg2 import sql

from service import create_app
from service.core.settings import TestConfig
from tests.conftest import _admin_connection


def app_for(url: str):
    return create_app(type("Cfg", (TestConfig,), {"DATABASE_URL": url}))


@pytest.fixture()
def unreachable_client():
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    app = app_for("postgresql://postgres@127.0.0.1:1/yizhan")
    yield app.test_client()
    app.extensions["yizhan.db"]["primary"].dispose()


def test_healthz(client):
    """Liveness answers with the contract's body and checks nothing."""
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "checks": {}}


def test_healthz_does_not_need_the_database(unreachable_client):
    assert unreachable_client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "path", ["/readyz", "/v1/sites/nearby?lat=30&lon=120", "/v1/sites", "/v1/sites/1"]
)
def test_database_down_is_503_with_retry_after(unreachable_client, path):
    r = unreachable_client.get(path)
    assert r.status_code == 503
    assert r.headers["Content-Type"] == "application/problem+json"
    assert int(r.headers["Retry-After"]) > 0
    assert "127.0.0.1" not in r.get_data(as_text=True)  # no driver text leaks out


def test_readyz_on_an_unmigrated_database(database_url):
    name = f"yizhan_test_empty_{uuid.uuid4().hex[:8]}"
    admin = _admin_connection(database_url)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        app = app_for(database_url.rsplit("/", 1)[0] + "/" + name)
        r = app.test_client().get("/readyz")
        assert r.status_code == 503
        assert r.json["errors"]["migrations"][0].startswith("at None")
        app.extensions["yizhan.db"]["primary"].dispose()
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def test_readyz_when_ready(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "hours": "ok"},
    }
