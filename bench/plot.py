"""Latency percentiles of a benchmark run as a PNG (run by bench/run.py in the tools venv).

    bench-out/venv-tools/bin/python bench/plot.py bench-out/results-1e6.json out.png

One panel per connection count: for each server and query, the median p50, p90 and p99
(and max) over the repetitions, on a log scale. Uses only the JSON (no project imports).
"""

import json
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PCTS = (("p50_us", "p50"), ("p90_us", "p90"), ("p99_us", "p99"), ("max_us", "max"))


def main(results_path: str, png: str) -> None:
    info = json.loads(open(results_path).read())
    groups = defaultdict(list)
    for r in info["results"]:
        if isinstance(r["rep"], int):
            groups[r["server"], r["kind"], r["conns"]].append(r)
    conns = info["connections"]
    labels = sorted({(s, k) for s, k, _ in groups}, key=lambda sk: (sk[0] != "yizhan", sk))
    fig, axes = plt.subplots(
        1, len(conns), figsize=(5 + 4 * len(conns), 0.45 * len(labels) + 2), sharey=True
    )
    if len(conns) == 1:
        axes = [axes]
    height = 0.8 / len(PCTS)
    for ax, c in zip(axes, conns, strict=True):
        for j, (field, name) in enumerate(PCTS):
            values = []
            for s, k in labels:
                rs = groups.get((s, k, c), [])
                values.append(statistics.median(r[field] for r in rs) / 1000 if rs else 0)
            ax.barh([i + j * height for i in range(len(labels))], values, height, label=name)
        ax.set_xscale("log")
        ax.set_title(f"{c} connections")
        ax.set_xlabel("latency, ms (log)")
        ax.grid(axis="x", which="both", alpha=0.3)
    axes[0].set_yticks([i + 1.5 * height for i in range(len(labels))])
    axes[0].set_yticklabels([f"{s}: {k}" for s, k in labels])
    axes[0].invert_yaxis()
    axes[-1].legend(loc="lower right")
    fig.suptitle(
        f"Latency at {info['label']} sites ({info['sites']:,}), medians of {info['reps']} "
        f"repetition(s), {info['date']}"
    )
    fig.tight_layout()
    fig.savefig(png, dpi=100)


if __name__ == "__main__":
    main(*sys.argv[1:3])
