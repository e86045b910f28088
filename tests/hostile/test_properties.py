"""Property tests: hostile input anywhere in a request is never a 5xx and never writes.

test_query_params.py, test_cursors.py and test_bodies.py hold hand-written cases; here Hypothesis
generates them for every query parameter, path parameter, header and body field of the
public and admin endpoints (the GET parameters are read from /openapi.json, so a new
parameter is fuzzed without touching this file). Three properties:

1. no answer is a 5xx;
2. a 4xx is application/problem+json whose `status` member equals the HTTP status;
3. a rejected write (any status >= 300) leaves every table a write touches unchanged.

CI runs a small deterministic budget (`derandomize=True`). `make fuzz-properties` sets
PROPERTY_EXAMPLES (examples per test; randomised) for the long run; see docs/reliability.md.
"""

import base64
import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote_from_bytes

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from service.core import pagination as cursors
from service.core.models import KINDS, REPORT_CATEGORIES, REPORT_STATUSES, STATUSES
from service.imports.parse import COLUMNS

PROBLEM_JSON = "application/problem+json"
_LONG_RUN = int(os.environ.get("PROPERTY_EXAMPLES", "0"))
PROPERTY = settings(
    max_examples=_LONG_RUN or 30,
    derandomize=not _LONG_RUN,
    database=None,  # nothing written to .hypothesis/; a failure prints its reproduction blob
    deadline=None,
    print_blob=True,
    # CI reports the first failing example as found; the long run also shrinks it.
    phases=list(Phase) if _LONG_RUN else [Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one rolled-back `conn` serves every example
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
# Failing examples can hold 20,000-character strings; Hypothesis warns about printing them.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
REQUESTS = {"count": 0}  # requests sent by this module, reported by `make fuzz-properties`

# -- hostile values --------------------------------------------------------------------

NUMBERS = st.one_of(
    st.sampled_from(
        ["NaN", "nan", "-NaN", "Infinity", "-Infinity", "inf", "1e309", "-1e309", "1e-400"]
        + ["9" * 400, "-1", "-0", "0", "0.0", str(2**63), str(-(2**63) - 1), str(2**31)]
        + ["0x1F", "1_000", "１２", "٣", " 1", "1 ", "+1", "1.", ".5", "1e5", "--1", "1e"]
        + ["", " ", "true", "null", "[]"]
    ),
    st.integers().map(str),
    st.floats().map(repr),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
_OFFSETS = st.integers(-1439, 1439).map(lambda m: timezone(timedelta(minutes=m)))
INSTANTS = st.one_of(
    st.sampled_from(
        ["9999-12-31T23:59:59+23:59", "0001-01-01T00:00:00-23:59", "2026-02-30T00:00:00Z"]
        + ["2026-11-30T25:00:00+08:00", "2026-11-30T12:00:00", "2026-11-30", "now", "..", "/"]
        + ["2026-11-30T12:00:00+08:00/..", "../..", "2026-11-30T12:00:00 08:00"]
    ),
    st.datetimes(timezones=st.none() | st.just(UTC) | _OFFSETS).map(datetime.isoformat),
)
_COORDINATE = st.floats(-400, 400) | st.floats() | NUMBERS
BBOXES = st.one_of(
    st.sampled_from(
        ["170,-10,-170,10", "180,0,-180,1", "-180,-90,180,90", "123,31,121,29", "0,0,0,0"]
        + ["121,31,123,29", "179.9,29,-179.9,31", "121,29,123,31,0,100", ",,,", "1,2,3,4,"]
    ),
    st.lists(_COORDINATE.map(str), min_size=2, max_size=6).map(",".join),
)
HOURS = st.one_of(
    st.sampled_from(
        ["25:00-26:00", "Mo-Su 09:00-", "24/8", "Mo-Xx 09:00-10:00", "week 54 Mo 09:00-10:00"]
        + ["2026 Feb 30 09:00-10:00", "Mo-Su 09:00-21:00 ||", "Jan 00", "Mo 24:01-25:00", ";"]
        + ["Mo-Su 00:00-00:00", "Mo-Su 22:00-06:00", "PH off", "sunrise-sunset", "Mo[6] 1-2"]
        + ["Mo-Su 09:00-21:00; " * 200, "easter +400 days", "2026-9999 Mo 09:00-10:00"]
    ),
    st.text(alphabet='MoTuWeFrSaSuPH 0123456789:-+,;/[]"|offclosedunrisetweek', max_size=40),
)
ZONES = st.sampled_from(
    ["Asia/Shanghai", "Factory", "localtime", "posixrules", "UTC", "Etc/GMT+14", "../etc/passwd"]
    + ["Asia/Shanghai\x00", "asia/shanghai", "", " Asia/Shanghai", "EST5EDT", "右"]
)
TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(categories=["Cs", "Cc", "Co", "Cn", "Zs"]), max_size=10),
    st.builds(
        lambda c, n: c * n,
        st.sampled_from(["a", "驿", "\x00", "%", "\ud800", ",", "é", "\u202e", "\ufeff"]),
        st.integers(100, 20_000),
    ),
    NUMBERS,
    INSTANTS,
    BBOXES,
    HOURS,
    ZONES,
    st.sampled_from(KINDS + STATUSES + REPORT_CATEGORIES + ("wifi,microwave", "zj.nb", "zj")),
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**400, -(10**400)]),
    st.floats(),  # json.dumps writes NaN and Infinity literals, which json.loads accepts
    TEXT,
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forged(payload) -> str:
    """A cursor-shaped token: base64url of any JSON (lone surrogates and NaN included)."""
    return b64(json.dumps(payload).encode("utf-8", "surrogatepass"))


