"""A short run of each atheris harness in fuzz/ (the long run: `make fuzz-atheris`).

Each harness runs as its own process (libFuzzer owns the process) from its seed corpus,
copied so that the new inputs libFuzzer keeps do not land in the repository. A harness
exits non-zero when its target raised or an assertion failed: that is a bug.
"""

import shutil
import subprocess
import sys

import pytest

from tests import support

FUZZ = support.ROOT / "fuzz"
HARNESSES = ["hours", "imports", "crs"]
RUNS = 2000
SECONDS = 15  # per harness, whichever comes first


@pytest.mark.parametrize("name", HARNESSES)
def test_harness_runs_clean_from_its_seed_corpus(tmp_path, name):
    seeds = FUZZ / "corpus" / name
    assert len(list(seeds.iterdir())) >= 3, f"seed corpus of {name} is missing"
    corpus = tmp_path / "corpus"
    shutil.copytree(seeds, corpus)
    result = subprocess.run(
        [
            sys.executable,
            str(FUZZ / f"{name}_fuzz.py"),
            str(corpus),
            f"-runs={RUNS}",
            f"-max_total_time={SECONDS}",
            f"-artifact_prefix={tmp_path}/",
            "-print_final_stats=1",
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Done " in output and not list(tmp_path.glob("crash-*")), output[-4000:]
