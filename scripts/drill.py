"""Fault drill: restart PostgreSQL under load; prove no acknowledged write is lost.

    make drill                  # restart -m fast, then -m immediate (crash recovery), 40 s each
    make drill QUICK=1          # the CI form (tests/ops/test_drill.py): 2 x 15 s of load
    .venv/bin/python scripts/drill.py --help

It creates its OWN PostgreSQL 15 cluster in a temporary directory on a free 127.0.0.1 port
(initdb as the `postgres` OS user when run as root; the shared server is never touched),
creates the database and extensions as scripts/ensure_db.py does, runs `yizhan db upgrade`,
`seed`, `hours refresh`, creates an editor token and starts `yizhan serve` on 127.0.0.1.
Then, per scenario, 8 client threads send mixed reads (nearby, by id, bbox, vector tiles, the
change feed) and creates (`POST /v1/sites`, each with its own Idempotency-Key, retried with
the same key until acknowledged), and PostgreSQL is restarted in the middle. It prints and
checks:

- acknowledged creates (201 with an id) lost or wrong in the database: must be 0;
- duplicates (more than one site per Idempotency-Key / external_id): must be 0;
- every failed answer is a 503 application/problem+json with Retry-After (no 500, no HTML, no
  reset connection or timeout), and no gunicorn worker died;
- the outage length and the recovery time: from the restart until 99% of the requests in
  every later 1 s sliding window succeed (goal: at most 5 s; after `-m immediate`, counted
  from when PostgreSQL accepts connections again, as its crash recovery is not ours).

It exits 1 when a check fails. Traffic goes to 127.0.0.1 only, each scenario lasts DURATION
seconds and the whole run is capped; the server and the cluster are stopped and the temporary
directory removed at the end, also on failure or Ctrl-C.
"""

import argparse
import http.client
import json
import math
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import localcluster  # noqa: E402
from ensure_db import EXTENSIONS  # noqa: E402
from localcluster import free_port  # noqa: E402

YIZHAN = Path(sys.executable).parent / "yizhan"
ORG = "zj.zs"
DBNAME = "yizhan_drill"
CITIES = [(30.2741, 120.1551), (29.8683, 121.5440), (30.0176, 122.1069), (27.9943, 120.6994)]
WINDOW_S, STEP_S, GOAL_RATIO, GOAL_RECOVERY_S = 1.0, 0.1, 0.99, 5.0
REQUEST_TIMEOUT_S = 10


@dataclass
class Outcome:
    op: str
    start: float
    end: float
    status: int | None  # None: no HTTP answer (reset, refused, timeout)
    verdict: str  # "ok", "503" (a proper problem+json), or what was wrong


@dataclass
class Write:
    key: str
    body: dict
    site_id: int | None = None


@dataclass
class Scenario:
    mode: str
    outcomes: list[Outcome] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    restart_at: float = 0.0
    restart_done: float = 0.0
    acked_in_load: int = 0
    load_end: float = 0.0
    pg_log: list[str] = field(default_factory=list)


class Cluster(localcluster.Cluster):
    """The drill's private PostgreSQL 15 cluster (scripts/localcluster.py), its database
    yizhan_drill; `settings` (NAME=VALUE lines from --pg-setting) go last in its conf."""

    def __init__(self, root: Path, settings: list[str]) -> None:
        super().__init__(root, dbname=DBNAME)
        self.settings = settings

    def create(self) -> None:
        self.initdb(max_connections=150, log_line_prefix="%m ")
        self.configure(*self.settings)
        self.start()

    def restart_log(self, offset: int) -> list[str]:
        """PostgreSQL's own account of a restart: shutdown, recovery, ready."""
        with open(self.log, errors="replace") as log:
            log.seek(offset)
            lines = log.read().splitlines()
        noise = ("FATAL", "listening on", "starting PostgreSQL", "background worker", "DETAIL")
        return [line for line in lines if not any(n in line for n in noise)][:20]

    def checkpoint(self) -> None:
        """As a long-running server would have done lately: crash recovery then replays only
        the drill's own WAL, and its initial fsync of the data directory finds little to do."""
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute("CHECKPOINT")

    def stop(self) -> None:
        super().stop(modes=("immediate",), wait=60)  # it is thrown away: no checkpoint


