"""Nearby latency at two data sizes, measured in alternation (issue #5: p50 at 1e7 <= 1.5x 1e5).

    make bench-sizes        # 1e5 against 1e7, nearby-2, 2 and 4 connections, 7 rounds

Loads either database first if it is missing (as `make bench` does; 1e7 takes ~15 min).

Two separate `make bench` runs compare numbers taken minutes apart on a machine whose
speed drifts; here both sizes are served at once and measured in alternation
(bench/alternate.py), with the CPU each request costs at each size.
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import alternate, servers, workload  # noqa: E402
from bench.common import default_url, ensure_data, size_label  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=float, default=1e5)
    ap.add_argument("--large", type=float, default=1e7)
    ap.add_argument("--kind", default="nearby-2", choices=sorted(workload.KINDS))
    alternate.add_arguments(ap, reps=7, port=8775, connections="2,4")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    labels = [size_label(int(args.small)), size_label(int(args.large))]
    paths = alternate.request_files(out, "sizes", [args.kind], workload.yizhan_path, [])
    urls = {}
    for label, size in zip(labels, (int(args.small), int(args.large)), strict=True):
        urls[label] = default_url(size)
        ensure_data(urls[label], size)
    running = {
        label: servers.Yizhan(args.port + i, out, url)
        for i, (label, url) in enumerate(urls.items())
    }
    file = out / f"sizes-{labels[0]}-{labels[1]}-{args.kind}.json"
    alternate.run(running, paths, args, "yizhan", sizes=labels, file=file)


if __name__ == "__main__":
    main()
