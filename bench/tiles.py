"""Vector tile timings, in-process, on the big synthetic database.

    .venv/bin/python bench/tiles.py                       # yizhan_bench on the local server
    .venv/bin/python bench/tiles.py --requests 20 --url postgresql://...

Needs a database at the latest migration (`DATABASE_URL=... yizhan db upgrade`) holding the
synthetic sites (`make bench` loads them) with materialised hours (`yizhan hours refresh`).
Each tile is requested N times through Flask's test client (no HTTP server, no network):
once with the low-zoom tile cache off (CACHE_SECONDS=0: every request runs the query) and
once for low zooms with it on. Prints a Markdown table of median and max milliseconds.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workload import tile_of  # noqa: E402
from schema import migrate  # noqa: E402
from service import create_app  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/yizhan_bench"
PLACES = {
    "Shanghai": (31.23, 121.47),  # the densest synthetic city
    "Lhasa outskirts": (29.75, 91.30),  # a small city's edge: sparse
}
ZOOMS = (5, 8, 11, 14, 16)
VARIANTS = {
    "wgs84": {},
    "gcj02": {"crs": "gcj02"},
    "kind=home": {"kind": "home"},
    "open_now": {"open_now": "true"},
}


def sites_in_tile(cur, z: int, x: int, y: int) -> int:
    cur.execute(
        "SELECT count(*) FROM sites WHERE geom && ST_Transform(ST_TileEnvelope(%s, %s, %s), 4326)"
        " AND deleted_at IS NULL AND status <> 'closed'",
        (z, x, y),
    )
    return cur.fetchone()[0]


def measure(client, path: str, params: dict, n: int) -> tuple[list[float], int, int]:
    times, status, size = [], 0, 0
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path, query_string=params)
        times.append((time.perf_counter() - t0) * 1000)
        status, size = r.status_code, len(r.data)
        if status not in (200, 204):
            raise SystemExit(f"{path} {params}: {status} {r.data[:300]!r}")
    return times, status, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()

    with psycopg2.connect(args.url) as conn, conn.cursor() as cur:
        cur.execute("SELECT version_num FROM alembic_version")
        if cur.fetchone()[0] != migrate.head():
            raise SystemExit(f"migrate first: DATABASE_URL={args.url} yizhan db upgrade")
        cur.execute("SELECT count(*) FROM sites")
        total = cur.fetchone()[0]
        cur.execute("SHOW server_version")
        server = cur.fetchone()[0]
        counts = {
            (place, z): sites_in_tile(cur, z, *tile_of(lat, lon, z))
            for place, (lat, lon) in PLACES.items()
            for z in ZOOMS
        }

    # ANON_PER_MINUTE=0: no per-client quota (this client makes hundreds of requests).
    base = {"DATABASE_URL": args.url, "ANON_PER_MINUTE": 0}
    print(f"{total} sites; PostgreSQL {server}; {os.cpu_count()} CPUs; {platform.platform()}")
    print(f"{args.requests} requests per row, in-process (Flask test client)\n")
    print("| place | z | sites in tile | variant | cache | status | bytes | median ms | max ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for cache_seconds in (0, 30):
        app = create_app({**base, "CACHE_SECONDS": cache_seconds})
        client = app.test_client()
        client.get("/readyz")  # connect the pool before timing
        for place, (lat, lon) in PLACES.items():
            for z in ZOOMS:
                if cache_seconds and z >= 12:
                    continue  # high zooms are never cached
                x, y = tile_of(lat, lon, z)
                path = f"/v1/tiles/{z}/{x}/{y}.mvt"
                for name, params in VARIANTS.items():
                    if cache_seconds and name != "wgs84":
                        continue
                    times, status, size = measure(client, path, params, args.requests)
                    cache = f"{cache_seconds} s" if cache_seconds else "off"
                    print(
                        f"| {place} | {z} ({x}/{y}) | {counts[place, z]} | {name} | {cache} "
                        f"| {status} | {size} | {statistics.median(times):.1f} "
                        f"| {max(times):.1f} |",
                        flush=True,
                    )
        for engine in set(app.extensions["yizhan.db"].values()) - {None}:
            engine.dispose()


if __name__ == "__main__":
    main()
