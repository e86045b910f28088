"""The same app under two HTTP servers, in alternation: `yizhan serve` (gunicorn, sync workers,
as in production) against granian (a Rust HTTP server with a WSGI interface).

    make bench-servers [BENCH_ARGS="--kinds healthz,nearby-2 --reps 5 --keep-alive off"]

Why: CPU per request splits into Yizhan's workers and PostgreSQL (bench/cpu.py), and
/healthz, which touches nothing, cost ~0.85 ms of a worker's CPU per request under gunicorn
against ~0.22 ms for the app itself in-process (bench/inprocess.py). This measures how much
of that is the HTTP server. gunicorn's sync workers close every connection, so wrk
reconnects for each request;
granian keeps connections open unless `--keep-alive off`, which shows the part that is
connection reuse. Both serve the 1e6 database (loaded as by make bench), with as many
workers as `yizhan serve` unless `--granian-workers`; granian runs one thread per worker,
one request at a time, like a sync worker. Same seeded requests and CPU accounting as
make bench-ab (bench/alternate.py); tables on stdout, JSON in
bench-out/http-servers-keep-alive-on.json (or -off.json).
"""

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import alternate, servers, workload  # noqa: E402
from bench.common import default_url, ensure_data, sample_ids  # noqa: E402


def ensure_granian(out: Path) -> Path:
    """bench-out/granian-lib with the pinned granian (and nothing else) installed."""
    requirements = HERE / "requirements-granian.txt"
    lib = out / "granian-lib"
    stamp = lib / ".installed"
    if stamp.exists() and stamp.read_text() == requirements.read_text():
        return lib
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-deps", "--upgrade", "--target", str(lib), "-r", str(requirements)],
        check=True,
    )  # fmt: skip
    stamp.write_text(requirements.read_text())
    return lib


class Granian(servers.Yizhan):
    """service.ops.wsgi:app under granian: `workers` processes of one blocking thread each."""

    def __init__(self, port, out, url, lib: Path, workers: int, keep_alive: bool) -> None:
        super().__init__(port, out, url)
        self.lib, self.n_workers, self.keep_alive = lib, workers, keep_alive
        self.expected_workers = workers

    def command(self):
        _, env = super().command()
        env["PYTHONPATH"] = f"{self.lib}:{ROOT}"
        cmd = [sys.executable, "-m", "granian", "--interface", "wsgi", "--http", "1",
               "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", str(self.n_workers), "--blocking-threads", "1", "--access-log",
               "--http1-keep-alive" if self.keep_alive else "--no-http1-keep-alive",
               "service.ops.wsgi:app"]  # fmt: skip
        return cmd, env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=default_url(1_000_000), help="the database both serve")
    ap.add_argument("--kinds", default="healthz,nearby-2,site,bbox,tiles")
    ap.add_argument("--granian-workers", type=int, default=servers.WORKERS)
    ap.add_argument("--keep-alive", choices=("on", "off"), default="on")
    alternate.add_arguments(ap, reps=5, port=8795)
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.url == default_url(1_000_000):
        ensure_data(args.url, 1_000_000)
    lib = ensure_granian(out)
    kinds = args.kinds.split(",")
    ids = sample_ids(args.url, 1) if "site" in kinds else []
    paths = alternate.request_files(out, "http", kinds, workload.yizhan_path, ids)
    running = {
        "gunicorn": servers.Yizhan(args.port, out, args.url),
        "granian": Granian(
            args.port + 1, out, args.url, lib, args.granian_workers, args.keep_alive == "on"
        ),
    }
    alternate.run(
        running,
        paths,
        args,
        "yizhan-http",
        granian_workers=args.granian_workers,
        keep_alive=args.keep_alive,
        file=out / f"http-servers-keep-alive-{args.keep_alive}.json",
    )


if __name__ == "__main__":
    main()
