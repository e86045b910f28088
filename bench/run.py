"""First throughput measurement: nearby and bbox against `yizhan serve`, driven by wrk.

    make bench                      # 1e6 synthetic sites (loads them once, ~minutes)
    make bench SIZE=1e5 DURATION=5  # quick form

Loads SIZE synthetic sites into the database named by BENCH_DATABASE_URL (default
yizhan_bench on the local server) unless it already holds them, starts the production
server on 127.0.0.1, replays seeded request sequences with wrk at several connection
counts, prints a Markdown table and stops the server. Traffic goes to 127.0.0.1 only,
bounded by DURATION seconds per run.
"""

import argparse
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import psycopg2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from fixtures.synthetic import ABSENT_AMENITY, CITIES, RARE_AMENITIES  # noqa: E402

COMMON = ("microwave", "wifi", "water_dispenser", "air_conditioning", "phone_charging", "toilet")


def jitter(rng, lat, lon, spread):
    return round(rng.gauss(lat, spread), 6), round(rng.gauss(lon, spread * 1.2), 6)


def nearby_paths(rng, n):
    paths = []
    for _ in range(n):
        _, lat, lon, _, spread = rng.choice(CITIES)
        lat, lon = jitter(rng, lat, lon, spread)
        params = {"lat": lat, "lon": lon, "open_now": "true", "limit": 20}
        amenities = rng.sample(COMMON, rng.randint(0, 2))
        if amenities:
            params["amenities"] = ",".join(amenities)
        paths.append("/v1/sites/nearby?" + urlencode(params))
    return paths


def rare_paths(rng, n):
    paths = []
    for _ in range(n):
        _, lat, lon, _, spread = rng.choice(CITIES)
        lat, lon = jitter(rng, lat, lon, spread)
        amenity = rng.choice((*RARE_AMENITIES, ABSENT_AMENITY))
        paths.append(
            "/v1/sites/nearby?" + urlencode({"lat": lat, "lon": lon, "amenities": amenity})
        )
    return paths


def bbox_paths(rng, n, size=0.1):
    paths = []
    for _ in range(n):
        _, lat, lon, _, spread = rng.choice(CITIES)
        lat, lon = jitter(rng, lat, lon, spread)
        bbox = (
            f"{lon - size / 2:.5f},{lat - size / 2:.5f},{lon + size / 2:.5f},{lat + size / 2:.5f}"
        )
        paths.append("/v1/sites?" + urlencode({"bbox": bbox, "f": "geojson", "limit": 250}))
    return paths


def ensure_data(url: str, size: int) -> int:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, str(ROOT / "scripts/ensure_db.py")], env=env, check=True)
    yizhan = str(Path(sys.executable).with_name("yizhan"))
    subprocess.run([yizhan, "db", "upgrade"], env=env, check=True, capture_output=True)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM sites s JOIN orgs o ON o.id = s.org_id WHERE o.code = 'synthetic'"
        )
        have = cur.fetchone()[0]
    if have != size:
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM sites WHERE org_id IN (SELECT id FROM orgs WHERE code = 'synthetic')"
            )
        t0 = time.monotonic()
        subprocess.run([yizhan, "seed", "--synthetic", str(size)], env=env, check=True)
        print(f"loaded {size} synthetic sites in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    subprocess.run([yizhan, "hours", "refresh"], env=env, check=True, capture_output=True)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("ANALYZE sites")
        cur.execute("SELECT count(*) FROM sites")
        return cur.fetchone()[0]


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("server did not become ready")


def wrk(port: int, paths_file: str, connections: int, duration: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(connections, 2)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(HERE / "paths.lua"),
            f"http://127.0.0.1:{port}",
            "--",
            paths_file,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    ).stdout
    m = re.search(r"RESULT (.*)", out)
    fields = dict(kv.split("=") for kv in m.group(1).split())
    r = {k: int(v) for k, v in fields.items()}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=float, default=1e6)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--connections", default="2,4,8")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/yizhan_bench"
    )
    total = ensure_data(url, int(args.size))
    rng = random.Random(args.seed)
    kinds = {
        "nearby (0-2 amenities, open_now)": nearby_paths(rng, 5000),
        "nearby (rare or absent amenity)": rare_paths(rng, 5000),
        "bbox 0.1° GeoJSON (limit 250)": bbox_paths(rng, 5000),
    }
    # The load comes from one address: lift the anonymous quota, which would answer 429.
    env = {**os.environ, "DATABASE_URL": url, "ANON_PER_MINUTE": "0"}
    yizhan = str(Path(sys.executable).with_name("yizhan"))
    server = subprocess.Popen(
        [yizhan, "serve", "--bind", "127.0.0.1", "--port", str(args.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows = []
    try:
        wait_ready(args.port)
        with tempfile.TemporaryDirectory() as tmp:
            for name, paths in kinds.items():
                f = Path(tmp) / "paths.txt"
                f.write_text("\n".join(paths) + "\n")
                wrk(args.port, str(f), 2, 3)  # warm-up
                for c in (int(x) for x in args.connections.split(",")):
                    r = wrk(args.port, str(f), c, args.duration)
                    rows.append((name, c, r))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"\n{total:,} sites; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"{os.cpu_count()} cores; {platform.platform()}; {args.duration} s per run\n"
    )
    print("| query | conns | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, c, r in rows:
        print(
            f"| {name} | {c} | {r['rps']:.0f} | {r['p50_us'] / 1000:.1f} | "
            f"{r['p90_us'] / 1000:.1f} | {r['p99_us'] / 1000:.1f} | {r['max_us'] / 1000:.1f} | "
            f"{r['errors']} | {r['non2xx']} |"
        )


if __name__ == "__main__":
    main()
