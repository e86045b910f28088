"""Time `yizhan import` of a generated CSV: dry run, first import, re-import, 1% changed.

    .venv/bin/python bench/import_rows.py --rows 100000

Uses (and recreates) the database yizhan_bench_import on the local server; prints a
Markdown table of wall-clock seconds per step.
"""

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

ROOT = Path(__file__).resolve().parent.parent
DB = "yizhan_bench_import"
URL = f"postgresql://postgres:postgres@127.0.0.1:5432/{DB}"
ORGS = ("zj.hz.sc", "zj.hz.xh", "zj.nb.zh", "zj.nb.yz", "zj.zs.dh", "zj.tz.lh", "zj.jh.dy")
HOURS = ("Mo-Su 09:00-21:00", "24/7", "Mo-Fr 08:30-17:00; PH off", "Mo-Su 22:00-06:00", "")
AMENITIES = ("microwave", "wifi", "water_dispenser", "air_conditioning", "toilet", "fridge")
STREETS = ("解放路", "中山路", "人民路", "建设路", "文化路", "东门路", "环城北路", "滨江大道")


def write_csv(path: Path, n: int, seed: int, changed: float = 0.0) -> None:
    rng = random.Random(seed)
    changer = random.Random(seed + 1)  # its own stream, so both files share every other value
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "org", "kind", "name", "address", "lat", "lon", "amenities",
                    "opening_hours", "area_m2"])  # fmt: skip
        for i in range(n):
            street = rng.choice(STREETS)
            name = f"{street}第{i}号户外劳动者驿站"
            if changed and changer.random() < changed:
                name += "（已更新）"
            w.writerow([
                f"B-{i:07d}", rng.choice(ORGS), "station", name,
                f"浙江省{street}{i % 500}号", f"{rng.uniform(27.5, 30.8):.6f}",
                f"{rng.uniform(118.5, 122.3):.6f}",
                ",".join(rng.sample(AMENITIES, rng.randint(1, 4))), rng.choice(HOURS),
                rng.choice(("20", "40", "60")),
            ])  # fmt: skip


def run(*args: str) -> tuple[float, str]:
    env = {**os.environ, "DATABASE_URL": URL}
    t0 = time.monotonic()
    out = subprocess.run(
        [str(Path(sys.executable).with_name("yizhan")), *args],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return time.monotonic() - t0, out.stdout.strip().splitlines()[-1]


@contextmanager
def fresh_database():
    """DB created anew, migrated and seeded with the demo data; dropped when the block ends."""
    admin = psycopg2.connect(URL.rsplit("/", 1)[0] + "/postgres")
    admin.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
    try:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
            cur.execute(f"CREATE DATABASE {DB} ENCODING 'UTF8' TEMPLATE template0")
        run("db", "upgrade")
        run("seed")
        yield
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    with fresh_database(), tempfile.TemporaryDirectory() as tmp:
        first, second = Path(tmp) / "a.csv", Path(tmp) / "b.csv"
        write_csv(first, args.rows, seed=1)
        write_csv(second, args.rows, seed=1, changed=0.01)
        mb = first.stat().st_size / 1e6
        steps = [
            ("dry run", ("import", str(first), "--org", "zj", "--dry-run")),
            ("first import", ("import", str(first), "--org", "zj")),
            ("same file again", ("import", str(first), "--org", "zj")),
            ("1% of rows changed", ("import", str(second), "--org", "zj")),
        ]
        print(f"\n{args.rows:,} rows, {mb:.1f} MB CSV; `yizhan import` wall clock (process start "
              "included)\n")  # fmt: skip
        print("| step | seconds | result |\n|---|---:|---|")
        for name, cmd in steps:
            seconds, result = run(*cmd)
            print(f"| {name} | {seconds:.1f} | {result} |")


if __name__ == "__main__":
    main()