# Wrong types first: Hypothesis starts with the first choices (CI sees them for sure).
_POSITION_VALUES = st.one_of(
    st.sampled_from([True, None, "1", 1.5, [], {}, 2**63, -(2**63) - 1, 2**63 - 1]),
    JSON_VALUES,
    st.integers(-2, 10**6),
)
# The key sets real cursors use (sites: i; nearby: d, i; changes: x, s and a, x), then any.
POSITIONS = st.one_of(
    st.sampled_from([("i",), ("d", "i"), ("x", "s"), ("a", "x")]).flatmap(
        lambda keys: st.fixed_dictionaries(dict.fromkeys(keys, _POSITION_VALUES))
    ),
    st.dictionaries(st.sampled_from(["i", "d", "x", "s", "a", "q"]), JSON_VALUES, max_size=4),
)


def mutated(position: dict):
    """A real cursor's position with one value replaced, one key dropped or one added."""
    keys = st.sampled_from(sorted(position))
    replaced = st.tuples(keys, _POSITION_VALUES).map(lambda kv: {**position, kv[0]: kv[1]})
    return st.one_of(
        replaced,
        replaced,
        keys.map(lambda k: {n: v for n, v in position.items() if n != k}),
        st.tuples(st.text(max_size=3), _POSITION_VALUES).map(lambda kv: {**position, kv[0]: kv[1]}),
    )


CURSORS = st.one_of(
    POSITIONS.map(forged),
    JSON_VALUES.map(forged),
    st.binary(max_size=40).map(b64),
    st.text(max_size=30),
    st.sampled_from(["!!!", "=", "====", "eyJ4IjoxfQ", "e30", "bnVsbA", "W10", "%00"]),
)
# Query and path values are bytes: UTF-8 (lone surrogates as CESU-8), or any bytes at all.
RAW = st.one_of(
    TEXT.map(lambda s: s.encode("utf-8", "surrogatepass")),
    CURSORS.map(str.encode),
    st.binary(max_size=40),
)
# Per parameter, hostile values of its own shape are drawn twice as often as any bytes.
_SHAPED = {
    NUMBERS: ("lat", "lon", "radius", "limit", "days", "z", "x", "y", "site_id", "feature_id"),
    INSTANTS: ("open_at", "updated_since", "from", "datetime"),
    BBOXES: ("bbox", "nearest"),
    CURSORS: ("cursor", "since", "snapshot"),
}
HOSTILE = {
    name: st.one_of(*[shaped.map(lambda s: s.encode("utf-8", "surrogatepass"))] * 2, RAW)
    for shaped, names in _SHAPED.items()
    for name in names
}
# The change feed's tokens carry no query fingerprint: edit real-looking ones directly.
for _name, _position in (("since", {"x": 1000, "s": -1}), ("snapshot", {"a": 0, "x": 1000})):
    _edited = mutated(_position).map(lambda p: forged(p).encode())
    HOSTILE[_name] = st.one_of(_edited, _edited, HOSTILE[_name])