class Server:
    """`yizhan serve` on 127.0.0.1 against the drill cluster."""

    def __init__(self, root: Path, env: dict) -> None:
        self.port, self.env, self.log = free_port(), env, root / "gunicorn.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [YIZHAN, "serve", "--bind", "127.0.0.1", "--port", str(self.port)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see {self.log}")
            try:
                if http_call(self.port, "GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not become ready within 60 s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # gunicorn's master: a graceful stop of its workers
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def worker_boots(self) -> int:
        return self.log.read_text(errors="replace").count("Booting worker")


def http_call(port: int, method: str, path: str, body: dict | None = None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        payload = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json", **(headers or {})} if payload else headers
        conn.request(method, path, body=payload, headers=hdrs or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def tile(lat: float, lon: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


def judge(status: int, headers, raw: bytes) -> str:
    """'ok' for 2xx, '503' for a proper outage answer, else what is wrong with the answer."""
    if 200 <= status < 300:
        return "ok"
    media = (headers.get("Content-Type") or "").split(";")[0].strip()
    if status != 503:
        return f"{status} {media}"
    if media != "application/problem+json":
        return f"503 {media or 'without a media type'}"
    if not (headers.get("Retry-After") or "").isdigit():
        return "503 without Retry-After"
    try:
        if json.loads(raw)["status"] != 503:
            return "503 problem with a wrong status"
    except (ValueError, KeyError, TypeError):
        return "503 with a malformed problem body"
    return "503"


class Load:
    """CLIENTS threads of mixed reads and idempotent creates until `deadline`."""

    def __init__(self, port: int, token: str, ids: list[int], scenario: Scenario, clients: int):
        self.port, self.token, self.ids, self.sc = port, token, ids, scenario
        self.clients = clients
        self.stop = threading.Event()

    def call(self, op: str, method: str, path: str, body=None, headers=None):
        start = time.monotonic()
        try:
            status, hdrs, raw = http_call(self.port, method, path, body, headers)
            verdict = judge(status, hdrs, raw)
        except (OSError, http.client.HTTPException) as exc:
            status, raw, verdict = None, b"", f"no answer: {exc.__class__.__name__}"
        self.sc.outcomes.append(Outcome(op, start, time.monotonic(), status, verdict))
        return status, raw, verdict

    def create(self, write: Write) -> bool:
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": write.key}
        status, raw, verdict = self.call("create", "POST", "/v1/sites", write.body, headers)
        if verdict == "ok":
            site = json.loads(raw)
            if status != 201 or site.get("external_id") != write.key:
                self.sc.outcomes[-1].verdict = f"{status} acknowledged the wrong site"
                return False
            write.site_id = site["id"]
            self.ids.append(site["id"])
            return True
        return False

    def client(self, n: int, deadline: float) -> None:
        rng = random.Random(f"{self.sc.mode}-{n}")
        pending: Write | None = None
        count = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            lat, lon = rng.choice(CITIES)
            lat, lon = round(lat + rng.gauss(0, 0.05), 6), round(lon + rng.gauss(0, 0.05), 6)
            if pending is None and rng.random() < 0.25:
                count += 1
                key = f"drill-{self.sc.mode}-{n}-{count}"
                body = {
                    "kind": "station",
                    "name": f"演练驿站 {key}",
                    "external_id": key,
                    "location": {"lat": lat, "lon": lon},
                    "amenities": rng.sample(["microwave", "wifi", "water_dispenser"], 2),
                    "opening_hours": "Mo-Su 08:00-20:00",
                }
                pending = Write(key, body)
                self.sc.writes.append(pending)
            if pending is not None:  # the same key again until it is acknowledged
                ok = self.create(pending)
                pending = None if ok else pending
            else:
                op = rng.choice(("nearby", "nearby", "by_id", "bbox", "tile", "changes"))
                if op == "nearby":
                    path = f"/v1/sites/nearby?lat={lat}&lon={lon}&radius=20000&limit=10"
                    path += "&open_now=true" if rng.random() < 0.5 else ""
                elif op == "by_id":
                    path = f"/v1/sites/{rng.choice(self.ids)}"
                elif op == "bbox":
                    box = f"{lon - 0.1},{lat - 0.1},{lon + 0.1},{lat + 0.1}"
                    path = f"/v1/sites?bbox={box}&limit=50"
                elif op == "tile":
                    path = "/v1/tiles/{}/{}/{}.mvt".format(*tile(lat, lon, rng.choice((9, 13))))
                else:
                    path = "/v1/changes?limit=20"
                ok = self.call(op, "GET", path)[2] == "ok"
            if not ok:
                time.sleep(0.05)  # a retrying client, not a busy loop

    def run(self, seconds: float, restart_after: float, cluster: Cluster) -> None:
        deadline = time.monotonic() + seconds
        self.sc.load_end = deadline
        threads = [
            threading.Thread(target=self.client, args=(n, deadline), daemon=True)
            for n in range(self.clients)
        ]
        for t in threads:
            t.start()
        try:
            time.sleep(restart_after)
            self.sc.restart_at = time.monotonic()
            log_offset = cluster.log.stat().st_size
            cluster.pg_ctl("restart", "-m", self.sc.mode)
            self.sc.restart_done = time.monotonic()
            self.sc.pg_log = cluster.restart_log(log_offset)
            for t in threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT_S + 5)
        finally:
            self.stop.set()

    def settle(self, seconds: float) -> None:
        """Retry the creates not acknowledged during the load, with the same keys."""
        self.sc.acked_in_load = sum(w.site_id is not None for w in self.sc.writes)
        deadline = time.monotonic() + seconds
        for write in self.sc.writes:
            while write.site_id is None and time.monotonic() < deadline:
                if not self.create(write):
                    time.sleep(0.2)


def recovered_at(sc: Scenario) -> float:
    """When every later 1 s window (by completion time) has >= 99% successes."""
    ends = sorted((o.end, o.verdict == "ok") for o in sc.outcomes)
    last_bad = None
    t = sc.restart_at
    stop = ends[-1][0] if ends else t
    lo = 0
    while t <= stop + STEP_S:
        window = [ok for end, ok in ends[lo:] if t - WINDOW_S < end <= t]
        if window and sum(window) / len(window) < GOAL_RATIO:
            last_bad = t
        while lo < len(ends) and ends[lo][0] <= t - WINDOW_S:
            lo += 1
        t += STEP_S
    return sc.restart_at if last_bad is None else last_bad + STEP_S


def summarise(sc: Scenario) -> dict:
    failed = [o for o in sc.outcomes if o.verdict != "ok"]
    span = (max(o.end for o in failed) - min(o.start for o in failed)) if failed else 0.0
    back = recovered_at(sc)
    outage = [o for o in sc.outcomes if sc.restart_at <= o.end <= back]
    return {
        "mode": sc.mode,
        "requests": len(sc.outcomes),
        "ok": sum(o.verdict == "ok" for o in sc.outcomes),
        "status_counts": dict(Counter(str(o.status) for o in sc.outcomes)),
        "failures": dict(Counter(o.verdict for o in failed)),
        "bad_answers": dict(Counter(o.verdict for o in failed if o.verdict != "503")),
        "outage_status_counts": dict(Counter(str(o.status) for o in outage)),
        "creates_attempted": len(sc.writes),
        "creates_acknowledged_during_load": sc.acked_in_load,
        "creates_unacknowledged_after_settling": sum(w.site_id is None for w in sc.writes),
        "pg_restart_s": round(sc.restart_done - sc.restart_at, 2),
        "failure_span_s": round(span, 2),
        "postgres_log": sc.pg_log,
        "recovery_s": round(back - sc.restart_at, 2),
        "recovery_after_db_s": round(max(0.0, back - sc.restart_done), 2),
        # a recovery needs a full window of load after it to be seen
        "recovered_before_end": back <= sc.load_end - WINDOW_S,
    }


def verify_database(url: str, writes: list[Write]) -> dict:
    """Every acknowledged create is in the database as sent; one site per key."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT s.id, s.external_id, s.name, s.kind, ST_Y(s.geom), ST_X(s.geom), "
            "s.amenities, s.opening_hours, s.deleted_at IS NULL, o.code "
            "FROM sites s JOIN orgs o ON o.id = s.org_id WHERE s.external_id LIKE 'drill-%'"
        )
        rows = cur.fetchall()
        cur.execute("SELECT key, site_id FROM idempotency_keys WHERE key LIKE 'drill-%'")
        keys = dict(cur.fetchall())
    conn.close()
    return audit(rows, keys, writes)


def audit(rows: list[tuple], keys: dict, writes: list[Write]) -> dict:
    """Compare the drill's sites (rows as verify_database selects them) with what was sent."""
    by_id = {r[0]: r for r in rows}
    lost, wrong = [], []
    for w in writes:
        if w.site_id is None:
            continue
        row = by_id.get(w.site_id)
        if row is None:
            lost.append(w.key)
            continue
        b = w.body
        expected = (w.key, b["name"], b["kind"], sorted(b["amenities"]), b["opening_hours"], True)
        actual = (row[1], row[2], row[3], sorted(row[6]), row[7], row[8])
        lat, lon = b["location"]["lat"], b["location"]["lon"]
        near = abs(row[4] - lat) < 1e-7 and abs(row[5] - lon) < 1e-7
        if actual != expected or not near or row[9] != ORG or keys.get(w.key) != w.site_id:
            wrong.append(w.key)
    acked = {w.key for w in writes if w.site_id is not None}
    # external_id is unique per org, names are not: count both
    per_key, per_name = Counter(r[1] for r in rows), Counter(r[2] for r in rows)
    return {
        "acknowledged": len(acked),
        "sites_in_database": len(rows),
        "lost": len(lost),
        "wrong": len(wrong),
        "duplicates": sum(n - 1 for n in per_key.values()) + sum(n - 1 for n in per_name.values()),
        "unacknowledged_but_stored": len({r[1] for r in rows} - acked),
        "examples": (lost + wrong)[:5],
    }


def prepare(cluster: Cluster, env: dict) -> str:
    """Database, extensions, schema, demo data, hours, and an editor token."""
    with cluster.connect("postgres") as admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DBNAME} ENCODING 'UTF8' TEMPLATE template0")
    with cluster.connect() as conn, conn.cursor() as cur:
        for ext in EXTENSIONS:
            cur.execute(f'CREATE EXTENSION IF NOT EXISTS "{ext}"')
    for args in (["db", "upgrade"], ["seed"], ["hours", "refresh"]):
        subprocess.run([YIZHAN, *args], env=env, check=True, timeout=300, capture_output=True)
    token = subprocess.run(
        [YIZHAN, "tokens", "create", "--org", ORG, "--role", "editor", "--user", "drill"],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    return token.stdout.strip().splitlines()[-1]


def seed_ids(port: int) -> list[int]:
    status, _, raw = http_call(port, "GET", "/v1/sites?limit=1000")
    assert status == 200, status
    return [item["id"] for item in json.loads(raw)["items"]]


def report(results: list[dict], db: dict, boots: tuple[int, int], elapsed: float) -> list[str]:
    """Print the figures; return the failed checks."""
    failures = []
    for r in results:
        print(
            f"\n[{r['mode']}] {r['requests']} requests, {r['ok']} ok; statuses {r['status_counts']}"
        )
        print(
            f"  failures: {r['failures'] or 'none'}; answers from the restart to recovery: "
            f"{r['outage_status_counts']}"
        )
        print(
            f"  pg_ctl restart -m {r['mode']}: {r['pg_restart_s']} s; failed requests spanned "
            f"{r['failure_span_s']} s; >= 99% success in every later 1 s window "
            f"{r['recovery_s']} s after the restart began, {r['recovery_after_db_s']} s after "
            f"PostgreSQL accepted connections again (goal <= {GOAL_RECOVERY_S:g} s)"
        )
        print(
            f"  creates: {r['creates_attempted']} keys, "
            f"{r['creates_acknowledged_during_load']} acknowledged during the load, "
            f"{r['creates_unacknowledged_after_settling']} still unacknowledged after retrying"
        )
        print(
            "  PostgreSQL log of the restart:\n" + "\n".join(f"    {x}" for x in r["postgres_log"])
        )
        if r["bad_answers"]:
            failures.append(f"{r['mode']}: answers other than 2xx or 503 problem+json")
        # A planned restart must be over within the goal; after a crash, PostgreSQL's own
        # recovery time is not the service's to control, only how fast it follows.
        recovery = r["recovery_after_db_s"] if r["mode"] == "immediate" else r["recovery_s"]
        if not r["recovered_before_end"]:
            failures.append(f"{r['mode']}: not recovered while the load lasted")
        if recovery > GOAL_RECOVERY_S:
            failures.append(f"{r['mode']}: recovery {recovery} s > {GOAL_RECOVERY_S:g} s")
        if r["creates_unacknowledged_after_settling"]:
            failures.append(f"{r['mode']}: creates never acknowledged")
    print(
        f"\ndatabase: {db['acknowledged']} acknowledged creates, {db['sites_in_database']} drill "
        f"sites; lost {db['lost']}, wrong {db['wrong']}, duplicates {db['duplicates']}, "
        f"stored before their acknowledgement {db['unacknowledged_but_stored']}"
    )
    print(f"gunicorn workers booted: {boots[1]} (at start: {boots[0]}); drill took {elapsed:.0f} s")
    if db["lost"] or db["wrong"]:
        failures.append(f"acknowledged creates lost or wrong: {db['examples']}")
    if db["duplicates"]:
        failures.append("duplicate sites")
    if boots[1] != boots[0]:
        failures.append("gunicorn workers died and were replaced")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI form: 2 x 15 s")
    parser.add_argument("--duration", type=float, default=None, help="seconds per scenario")
    parser.add_argument("--restart-after", type=float, default=None, help="seconds into each")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--modes", default="fast,immediate", help="pg_ctl -m per scenario")
    parser.add_argument("--json", dest="json_path", help="also write the figures here")
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="add to the drill cluster's postgresql.conf (repeatable)",
    )
    args = parser.parse_args()
    duration = args.duration or (15.0 if args.quick else 40.0)
    restart_after = args.restart_after or (3.0 if args.quick else 15.0)
    modes = [m for m in args.modes.split(",") if m]
    if not set(modes) <= {"fast", "immediate", "smart"} or not 0 < restart_after < duration:
        parser.error("modes are fast, immediate or smart; restart-after must fall inside")
    clients = max(1, min(args.clients, 64))

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: `&` jobs start ignoring it
        signal.signal(signum, interrupted)
    signal.signal(signal.SIGALRM, interrupted)
    signal.alarm(int(len(modes) * (duration + 60) + 300))  # a hard cap on the whole run

    began = time.monotonic()

    def step(what: str) -> None:
        print(f"drill: {time.monotonic() - began:5.1f} s  {what}", flush=True)

    root = localcluster.temp_root("yizhan-drill-")
    cluster, server = Cluster(root, args.pg_setting), None
    try:
        print(
            f"drill: {platform.node()}, {os.cpu_count()} cores, "
            f"{datetime.now().astimezone().isoformat(timespec='seconds')}; {clients} clients, "
            f"{duration:g} s per scenario, restart after {restart_after:g} s",
            flush=True,
        )
        cluster.create()
        step(f"PostgreSQL 15 cluster on 127.0.0.1:{cluster.port} in {root}")
        env = {**os.environ, "DATABASE_URL": cluster.url(), "ANON_PER_MINUTE": "0"}
        env.pop("REDIS_URL", None)
        env.pop("DATABASE_REPLICA_URL", None)
        token = prepare(cluster, env)
        step("database migrated and seeded, hours refreshed, editor token created")
        server = Server(root, env)
        server.start()
        ids = seed_ids(server.port)
        boots_at_start = server.worker_boots()
        step(f"yizhan serve ready on 127.0.0.1:{server.port}")
        results, writes = [], []
        for mode in modes:
            cluster.checkpoint()
            sc = Scenario(mode)
            load = Load(server.port, token, ids, sc, clients)
            load.run(duration, restart_after, cluster)
            load.settle(15)
            results.append(summarise(sc))
            writes.extend(sc.writes)
            step(f"scenario {mode} done")
        db = verify_database(cluster.url(), writes)
        boots = (boots_at_start, server.worker_boots())
        failures = report(results, db, boots, time.monotonic() - began)
        if args.json_path:
            figures = {"scenarios": results, "database": db, "worker_boots": boots}
            figures["failed_checks"] = failures
            Path(args.json_path).write_text(json.dumps(figures, indent=1))
        if failures:
            print("\nFAILED: " + "; ".join(failures))
            lines = server.log.read_text(errors="replace").splitlines()
            logged = [line for line in lines if not line.startswith("127.0.0.1 - ")]
            print("server log (without the access log), last lines:\n" + "\n".join(logged[-60:]))
            return 1
        print("\nall checks passed")
        return 0
    finally:
        signal.alarm(0)
        try:
            if server is not None:
                server.stop()
        finally:
            try:
                cluster.stop()
            finally:
                shutil.rmtree(root, ignore_errors=True)
        step("server and cluster stopped, temporary directory removed")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as exc:
        print(f"drill: stopped ({exc or 'interrupted'}); nothing is left running")
        sys.exit(130)
