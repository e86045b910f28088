"""A peer on two databases in alternation: what Yizhan's schema changes cost the peers.

    python bench/peer_tables.py --base-url URL [--url URL] [--peer pygeoapi] [--kinds bbox]

`make bench` serves its peers from Yizhan's own tables (through the view bench_peer.sites).
When a schema change makes `sites` wider (0011 stores each site's JSON in it), a peer that
reads the rows, or counts all matches as pygeoapi does, reads more pages, and a Yizhan/peer
ratio measured on the new schema flatters Yizhan. This serves the same peer from a database
at an older schema (base) and from the current one, the same seeded requests against each
in turn (bench/alternate.py), so the report can quote both ratios.
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import alternate, servers, workload  # noqa: E402
from bench.common import default_url, sample_ids  # noqa: E402

PEERS = {"pygeoapi": (servers.PyGeoAPI, workload.pygeoapi_path), "tipg": (servers.Tipg, None)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", required=True, help="a database at the older schema")
    ap.add_argument("--url", default=default_url(1_000_000))
    ap.add_argument("--peer", default="pygeoapi", choices=sorted(PEERS))
    ap.add_argument("--kinds", default="bbox")
    alternate.add_arguments(ap, reps=5, port=8795)
    args = ap.parse_args()
    out = args.out
    cls, path_of = PEERS[args.peer]
    path_of = path_of or workload.tipg_path
    venv = servers.ensure_venv(out, args.peer, HERE / f"requirements-{args.peer}.txt")
    kinds = args.kinds.split(",")
    ids = sample_ids(args.url, 1) if "site" in kinds else []
    paths = alternate.request_files(out, f"peer-{args.peer}", kinds, path_of, ids)
    running = {}
    for i, (label, url) in enumerate((("base", args.base_url), ("current", args.url))):
        servers.create_peer_view(url)
        running[label] = cls(args.port + i, out, url, venv)
    file = out / f"peer-{args.peer}.json"
    urls = [args.base_url, args.url]
    alternate.run(running, paths, args, args.peer, peer=args.peer, urls=urls, file=file)


if __name__ == "__main__":
    main()
