"""CPU per request of the app itself: the whole WSGI app called in this process, no HTTP server.

    .venv/bin/python bench/inprocess.py [--kinds healthz,nearby-2] [--requests 2000] [--profile 25]

Against bench/cpu.py's CPU per request of `yizhan serve`'s workers, the difference is what the
HTTP server and the sockets cost
(docs/benchmarks/history/2026-11-27-1100-http-server-share.md). The requests are the
benchmark's seeded ones (bench/workload.py) against the 1e6 database (DATABASE_URL overrides);
each kind is warmed with 200 requests, then timed by the process's CPU clock, which counts this
process only (PostgreSQL's side is not in it). `--profile N` adds cProfile's top N functions by
own time (profiled code runs ~2-3x slower; read it for shares, not for times).
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from bench import workload  # noqa: E402
from bench.common import default_url, sample_ids  # noqa: E402
from service import create_app  # noqa: E402


def environs(kind: str, n: int, ids: list[int]) -> list[dict]:
    return environs_of(workload.sequence(kind, n, 1, ids))


def environs_of(requests: list[tuple]) -> list[dict]:
    """WSGI environs of these workload requests, built once (not part of what is timed)."""
    out = []
    for req in requests:
        path, _, query = workload.yizhan_path(req).partition("?")
        builder = EnvironBuilder(path=path, query_string=query, base_url="http://127.0.0.1")
        out.append(builder.get_environ())
    return out


def call(app, environ: dict) -> None:
    statuses = []
    body = app(dict(environ), lambda status, headers, exc_info=None: statuses.append(status))
    data = b"".join(body)
    body.close()
    if not statuses[0].startswith(("200", "204")):  # an empty tile is a 204
        raise RuntimeError(f"{environ['PATH_INFO']}: {statuses[0]} {data[:300]!r}")


def measure(app, envs: list[dict], warm: int = 200) -> dict[str, float]:
    """ms of this process's CPU and of wall time per request over `envs`, after the first
    `warm` of them once."""
    for environ in envs[:warm]:
        call(app, environ)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for environ in envs:
        call(app, environ)
    n = len(envs)
    return {
        "cpu_ms": (time.process_time() - cpu0) * 1e3 / n,
        "wall_ms": (time.perf_counter() - wall0) * 1e3 / n,
    }


def app_for(url: str):
    # Config reads the environment when it is imported (bench.run imported it): set it here.
    # No quota: the requests come from one address.
    return create_app({"DATABASE_URL": url, "ANON_PER_MINUTE": 0})


def engines(app) -> set[sa.Engine]:
    """The app's engines (primary, and replica when it has its own)."""
    return {e for e in app.extensions["yizhan.db"].values() if isinstance(e, sa.Engine)}


def dispose(app) -> None:
    for engine in engines(app):
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default="healthz,nearby-2,site,bbox,tiles")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--profile", type=int, default=0, help="cProfile's top N; 0: none")
    args = ap.parse_args()
    url = os.environ.get("DATABASE_URL") or default_url(1_000_000)
    app = app_for(url)
    kinds = args.kinds.split(",")
    ids = sample_ids(url, 1) if "site" in kinds else []
    for kind in kinds:
        envs = environs(kind, args.requests, ids)
        m = measure(app, envs)
        print(f"{kind}: {m['cpu_ms']:.3f} ms CPU, {m['wall_ms']:.3f} ms wall per request")
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for environ in envs:
                call(app, environ)
            profile.disable()
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(args.profile)
            print(text.getvalue())
    dispose(app)


if __name__ == "__main__":
    main()
