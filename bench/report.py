"""The benchmark's Markdown report: medians, ratios, targets, SQL, memory, profiles."""

import re
import statistics
from collections import Counter, defaultdict
from pathlib import Path

from bench import cpu, workload

FIELDS = ("rps", "p50_us", "p90_us", "p99_us", "max_us")
SERVER_NAMES = {
    "yizhan": "Yizhan",
    "pgbench": "pgbench (DB floor)",
    "pygeoapi": "pygeoapi",
    "tipg": "tipg",
}


def medians(results: list[dict]) -> dict[tuple, dict]:
    """(server, kind, conns) -> the median of each field over the numbered repetitions."""
    groups = defaultdict(list)
    for r in results:
        if isinstance(r["rep"], int):
            groups[r["server"], r["kind"], r["conns"]].append(r)
    out = {}
    for key, rs in groups.items():
        m = {f: statistics.median(r[f] for r in rs) for f in FIELDS}
        m["reps"] = len(rs)
        m["rps_min"], m["rps_max"] = min(r["rps"] for r in rs), max(r["rps"] for r in rs)
        m["bytes_per"] = statistics.median(r["bytes"] / r["requests"] for r in rs if r["requests"])
        m["errors"] = sum(r["errors"] + r["non2xx"] for r in rs)
        out[key] = m
    return out


def top_frames(raw: str, n: int = 12) -> dict:
    """py-spy's raw (collapsed) stacks -> the frames with most samples: on top of the stack
    (self) and anywhere in it (inclusive, Yizhan's own code only). Only samples taken while
    a worker handled a request count (not the master, not a worker waiting for one)."""
    own, inclusive = Counter(), Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or "handle_request" not in stack:
            continue
        k = int(count)
        total += k
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        own[_short(frames[-1])] += k
        for f in {_short(f) for f in frames if "service/" in f}:
            inclusive[f] += k
    pct = lambda c: [(f, round(100 * v / total, 1)) for f, v in c.most_common(n)]  # noqa: E731
    return {"samples": total, "self": pct(own), "inclusive": pct(inclusive)}


def _short(frame: str) -> str:
    """`fn (/long/path/site-packages/pkg/mod.py:12)` -> `fn (pkg/mod.py:12)`."""
    return re.sub(r"\((?:.*/site-packages/|.*/work/[^/]+/|/[^)]*/lib/python3\.\d+/)", "(", frame)


def _ms(us: float) -> str:
    return f"{us / 1000:.1f}"


def _at(m: dict, server: str, kind: str, conns: list[int], c: int = 4) -> tuple[int, dict | None]:
    """The measurement at c connections, or at the nearest measured count."""
    near = min(conns, key=lambda x: (abs(x - c), x))
    return near, m.get((server, kind, near))


