"""Configuration read from the environment, with safe defaults for a local run."""

import os

DEFAULT_DATABASE_URL = "postgresql://postgres:postgres@127.0.0.1:5432/yizhan"
# The zone of a site that names none, and of times that belong to no site (audit entries,
# rider reports).
DEFAULT_TIMEZONE = "Asia/Shanghai"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _hosts(name: str, default: str) -> list[str] | None:
    """A comma-separated list of host names; `*` trusts any (None, Flask's default)."""
    value = os.environ.get(name, default).strip()
    return None if value == "*" else [h.strip().lower() for h in value.split(",") if h.strip()]


class Config:
    DATABASE_URL = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL") or None
    # Per process; gunicorn runs a few workers, so keep pools small (see `yizhan serve`).
    DB_POOL_SIZE = _int("DB_POOL_SIZE", 5)
    DB_STATEMENT_TIMEOUT_MS = _int("DB_STATEMENT_TIMEOUT_MS", 5000)
    # How far ahead opening hours are materialised; `open_at` beyond it is a 422. 61: riders
    # can check 60 days ahead (the Spring Festival in advance) even just before a daily refresh.
    HOURS_HORIZON_DAYS = _int("HOURS_HORIZON_DAYS", 61)
    # Requests re-read slow-moving facts (the hours horizon, amenity frequencies) at most
    # this often.
    CACHE_SECONDS = 30
    DEFAULT_TIMEZONE = DEFAULT_TIMEZONE
    # Request bodies: 1 MiB in general, more for bulk imports (both answer 413 beyond).
    MAX_CONTENT_LENGTH = 1024 * 1024
    IMPORT_MAX_BYTES = _int("IMPORT_MAX_BYTES", 64 * 1024 * 1024)
    IMPORT_MAX_ROWS = _int("IMPORT_MAX_ROWS", 200_000)
    # An import's statements may run this long (a 100,000-row file takes ~20 s); keep it
    # under gunicorn's --timeout (service/ops/serving.py).
    IMPORT_STATEMENT_TIMEOUT_MS = _int("IMPORT_STATEMENT_TIMEOUT_MS", 120_000)
    # Rider reports accepted per client address per hour.
    REPORTS_PER_HOUR = _int("REPORTS_PER_HOUR", 10)
    # Quotas: shared through Redis when REDIS_URL is set, else counted per process.
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # Public reads without X-API-Key, per address (the map page costs ~10 tiles a view).
    ANON_PER_MINUTE = _int("ANON_PER_MINUTE", 600)
    DEFAULT_PARTNER_PER_MINUTE = _int("DEFAULT_PARTNER_PER_MINUTE", 1200)
    USAGE_FLUSH_SECONDS = _int("USAGE_FLUSH_SECONDS", 10)  # partner usage counts to the database
    # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (0: none).
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
    # Host names the app answers to (Flask checks each request's Host, or X-Forwarded-Host
    # behind TRUSTED_PROXIES): `next` links and OGC links are built from it, so another one
    # is a 400, never an echoed link. Set the public name in production (e.g. yizhan.example.cn).
    TRUSTED_HOSTS = _hosts("TRUSTED_HOSTS", "localhost,127.0.0.1,[::1]")
    # Callable returning an aware datetime; tests replace it to freeze "now".
    NOW = None
    # Signs the console's CSRF tokens and keys the HMAC of client addresses. Set it in
    # production (the same value for every instance); unset, one is kept in instance/.
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    # The console's cookie is Secure when the request came over HTTPS (behind TRUSTED_PROXIES,
    # as the proxy says); set this to require it always.
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "") == "1"

    API_TITLE = "Yizhan"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/static/swagger-ui/"
    # No badge from validator.swagger.io: /docs loads nothing from elsewhere (and its CSP
    # would block it).
    OPENAPI_SWAGGER_UI_CONFIG = {"validatorUrl": None}
    JSON_AS_ASCII = False


class TestConfig(Config):
    TESTING = True
    DB_POOL_SIZE = 2
    CACHE_SECONDS = 0  # tests move the horizon inside a transaction
    ANON_PER_MINUTE = 0  # unlimited, except in the tests of quotas
    USAGE_FLUSH_SECONDS = 0
    REDIS_URL = None
    SECRET_KEY = "test secret, not for production"
