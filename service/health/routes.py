"""Liveness and readiness probes."""

from datetime import timedelta
from functools import lru_cache

import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import Schema, fields

from schema import migrate
from service.core.api import Blueprint
from service.core.clock import now
from service.core.db import db
from service.core.problems import problem
from service.core.responses import json_response
from service.health import queries
from service.hours import store as hours_store

blp = Blueprint("health", __name__, description="Probes for load balancers and orchestrators.")

# Readiness fails when fewer than this many days of opening hours remain materialised.
MIN_HOURS_AHEAD = timedelta(days=2)


class Ready(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


@lru_cache(maxsize=1)
def _head() -> str:
    return migrate.head()


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, Ready)
    def get(self):
        """Liveness: the process answers (no dependency is checked)."""
        return json_response({"status": "ok", "checks": {}})


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200, Ready)
    @blp.alt_response(503, description="Not ready (problem+json naming the failed checks)")
    def get(self):
        """Readiness: database reachable, migrations current, hours horizon fresh."""
        checks: dict[str, str] = {}
        version, horizon = None, None
        try:
            with db.reading() as conn:
                version = queries.migration_version(conn)
                if version is not None:
                    horizon = hours_store.current_horizon(conn)
        except (sa.exc.OperationalError, sa.exc.InterfaceError):
            return problem(
                503,
                "database unreachable",
                kind="not-ready",
                errors={"database": ["unreachable"]},
                headers={"Retry-After": "5"},
            )
        checks["database"] = "ok"
        checks["migrations"] = "ok" if version == _head() else f"at {version}, head {_head()}"
        if horizon is None:
            checks["hours"] = "never materialised: run `yizhan hours refresh`"
        elif horizon.valid_until - now() < MIN_HOURS_AHEAD:
            checks["hours"] = f"stale: materialised until {horizon.valid_until.isoformat()}"
        else:
            checks["hours"] = "ok"
        failed = {k: [v] for k, v in checks.items() if v != "ok"}
        if failed:
            return problem(
                503, "not ready", kind="not-ready", errors=failed, headers={"Retry-After": "5"}
            )
        return json_response({"status": "ready", "checks": checks})
