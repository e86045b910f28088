"""Generated tests from the contract: schemathesis against the live /openapi.json.

Every operation of the document gets schemathesis's examples, coverage and fuzzing phases
(`CONTRACT_EXAMPLES` examples per operation, 100 by default) with every default check:
server errors, status codes, content types, response headers and schemas, negative data
rejection, positive data acceptance, missing required headers, ignored auth, use after free,
resource availability. Requests go to the session app through WSGI, as an admin of the root
org, inside the test's rolled-back transaction of the throwaway database. Generation is
deterministic (fixed seed, no example database), so a run is repeatable.

`CONTRACT_STATEFUL=1` (make fuzz-contract) adds schemathesis's stateful testing along the
document's OpenAPI links (POST /v1/sites -> GET/PATCH/DELETE /v1/sites/{site_id}, ...).
"""

import os
import time
from dataclasses import dataclass

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from service import create_app
from service.core.settings import TestConfig
from service.imports import template, xlsx

EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "100"))
STATEFUL = os.environ.get("CONTRACT_STATEFUL") == "1"
STATEFUL_EXAMPLES = int(os.environ.get("CONTRACT_STATEFUL_EXAMPLES", "200"))  # scenarios
SEED = 20261130


@dataclass(frozen=True)
class Rule:
    """Parameters whose documented validity JSON Schema cannot state, and why."""

    status: str
    fields: dict[str, str]


FILTER_RULES = {
    "open_at": "exclusive with open_now, and inside the materialised hours horizon",
    "cursor": "opaque: only a value from an earlier answer to the same query is valid",
}
# Special days and closures (API.md, "Holidays, special days, closures").
HOURS_RULES = {
    "special_days": "spans in the opening_hours grammar, to >= from, entries do not overlap",
    "closed_until": "a date after today in the site's zone, with status temporarily_closed",
    "closure_reason": "only for a closed or temporarily closed site",
}
# A schema-valid request may still be refused for these reasons only: each is a rule of the
# contract (API.md, README) that depends on server state, on the caller or on a grammar, so
# the document can describe it in words but not in JSON Schema. For these operations
# positive_data_acceptance also accepts the named status, and `rejection_names_its_rule` below
# fails any such rejection whose problem `errors` name another parameter.
SEMANTIC_RULES = {
    "GET /v1/sites/nearby": Rule("422", FILTER_RULES),
    "GET /v1/sites": Rule("422", {**FILTER_RULES, "bbox": "south <= north"}),
    "GET /v1/tiles/{z}/{x}/{y}.mvt": Rule(
        "422",
        {"open_at": FILTER_RULES["open_at"], "x": "x < 2^z", "y": "y < 2^z"},
    ),
    "GET /ogc/collections/sites/items": Rule(
        "400",  # OGC API - Features answers bad parameters with 400
        {
            **FILTER_RULES,
            "bbox": "minLat <= maxLat",
            "datetime": "a real calendar date, start <= end",
            "radius": "only with nearest",
            "nearest": "not with bbox or datetime",
        },
    ),
    "GET /v1/sites/{site_id}": Rule("422", {"open_at": FILTER_RULES["open_at"]}),
    "GET /v1/sites/{site_id}/hours": Rule("422", {"from": "an instant from 1970 to 2100"}),
    "GET /v1/sites/{site_id}/history": Rule("422", {"cursor": FILTER_RULES["cursor"]}),
    "GET /v1/reports": Rule("422", {"cursor": FILTER_RULES["cursor"]}),
    "GET /v1/changes": Rule(
        "422",
        {
            "since": "a next_cursor from an earlier answer",
            "snapshot": "a token from an earlier answer; exclusive with since",
        },
    ),
    "POST /v1/sites": Rule(
        "422",
        {
            "Idempotency-Key": "a key already used is only valid for the same request",
            "opening_hours": "the OSM opening_hours grammar",
            "timezone": "an IANA zone name the server knows",
            "org": "an existing org in the caller's subtree",
            **HOURS_RULES,
        },
    ),
    "PATCH /v1/sites/{site_id}": Rule(
        "422",
        {
            "opening_hours": "the OSM opening_hours grammar",
            "timezone": "an IANA zone name the server knows",
            "org": "an existing org in the caller's subtree",
            **HOURS_RULES,
        },
    ),
    "POST /v1/orgs": Rule("422", {"code": "below the caller's org, under an existing parent"}),
}
# If-Match must name the site's current version (an ETag read earlier): any other
# schema-valid value is a 412, and a missing one 428 Precondition Required (RFC 6585).
PRECONDITIONS = ("PATCH /v1/sites/{site_id}", "DELETE /v1/sites/{site_id}")


ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]  # schemathesis's default, less 5xx
MISSING_HEADER = ["400", "401", "403", "406", "415", "422"]  # schemathesis's default


