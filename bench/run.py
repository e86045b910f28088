"""The reproducible benchmark (issue #5): Yizhan, its floors and its peers, one run.

    make bench                  # 1e6 sites, 10 s per measurement, 3 repetitions, 2/4/8 conns
    make bench SIZE=1e5         # the same on 1e5 sites
    make bench-quick            # CI: 1e5 sites, 2 s, 1 repetition, 4 connections

1. Loads SIZE seeded synthetic sites (`yizhan seed --synthetic N`) into its own database
   (BENCH_DATABASE_URL, default yizhan_bench for 1e6 and yizhan_bench_<size> otherwise),
   once; later runs reuse it.
2. Starts `yizhan serve` (production settings: gunicorn, 2 x cores + 1 sync workers) and
   the peers, each in its own virtualenv under bench-out/: pygeoapi (gunicorn, sync
   workers) and tipg (gunicorn with uvicorn workers), as many workers as Yizhan, on the
   same database through a view of the listed sites.
3. Replays the same seeded request sequences with wrk (bench/paths.lua) against one
   server at a time, the others idle: the mix and each query kind alone for Yizhan, the
   equivalent requests for the peers; the database floor is pgbench running Yizhan's own
   nearby and bbox SQL (bench/floors.py); the framework floor is /healthz (no database).
   Every measurement is repeated --reps times, and medians are reported; the baseline
   (Yizhan, nearby with 2 amenities, 4 connections) runs again at the end to show drift.
4. Measures SQL statements and SQL time per request in-process (bench/sqlcount.py), the
   CPU each request costs the workers, PostgreSQL, the client and the kernel (bench/cpu.py,
   from /proc during one more run of a few kinds), the workers' RSS from /proc, optionally
   samples the workers with py-spy, and EXPLAIN ANALYZEs the nearby and bbox SQL.
5. Writes bench-out/results-<size>.json, the Markdown report bench-out/report-<size>.md
   (a new file under docs/benchmarks/history/; the changed rows go into docs/benchmarks.md)
   and a latency plot (default docs/benchmarks/latency-<size>.png).

Traffic goes to 127.0.0.1 only and every run is bounded by --duration. Exits 1 when a
server answered errors or non-2xx statuses (a missed target is reported, not an error).
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
from sqlalchemy.dialects.postgresql import psycopg2 as pg_psycopg2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import cpu, floors, inprocess, report, servers, sqlcount, workload  # noqa: E402
from bench.common import default_url, ensure_data, sample_ids, size_label, wrk  # noqa: E402
from service.sites import queries  # noqa: E402

SEQUENCE_LENGTH = 5000
BASELINE = ("yizhan", "nearby-2", 4)
# Where the CPU goes per request (bench/cpu.py), one run each at 4 connections: the framework
# floor, the target's nearby, one row by id, a box, and the database alone on the nearby SQL.
CPU_SPLIT = (
    ("yizhan", "healthz"),
    ("yizhan", "nearby-2"),
    ("yizhan", "site"),
    ("yizhan", "bbox"),
    ("pgbench", "nearby"),
)
# What each server is asked (the peers: only what they have an equivalent for).
PLAN = {
    "yizhan": list(workload.KINDS),
    "pgbench": ["nearby", "bbox"],
    "pygeoapi": ["bbox", "site"],
    "tipg": ["bbox", "site", "tiles"],
}


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def compare_responses(running: dict, seqs: dict, n: int = 20) -> dict:
    """For the first n requests of each compared kind: status, body bytes, features and
    the ids each server returned, to say where the servers' answers differ."""
    out: dict = {}
    for kind in ("bbox", "site", "tiles"):
        rows = out.setdefault(kind, {})
        for name, server in running.items():
            render = workload.PATHS[name]
            if kind not in PLAN[name]:
                continue
            samples = []
            for req in seqs[kind][:n]:
                status, body = fetch(server.url(render(req)))
                sample = {"status": status, "bytes": len(body)}
                if kind != "tiles" and status == 200:
                    doc = json.loads(body)
                    if kind == "bbox":
                        feats = doc.get("features", [])
                        sample["ids"] = [f.get("id") for f in feats]
                        props = feats[0].get("properties", {}) if feats else {}
                    else:
                        sample["ids"] = [doc.get("id")]
                        props = doc.get("properties", doc)
                    sample["properties"] = sorted(props)
                samples.append(sample)
            rows[name] = samples
    return out


