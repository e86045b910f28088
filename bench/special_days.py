"""Nearby at 1e6 sites with special days and closures, against the same sites without (#16).

    make bench-special-days      # BENCH_ARGS="--reps 7 --share-special 0.05"

The plain 1e6 benchmark database (as `make bench` loads it) is copied (CREATE DATABASE ...
TEMPLATE), and in the copy 5% of the synthetic sites get special days and 1% are closed
until a date: special days are drawn from `--sets` sets, as district unions set them for
their stations (a day or three off, shortened hours, starting 0-19 days from today, so that
some decide today), and closures end 1-30 days from today. Their hours are materialised
as a site write does (one pattern per distinct definition). Both databases are then served
at once and `nearby-2` (open_now, 2 amenities, 20 results) is measured in alternation
(bench/alternate.py).

Also reported: what materialising costs (patterns, intervals, the intervals table's size,
seconds) for those sets, for `--unique` (every special-day site its own set: the worst case),
and a full `yizhan hours refresh` of the copy. The copy is dropped at the end unless --keep.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import alternate, servers, workload  # noqa: E402
from bench.common import default_url, ensure_data  # noqa: E402
from service.core.db import make_engine  # noqa: E402
from service.core.settings import Config  # noqa: E402
from service.hours import special  # noqa: E402
from service.hours import store as hours_store  # noqa: E402

SIZE = 10**6
REASONS = ("春节闭站", "设备检修", "缩短营业", "消杀", "停电")
SPANS = ("off", "off", "10:00-16:00", "08:00-12:00,14:00-18:00")


def special_sets(n: int, today: date, seed: int) -> list[str]:
    """n canonical special-day texts, each one to three entries near today."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        entries, start = [], today + timedelta(days=rng.randrange(20))
        for _ in range(rng.randint(1, 3)):
            length = rng.randint(1, 3)
            last = start + timedelta(days=length - 1)
            entries.append(special.entry(start, last, rng.choice(SPANS), rng.choice(REASONS)))
            start += timedelta(days=length + rng.randint(1, 10))
        texts.append(special.canonical(entries))
    return texts


def copy_database(source: str, target: str) -> None:
    admin = source.rsplit("/", 1)[0] + "/postgres"
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        name, template = target.rsplit("/", 1)[1], source.rsplit("/", 1)[1]
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    conn.close()


def drop_database(url: str) -> None:
    admin = url.rsplit("/", 1)[0] + "/postgres"
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    conn.close()


def stored(conn: sa.Connection) -> dict:
    size = conn.scalar(sa.text("SELECT pg_total_relation_size('hours_pattern_intervals')"))
    return {
        "patterns": conn.scalar(sa.text("SELECT count(*) FROM hours_patterns")),
        "intervals": conn.scalar(sa.text("SELECT count(*) FROM hours_pattern_intervals")),
        "intervals_mb": round(size / 2**20, 1),
    }


