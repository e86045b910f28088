"""Two Yizhan servers measured in alternation: the same seeded requests, one server at a time.

Measurements taken minutes apart compare a drifting shared VM with itself (one 1e5 run's
nearby-2 repetitions spanned 672 to 1,185 req/s). Here both servers run at once, idle in
turn, and each round replays the same requests against one, then the other, so the ratio
of the medians compares measurements seconds apart. Each round also accounts the CPU per
request (bench/cpu.py), which drift does not change. Used by bench/sizes.py (two data
sizes) and bench/ab.py (two versions of the code).
"""

import json
import statistics
import sys
from pathlib import Path

from bench import cpu, workload
from bench.common import wrk


def add_arguments(ap, reps: int, port: int, connections: str = "4") -> None:
    """The options every alternated run takes: rounds, their length, connections, port, out."""
    ap.add_argument("--connections", default=connections)
    ap.add_argument("--duration", type=float, default=4)
    ap.add_argument("--reps", type=int, default=reps)
    ap.add_argument("--port", type=int, default=port)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "bench-out"
    )


def request_files(out: Path, prefix: str, kinds: list[str], path_of, ids: list[int]) -> dict:
    """kind -> a file of 5,000 seeded request paths (workload.sequence, seed 1) for wrk."""
    paths = {}
    for kind in kinds:
        paths[kind] = out / f"{prefix}-{kind}.txt"
        seq = workload.sequence(kind, 5000, 1, ids)
        paths[kind].write_text("\n".join(path_of(r) for r in seq) + "\n")
    return paths


def run(running: dict, paths: dict, args, prefix: str, **meta):
    """Name the servers `prefix-label`, measure with the options of add_arguments, then per
    kind a table on stdout; all in JSON at meta["file"]."""
    labels = list(running)
    for label, server in running.items():
        server.name = f"{prefix}-{label}"
    conns = [int(c) for c in args.connections.split(",")]
    reps, duration = args.reps, args.duration
    rounds = measure(running, paths, conns, reps, duration)
    file = meta.pop("file")
    result = {**meta, "reps": reps, "duration": duration, "kinds": {}}
    for kind in paths:
        summary = summarize(rounds, kind, labels, conns)
        result["kinds"][kind] = summary
        print(f"\n{kind} ({workload.KINDS[kind]}): {' against '.join(labels)}\n")
        print(table(summary, labels))
    result["rounds"] = rounds
    file.write_text(json.dumps(result, indent=1))
    print(f"\n{file}", file=sys.stderr)


def measure(
    running: dict, paths: dict[str, Path], conns: list[int], reps: int, duration: float
) -> list[dict]:
    """Rounds of wrk + CPU accounting: for each rep, kind (its request file) and connection
    count, every server (label -> servers.Yizhan) in turn. The servers are started here."""
    rounds: list[dict] = []
    try:
        for server in running.values():
            server.launch()
        for server in running.values():
            server.wait_ready()
            for file in paths.values():  # warm: connections, prepared statements, cache
                wrk(server.url(""), file, 4, 2)
        for rep in range(1, reps + 1):
            for kind, file in paths.items():
                for c in conns:
                    for label, server in running.items():
                        r = cpu.split(
                            server.proc.pid,
                            lambda s=server, c=c, f=file: wrk(s.url(""), f, c, duration),
                        )
                        r.update(label=label, kind=kind, conns=c, rep=rep)
                        rounds.append(r)
                        ms = cpu.per_request_ms(r)
                        print(
                            f"{kind} {label} c={c} rep={rep}: {r['rps']:6.0f} req/s p50 "
                            f"{r['p50_us'] / 1000:5.2f} ms, CPU {ms['busy']:.2f} ms/request "
                            f"(workers {ms['server']:.2f}, PostgreSQL {ms['postgresql']:.2f})",
                            file=sys.stderr,
                            flush=True,
                        )
    finally:
        for server in running.values():
            server.stop()
    return rounds


def summarize(rounds: list[dict], kind: str, labels: list[str], conns: list[int]) -> dict:
    """Per connection count and label: medians over the reps; the second label's p50 and
    CPU over the first's."""
    summary = {}
    for c in conns:
        row = {}
        for label in labels:
            mine = [r for r in rounds if (r["kind"], r["label"], r["conns"]) == (kind, label, c)]
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
        first, second = row[labels[0]], row[labels[1]]
        row["p50_ratio"] = second["p50_ms"] / first["p50_ms"]
        row["rps_ratio"] = second["rps"] / first["rps"]
        row["cpu_ratio"] = second["cpu_busy_ms"] / first["cpu_busy_ms"]
        summary[c] = row
    return summary


def table(summary: dict, labels: list[str]) -> str:
    """Markdown: one line per connection count and label, then the ratio line."""
    lines = [
        "| conns | | req/s | p50 ms | p99 ms | bytes | CPU ms/request (workers, PostgreSQL) |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for c, row in summary.items():
        for label in labels:
            v = row[label]
            lines.append(
                f"| {c} | {label} | {v['rps']:.0f} | {v['p50_ms']:.2f} | {v['p99_ms']:.2f} | "
                f"{v['bytes_per']:.0f} | {v['cpu_busy_ms']:.2f} ({v['cpu_server_ms']:.2f}, "
                f"{v['cpu_postgresql_ms']:.2f}) |"
            )
        lines.append(
            f"| {c} | {labels[1]} / {labels[0]} | {row['rps_ratio']:.2f}x | "
            f"**{row['p50_ratio']:.2f}x** | | | {row['cpu_ratio']:.2f}x |"
        )
    return "\n".join(lines)