HEADER_VALUES = st.one_of(
    st.none(),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    st.text(st.characters(max_codepoint=255), max_size=300),
    st.integers(1, 5000).map(lambda n: "k" * n),
).filter(lambda v: v is None or not set(v) & set("\r\n"))


# -- the properties --------------------------------------------------------------------

# Every table a write touches (schema/versions/*.py), with what an UPDATE would change.
_WRITE_STATE = sa.text(
    """
    SELECT (SELECT count(*) FROM sites), (SELECT coalesce(sum(version), 0) FROM sites),
           (SELECT count(*) FROM sites WHERE deleted_at IS NOT NULL),
           (SELECT count(*) FROM site_audit), (SELECT count(*) FROM change_log),
           (SELECT count(*) FROM reports),
           (SELECT md5(coalesce(string_agg(id || status || coalesce(note, ''), ',' ORDER BY id),
                                ''))
              FROM reports),
           (SELECT count(*) FROM idempotency_keys), (SELECT count(*) FROM orgs),
           (SELECT count(*) FROM hours_patterns), (SELECT count(*) FROM hours_pattern_intervals),
           (SELECT count(*) FROM users), (SELECT count(*) FROM api_tokens)
    """
)


def write_state(conn) -> tuple:
    return tuple(conn.execute(_WRITE_STATE).one())


def check(response) -> None:
    """Properties 1 and 2."""
    body = response.get_data()
    assert response.status_code < 500, body[:2000]
    if response.status_code >= 400:
        assert response.mimetype == PROBLEM_JSON, (response.status_code, body[:500])
        problem = json.loads(body)
        assert problem["status"] == response.status_code, problem
        assert isinstance(problem["title"], str) and isinstance(problem["detail"], str)


def send(client, method: str, url: str, raw_query: bytes | None = None, **kwargs):
    REQUESTS["count"] += 1
    if raw_query is not None:  # bytes as they are, not percent-encoded
        kwargs["environ_overrides"] = {"QUERY_STRING": raw_query.decode("latin-1")}
    response = client.open(url, method=method, **kwargs)
    check(response)
    return response


def send_write(client, conn, method: str, url: str, **kwargs):
    """Property 3 on top of 1 and 2."""
    before = write_state(conn)
    response = send(client, method, url, **kwargs)
    if response.status_code >= 300:
        assert write_state(conn) == before, (response.status_code, response.get_data()[:500])
    return response


def encode_query(params: list[tuple[str, bytes]]) -> str:
    return "&".join(f"{quote_from_bytes(k.encode())}={quote_from_bytes(v)}" for k, v in params)


@pytest.fixture(scope="module", autouse=True)
def _report_request_count(request):
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if _LONG_RUN and reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\ntest_properties: {REQUESTS['count']} requests sent")


@pytest.fixture()
def fresh_limits(app):
    """Rate limits are reset before each example: this tests input, not quotas."""
    return lambda: app.extensions.pop("yizhan.limits", None)


@pytest.fixture()
def admin(bearer):
    return bearer("zj", "admin")


@pytest.fixture()
def nb_admin(bearer):
    return bearer("zj.nb", "admin")


@pytest.fixture()
def nb_editor(bearer):
    return bearer("zj.nb", "editor")


@pytest.fixture()
def site_id(conn) -> int:
    return conn.scalar(sa.text("SELECT id FROM sites WHERE external_id = 'DEMO-DH-0001'"))


# -- reads: every GET operation of the OpenAPI document ---------------------------------

