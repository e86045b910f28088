"""Where the machine's CPU goes per request: the server's workers, PostgreSQL, the client, the rest.

Reads /proc before and after one run of the client (wrk or pgbench): every process's user +
system time (the server's gunicorn master and its children, the workers, whichever they
are by the end; PostgreSQL's processes, by their
`postgres` command name), the client's own from the rusage of waited-for children, and the
machine's totals from /proc/stat; a process that ended during the run counts through its
parent's time of waited-for children (PostgreSQL's backends through the postmaster's). "Rest"
is the machine's busy time that no process above was charged for: interrupts and softirqs
(loopback TCP is delivered in softirq), other processes. Divided by the requests the client
completed, that is CPU milliseconds per request, and with `cores` the ceiling it implies:
cores / CPU per request.
"""

import os
import resource
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _machine() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / TICK, (idle + iowait) / TICK


def _processes() -> dict[int, tuple[str, int, float, float]]:
    """pid -> (command name, parent pid, its own user + system CPU seconds, those of its
    children that ended and were waited for) for every readable process."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        f = [int(v) for v in fields[11:15]]
        out[int(entry.name)] = (name, int(fields[1]), (f[0] + f[1]) / TICK, (f[2] + f[3]) / TICK)
    return out


def _group(pid: int, proc: tuple, server: int | None) -> str | None:
    # The server: its master and the master's children (gunicorn replaces a worker after
    # max-requests, so the workers at the end of a run need not be those at its start).
    if server is not None and (pid == server or proc[1] == server):
        return "server"
    if proc[0].startswith("postgres"):
        return "postgresql"
    return None


def _children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def split(server: int | None, run) -> dict:
    """Run `run()` (a wrk or pgbench run, in a child process, returning its result dict) and
    account the CPU it cost; `server` is the pid of the server's master process, if any.

    Returns the run's result with `cpu`: seconds of CPU per group, and `wall` seconds.
    """
    busy0, idle0 = _machine()
    procs0 = _processes()
    kids0 = _children()
    t0 = time.monotonic()
    result = run()
    wall = time.monotonic() - t0
    kids = _children() - kids0
    procs1 = _processes()
    busy1, idle1 = _machine()
    groups = {"server": 0.0, "postgresql": 0.0}
    for pid, proc in procs1.items():
        group = _group(pid, proc, server)
        if group:
            own, reaped = proc[2], proc[3]
            before = procs0.get(pid)
            if before and before[0] == proc[0]:
                own, reaped = own - before[2], reaped - before[3]
            groups[group] += own + reaped
    # A process that ended during the run (pgbench's backends end when it disconnects, a
    # gunicorn worker after max-requests) is in its parent's `reaped` with all its time,
    # including what it had used before the run: take that part back out.
    for pid, proc in procs0.items():
        group = _group(pid, proc, server)
        if group and (pid not in procs1 or procs1[pid][0] != proc[0]):
            groups[group] -= proc[2] + proc[3]
    groups["client"] = kids
    busy = busy1 - busy0
    groups["rest"] = max(0.0, busy - sum(groups.values()))
    result["cpu"] = {**groups, "busy": busy, "idle": idle1 - idle0}
    result["wall"] = wall
    return result


def per_request_ms(result: dict) -> dict[str, float]:
    """CPU milliseconds per completed request, per group, and in all (`busy`)."""
    n = max(1, result["requests"])
    return {k: v * 1000 / n for k, v in result["cpu"].items()}
