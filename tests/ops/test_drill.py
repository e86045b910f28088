"""The fault drill (scripts/drill.py): its judgements, and its quick form run for real.

The quick form builds its own PostgreSQL cluster, restarts it twice under load (`-m fast`,
then `-m immediate`) and must prove that no acknowledged create was lost or duplicated and
that the service only ever answered 2xx or 503 problem+json.
"""

import importlib.util
import json
import re
import socket
import subprocess
import sys
from email.message import Message
from pathlib import Path

import pytest

from tests import support

ROOT = support.ROOT
SCRIPT = ROOT / "scripts" / "drill.py"


def _load_drill():
    spec = importlib.util.spec_from_file_location("drill", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["drill"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


drill = _load_drill()


def headers(**values) -> Message:
    msg = Message()
    for name, value in values.items():
        msg[name.replace("_", "-")] = value
    return msg


PROBLEM_503 = json.dumps({"type": "x", "title": "t", "status": 503, "detail": "d"}).encode()


@pytest.mark.parametrize(
    "status, hdrs, body, verdict",
    [
        (200, headers(Content_Type="application/json"), b"{}", "ok"),
        (201, headers(Content_Type="application/json"), b"{}", "ok"),
        (
            503,
            headers(Content_Type="application/problem+json", Retry_After="2"),
            PROBLEM_503,
            "503",
        ),
        (
            503,
            headers(Content_Type="application/problem+json"),
            PROBLEM_503,
            "503 without Retry-After",
        ),
        (503, headers(Content_Type="text/html", Retry_After="2"), b"<html>", "503 text/html"),
        (
            503,
            headers(Content_Type="application/problem+json", Retry_After="2"),
            b"<html>",
            "503 with a malformed problem body",
        ),
        (
            500,
            headers(Content_Type="application/problem+json"),
            b"{}",
            "500 application/problem+json",
        ),
        (502, headers(Content_Type="text/html"), b"<html>", "502 text/html"),
        (
            409,
            headers(Content_Type="application/problem+json"),
            b"{}",
            "409 application/problem+json",
        ),
    ],
)
def test_only_2xx_and_proper_503s_pass(status, hdrs, body, verdict):
    assert drill.judge(status, hdrs, body) == verdict


def scenario(outcomes, restart_at=10.0, restart_done=11.0):
    sc = drill.Scenario("fast", restart_at=restart_at, restart_done=restart_done, load_end=40.0)
    sc.outcomes = [drill.Outcome("nearby", t - 0.01, t, None, v) for t, v in outcomes]
    return sc


def test_recovery_is_when_every_later_window_reaches_99_percent():
    ok = [(10 + i / 100, "ok") for i in range(1000)]  # 100 answers a second from the restart
    failures = [(12 + i / 100, "503") for i in range(31)]  # 12.0 to 12.3
    # the last 1 s window holding enough failures ends just before 13.3
    assert drill.recovered_at(scenario(sorted(ok + failures))) == pytest.approx(13.3, abs=0.11)
    assert drill.recovered_at(scenario(ok)) == 10.0


def test_one_failure_in_200_still_counts_as_recovered():
    ok = [(10 + i / 200, "ok") for i in range(2000)]  # 200 a second: one failure is 0.5%
    assert drill.recovered_at(scenario(sorted([*ok, (12.0, "503")]))) == 10.0


def write(key, site_id, lat=30.0, lon=122.0):
    body = {
        "kind": "station",
        "name": f"演练驿站 {key}",
        "external_id": key,
        "location": {"lat": lat, "lon": lon},
        "amenities": ["wifi", "microwave"],
        "opening_hours": "Mo-Su 08:00-20:00",
    }
    return drill.Write(key, body, site_id)


def row(w, site_id=None, **changes):
    b = w.body
    values = {
        "id": site_id or w.site_id,
        "external_id": w.key,
        "name": b["name"],
        "kind": b["kind"],
        "lat": b["location"]["lat"],
        "lon": b["location"]["lon"],
        "amenities": list(reversed(b["amenities"])),
        "opening_hours": b["opening_hours"],
        "listed": True,
        "org": drill.ORG,
        **changes,
    }
    return tuple(values.values())


def test_audit_finds_lost_wrong_and_duplicated_sites():
    a, b, c, d = write("k-a", 1), write("k-b", 2), write("k-c", 3), write("k-d", None)
    rows = [
        row(a),
        row(b, lat=30.001),  # stored elsewhere than sent
        row(d, site_id=4),  # stored, never acknowledged: allowed
        row(d, site_id=5, external_id="k-d2"),  # the same request stored twice
    ]
    keys = {"k-a": 1, "k-b": 2, "k-d": 4}
    result = drill.audit(rows, keys, [a, b, c, d])
    assert result["acknowledged"] == 3
    assert result["lost"] == 1 and result["wrong"] == 1
    assert result["duplicates"] == 1
    assert set(result["examples"]) == {"k-b", "k-c"}
    clean = drill.audit([row(a)], {"k-a": 1}, [a])
    assert (clean["lost"], clean["wrong"], clean["duplicates"]) == (0, 0, 0)
    assert drill.audit([row(a)], {"k-a": 9}, [a])["wrong"] == 1  # key points elsewhere


def test_quick_drill_proves_no_lost_or_duplicate_writes(tmp_path):
    figures_path = tmp_path / "drill.json"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(figures_path)],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    figures = json.loads(figures_path.read_text())
    assert figures["failed_checks"] == []
    db = figures["database"]
    assert db["acknowledged"] > 0
    assert (db["lost"], db["wrong"], db["duplicates"]) == (0, 0, 0)
    assert db["sites_in_database"] == db["acknowledged"]
    assert figures["worker_boots"][0] == figures["worker_boots"][1]
    modes = [s["mode"] for s in figures["scenarios"]]
    assert modes == ["fast", "immediate"]
    for s in figures["scenarios"]:
        assert s["bad_answers"] == {}
        assert set(s["status_counts"]) <= {"200", "201", "204", "503"}  # 204: an empty tile
        assert s["creates_unacknowledged_after_settling"] == 0
        assert s["recovered_before_end"]
    # the restarts were felt: the service answered 503 problem+json while PostgreSQL was away
    assert sum(s["failures"].get("503", 0) for s in figures["scenarios"]) > 0
    # and everything it started is gone
    found = re.search(r"cluster on 127\.0\.0\.1:(\d+) in (\S+)", run.stdout)
    assert found, run.stdout
    assert not Path(found[2]).exists()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(found[1])), 2):
        pass