def _operation_settings() -> list[dict]:
    """Per operation (matched by its exact label): the statuses the contract adds."""
    found = {}
    for label, rule in SEMANTIC_RULES.items():
        found[label] = {"positive_data_acceptance": {"expected-statuses": ACCEPTED + [rule.status]}}
    for label in PRECONDITIONS:
        checks = found.setdefault(label, {})
        accepted = checks.get("positive_data_acceptance", {}).get("expected-statuses", ACCEPTED)
        checks["positive_data_acceptance"] = {"expected-statuses": accepted + ["412"]}
        checks["missing_required_header"] = {"expected-statuses": MISSING_HEADER + ["428"]}
    # The audit trail outlives a (soft) deleted site: its last entry is the deletion, and
    # admins must still read who deleted it. So a 200 for the history of a deleted site is
    # the design, not a use after free; every other check still runs on this operation.
    found["GET /v1/sites/{site_id}/history"]["use_after_free"] = {"enabled": False}
    return [{"include-name": label, "checks": checks} for label, checks in found.items()]


CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        "operations": _operation_settings(),
    }
)
# The document does not depend on the database: load it once from an app of the test config,
# then send every request to the `app` fixture (the throwaway database).
# XLSX imports: the template workbook (valid), a truncated one and bytes that are no zip.
_TEMPLATE = template.workbook_bytes()
schemathesis.openapi.media_type(
    xlsx.MEDIA_TYPE,
    st.sampled_from([_TEMPLATE, _TEMPLATE[: len(_TEMPLATE) // 2], b"PK\x03\x04 no workbook"]),
)
schema = schemathesis.openapi.from_wsgi("/openapi.json", create_app(TestConfig), config=CONFIG)


@schemathesis.check
def rejection_names_its_rule(ctx, response, case):
    """Narrows positive_data_acceptance: a 4xx it lets through must name a listed parameter."""
    rule = SEMANTIC_RULES.get(case.operation.label)
    meta = case.meta
    if rule is None or meta is None or not meta.generation.mode.is_positive:
        return None
    if str(response.status_code) != rule.status:
        return None
    errors = orjson.loads(response.content).get("errors") or {}
    # A nested name (special_days.0.hours) is explained by its member's rule.
    unexplained = sorted(e for e in errors if e.split(".")[0] not in rule.fields)
    if not errors or unexplained:
        raise AssertionError(
            f"{response.status_code} names {unexplained or 'no parameter'}; "
            f"only {sorted(rule.fields)} may refuse schema-valid input",
        )
    return None


OGC_ITEMS = "GET /ogc/collections/sites/items"
OGC_MAX_LIMIT = 1000


@schema.hook
def filter_case(ctx, case):
    """OGC API - Features Part 1 (7.15.3) serves a `limit` above the documented maximum as the
    maximum instead of refusing it, so such a request is not negative data for that one
    operation (tests/ogc/test_ogc.py checks the behaviour). Every other case is kept."""
    if case.operation.label != OGC_ITEMS:
        return True
    limit = str((case.query or {}).get("limit", ""))
    return not (limit.isascii() and limit.isdigit() and int(limit) > OGC_MAX_LIMIT)


@pytest.fixture()
def admin(app, conn, bearer) -> dict:
    """An admin of the root org; fresh rate limits, writes rolled back with `conn`."""
    app.extensions.pop("yizhan.limits", None)
    return bearer("zj", "admin")


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_contract(case, app, admin):
    started = time.perf_counter()
    try:
        case.call_and_validate(app=app, headers=admin)
    finally:
        CALLS.setdefault(case.operation.label, []).append(time.perf_counter() - started)


CALLS: dict[str, list[float]] = {}


def teardown_module():
    """With CONTRACT_REPORT=1 (and -s): requests and time per operation, for docs/reliability.md."""
    if os.environ.get("CONTRACT_REPORT") != "1":
        return
    for label, took in sorted(CALLS.items(), key=lambda item: -sum(item[1])):
        print(f"contract: {label}: {len(took)} requests, {sum(took):.1f} s")
    print(f"contract: {sum(map(len, CALLS.values()))} requests in {len(CALLS)} operations")


if STATEFUL:

    def test_contract_stateful(app, conn, admin):
        """Sequences of calls along the OpenAPI links, with every check on each response."""

        class Machine(schema.as_state_machine()):
            def setup(self):
                # Each scenario starts from the same data and quotas, so that Hypothesis can
                # replay (and shrink) a failing one: writes go to a savepoint rolled back after.
                app.extensions.pop("yizhan.limits", None)
                self.savepoint = conn.begin_nested()

            def teardown(self):
                self.savepoint.rollback()
                super().teardown()

            def get_call_kwargs(self, case):
                return {"app": app, "headers": admin}

            def validate_response(self, response, case, additional_checks=None, **kwargs):
                case.validate_response(
                    response,
                    headers=admin,
                    transport_kwargs=kwargs,
                    recorder=self.recorder,
                )

        Machine.run(
            settings=settings(
                max_examples=STATEFUL_EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                stateful_step_count=6,
            )
        )


# Regressions for what the generated tests found (each failed before its fix).


def test_geojson_site_pages_are_documented(client):
    """GET /v1/sites answered application/geo+json, which the document did not list."""
    spec = client.get("/openapi.json").get_json()
    content = spec["paths"]["/v1/sites"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "application/geo+json"}
    response = client.get("/v1/sites", query_string={"f": "geojson", "limit": 1})
    assert response.mimetype == "application/geo+json"
    feature = response.get_json()["features"][0]
    documented = spec["components"]["schemas"]["SiteProperties"]["properties"]
    assert set(feature["properties"]) == set(documented)


def test_open_reports_of_a_site_are_documented(client, admin):
    """An admin's GET /v1/sites/{id} carried `open_reports`, absent from the documented Site."""
    spec = client.get("/openapi.json").get_json()
    ref = spec["paths"]["/v1/sites/{site_id}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    documented = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    body = client.get("/v1/sites/1", headers=admin).get_json()
    assert "open_reports" in body
    assert set(body) <= set(documented)


def test_a_reused_idempotency_key_names_the_header(client, admin):
    """Reusing a key for another body was a 422 without `errors` naming what was wrong."""
    headers = {**admin, "Idempotency-Key": "contract-1"}
    site = {"kind": "station", "name": "契约驿站", "location": {"lat": 30.0, "lon": 122.0}}
    assert client.post("/v1/sites", json=site, headers=headers).status_code == 201
    again = client.post("/v1/sites", json={**site, "name": "另一个"}, headers=headers)
    assert again.status_code == 422
    assert again.mimetype == "application/problem+json"
    assert list(again.get_json()["errors"]) == ["Idempotency-Key"]


def test_an_instant_before_year_one_in_utc_is_not_a_422(client):
    """updated_since=0001-01-01T00:00:02+02:00 is a valid RFC 3339 date-time before any site."""
    response = client.get(
        "/v1/sites", query_string={"updated_since": "0001-01-01T00:00:02+02:00", "limit": 1}
    )
    assert response.status_code == 200
    assert len(response.get_json()["items"]) == 1
    late = client.get("/v1/sites", query_string={"updated_since": "9999-12-31T23:59:59-02:00"})
    assert late.status_code == 200
    assert late.get_json()["items"] == []


def test_coordinates_and_preconditions_are_documented(client):
    """lat/lon had no documented range, If-Match and Idempotency-Key accepted empty values."""
    spec = client.get("/openapi.json").get_json()
    nearby = {
        p["name"]: p["schema"] for p in spec["paths"]["/v1/sites/nearby"]["get"]["parameters"]
    }
    assert (nearby["lat"]["minimum"], nearby["lat"]["maximum"]) == (-90, 90)
    assert (nearby["lon"]["minimum"], nearby["lon"]["maximum"]) == (-180, 180)
    patch = spec["paths"]["/v1/sites/{site_id}"]["patch"]["parameters"]
    if_match = next(p for p in patch if p["name"] == "If-Match")
    assert if_match["required"] and if_match["schema"]["minLength"] == 1
    links = spec["paths"]["/v1/sites"]["post"]["responses"]["201"]["links"]
    assert {"GetSite", "PatchSite", "DeleteSite"} <= set(links)
