"""An earlier commit against the working tree, measured in alternation on the same machine.

    make bench-ab BASE=e607511 BASE_URL=postgresql:///yizhan_e607511 BENCH_ARGS=--base-size=1e6
    python bench/ab.py --base e607511 --base-url URL [--base-size 1e6] [--url URL] [--kinds ...]

The base is checked out into bench-out/ab-<rev> (a git worktree) and served from there;
the working tree is served as it is. Each serves its own database, at the schema its code
expects (an older code's /readyz refuses a newer schema): `--base-size 1e6` first loads
BASE_URL with the base's own code (its bench/run.py, as `make bench` loads), if it does not
hold that many synthetic sites yet. Same seeded requests, same CPU accounting as `make
bench-sizes` (bench/alternate.py); JSON and a table in bench-out/ab-<rev>.json.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import alternate, servers, workload  # noqa: E402
from bench.common import default_url, sample_ids  # noqa: E402


def checkout(rev: str, out: Path) -> tuple[str, Path]:
    """(short hash, a worktree of `rev` under out/)."""
    short = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    tree = out / f"ab-{short}"
    if not (tree / "service").is_dir():
        subprocess.run(
            ["git", "worktree", "add", "--force", "--detach", str(tree), short],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
    return short, tree


def load_with(tree: Path, url: str, size: int) -> None:
    """`ensure_data` of the base's bench/run.py, its `yizhan` commands on the base's code."""
    code = f"import sys; sys.path[:0] = [{str(tree)!r}, {str(tree / 'bench')!r}]; import run; "
    code += f"run.ensure_data({url!r}, {size})"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="a commit, e.g. HEAD~3")
    ap.add_argument("--base-url", required=True, help="the database the base serves")
    ap.add_argument("--base-size", type=float, help="load BASE_URL with the base's code first")
    ap.add_argument("--url", default=default_url(1_000_000), help="the one the tree serves")
    ap.add_argument("--kinds", default="bbox,nearby-2")
    alternate.add_arguments(ap, reps=5, port=8785)
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    short, tree = checkout(args.base, out)
    if args.base_size:
        load_with(tree, args.base_url, int(args.base_size))
    kinds = args.kinds.split(",")
    ids = sample_ids(args.url, 1) if "site" in kinds else []
    paths = alternate.request_files(out, "ab", kinds, workload.yizhan_path, ids)
    running = {
        short: servers.Yizhan(args.port, out, args.base_url, code=tree),
        "tree": servers.Yizhan(args.port + 1, out, args.url),
    }
    file = out / f"ab-{short}.json"
    alternate.run(running, paths, args, "yizhan-ab", base=short, file=file)


if __name__ == "__main__":
    main()