GET_OPERATIONS = [
    "/v1/sites/nearby",
    "/v1/sites",
    "/v1/sites/{site_id}",
    "/v1/sites/{site_id}/hours",
    "/v1/sites/{site_id}/history",
    "/v1/reports",
    "/v1/orgs",
    "/v1/orgs/public",
    "/v1/changes",
    "/v1/tiles/{z}/{x}/{y}.mvt",
    "/v1/amenities",
    "/v1/holidays",
    "/v1/imports/template.xlsx",
    "/ogc",
    "/ogc/conformance",
    "/ogc/collections",
    "/ogc/collections/sites",
    "/ogc/collections/sites/items",
    "/ogc/collections/sites/items/{feature_id}",
    "/healthz",
    "/readyz",
]
# A valid value for each parameter, so that the hostile one is the reason for an answer.
VALID = {
    "lat": "30.0176", "lon": "122.1069", "radius": "3000", "limit": "10", "kind": "station",
    "amenities": "wifi", "any_amenities": "wifi,microwave", "open_now": "true",
    "open_at": "2026-11-30T12:00:00+08:00", "q": "驿站", "org": "zj", "crs": "gcj02",
    "bbox": "121,29,123,31", "updated_since": "2026-01-01T00:00:00Z", "f": "geojson",
    "from": "2026-11-30T00:00:00+08:00", "days": "7", "status": "open", "dry_run": "true",
    "datetime": "2026-11-30T12:00:00Z/..", "nearest": "122.1069,30.0176", "z": "12",
    "x": "3437", "y": "1701", "year": "2026", "under": "zj",
}  # fmt: skip


def _documented_get_parameters() -> dict[str, list[dict]]:
    """Each GET path of /openapi.json with its parameters (read at collection: no database)."""
    from service import create_app
    from service.core.settings import TestConfig

    document = create_app(TestConfig).test_client().get("/openapi.json").get_json()
    return {
        path: operations.get("parameters", []) + operations["get"].get("parameters", [])
        for path, operations in document["paths"].items()
        if "get" in operations
    }


GET_PARAMETERS = _documented_get_parameters()


def test_every_documented_operation_is_fuzzed(client):
    """A new endpoint needs a property here: GETs are listed, writes have their own tests."""
    document = client.get("/openapi.json").get_json()
    writes = {
        ("post", "/v1/sites"),
        ("patch", "/v1/sites/{site_id}"),
        ("delete", "/v1/sites/{site_id}"),
        ("post", "/v1/imports"),
        ("post", "/v1/sites/{site_id}/reports"),
        ("patch", "/v1/reports/{report_id}"),
        ("post", "/v1/orgs"),
    }
    documented = {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "patch", "put", "delete")
    }
    assert documented == {("get", p) for p in GET_OPERATIONS} | writes
    assert set(GET_PARAMETERS) == set(GET_OPERATIONS)


def get_request(client, data, path: str, hostile: set[str], admin: dict, site_id: int) -> None:
    """Draw a GET of `path`: the `hostile` parameters hostile, the required others valid."""
    values: dict[str, dict[str, bytes]] = {"query": {}, "path": {}, "header": {}}
    for p in GET_PARAMETERS[path]:
        name = p["name"]
        if name in hostile:
            values[p["in"]][name] = data.draw(HOSTILE.get(name, RAW), label=name)
        elif p.get("required"):
            valid = str(site_id) if name.endswith("_id") else VALID.get(name, "1")
            values[p["in"]][name] = valid.encode()
    documented = {p["name"] for p in GET_PARAMETERS[path]}
    for name in sorted(hostile - documented - set(HEADERS)):  # a stray parameter: a typo
        values["query"][name] = data.draw(RAW, label=name)
    if "cursor" in hostile and data.draw(st.booleans()):  # bound to this very query
        others = {k: v.decode("utf-8", "replace") for k, v in values["query"].items()}
        real = st.sampled_from([{"i": site_id}, {"d": 100.0, "i": site_id}])
        position = data.draw(real.flatmap(mutated) | POSITIONS, label="cursor position")
        values["query"]["cursor"] = forged({**position, "q": cursors.fingerprint(others)}).encode()
    url = path
    for name, value in values["path"].items():
        url = url.replace("{" + name + "}", quote_from_bytes(value, safe=""))
    query = list(values["query"].items())
    # An admin token opens the admin views (public reads ignore it).
    headers = {**admin} if path in ADMIN_READS or data.draw(st.booleans()) else {}
    for name in hostile & {"Authorization", "If-None-Match", "Accept", "X-API-Key"}:
        headers[name] = data.draw(HEADER_VALUES.filter(bool), label=name)
    if data.draw(st.booleans(), label="raw query bytes"):
        raw = b"&".join(k.encode("utf-8", "surrogatepass") + b"=" + v for k, v in query)
        send(client, "GET", url, raw_query=raw, headers=headers)
    else:
        send(client, "GET", url, query_string=encode_query(query), headers=headers)


