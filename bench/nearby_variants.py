"""What the distances in the nearby statement cost: variants of its SQL, timed on the same
parameter sets, alternated, on one connection to the 1e6 database.

    .venv/bin/python bench/nearby_variants.py [--requests 600] [--url URL]

The statement is `_nearby_statement` for 2 amenities + open_at (nearby-2). Variants, made by
replacing one expression of its SQL (the script stops if that expression is not found):
  as-is       the statement Yizhan sends
  no-sphere   without the sphere distance `<->` in the candidates' columns
  box-only    and the radius test left to the index's box (`&&` with `_ST_Expand`)
  sphere      the spheroid distance replaced by the sphere's
  none        box-only without the spheroid distance either: of the distances, only the KNN's
              own ordering is left (not a valid query: what the other distances cost at most)
Each parameter set (bench/workload.py's nearby-2 points and amenities) runs every variant in a
shuffled order; the first 100 sets warm up. Prints the median and mean time per execution (the
client's clock: statement plus the round trip on loopback), and whether the variants that
answer the same question returned the same pages.
"""

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import workload  # noqa: E402
from bench.common import default_url  # noqa: E402
from service.sites import queries  # noqa: E402

POINT = "CAST(ST_SetSRID(ST_MakePoint($1, $2), $3) AS geography(GEOMETRY,4326))"
SPHERE = f"sites.geog <-> {POINT} AS sphere_m"
SPHEROID = f"ST_Distance(sites.geog, {POINT}) AS distance_m"
WITHIN = f"ST_DWithin(sites.geog, {POINT}, $6, $7)"


def variants() -> dict[str, str]:
    stmt = queries._nearby_statement(frozenset({"amenities_all", "open_at"}), False, False)
    base = stmt.prepare_sql.replace(f"PREPARE {stmt.name} ", "PREPARE {name} ", 1)
    for expression in (SPHERE, SPHEROID, WITHIN):
        if expression not in base:
            sys.exit(f"the nearby SQL changed: {expression!r} is not in it")
    no_sphere = base.replace(SPHERE, "0::float8 AS sphere_m")
    box_only = no_sphere.replace(
        WITHIN, f"sites.geog && _ST_Expand({POINT}, $6) AND $7 IS NOT NULL"
    )
    return {
        "as-is": base,
        "no-sphere": no_sphere,
        "box-only": box_only,
        "sphere": base.replace(SPHEROID, SPHEROID.replace(")) AS", "), false) AS")),
        "none": box_only.replace(SPHEROID, "0::float8 AS distance_m"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--url", default=default_url(1_000_000))
    args = ap.parse_args()
    conn = psycopg2.connect(args.url)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET max_parallel_workers_per_gather = 0; SET jit = off")
    names = {}
    for i, (label, sql) in enumerate(variants().items()):
        names[label] = f"nearby_variant_{i}"
        cur.execute(sql.replace("{name}", names[label], 1))
    now = datetime.now(UTC)
    times: dict[str, list[float]] = {label: [] for label in names}
    pages: dict[str, list] = {label: [] for label in names}
    for i, (_, lat, lon, amenities, _) in enumerate(
        workload.sequence("nearby-2", args.requests, 1, [])
    ):
        params = (lon, lat, 4326, list(amenities), now, 3000 / queries.SPHERE_LOW, False,
                  25, 3000.0, 21, now, 1)  # fmt: skip
        order = list(names)
        random.Random(i).shuffle(order)
        for label in order:
            t0 = time.perf_counter()
            cur.execute(f"EXECUTE {names[label]}({', '.join(['%s'] * 12)})", params)
            rows = cur.fetchall()
            if i >= 100:
                times[label].append(time.perf_counter() - t0)
            pages[label].append([r[2] for r in rows])
    for label, ts in times.items():
        print(
            f"{label:10s} median {statistics.median(ts) * 1e3:.3f} ms, "
            f"mean {statistics.mean(ts) * 1e3:.3f} ms"
        )
    for label in ("no-sphere", "box-only", "sphere"):
        same = sum(a == b for a, b in zip(pages["as-is"], pages[label], strict=True))
        print(f"{label}: the same page as as-is for {same} of {len(pages[label])} requests")


if __name__ == "__main__":
    main()
