"""bench/cpu.py: CPU per request is charged to the right group of processes."""

import os
import signal
import subprocess
import sys
import time

from bench import cpu

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass"
# A process that after a moment has a short-lived child burn CPU and waits for it, as the
# postmaster does for pgbench's backends: the child's time arrives through its parent.
PARENT = (
    "import subprocess, sys, time\ntime.sleep(0.3)\n"
    f"subprocess.run([sys.executable, '-c', {BURN.format(s=0.3)!r}])\ntime.sleep(30)"
)


def _split(server_code: str) -> dict:
    server = subprocess.Popen([sys.executable, "-c", server_code], start_new_session=True)
    try:

        def run():
            subprocess.run([sys.executable, "-c", BURN.format(s=0.4)], check=True)
            time.sleep(0.6)  # until the server's child has run and ended
            return {"requests": 100, "rps": 0.0}

        return cpu.split(server.pid, run)
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # and any child it started
        server.wait()


def test_cpu_is_charged_to_the_server_and_the_client_that_spent_it():
    result = _split(BURN.format(s=30))
    used = result["cpu"]
    assert used["client"] >= 0.35  # the child that ran and was waited for
    assert used["server"] >= 0.2  # the busy server during the ~1 s run
    assert used["busy"] >= used["client"] + used["server"] - 0.05
    ms = cpu.per_request_ms(result)
    assert abs(ms["client"] - used["client"] * 10) < 1e-9  # 100 requests: s * 1000 / 100


def test_a_process_that_ended_during_the_run_counts_through_its_parent():
    used = _split(PARENT)["cpu"]
    assert used["server"] >= 0.25  # the parent only slept; its child burnt 0.3 s


def test_the_servers_children_count_whichever_they_are_by_the_end():
    # A master whose worker is started during the run (as gunicorn replaces one after
    # max-requests): the new worker is the server's too.
    spawner = (
        "import subprocess, sys, time\ntime.sleep(0.3)\n"
        f"w = subprocess.Popen([sys.executable, '-c', {BURN.format(s=30)!r}])\n"
        "time.sleep(30)"
    )
    used = _split(spawner)["cpu"]
    assert used["server"] >= 0.2