ADMIN_READS = {
    "/v1/sites/{site_id}/history", "/v1/reports", "/v1/orgs", "/v1/imports/template.xlsx",
}  # fmt: skip
HEADERS = ["Authorization", "If-None-Match", "Accept", "X-API-Key"]
ONE_HOSTILE = [
    pytest.param(path, name, id=f"{path}:{name}")
    for path, parameters in GET_PARAMETERS.items()
    for name in [p["name"] for p in parameters] + HEADERS
]


@pytest.mark.parametrize(("path", "name"), ONE_HOSTILE)
@settings(PROPERTY, max_examples=_LONG_RUN or 5)
@given(data=st.data())
def test_one_hostile_parameter_is_a_4xx_problem(client, admin, site_id, path, name, data):
    """One parameter (or header) hostile, the rest valid: it reaches its deepest check."""
    get_request(client, data, path, {name}, admin, site_id)


# Issue 20's first class: a pattern checked with `re.match` and `$` let "zj\n" through to SQL
# (a 500). Every query parameter of every GET, its valid value with a control character at
# the end, the start or inside: a 4xx naming that parameter.
CONTROL_CHARACTERS = st.sampled_from(["\n", "\r\n", "\r", "\t", "\x00", "\x0b", "\x1b", "\x7f"])
QUERY_PARAMETERS = [
    pytest.param(path, p["name"], id=f"{path}:{p['name']}")
    for path, parameters in GET_PARAMETERS.items()
    for p in parameters
    if p["in"] == "query"
]