def profile(tools: Path, server: servers.Server, paths: Path, out: Path, seconds: int) -> dict:
    """py-spy over all workers while wrk replays `paths` at 4 connections."""
    raw = out / f"pyspy-{paths.stem}.txt"
    spy = subprocess.Popen(
        [str(tools / "bin/py-spy"), "record", "--subprocesses", "--format", "raw", "-r", "200",
         "-d", str(seconds), "-p", str(server.proc.pid), "-o", str(raw)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.5)
    wrk(server.url(""), paths, 4, seconds)
    _, err = spy.communicate(timeout=seconds + 60)
    if spy.returncode != 0 or not raw.exists():
        return {"error": (err or "py-spy failed").strip()[-500:]}
    return report.top_frames(raw.read_text())


def explain(url: str, out: Path) -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the nearby (2 amenities, open_now) and bbox SQL, at a
    point in central Shanghai, the densest synthetic city."""
    _, variables = floors.nearby_scripts(out)
    _, bbox_vars = floors.bbox_script(out)
    plans = {}
    prepared = queries._nearby_statement(frozenset({"amenities_all", "open_at"}), False, False)
    values = {**variables, "lat": "31.2304", "lon": "121.4737", "amenities_all": "{microwave,wifi}"}
    params = [values[n] for n in prepared.names]
    with psycopg2.connect(url, options=floors.PGOPTIONS) as conn, conn.cursor() as cur:
        cur.execute(prepared.prepare_sql)
        for _ in range(6):  # past the 5 custom plans, as a long-lived worker connection
            cur.execute(prepared.execute_sql, params)
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + prepared.execute_sql, params)
        plans["nearby (microwave, wifi, open_now) at central Shanghai"] = "\n".join(
            r[0] for r in cur.fetchall()
        )
        sql = str(floors.bbox_statement().compile(dialect=pg_psycopg2.dialect()))
        box = {"west": 121.4237, "east": 121.5237, "south": 31.1804, "north": 31.2804}
        at = {"now": datetime.now(UTC)}  # the request's instant (open_state)
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, {**bbox_vars, **box, **at})
        plans["bbox 0.1° at central Shanghai, limit 251"] = "\n".join(r[0] for r in cur.fetchall())
    return plans


def machine(url: str) -> dict:
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    with psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres") as conn:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            pg = cur.fetchone()[0]
            cur.execute("SHOW shared_buffers")
            sb = cur.fetchone()[0]
            cur.execute("SHOW autovacuum")
            autovacuum = cur.fetchone()[0]
    load = Path("/proc/loadavg").read_text().split()[:3]
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": round(int(mem) / 2**20),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": f"{pg} (shared_buffers {sb}, autovacuum {autovacuum})",
        "loadavg_at_start": " ".join(load),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=float, default=1e6)
    ap.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    ap.add_argument("--warmup", type=float, default=2, help="seconds per warm-up run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--connections", default="2,4,8")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=8765, help="Yizhan's; peers use the next two")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out")
    ap.add_argument("--name", help="names the results and report files; default: the size")
    ap.add_argument("--plot", type=Path, help="default docs/benchmarks/latency-<name>.png")
    ap.add_argument("--sql-requests", type=int, default=300)
    ap.add_argument("--profile-seconds", type=int, default=5, help="py-spy; 0: no profile")
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()
    started = time.monotonic()
    size = int(args.size)
    label = args.name or size_label(size)
    conns = [int(c) for c in args.connections.split(",")]
    url = os.environ.get("BENCH_DATABASE_URL", default_url(size))
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    info = {
        "machine": machine(url),
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "command": "bench/run.py " + shlex.join(sys.argv[1:]),
        "size": size,
        "label": label,
        "size_label": size_label(size),
        "duration": args.duration,
        "reps": args.reps,
        "connections": conns,
        "workers": servers.WORKERS,
    }
    timings: dict[str, float] = {}

    t0 = time.monotonic()
    info["sites"] = ensure_data(url, size)
    servers.create_peer_view(url)
    timings["data"] = time.monotonic() - t0
    ids = sample_ids(url, args.seed)
    seqs = {k: workload.sequence(k, SEQUENCE_LENGTH, args.seed, ids) for k in workload.KINDS}
    paths_dir = out / "paths"
    paths_dir.mkdir(exist_ok=True)
    paths: dict[tuple[str, str], Path] = {}
    for name in ("yizhan", "pygeoapi", "tipg"):
        for kind in PLAN[name]:
            f = paths_dir / f"{name}-{kind}.txt"
            f.write_text("\n".join(workload.PATHS[name](r) for r in seqs[kind]) + "\n")
            paths[name, kind] = f

    t0 = time.monotonic()
    info["sql"] = sqlcount.measure(url, seqs, args.sql_requests)
    # The app's own CPU per request, without an HTTP server (bench/inprocess.py), for the
    # kinds of the CPU table: the workers' CPU there minus this is the server's and sockets'.
    app = inprocess.app_for(url)
    info["inprocess"] = {
        kind: inprocess.measure(
            app, inprocess.environs_of(seqs[kind][: args.sql_requests]), warm=20
        )
        for name, kind in CPU_SPLIT
        if name == "yizhan"
    }
    inprocess.dispose(app)
    timings["sql"] = time.monotonic() - t0

    t0 = time.monotonic()
    venvs = {"tools": HERE / "requirements.txt"}
    if not args.no_peers:
        venvs.update({p: HERE / f"requirements-{p}.txt" for p in ("pygeoapi", "tipg")})
    with ThreadPoolExecutor(len(venvs)) as pool:  # pip mostly waits for the network
        installing = {n: pool.submit(servers.ensure_venv, out, n, r) for n, r in venvs.items()}
        venv = {n: f.result() for n, f in installing.items()}
    tools = venv["tools"]
    running: dict[str, servers.Server] = {"yizhan": servers.Yizhan(args.port, out, url)}
    if not args.no_peers:
        for i, (name, cls) in enumerate((("pygeoapi", servers.PyGeoAPI), ("tipg", servers.Tipg))):
            running[name] = cls(args.port + 1 + i, out, url, venv[name])
    timings["install"] = time.monotonic() - t0
    results: list[dict] = []
    failures: list[str] = []

    def measure(name: str, kind: str, c: int, duration: float, rep) -> dict:
        if name == "pgbench":
            r = floors.run(kind, url, out / "pgbench", c, duration)
        else:
            r = wrk(running[name].url(""), paths[name, kind], c, duration)
        if rep is not None:
            r.update(server=name, kind=kind, conns=c, rep=rep)
            results.append(r)
            # Yizhan's (and the floor's) errors fail the run; a peer's are in its report row
            # (pygeoapi's ~1 s bbox answers at 8 connections can pass wrk's 2 s timeout).
            if (r["errors"] or r["non2xx"]) and name in ("yizhan", "pgbench"):
                failures.append(f"{name} {kind} c={c}: {r['errors']} errors, {r['non2xx']} non-2xx")
            print(
                f"{name:9} {kind:12} c={c} rep={rep}: {r['rps']:7.0f} req/s "
                f"p50 {r['p50_us'] / 1000:6.1f} p99 {r['p99_us'] / 1000:6.1f} ms",
                file=sys.stderr, flush=True,
            )  # fmt: skip
        return r

    t0 = time.monotonic()
    try:
        for server in running.values():
            server.launch()
        for server in running.values():
            server.wait_ready()
        timings["start"] = time.monotonic() - t0
        t0 = time.monotonic()
        info["responses"] = compare_responses(running, seqs)
        order = [n for n in PLAN if n == "pgbench" or n in running]
        for name in order:  # warm-up: connections, prepared statements, OS cache
            for kind in PLAN[name]:
                measure(name, kind, 2, args.warmup, None)
        baseline = measure(*BASELINE, args.duration, "baseline-start")
        for rep in range(1, args.reps + 1):
            for name in order:
                for kind in PLAN[name]:
                    for c in conns:
                        measure(name, kind, c, args.duration, rep)
        baseline = measure(*BASELINE, args.duration, "baseline-end")
        del baseline
        timings["load"] = time.monotonic() - t0
        master = running["yizhan"].proc.pid
        info["cpu"] = {
            f"{name} {kind}": cpu.split(
                master if name == "yizhan" else None,
                lambda n=name, k=kind: measure(n, k, 4, args.duration, None),
            )
            for name, kind in CPU_SPLIT
        }
        info["rss_mb"] = {name: s.worker_rss_mb() for name, s in running.items()}
        if args.profile_seconds:
            t0 = time.monotonic()
            info["profile"] = {
                kind: profile(tools, running["yizhan"], paths["yizhan", kind], out,
                              args.profile_seconds)
                for kind in ("nearby-2", "bbox")
            }  # fmt: skip
            timings["profile"] = time.monotonic() - t0
    finally:
        for server in running.values():
            server.stop()
    info["explain"] = explain(url, out / "pgbench")
    info["results"] = results
    info["failures"] = failures
    timings["total"] = time.monotonic() - started
    info["timings"] = timings
    results_file = out / f"results-{label}.json"
    results_file.write_text(json.dumps(info, indent=1, default=str))
    others = {
        p.stem.removeprefix("results-"): json.loads(p.read_text())
        for p in out.glob("results-*.json")
        if p != results_file
    }
    plot = args.plot or ROOT / "docs/benchmarks" / f"latency-{label}.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(tools / "bin/python"), str(HERE / "plot.py"), str(results_file), str(plot)],
        check=True,
    )
    md = report.markdown(info, others, plot)
    report_file = out / f"report-{label}.md"
    report_file.write_text(md)
    print(md)
    print(
        f"\nreport: {report_file}\nplot: {plot}\nwall time {timings['total']:.0f} s "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items() if k != "total"),
        file=sys.stderr,
    )
    if failures:
        print("FAILED:\n" + "\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