def markdown(info: dict, others: dict, plot: Path) -> str:
    m = medians(info["results"])
    conns = info["connections"]
    mach = info["machine"]
    lines = [
        f"## {info['date']}: Yizhan, floors and peers at {info['size_label']} synthetic sites",
        "",
        f"Machine: {mach['cpus']} cores ({mach['cpu']}), {mach['mem_gib']} GiB, "
        f"{mach['platform']}, Python {mach['python']}, PostgreSQL {mach['postgresql']}; "
        f"load average at start {mach['loadavg_at_start']}. Client (wrk, pgbench), servers and "
        "database share the machine.",
        "",
        f"Command: `{info['command']}` ({info['sites']:,} sites; {info['duration']:g} s per "
        f"measurement; {info['reps']} repetition(s), medians quoted; connections "
        f"{', '.join(map(str, conns))}; every server with {info['workers']} worker processes; "
        f"wall time {info['timings']['total']:.0f} s).",
        "",
    ]
    lines += _targets(info, m, others)
    lines += [
        "",
        "### Throughput and latency (medians of the repetitions)",
        "",
        "| server | query | conns | req/s | (min-max) | p50 ms | p90 ms | p99 ms | max ms "
        "| bytes/resp | errors |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (server, kind, c), v in m.items():
        lines.append(
            f"| {SERVER_NAMES[server]} | {kind} | {c} | {v['rps']:.0f} | "
            f"{v['rps_min']:.0f}-{v['rps_max']:.0f} | {_ms(v['p50_us'])} | {_ms(v['p90_us'])} | "
            f"{_ms(v['p99_us'])} | {_ms(v['max_us'])} | "
            f"{v['bytes_per']:.0f} | {v['errors']} |"
            if server != "pgbench"
            else f"| {SERVER_NAMES[server]} | {kind} | {c} | {v['rps']:.0f} | "
            f"{v['rps_min']:.0f}-{v['rps_max']:.0f} | {_ms(v['p50_us'])} | {_ms(v['p90_us'])} | "
            f"{_ms(v['p99_us'])} | {_ms(v['max_us'])} | - | {v['errors']} |"
        )
    lines += ["", "Queries: " + "; ".join(f"*{k}*: {d}" for k, d in workload.KINDS.items()), ""]
    lines += [f"![latency percentiles]({plot.name})", ""]
    lines += _ratios(m, conns)
    lines += _drift(info)
    lines += _sql(info)
    lines += _responses(info)
    lines += _cpu(info)
    lines += _memory(info)
    lines += _profiles(info)
    return "\n".join(lines) + "\n"


def _targets(info, m, others) -> list[str]:
    conns = info["connections"]
    rows = []
    c, v = _at(m, "yizhan", "nearby-2", conns)
    if v:
        ok = v["rps"] >= 1200 and v["p99_us"] <= 15000
        rows.append(
            (
                "nearby (2 amenities + open_now, limit 20) >= 1,200 req/s, p99 <= 15 ms at 4 conns",
                f"{v['rps']:.0f} req/s, p99 {_ms(v['p99_us'])} ms at {c}",
                ok,
            )
        )
    for kind, peer, factor in (("bbox", "pygeoapi", 10), ("tiles", "tipg", 8)):
        c, y = _at(m, "yizhan", kind, conns)
        _, p = _at(m, peer, kind, conns)
        if y and p:
            ratio = y["rps"] / p["rps"] if p["rps"] else float("inf")
            rows.append(
                (
                    f"{kind} >= {factor}x {peer}'s req/s",
                    f"{y['rps']:.0f} / {p['rps']:.0f} = {ratio:.1f}x at {c}",
                    ratio >= factor,
                )
            )
        else:
            rows.append((f"{kind} >= {factor}x {peer}'s req/s", "not measured", None))
    p50 = {}
    for label, data in [(info["label"], info), *others.items()]:
        mm = m if data is info else medians(data["results"])
        _, v = _at(mm, "yizhan", "nearby-2", data["connections"])
        if v:
            p50[label] = v["p50_us"]
    if "1e5" in p50 and "1e7" in p50:
        ratio = p50["1e7"] / p50["1e5"]
        rows.append(
            (
                "nearby p50 at 1e7 <= 1.5x its p50 at 1e5",
                f"{_ms(p50['1e7'])} / {_ms(p50['1e5'])} ms = {ratio:.2f}x",
                ratio <= 1.5,
            )
        )
    else:
        have = ", ".join(f"{k}: {_ms(v)} ms" for k, v in sorted(p50.items())) or "none"
        rows.append(
            (
                "nearby p50 at 1e7 <= 1.5x its p50 at 1e5",
                f"needs results-1e5.json and results-1e7.json in bench-out/ (have {have})",
                None,
            )
        )
    rss = info.get("rss_mb", {}).get("yizhan") or []
    if rss:
        rows.append(("one worker's RSS < 150 MB", f"max {max(rss):.0f} MB", max(rss) < 150))
    out = ["### Targets", "", "| target | measured | |", "|---|---|---|"]
    for name, measured, ok in rows:
        verdict = "not measured" if ok is None else ("**met**" if ok else "**missed**")
        out.append(f"| {name} | {measured} | {verdict} |")
    return out


def _ratios(m, conns) -> list[str]:
    pairs = [
        ("bbox", "pygeoapi", "bbox"),
        ("bbox", "tipg", "bbox"),
        ("site", "pygeoapi", "site"),
        ("site", "tipg", "site"),
        ("tiles", "tipg", "tiles"),
        ("nearby", "pgbench", "nearby"),
        ("bbox", "pgbench", "bbox"),
    ]
    out = [
        "### Ratios (req/s of Yizhan / req/s of the other; p50 of the other / p50 of Yizhan)",
        "",
        "| Yizhan query | vs | " + " | ".join(f"{c} conns" for c in conns) + " |",
        "|---|---|" + "---:|" * len(conns),
    ]
    for kind, other, okind in pairs:
        cells = []
        for c in conns:
            y, o = m.get(("yizhan", kind, c)), m.get((other, okind, c))
            if y and o and o["rps"] and y["p50_us"]:
                cells.append(f"{y['rps'] / o['rps']:.2f}x ({o['p50_us'] / y['p50_us']:.2f}x)")
            else:
                cells.append("-")
        if any(x != "-" for x in cells):
            out.append(f"| {kind} | {SERVER_NAMES[other]} {okind} | " + " | ".join(cells) + " |")
    for kind in ("nearby", "bbox", "site"):
        cells = []
        for c in conns:
            y, h = m.get(("yizhan", kind, c)), m.get(("yizhan", "healthz", c))
            cells.append(f"{y['rps'] / h['rps']:.2f}x" if y and h and h["rps"] else "-")
        out.append(f"| {kind} | framework floor (/healthz) | " + " | ".join(cells) + " |")
    return [*out, ""]


def _drift(info) -> list[str]:
    base = {r["rep"]: r for r in info["results"] if str(r["rep"]).startswith("baseline")}
    if len(base) < 2:
        return []
    a, b = base["baseline-start"], base["baseline-end"]
    server, kind, c = a["server"], a["kind"], a["conns"]
    change = (b["rps"] / a["rps"] - 1) * 100 if a["rps"] else 0
    return [
        "### Drift",
        "",
        f"The baseline ({server} {kind}, {c} conns) at the start and again at the end: "
        f"{a['rps']:.0f} then {b['rps']:.0f} req/s ({change:+.0f}%), p50 {_ms(a['p50_us'])} then "
        f"{_ms(b['p50_us'])} ms, p99 {_ms(a['p99_us'])} then {_ms(b['p99_us'])} ms.",
        "",
    ]


def _sql(info) -> list[str]:
    out = [
        "### SQL per request (in-process: Flask test client, SQLAlchemy cursor events)",
        "",
        "| query | requests | statements | SQL ms | pool pre-pings | ms | pool-return "
        "rollbacks | ms | request ms (mean / median) | outside these |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, s in info["sql"].items():
        rest = s["total_ms"] - s["sql_ms"] - s["ping_ms"] - s["rollback_ms"]
        out.append(
            f"| {kind} | {s['requests']} | {s['statements']:.2f} | {s['sql_ms']:.2f} | "
            f"{s['pings']:.2f} | {s['ping_ms']:.2f} | {s['rollbacks']:.2f} | "
            f"{s['rollback_ms']:.2f} | {s['total_ms']:.2f} / {s['median_ms']:.2f} | "
            f"{rest:.2f} ms |"
        )
    out += [
        "",
        "Each round trip to PostgreSQL is counted: the statements, the pool's ping of a "
        "connection idle over 10 s before use, and the rollback that resets a connection on "
        "its return (a no-op without a round trip when the read ran in autocommit).",
    ]
    return [*out, ""]


def _responses(info) -> list[str]:
    out = [
        "### Same requests, different answers? (first 20 requests of each kind)",
        "",
        "| query | server | statuses | mean body bytes | mean features | same ids as Yizhan "
        "| properties |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for kind, per in info.get("responses", {}).items():
        ref = per.get("yizhan", [])
        for server, samples in per.items():
            if not samples:
                continue
            statuses = ",".join(
                f"{k}x{v}" for k, v in Counter(s["status"] for s in samples).items()
            )
            size = statistics.mean(s["bytes"] for s in samples)
            feats = [len(s["ids"]) for s in samples if "ids" in s]
            same = [
                s.get("ids") == r.get("ids")
                for s, r in zip(samples, ref, strict=False)
                if "ids" in s
            ]
            props = next((s["properties"] for s in samples if s.get("properties")), [])
            out.append(
                f"| {kind} | {SERVER_NAMES[server]} | {statuses} | {size:.0f} | "
                f"{statistics.mean(feats) if feats else '-'} | "
                f"{f'{sum(same)}/{len(same)}' if same and server != 'yizhan' else '-'} | "
                f"{', '.join(props) if props else '-'} |"
            )
    out += [
        "",
        "The peers read the view `bench_peer.sites` (listed sites only: not deleted, not "
        "closed; org code and name joined in), the same rows Yizhan lists; pygeoapi also "
        "counts all matches (`numberMatched`) on every page. Tiles: Yizhan draws `id, kind, "
        "name, is_open, star_rating`, tipg is asked for `id, kind, name, star_rating` "
        "(it has no opening-hours state); both use a 64-unit buffer.",
        "",
    ]
    return out


def _cpu(info) -> list[str]:
    runs = info.get("cpu")
    if not runs:
        return []
    cores = info["machine"]["cpus"]
    alone = info.get("inprocess", {})
    out = [
        "### Where the CPU goes (ms of CPU per request, one more run at 4 connections)",
        "",
        "| run | req/s | server workers | the app in-process | PostgreSQL | client "
        f"| rest (kernel, other) | busy | idle | {cores} cores / busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in runs.items():
        ms = cpu.per_request_ms(r)
        server, kind = name.split(" ", 1)
        app = alone.get(kind) if server == "yizhan" else None
        in_process = f"{app['cpu_ms']:.2f}" if app else "-"
        out.append(
            f"| {name} | {r['rps']:.0f} | {ms['server']:.2f} | {in_process} | "
            f"{ms['postgresql']:.2f} | {ms['client']:.2f} | {ms['rest']:.2f} | "
            f"{ms['busy']:.2f} | {ms['idle']:.2f} | {cores * 1000 / ms['busy']:.0f} req/s |"
            if ms["busy"]
            else f"| {name} | {r['rps']:.0f} | - | - | - | - | - | - | - | - |"
        )
    return [
        *out,
        "",
        "From /proc (bench/cpu.py): user + system time of Yizhan's gunicorn processes, of "
        "PostgreSQL's processes and of the client (wrk, or pgbench for the floor), and the "
        "machine's busy time no process was charged for (softirqs, which deliver loopback TCP, "
        "and anything else running), divided by the requests completed. The last column is the "
        "throughput at which that much CPU per request would fill every core. *The app "
        "in-process*: the same kind of request through the whole WSGI app in the benchmark's "
        "own process, one at a time, no HTTP server (bench/inprocess.py); the workers' CPU "
        "beyond it is the HTTP server's, the sockets' and what sharing the cores costs.",
        "",
    ]


def _memory(info) -> list[str]:
    out = [
        "### Worker memory (RSS from /proc after the run)",
        "",
        "| server | workers | max MB | median MB |",
        "|---|---:|---:|---:|",
    ]
    for server, sizes in info.get("rss_mb", {}).items():
        if sizes:
            out.append(
                f"| {SERVER_NAMES[server]} | {len(sizes)} | {max(sizes):.0f} | "
                f"{statistics.median(sizes):.0f} |"
            )
    return [*out, ""]


def _profiles(info) -> list[str]:
    out = []
    for kind, prof in (info.get("profile") or {}).items():
        out += [f"### Where the time goes: py-spy over Yizhan's workers during {kind}", ""]
        if "error" in prof:
            out += [f"py-spy failed: `{prof['error']}`", ""]
            continue
        out += [
            f"{prof['samples']} samples while handling requests. Top of the stack (self):",
            "",
            "| frame | % |",
        ]
        out += ["|---|---:|", *(f"| `{f}` | {p} |" for f, p in prof["self"]), ""]
        out += ["Yizhan's frames anywhere in the stack (inclusive):", "", "| frame | % |"]
        out += ["|---|---:|", *(f"| `{f}` | {p} |" for f, p in prof["inclusive"]), ""]
    for name, plan in info.get("explain", {}).items():
        out += [f"EXPLAIN (ANALYZE, BUFFERS), {name}:", "", "```", plan, "```", ""]
    return out
