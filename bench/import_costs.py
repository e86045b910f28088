"""Where a first import's write goes: the INSERT into `sites` timed with one secondary index
or one generated column taken away at a time.

    .venv/bin/python bench/import_costs.py [--rows 100000] [--sample 10000]

Loads `--rows` generated rows with `yizhan import` into the database of bench/import_rows.py
(recreated, dropped at the end), then copies `--sample` of them, renamed, into a temporary
table and inserts them into `sites` inside a transaction that is rolled back: as the schema
is, and again with each secondary index dropped, each generated column dropped (with what
depends on it) and the insert trigger disabled, all inside that transaction. Prints
microseconds per row for each; the rows and the database are the same for every variant,
so the differences are what each piece costs a write.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import import_rows  # noqa: E402
from service.sites.store import WRITABLE  # noqa: E402

GENERATED = ("doc", "geometry_doc", "search_grams", "search_text", "filter_keys", "pt", "geog")
COLUMNS = ("org_id", "geom", "hours_pattern_id", *WRITABLE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=3, help="runs of each variant; the median")
    args = ap.parse_args()
    with import_rows.fresh_database():
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "rows.csv"
            import_rows.write_csv(csv, args.rows, seed=1)
            seconds, result = import_rows.run("import", str(csv), "--org", "zj")
        print(f"loaded: {result} in {seconds:.1f} s\n")
        measure(args.sample, args.reps)


def measure(sample: int, reps: int) -> None:
    conn = psycopg2.connect(import_rows.URL)
    cur = conn.cursor()
    cur.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'sites' "
        "AND indexname NOT IN ('sites_pkey', 'sites_org_id_external_id_key') ORDER BY 1"
    )
    indexes = [r[0] for r in cur.fetchall()]
    conn.rollback()
    columns = ", ".join(COLUMNS)
    renamed = columns.replace("external_id", "external_id || '-copy' AS external_id")

    def once(changes: list[str]) -> float:
        cur.execute("SET max_parallel_workers_per_gather = 0; SET jit = off")
        cur.execute(
            f"CREATE TEMP TABLE copied AS SELECT {renamed} FROM sites "
            f"WHERE external_id LIKE 'B-%' ORDER BY id LIMIT {sample}"
        )
        for change in changes:
            cur.execute(change)
        t0 = time.perf_counter()
        cur.execute(
            f"INSERT INTO sites ({columns}, created_at, updated_at) "
            f"SELECT {columns}, now(), now() FROM copied"
        )
        took = time.perf_counter() - t0
        conn.rollback()
        return took * 1e6 / sample

    def trial(label: str, changes: list[str]) -> None:
        runs = sorted(once(changes) for _ in range(reps))
        print(f"| {label} | {statistics.median(runs):.0f} | {runs[0]:.0f}-{runs[-1]:.0f} |")

    print(f"INSERT of {sample:,} rows into `sites`, µs per row, median of {reps}:\n")
    print("| variant | µs per row | range |\n|---|---:|---|")
    trial("the schema as it is", [])
    trial("as it is, again", [])
    for index in indexes:
        trial(f"without index {index}", [f"DROP INDEX {index}"])
    trial("without any secondary index", [f"DROP INDEX {i}" for i in indexes])
    for column in GENERATED:
        trial(f"without column {column}", [f"ALTER TABLE sites DROP COLUMN {column} CASCADE"])
    trial("without the insert trigger", ["ALTER TABLE sites DISABLE TRIGGER sites_log_insert"])
    conn.close()


if __name__ == "__main__":
    main()
