"""Nearby latency at two data sizes, measured in alternation (issue #5: p50 at 1e7 <= 1.5x 1e5).

    make bench-sizes        # 1e5 against 1e7, nearby-2, 2 and 4 connections, 7 rounds

Loads either database first if it is missing (as `make bench` does; 1e7 takes ~15 min).

Two separate `make bench` runs compare numbers taken minutes apart on a machine whose
speed drifts (on the shared 2-core VM one 1e5 run's nearby-2 repetitions spanned 672 to
1,185 req/s). Here both servers run at once, idle in turn, and the same seeded requests
are replayed against one size, then the other, REPS times over; the ratio of the medians
compares measurements taken seconds apart. Each round also accounts the CPU per request
(bench/cpu.py), which drift does not change: the work a request costs at each size.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import cpu, servers, workload  # noqa: E402
from bench.run import default_url, ensure_data, size_label, wrk  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=float, default=1e5)
    ap.add_argument("--large", type=float, default=1e7)
    ap.add_argument("--kind", default="nearby-2", choices=sorted(workload.KINDS))
    ap.add_argument("--connections", default="2,4")
    ap.add_argument("--duration", type=float, default=4)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--port", type=int, default=8775)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    labels = [size_label(int(args.small)), size_label(int(args.large))]
    paths = out / f"sizes-{args.kind}.txt"
    seq = workload.sequence(args.kind, 5000, 1, [])
    paths.write_text("\n".join(workload.yizhan_path(r) for r in seq) + "\n")
    urls = {}
    for label, size in zip(labels, (int(args.small), int(args.large)), strict=True):
        urls[label] = default_url(size)
        ensure_data(urls[label], size)
    running = {
        label: servers.Yizhan(args.port + i, out, url)
        for i, (label, url) in enumerate(urls.items())
    }
    for label, server in running.items():
        server.name = f"yizhan-{label}"
    conns = [int(c) for c in args.connections.split(",")]
    rounds: list[dict] = []
    try:
        for server in running.values():
            server.launch()
        for server in running.values():
            server.wait_ready()
            wrk(server.url(""), paths, 4, 2)  # warm: connections, prepared statements, cache
        for rep in range(1, args.reps + 1):
            for c in conns:
                for label, server in running.items():
                    r = cpu.split(
                        server.proc.pid,
                        lambda s=server, c=c: wrk(s.url(""), paths, c, args.duration),
                    )
                    r.update(size=label, conns=c, rep=rep)
                    rounds.append(r)
                    ms = cpu.per_request_ms(r)
                    print(
                        f"{label} c={c} rep={rep}: {r['rps']:6.0f} req/s p50 "
                        f"{r['p50_us'] / 1000:5.2f} ms, CPU {ms['busy']:.2f} ms/request "
                        f"(workers {ms['server']:.2f}, PostgreSQL {ms['postgresql']:.2f})",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        for server in running.values():
            server.stop()
    summary = {}
    for c in conns:
        row = {}
        for label in labels:
            mine = [r for r in rounds if r["size"] == label and r["conns"] == c]
            per = [cpu.per_request_ms(r) for r in mine]
            row[label] = {
                "rps": statistics.median(r["rps"] for r in mine),
                "p50_ms": statistics.median(r["p50_us"] for r in mine) / 1000,
                "p99_ms": statistics.median(r["p99_us"] for r in mine) / 1000,
                "bytes_per": statistics.median(r["bytes"] / max(1, r["requests"]) for r in mine),
                **{
                    f"cpu_{k}_ms": statistics.median(p[k] for p in per)
                    for k in ("busy", "server", "postgresql")
                },
            }
        small, large = row[labels[0]], row[labels[1]]
        row["p50_ratio"] = large["p50_ms"] / small["p50_ms"]
        row["cpu_ratio"] = large["cpu_busy_ms"] / small["cpu_busy_ms"]
        summary[c] = row
    result = {"kind": args.kind, "sizes": labels, "reps": args.reps, "duration": args.duration}
    result.update(summary=summary, rounds=rounds)
    file = out / f"sizes-{labels[0]}-{labels[1]}-{args.kind}.json"
    file.write_text(json.dumps(result, indent=1))
    print(
        "| conns | size | req/s | p50 ms | p99 ms | bytes | CPU ms/request (workers, PostgreSQL) |"
    )
    print("|---:|---|---:|---:|---:|---:|---|")
    for c, row in summary.items():
        for label in labels:
            v = row[label]
            print(
                f"| {c} | {label} | {v['rps']:.0f} | {v['p50_ms']:.2f} | {v['p99_ms']:.2f} | "
                f"{v['bytes_per']:.0f} | {v['cpu_busy_ms']:.2f} ({v['cpu_server_ms']:.2f}, "
                f"{v['cpu_postgresql_ms']:.2f}) |"
            )
        print(
            f"| {c} | {labels[1]} / {labels[0]} | | **{row['p50_ratio']:.2f}x** | | | "
            f"{row['cpu_ratio']:.2f}x |"
        )
    print(f"\n{file}", file=sys.stderr)


if __name__ == "__main__":
    main()
