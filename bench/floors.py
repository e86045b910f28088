"""The database floor: pgbench running the SQL that Yizhan sends for nearby and bbox.

The nearby statement is the one `service/sites/queries.py` prepares on the server
(`_nearby_statement`), run with `-M prepared`; its `$n` parameters become pgbench
variables: the point is drawn near the same cities as the HTTP requests (`\\set`, a
Gaussian per city), the amenity arrays and the time are `-D` variables, one script per
amenity set, weighted like the HTTP sequence (0, 1 or 2 common amenities, a third each).
The bbox statement is `_sites_statement` for a box and a limit, run with `-M simple`,
because Yizhan sends it through psycopg2, which interpolates the values client-side
(so PostgreSQL plans it on every request, as here).
"""

import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.dialects.postgresql import psycopg2 as pg_psycopg2

from bench.workload import BBOX_LIMIT, BBOX_SIZES, COMMON, NEARBY_LIMIT
from fixtures.synthetic import CITIES
from service.sites import queries

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
# The same per-connection settings as Yizhan's engine (service/core/db.py).
PGOPTIONS = "-c max_parallel_workers_per_gather=0 -c jit=off -c statement_timeout=5000"
RADIUS = 3000.0  # the nearby default


def _case(var: str, values: list[float]) -> str:
    whens = " ".join(f"when :{var} = {i} then {v}" for i, v in enumerate(values))
    return f"case {whens} else 0 end"


def _point_lines() -> list[str]:
    """pgbench commands setting :lat and :lon near a random city (as workload._near_city)."""
    n = len(CITIES)
    return [
        f"\\set city random(0, {n - 1})",
        f"\\set lat0 {_case('city', [c[1] for c in CITIES])}",
        f"\\set lon0 {_case('city', [c[2] for c in CITIES])}",
        f"\\set spread {_case('city', [c[4] for c in CITIES])}",
        # random_gaussian(-4e6, 4e6, 4.0) has a standard deviation of 1e6 (cut at 4 sigma)
        "\\set g1 random_gaussian(-4000000, 4000000, 4.0)",
        "\\set g2 random_gaussian(-4000000, 4000000, 4.0)",
        "\\set lat :lat0 + :g1 / 1000000.0 * :spread",
        "\\set lon :lon0 + :g2 / 1000000.0 * :spread * 1.2",
    ]


def _prepared_sql(prepared) -> tuple[str, list[str]]:
    """The body of a Prepared statement with `$n` turned into pgbench variables."""
    head, body = prepared.prepare_sql.split(") AS ", 1)
    types = head.split("(", 1)[1].split(", ")
    for i in range(len(prepared.names), 0, -1):
        name, type_ = prepared.names[i - 1], types[i - 1]
        var = f":{name}" if type_ == "unknown" else f"CAST(:{name} AS {type_})"
        body = re.sub(rf"\${i}(?!\d)", var, body)
    return body, prepared.names


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return "{" + ",".join(v) + "}"
    return str(v)


def nearby_scripts(out: Path) -> tuple[list[str], dict[str, str]]:
    """Write the nearby scripts; return pgbench's -f arguments and its -D variables."""
    plain = queries._nearby_statement(frozenset({"open_at"}), False, False)
    with_amenities = queries._nearby_statement(
        frozenset({"amenities_all", "open_at"}), False, False
    )
    want = NEARBY_LIMIT + 1
    now = datetime.now(UTC)
    variables = {
        "scan_radius": RADIUS / queries.SPHERE_LOW,
        "radius": RADIUS,
        "k": want + 4,
        "want": want,
        "now": now,
        "open_at": now,
    }
    for p in (plain, with_amenities):
        for name, default in p.defaults.items():
            if default is not None:
                variables[name] = default
    singles = [[a] for a in COMMON]
    pairs = [[COMMON[i], COMMON[(i + 1) % len(COMMON)]] for i in range(len(COMMON))]
    args: list[str] = []
    body, _ = _prepared_sql(plain)
    script = out / "nearby-0.sql"
    script.write_text("\n".join([*_point_lines(), body + ";"]) + "\n")
    args += ["-f", f"{script}@{len(COMMON)}"]  # a third of the weight, as randint(0, 2)
    body, _ = _prepared_sql(with_amenities)
    for i, amenities in enumerate(singles + pairs):
        var = f"am{i}"
        variables[var] = amenities
        script = out / f"nearby-{len(amenities)}-{i}.sql"
        script.write_text(
            "\n".join([*_point_lines(), body.replace(":amenities_all", f":{var}") + ";"]) + "\n"
        )
        args += ["-f", f"{script}@1"]
    return args, {k: _value(v) for k, v in variables.items()}


def bbox_statement():
    """What Yizhan sends for the benchmark's box: a GeoJSON page in WGS-84, no filters, with
    what each feature's open_state reads at the request's instant."""
    shape = frozenset({"limit", "west", "south", "east", "north"})
    return queries._sites_statement(frozenset(), shape, False, False, True, True)


def bbox_script(out: Path) -> tuple[list[str], dict[str, str]]:
    compiled = bbox_statement().compile(dialect=pg_psycopg2.dialect())
    body = re.sub(r"%\((\w+)\)s", r":\1", str(compiled))
    body = re.sub(r":now\b", "now()", body)  # the request's instant
    variables = {k: v for k, v in compiled.params.items() if v is not None}
    variables["limit"] = BBOX_LIMIT + 1
    halves = [s / 2 for s in BBOX_SIZES]
    lines = [
        *_point_lines(),
        f"\\set size random(0, {len(halves) - 1})",
        f"\\set h {_case('size', halves)}",
        "\\set west :lon - :h",
        "\\set east :lon + :h",
        "\\set south :lat - :h",
        "\\set north :lat + :h",
        body + ";",
    ]
    script = out / "bbox.sql"
    script.write_text("\n".join(lines) + "\n")
    return ["-f", str(script)], {k: _value(v) for k, v in variables.items()}


def run(kind: str, url: str, out: Path, connections: int, duration: float) -> dict:
    """One pgbench run of `kind` (nearby or bbox): req/s and latency percentiles."""
    out.mkdir(parents=True, exist_ok=True)
    if kind == "nearby":
        files, variables = nearby_scripts(out)
        mode = "prepared"
    else:
        files, variables = bbox_script(out)
        mode = "simple"
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    for old in logs.glob(f"{kind}.*"):
        old.unlink()
    cmd = [
        PGBENCH,
        "-n",
        f"-c{connections}",
        f"-j{min(connections, 2)}",
        f"-T{max(1, round(duration))}",
        f"-M{mode}",
        "-l",
        f"--log-prefix={logs / kind}",
        *files,
        *(f"-D{k}={v}" for k, v in variables.items()),
        url,
    ]
    env = {**os.environ, "PGOPTIONS": PGOPTIONS}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=duration + 60, cwd=out
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench {kind} failed: {proc.stderr[-2000:]}")
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", proc.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", proc.stdout)
    times = []
    for f in logs.glob(f"{kind}.*"):
        for line in f.read_text().splitlines():
            times.append(int(line.split()[2]))
    times.sort()

    def pct(p: float) -> int:
        return times[min(len(times) - 1, int(len(times) * p / 100))] if times else 0

    return {
        "rps": float(m.group(1)) if m else 0.0,
        "requests": len(times),
        "errors": int(failed.group(1)) if failed else 0,
        "non2xx": 0,
        "p50_us": pct(50),
        "p90_us": pct(90),
        "p99_us": pct(99),
        "max_us": times[-1] if times else 0,
        "bytes": 0,
    }
