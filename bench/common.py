"""What the benchmark's drivers share: its databases and the wrk run.

The database of each size (`default_url`, named by `size_label`), loaded once with exactly
that many synthetic sites (`ensure_data`), the seeded ids of listed sites that "site"
requests ask for (`sample_ids`), and one wrk replay of a file of request paths through
bench/paths.lua (`wrk`). bench/run.py, bench/inprocess.py and the alternating drivers
(bench/alternate.py, ab.py, sizes.py, http_servers.py, peer_tables.py, nearby_variants.py)
import these from here; this module imports no other bench module, so the imports among them
go one way, with bench/run.py on top.
"""

import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def size_label(size: int) -> str:
    exp = len(str(size)) - 1
    return f"1e{exp}" if size == 10**exp else str(size)


def default_url(size: int) -> str:
    name = "yizhan_bench" if size == 10**6 else f"yizhan_bench_{size_label(size)}"
    return f"postgresql://postgres:postgres@127.0.0.1:5432/{name}"


def ensure_data(url: str, size: int) -> int:
    """The database at the latest migration with exactly `size` synthetic sites and fresh
    materialised hours; returns the number of sites."""
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
        # In spatial order, as an operator leaves the table after a bulk load with `yizhan db
        # cluster` (docs/scaling.md), so the GiST indexes built from the rows are tight.
        t0 = time.monotonic()
        seed = [yizhan, "seed", "--synthetic", str(size), "--spatial-order"]
        subprocess.run(seed, env=env, check=True)
        print(f"loaded {size} synthetic sites in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    subprocess.run([yizhan, "hours", "refresh"], env=env, check=True, capture_output=True)
    # VACUUM as well as ANALYZE: a freshly loaded table has no visibility map, so every
    # "index-only" scan (box lists, sites_pt_gist) reads the heap too, and every first read of
    # a row writes its hint bits. Autovacuum would do this in time, but may be off (this
    # machine's PostgreSQL has autovacuum = off); on a vacuumed table this is quick. CHECKPOINT
    # needs a superuser or pg_checkpoint, as the benchmark's local postgres role is.
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            t0 = time.monotonic()
            cur.execute("VACUUM (ANALYZE) sites")
            # And write out what that dirtied (at 1e7, gigabytes of pages with new hint bits)
            # now, not during the measurements: the likeliest cause of the first 1e7 run in
            # which even /healthz, at 8 connections, ran into wrk's timeouts.
            cur.execute("CHECKPOINT")
            print(f"VACUUM (ANALYZE), CHECKPOINT: {time.monotonic() - t0:.0f} s", file=sys.stderr)
            cur.execute("SELECT count(*) FROM sites")
            return cur.fetchone()[0]
    finally:
        conn.close()


def sample_ids(url: str, seed: int, n: int = 2000) -> list[int]:
    """n seeded ids of listed synthetic sites (drawn from the id range, kept if listed)."""
    rng = random.Random(seed)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT min(s.id), max(s.id) FROM sites s JOIN orgs o ON o.id = s.org_id "
            "WHERE o.code = 'synthetic'"
        )
        lo, hi = cur.fetchone()
        cur.execute(
            "SELECT id FROM sites WHERE id = ANY(%s) AND deleted_at IS NULL AND status <> 'closed'",
            ([rng.randint(lo, hi) for _ in range(n)],),
        )
        listed = {r[0] for r in cur.fetchall()}
    return sorted(listed)


def wrk(url: str, paths_file: Path, connections: int, duration: float) -> dict:
    out = subprocess.run(
        ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{max(1, round(duration))}s",
         "--latency",
         "-s", str(HERE / "paths.lua"), url, "--", str(paths_file)],
        capture_output=True, text=True, check=True, timeout=duration + 60,
    ).stdout  # fmt: skip
    m = re.search(r"RESULT (.*)", out)
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r
