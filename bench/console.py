"""Console pages for an org subtree of 10,000 sites: p50/p95 per page (issue #17: p95 < 150 ms).

    make bench-console        # BENCH_ARGS="--requests 200 --size 10000"

Loads (once) a database of `--size` synthetic sites, all in the org `synthetic`, gives it a
console user, serves it with `yizhan serve` (gunicorn, as in production) and, logged in as
that user with one keep-alive connection, requests each page `--requests` times in turn:
the dashboard, the site list (first page, a text search, sorted by name, a late page), a
site's form, its history, and the CSV export of a filtered list. Times are wall-clock per
request on this machine, measured by the client.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import servers  # noqa: E402
from bench.common import default_url, ensure_data  # noqa: E402

USER = "bench-console"
PASSWORD = "bench-console-password-42"


def add_user(url: str) -> None:
    yizhan = str(Path(sys.executable).with_name("yizhan"))
    env = {**os.environ, "DATABASE_URL": url}
    cmd = [yizhan, "users", "add", "--org", "synthetic", "--role", "editor", USER,
           "--password-stdin"]  # fmt: skip
    subprocess.run(cmd, env=env, input=PASSWORD + "\n", text=True, check=True, capture_output=True)


def log_in(base: str) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{base}/admin/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(
        f"{base}/admin/login",
        data={"username": USER, "password": PASSWORD, "csrf_token": token},
        timeout=30,
        allow_redirects=False,
    )
    assert r.status_code == 302, r.status_code
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--port", type=int, default=8795)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    url = default_url(args.size)
    ensure_data(url, args.size)
    add_user(url)
    server = servers.Yizhan(args.port, args.out, url)
    server.name = "yizhan-console"
    server.launch()
    try:
        server.wait_ready()
        base = server.url("")
        s = log_in(base)
        listed = s.get(f"{base}/admin/sites?sort=name", timeout=30).text
        site = re.search(r'href="/admin/sites/(\d+)"', listed).group(1)
        pages = {
            "dashboard": "/admin/",
            "list": "/admin/sites",
            "list q": "/admin/sites?q=road+7",
            "list by name": "/admin/sites?sort=name",
            "list page 150": "/admin/sites?page=150",
            "list kind+amenity": "/admin/sites?kind=home&amenity=wifi",
            "site form": f"/admin/sites/{site}",
            "history": f"/admin/sites/{site}/history",
            "export csv (filtered)": "/admin/sites/export.csv?kind=facility&amenity=wifi",
        }
        results = {}
        for name, path in pages.items():
            times = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                r = s.get(base + path, timeout=60)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, (path, r.status_code)
            times.sort()
            results[name] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
                "max_ms": round(times[-1], 1),
                "bytes": len(r.content),
            }
            got = results[name]
            print(f"{name:24} p50 {got['p50_ms']:7.1f} ms  p95 {got['p95_ms']:7.1f} ms")
    finally:
        server.stop()
    file = args.out / f"console-{args.size}.json"
    file.write_text(json.dumps({"size": args.size, "requests": args.requests, "pages": results}))
    print(file, file=sys.stderr)


if __name__ == "__main__":
    main()
