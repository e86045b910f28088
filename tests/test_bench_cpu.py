"""bench/cpu.py: CPU per request is charged to the right group of processes."""

import subprocess
import sys

from bench import cpu

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass"


def test_cpu_is_charged_to_the_server_and_the_client_that_spent_it():
    server = subprocess.Popen([sys.executable, "-c", BURN.format(s=30)])
    try:

        def run():
            subprocess.run([sys.executable, "-c", BURN.format(s=0.4)], check=True)
            return {"requests": 100, "rps": 0.0}

        result = cpu.split({server.pid}, run)
    finally:
        server.kill()
        server.wait()
    used = result["cpu"]
    assert used["client"] >= 0.35  # the child that ran and was waited for
    assert used["server"] >= 0.2  # the busy "server" during the same time
    assert used["postgresql"] >= 0
    assert used["busy"] >= used["client"] + used["server"] - 0.05
    ms = cpu.per_request_ms(result)
    assert abs(ms["client"] - used["client"] * 10) < 1e-9  # 100 requests: s * 1000 / 100