@pytest.mark.parametrize(("path", "name"), QUERY_PARAMETERS)
@settings(PROPERTY, max_examples=_LONG_RUN or 3)
@given(data=st.data())
def test_a_control_character_in_any_query_parameter_is_refused(
    client, admin, site_id, path, name, data
):
    char = data.draw(CONTROL_CHARACTERS, label="control character")
    valid = VALID.get(name, "1")
    cut = data.draw(st.sampled_from([0, len(valid) // 2, len(valid)]), label="where")
    query = {
        p["name"]: VALID.get(p["name"], "1")
        for p in GET_PARAMETERS[path]
        if p["in"] == "query" and p.get("required")
    }
    query[name] = valid[:cut] + char + valid[cut:]
    url = path.replace("{site_id}", str(site_id)).replace("{feature_id}", str(site_id))
    for axis in ("z", "x", "y"):
        url = url.replace("{" + axis + "}", VALID[axis])
    headers = admin if path in ADMIN_READS else {}
    response = send(client, "GET", url, query_string=query, headers=headers)
    assert response.status_code in (400, 422), (url, query, response.get_data()[:300])
    assert name in response.get_json().get("errors", {}), response.get_json()


@pytest.mark.parametrize("path", GET_OPERATIONS)
@settings(PROPERTY, max_examples=_LONG_RUN or 15)
@given(data=st.data())
def test_many_hostile_parameters_are_a_4xx_problem(client, admin, site_id, path, data):
    """Any subset of the parameters and headers hostile at once, sometimes a stray one."""
    names = [p["name"] for p in GET_PARAMETERS[path]] + HEADERS
    hostile = set(data.draw(st.lists(st.sampled_from(names), min_size=1), label="hostile"))
    if data.draw(st.booleans()):
        hostile.add(data.draw(st.text(min_size=1, max_size=10), label="stray parameter"))
    get_request(client, data, path, hostile, admin, site_id)


# -- writes: bodies, headers and the import file ----------------------------------------

SITE = {
    "kind": "station", "name": "性质测试驿站", "external_id": "PROP-1", "org": "zj.nb",
    "location": {"lat": 29.87, "lon": 121.55}, "amenities": ["wifi"],
    "opening_hours": "Mo-Su 09:00-21:00", "timezone": "Asia/Shanghai", "status": "active",
    "area_m2": 40, "star_rating": 3, "phone": "0580-1234567", "name_en": "Property Station",
    "address": "舟山", "description": "驿站",
}  # fmt: skip
FIELD_VALUES = {
    "kind": st.sampled_from(KINDS) | JSON_VALUES,
    "opening_hours": HOURS | JSON_VALUES,
    "timezone": ZONES | JSON_VALUES,
    "location": st.one_of(
        st.fixed_dictionaries({"lat": _COORDINATE | JSON_VALUES, "lon": _COORDINATE | JSON_VALUES}),
        JSON_VALUES,
    ),
    "amenities": st.lists(st.sampled_from(["wifi", "microwave"]) | JSON_VALUES, max_size=70)
    | JSON_VALUES,
    "area_m2": st.floats() | JSON_VALUES,
    "star_rating": st.integers(-10, 10) | st.floats() | JSON_VALUES,
    "org": st.sampled_from(["zj", "zj.nb", "zj.hz", "zz", "zj.nb.nope", "ZJ", "zj..nb"])
    | JSON_VALUES,
}
_STRAYS = st.sampled_from(["id", "version", "updated_at", "deleted_at", "org_id", "__proto__", ""])


@st.composite
def json_objects(draw, base: dict, values: dict) -> dict:
    """`base` with some fields replaced by hostile values, some left out, some added."""
    body = dict(base)
    for name in draw(st.lists(st.sampled_from(sorted(base)), unique=True, max_size=4)):
        body[name] = draw(values.get(name, TEXT | JSON_VALUES))
    for name in draw(st.lists(st.sampled_from(sorted(base)), unique=True, max_size=2)):
        body.pop(name, None)
    for name in draw(st.lists(_STRAYS | st.text(max_size=10), max_size=2)):
        body[name] = draw(JSON_VALUES)
    return body


def bodies(base: dict, values: dict | None = None):
    """Raw request bodies: hostile JSON objects, other JSON, and bytes that are not JSON."""
    as_json = st.one_of(
        json_objects(base, values or {}), json_objects(base, values or {}), JSON_VALUES
    )
    return st.one_of(
        as_json.map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass")),
        as_json.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
        as_json.map(lambda v: json.dumps(v).encode("utf-16")),
        st.integers(1, 100_000).map(lambda n: b"[" * n),  # nesting deeper than any parser
        st.binary(max_size=100),
        st.sampled_from([b"", b"{", b'{"name": "\xff\xfe"}', b"NaN", b'{"a":1}{"b":2}', b"\x00"]),
    )


JSON_MEDIA = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "application/json; charset=latin-1"]
    + ["application/merge-patch+json", "text/plain", "application/json; charset=utf-16"]
) | st.text(st.characters(max_codepoint=126, min_codepoint=32), max_size=30)


def if_match(site_id: int):
    return st.one_of(
        st.sampled_from(["*", f'"{site_id}-1"', f'W/"{site_id}-1"', f'"{site_id}-2"']),
        st.sampled_from([f'"{site_id}-99999999999"', f'"{site_id}-0"', f'"{site_id}--1"']),
        st.sampled_from([f'"{site_id}-1-gcj02"', f'"{site_id}-1", "x"', '""', ",,,"]),
        HEADER_VALUES,
    )


@PROPERTY
@given(body=bodies(SITE, FIELD_VALUES), media=JSON_MEDIA, key=HEADER_VALUES, query=RAW)
def test_create_site_rejects_hostile_bodies_without_writing(
    client, conn, admin, fresh_limits, body, media, key, query
):
    """POST /v1/sites with a hostile body, Idempotency-Key or crs."""
    fresh_limits()
    headers = {**admin, "Content-Type": media, **({"Idempotency-Key": key} if key else {})}
    send_write(
        client,
        conn,
        "POST",
        "/v1/sites",
        data=body,
        headers=headers,
        query_string=encode_query([("crs", query)]),
    )


@PROPERTY
@given(data=st.data(), body=bodies(SITE, FIELD_VALUES), media=JSON_MEDIA)
def test_patch_site_rejects_hostile_bodies_and_tags_without_writing(
    client, conn, admin, make_site, data, body, media
):
    """PATCH /v1/sites/{id} with a hostile body or If-Match, on a fresh site each time."""
    site = make_site(29.9, 121.6, org="zj.nb")
    tag = data.draw(st.none() | if_match(site), label="If-Match")
    headers = {**admin, "Content-Type": media, **({"If-Match": tag} if tag else {})}
    send_write(client, conn, "PATCH", f"/v1/sites/{site}", data=body, headers=headers)


@PROPERTY
@given(data=st.data(), body=st.none() | st.binary(max_size=30))
def test_delete_site_rejects_hostile_tags_without_writing(
    client, conn, admin, make_site, data, body
):
    """DELETE /v1/sites/{id} with a hostile If-Match (a matching one deletes: no check)."""
    site = make_site(29.9, 121.6, org="zj.nb")
    tag = data.draw(st.none() | if_match(site), label="If-Match")
    target = data.draw(st.just(str(site).encode()) | RAW, label="id")
    headers = {**admin, **({"If-Match": tag} if tag else {})}
    url = f"/v1/sites/{quote_from_bytes(target, safe='')}"
    send_write(client, conn, "DELETE", url, data=body, headers=headers)


REPORT = {"category": "other", "comment": "微波炉坏了"}
REPORT_VALUES = {"category": st.sampled_from(REPORT_CATEGORIES) | JSON_VALUES}


@PROPERTY
@given(body=bodies(REPORT, REPORT_VALUES), media=JSON_MEDIA, target=st.none() | RAW)
def test_rider_reports_reject_hostile_bodies_without_writing(
    client, conn, site_id, fresh_limits, body, media, target
):
    """POST /v1/sites/{id}/reports: no credentials, a hostile body or site id."""
    fresh_limits()
    where = str(site_id) if target is None else quote_from_bytes(target, safe="")
    headers = {"Content-Type": media}
    send_write(client, conn, "POST", f"/v1/sites/{where}/reports", data=body, headers=headers)


TRIAGE = {"status": "resolved", "note": "已处理"}
TRIAGE_VALUES = {"status": st.sampled_from(REPORT_STATUSES) | JSON_VALUES}


@PROPERTY
@given(body=bodies(TRIAGE, TRIAGE_VALUES), media=JSON_MEDIA, target=st.none() | RAW)
def test_report_triage_rejects_hostile_bodies_without_writing(
    client, conn, admin, site_id, body, media, target
):
    """PATCH /v1/reports/{id} with a hostile body or report id."""
    report = conn.scalar(
        sa.text("INSERT INTO reports (site_id, category) VALUES (:s, 'other') RETURNING id"),
        {"s": site_id},
    )
    where = str(report) if target is None else quote_from_bytes(target, safe="")
    headers = {**admin, "Content-Type": media}
    send_write(client, conn, "PATCH", f"/v1/reports/{where}", data=body, headers=headers)


ORG = {"code": "zj.prop", "name": "性质测试总工会"}
ORG_VALUES = {
    "code": st.sampled_from(["zj", "zj.nb", "zj.nb.x.y", "zz.a", "zj." + "a" * 31, "zj.A"])
    | st.text(alphabet="zjnb._-A9 ", max_size=20)
    | JSON_VALUES
}


@PROPERTY
@given(body=bodies(ORG, ORG_VALUES), media=JSON_MEDIA)
def test_org_creation_rejects_hostile_bodies_without_writing(client, conn, nb_admin, body, media):
    """POST /v1/orgs with a hostile body (by an admin of zj.nb)."""
    headers = {**nb_admin, "Content-Type": media}
    send_write(client, conn, "POST", "/v1/orgs", data=body, headers=headers)


CELLS = {
    "external_id": st.just("IMP-1") | TEXT,
    "kind": st.sampled_from(KINDS) | TEXT,
    "lat": st.just("29.9") | _COORDINATE.map(str) | TEXT,
    "lon": st.just("121.6") | _COORDINATE.map(str) | TEXT,
    "opening_hours": HOURS | TEXT,
    "timezone": ZONES,
    "amenities": st.sampled_from(["wifi", "wifi，microwave", "wifi、jacuzzi", ",,,"]) | TEXT,
    "star_rating": NUMBERS,
    "area_m2": NUMBERS,
    "org": st.sampled_from(["", "zj.nb", "zj.hz", "zj.nb.zh", "bad code"]) | TEXT,
}


@st.composite
def csv_files(draw) -> bytes:
    header = draw(
        st.lists(st.sampled_from(COLUMNS) | st.text(max_size=8), min_size=1, max_size=18)
        | st.permutations(COLUMNS).map(list)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 4))):
        writer.writerow([draw(CELLS.get(n, st.just("x") | TEXT)) for n in header])
    text = out.getvalue()
    if draw(st.booleans()):  # a cut-off or spliced file
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(['"', "\r", "\x00", "", '\n"a'])) + text[cut:]
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1"]))
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf-8") else "replace")