def apply(url: str, args, unique: bool) -> dict:
    """Give the copy's synthetic sites their special days and closures; what it cost."""
    now = datetime.now(UTC)
    days = Config.HOURS_HORIZON_DAYS
    today = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    engine = make_engine(url, pool_size=1, statement_timeout_ms=0)
    result = {}
    with engine.begin() as conn:
        result["before"] = stored(conn)
        org = conn.scalar(sa.text("SELECT id FROM orgs WHERE code = 'synthetic'"))
        picked = sa.text(
            "SELECT id, opening_hours FROM sites WHERE org_id = :org AND status = 'active' "
            "AND opening_hours IS NOT NULL AND abs(hashint8(id)) % 10000 < :share ORDER BY id"
        )
        specials = conn.execute(picked, {"org": org, "share": int(args.share_special * 1e4)}).all()
        closing = conn.execute(
            sa.text(
                "SELECT id, opening_hours FROM sites WHERE org_id = :org AND status = 'active' "
                "AND opening_hours IS NOT NULL AND abs(hashint8(id + 7)) % 10000 < :share "
                "ORDER BY id"
            ),
            {"org": org, "share": int(args.share_closed * 1e4)},
        ).all()
        sets = special_sets(len(specials) if unique else args.sets, today, args.seed)
        t0 = time.monotonic()
        rows, patterns = [], {}
        for i, (site_id, hours) in enumerate(specials):
            text = sets[i % len(sets)]
            key = hours_store.Definition(hours, "Asia/Shanghai", False, text)
            if key not in patterns:
                patterns[key] = hours_store.pattern_id(conn, key, now, days)
            rows.append({"id": site_id, "sd": text, "pid": patterns[key], "until": None})
        for i, (site_id, hours) in enumerate(closing):
            until = today + timedelta(days=1 + i % 30)
            key = hours_store.Definition(hours, "Asia/Shanghai", closed_until=until)
            if key not in patterns:
                patterns[key] = hours_store.pattern_id(conn, key, now, days)
            rows.append({"id": site_id, "sd": "[]", "pid": patterns[key], "until": until})
        result["materialise_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        conn.execute(
            sa.text(
                "UPDATE sites s SET special_days = u.sd, hours_pattern_id = u.pid, "
                "closed_until = u.until, closure_reason = CASE WHEN u.until IS NULL THEN NULL "
                "ELSE '装修' END, status = CASE WHEN u.until IS NULL THEN s.status "
                "ELSE 'temporarily_closed' END "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:sds AS text[]), CAST(:pids AS int[]), "
                "CAST(:untils AS date[])) AS u(id, sd, pid, until) WHERE s.id = u.id"
            ),
            {
                "ids": [r["id"] for r in rows],
                "sds": [r["sd"] for r in rows],
                "pids": [r["pid"] for r in rows],
                "untils": [r["until"] for r in rows],
            },
        )
        result["update_s"] = round(time.monotonic() - t0, 1)
        result.update(
            special_sites=len(specials),
            closed_sites=len(closing),
            new_patterns=len(patterns),
            after=stored(conn),
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE sites"))
    engine.dispose()
    return result


def refresh(url: str) -> float:
    yizhan = str(Path(sys.executable).with_name("yizhan"))
    t0 = time.monotonic()
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([yizhan, "hours", "refresh"], env=env, check=True, capture_output=True)
    return round(time.monotonic() - t0, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--share-special", type=float, default=0.05)
    ap.add_argument("--share-closed", type=float, default=0.01)
    ap.add_argument("--sets", type=int, default=200, help="distinct special-day sets")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--no-unique", action="store_true", help="skip the worst case")
    ap.add_argument("--keep", action="store_true", help="keep the copy")
    alternate.add_arguments(ap, reps=7, port=8785)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    plain = default_url(SIZE)
    ensure_data(plain, SIZE)
    copy = plain + "_special"
    report: dict = {"size": SIZE, "shares": [args.share_special, args.share_closed]}
    try:
        if not args.no_unique:
            copy_database(plain, copy)
            report["unique"] = apply(copy, args, unique=True)
            report["unique"]["refresh_s"] = refresh(copy)
            print("worst case (unique sets):", json.dumps(report["unique"]), file=sys.stderr)
        copy_database(plain, copy)
        report["sets"] = apply(copy, args, unique=False)
        report["sets"]["refresh_s"] = refresh(copy)
        print(f"{args.sets} sets:", json.dumps(report["sets"]), file=sys.stderr)
        report["plain_refresh_s"] = refresh(plain)
        paths = alternate.request_files(args.out, "special", ["nearby-2"], workload.yizhan_path, [])
        running = {
            "plain": servers.Yizhan(args.port, args.out, plain),
            "special": servers.Yizhan(args.port + 1, args.out, copy),
        }
        file = args.out / "special-days-1e6-nearby-2.json"
        alternate.run(running, paths, args, "yizhan", materialising=report, file=file)
    finally:
        if not args.keep:
            drop_database(copy)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
