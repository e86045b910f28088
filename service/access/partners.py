"""Partner API keys (X-API-Key), quotas on public reads, and CORS for browsers.

Map apps send `X-API-Key`: a key has a name and a per-minute quota, and its requests are
counted per day. Anonymous public reads get a lower quota per client address. Keys are
never admin credentials: they only raise the quota of public endpoints. Public endpoints
allow any origin (without credentials); admin endpoints send no CORS headers at all.
"""

import atexit
import hashlib
import logging
import secrets
import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, Response, current_app, request
from flask_smorest import abort

from service.access import quotas
from service.core import cache
from service.core.db import db

logger = logging.getLogger(__name__)

KEY_PREFIX = "yzk_"
PUBLIC_BLUEPRINTS = {"sites", "amenities", "changes", "tiles", "ogc", "holidays"}
# Riders report from browsers too; district pickers read the org tree.
PUBLIC_ENDPOINTS = {"reports.SiteReports", "orgs.PublicOrgs"}
EXPOSED = "ETag, Location, Retry-After, Content-Type"


@dataclass(frozen=True)
class Partner:
    id: int
    name: str
    per_minute: int


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def create(conn: sa.Connection, name: str, per_minute: int) -> tuple[int, str]:
    """(key id, the key itself): shown once, stored as a hash."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = conn.scalar(
        sa.text(
            "INSERT INTO partner_keys (name, key_hash, per_minute) "
            "VALUES (:name, :hash, :per_minute) RETURNING id"
        ),
        {"name": name, "hash": digest(key), "per_minute": per_minute},
    )
    return key_id, key


def listing(conn: sa.Connection, day) -> list[sa.Row]:
    return conn.execute(
        sa.text(
            "SELECT k.id, k.name, k.per_minute, k.created_at, k.revoked_at, "
            "coalesce(u.requests, 0) AS today FROM partner_keys k "
            "LEFT JOIN partner_key_usage u ON u.key_id = k.id AND u.day = :day ORDER BY k.id"
        ),
        {"day": day},
    ).all()


def revoke(conn: sa.Connection, key_id: int, at: datetime) -> bool:
    result = conn.execute(
        sa.text("UPDATE partner_keys SET revoked_at = :at WHERE id = :id AND revoked_at IS NULL"),
        {"id": key_id, "at": at},
    )
    return result.rowcount == 1


def _lookup(key: str) -> Partner | None:
    """The live partner of a key, cached briefly per process (keys change rarely); unknown
    keys are not kept, so junk keys cannot fill the cache."""
    hashed = digest(key)

    def load() -> Partner | None:
        with db.writing() as conn:  # the primary: a revoked key must not live on in a replica
            row = conn.execute(
                sa.text(
                    "SELECT id, name, per_minute FROM partner_keys "
                    "WHERE key_hash = :hash AND revoked_at IS NULL"
                ),
                {"hash": hashed},
            ).first()
        return Partner(*row) if row else None

    ttl = current_app.config["CACHE_SECONDS"]
    return cache.named("partners").get(hashed, load, ttl, keep=lambda p: p is not None)


# The database is down, unreachable or too slow (a cancelled statement, a pool with no
# connection free): counts wait for the next flush.
UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


class Usage:
    """Requests per key and day, added up in memory and flushed to the database.

    A flush the database does not take (UNAVAILABLE) keeps its counts for the next one, and
    the request that triggered it is served all the same; a worker that exits flushes what
    it still holds (init_app registers that). Any other error of a flush is logged and its
    counts dropped: accounting must never fail a read, nor retry a batch that can never be
    written. Counts are at least once: a commit whose answer is lost is written again.
    """

    def __init__(self) -> None:
        self.pending: Counter[tuple[int, str]] = Counter()
        self.flushed_at = time.monotonic()
        self.lock = threading.Lock()

    def count(self, key_id: int) -> None:
        day = datetime.now(UTC).date().isoformat()
        with self.lock:
            self.pending[(key_id, day)] += 1
            due = time.monotonic() - self.flushed_at >= current_app.config["USAGE_FLUSH_SECONDS"]
        if due:
            self.flush()

    def flush(self) -> bool:
        """Write the pending counts (in an app context); False when they are still pending."""
        with self.lock:
            batch = dict(self.pending)
            self.pending.clear()
            self.flushed_at = time.monotonic()
        if not batch:
            return True
        try:
            self._write(batch)
        except UNAVAILABLE as exc:
            logger.warning(
                "partner usage kept for the next flush: %s (%d keys)",
                exc.__class__.__name__,
                len(batch),
            )
            self._restore(batch)
            return False
        except Exception:
            logger.exception("partner usage dropped: %d keys", len(batch))
        except BaseException:  # the worker is being stopped: its exit flush will try again
            self._restore(batch)
            raise
        return True

    def _restore(self, batch: dict) -> None:
        with self.lock:
            self.pending.update(batch)

    @staticmethod
    def _write(batch: dict) -> None:
        # In key order, so that two workers flushing the same keys cannot deadlock.
        rows = [{"key_id": k, "day": d, "n": n} for (k, d), n in sorted(batch.items())]
        with db.writing() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO partner_key_usage (key_id, day, requests) "
                    "VALUES (:key_id, CAST(:day AS date), :n) ON CONFLICT (key_id, day) "
                    "DO UPDATE SET requests = partner_key_usage.requests + EXCLUDED.requests"
                ),
                rows,
            )


def _flush_at_exit(app_ref: weakref.ref) -> None:
    app = app_ref()
    if app is None or not app.extensions["yizhan.usage"].pending:
        return
    usage = app.extensions["yizhan.usage"]
    try:
        with app.app_context():
            if not usage.flush():
                logger.warning("partner usage lost at exit: %d keys", len(usage.pending))
    except Exception as exc:  # the interpreter is going away: log, never raise
        logger.warning("partner usage lost at exit: %s", exc.__class__.__name__)


def _is_public() -> bool:
    return request.blueprint in PUBLIC_BLUEPRINTS or request.endpoint in PUBLIC_ENDPOINTS


def _preflight() -> Response | None:
    """Answer CORS preflights: allowed for public reads (and rider reports) only."""
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    wanted = request.headers["Access-Control-Request-Method"].upper()
    allowed = (wanted in ("GET", "HEAD") and request.blueprint in PUBLIC_BLUEPRINTS) or (
        wanted == "POST" and request.endpoint in PUBLIC_ENDPOINTS
    )
    response = Response(status=204)
    if allowed:
        response.headers.update(
            {
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": "GET, HEAD, POST"
                if wanted == "POST"
                else "GET, HEAD",
                "Access-Control-Allow-Headers": "X-API-Key, If-None-Match, Content-Type",
                "Access-Control-Max-Age": "600",
            }
        )
    return response


def _gate() -> Response | None:
    """Before a request: preflights, then quotas for public endpoints."""
    preflight = _preflight()
    if preflight is not None:
        return preflight
    if not _is_public():
        return None
    cfg = current_app.config
    key = request.headers.get("X-API-Key")
    if key is None:
        quotas.hit("anon", cfg["ANON_PER_MINUTE"], 60)
        return None
    partner = _lookup(key.strip())
    if partner is None:
        # A wrong key must not be a way around the anonymous quota.
        quotas.hit("anon", cfg["ANON_PER_MINUTE"], 60)
        abort(401, message="Unknown or revoked API key.", headers={"WWW-Authenticate": "ApiKey"})
    quotas.hit(f"key{partner.id}", partner.per_minute, 60, client="all")
    current_app.extensions["yizhan.usage"].count(partner.id)
    return None


def _cors(response: Response) -> Response:
    if request.method != "OPTIONS" and _is_public():
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
    return response


def init_app(app: Flask) -> None:
    app.extensions["yizhan.usage"] = Usage()
    # A worker recycled or stopped flushes what it holds (a weak reference: registering
    # must not keep every app ever built alive, as the tests build many).
    atexit.register(_flush_at_exit, weakref.ref(app))
    app.before_request(_gate)
    app.after_request(_cors)