FEATURE = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [121.6, 29.9]},
    "properties": {"external_id": "GEO-1", "kind": "station", "name": "性质", "org": "zj.nb"},
}
GEOMETRIES = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["Point", "LineString", "point", ""]) | JSON_VALUES,
            "coordinates": st.lists(_COORDINATE | JSON_VALUES, max_size=4) | JSON_VALUES,
        }
    ),
    JSON_VALUES,
)


@st.composite
def geojson_files(draw) -> bytes:
    features = []
    for _ in range(draw(st.integers(0, 4))):
        properties = draw(json_objects(FEATURE["properties"], CELLS))
        feature = {**FEATURE, "properties": properties, "geometry": draw(GEOMETRIES)}
        features.append(draw(st.just(feature) | json_objects(feature, {})))
    document = draw(
        st.just({"type": "FeatureCollection", "features": features})
        | json_objects({"type": "FeatureCollection", "features": features}, {})
    )
    return json.dumps(document).encode("utf-8", "surrogatepass")


IMPORT_MEDIA = st.sampled_from(
    ["text/csv", "application/geo+json", "application/json", "text/csv; charset=gb18030"]
    + ["multipart/form-data", "text/plain", "application/octet-stream"]
)


@PROPERTY
@given(
    data=st.data(),
    body=csv_files() | geojson_files() | bodies(FEATURE),
    media=IMPORT_MEDIA,
)
def test_imports_reject_hostile_files_without_writing(client, conn, nb_editor, data, body, media):
    """POST /v1/imports: hostile CSV and GeoJSON files, media types and query values."""
    query = [("org", b"zj.nb"), ("dry_run", b"false")]
    for name in data.draw(st.lists(st.sampled_from(["org", "dry_run", "crs"]), unique=True)):
        query = [q for q in query if q[0] != name] + [(name, data.draw(RAW, label=name))]
    headers = nb_editor
    if media == "multipart/form-data":
        name = data.draw(st.sampled_from(["f.csv", "f.geojson", "", "f"]), label="filename")
        upload = {data.draw(st.sampled_from(["file", "upload"])): (io.BytesIO(body), name)}
        kwargs = {"data": upload, "content_type": media}
    else:
        kwargs = {"data": body, "content_type": media}
    send_write(
        client,
        conn,
        "POST",
        "/v1/imports",
        headers=headers,
        query_string=encode_query(query),
        **kwargs,
    )


# -- regressions these properties found (each was a 500) ----------------------------------


def test_raw_non_utf8_bytes_in_the_query_string_are_a_400(client):
    r = send(client, "GET", "/v1/sites", raw_query=b"q=\xff\xfe")
    assert r.status_code == 400


@pytest.mark.parametrize("path", ["/v1/sites", "/v1/orgs", "/v1/sites/1/reports"])
def test_json_nested_deeper_than_the_stack_is_a_400(client, admin, path):
    r = send(
        client, "POST", path, data=b"[" * 100_000, headers=admin, content_type="application/json"
    )
    assert r.status_code == 400


@pytest.mark.parametrize("s", [True, None, "1", 1.5, [1], 2**63])
def test_a_change_cursor_with_a_wrong_type_of_position_is_a_422(client, s):
    r = send(client, "GET", "/v1/changes", query_string={"since": forged({"x": 1000, "s": s})})
    assert r.status_code == 422 and "since" in r.json["errors"]
