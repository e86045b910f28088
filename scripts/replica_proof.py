"""Prove Yizhan's read/write routing on a real PostgreSQL 15 streaming replica, on loopback.

It builds a throwaway primary (initdb as the `postgres` OS user in a temporary directory, a free
port, wal_level=replica), creates the database and extensions as scripts/ensure_db.py does, runs
`yizhan db upgrade`, `yizhan seed` and `yizhan hours refresh`, clones it with
`pg_basebackup -R` into a hot standby on a second port and waits until it streams. Then two app
instances (`yizhan serve --workers 2`, DATABASE_URL = primary, DATABASE_REPLICA_URL = standby)
are driven alternately over HTTP to show that

  (a) public reads are served by the standby: with replay paused, a site created through one
      instance is on the primary but invisible to public reads through both instances until
      replay resumes (the delay is measured), and the standby's transaction counters move
      with the reads while the primary's do not;
  (b) writes go to the primary (the standby refuses them);
  (c) what must read the primary does: the change feed, admin reads after a write (a site's
      ETag and history, org list, rider reports), token checks.

It prints a report, exits 1 if any proof fails, and always stops every process it started and
removes its directories. Run as root (it uses `runuser -u postgres`) or as `postgres`:

    .venv/bin/python scripts/replica_proof.py [--timeout 150] [--json FILE]
"""

import argparse
import json
import os
import pwd
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from psycopg2 import errors

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from localcluster import PG_BIN, Cluster, as_postgres, free_port, temp_root  # noqa: E402

BIN = Path(sys.executable).parent
# A point in Dinghai, Zhoushan, where the demo data has stations nearby.
SITE_LAT, SITE_LON = 30.0125, 122.1102
PUBLIC_READS = 120  # requests in the counter proof
MIN_STANDBY = PUBLIC_READS * 3 // 4  # transactions they must cause on the standby, at least


class Failed(Exception):
    """A step the proof cannot continue without."""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    measurements: dict = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, bool(ok), detail))
        log(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
        return bool(ok)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise Failed("time is up (--timeout)")
        return left


def log(message: str) -> None:
    print(f"[replica-proof {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args: list, deadline: Deadline, env: dict | None = None, cwd=ROOT, what=None) -> str:
    """Run a command to completion (bounded by the deadline); its stdout, or Failed."""
    what = what or " ".join(str(a) for a in args[:4])
    try:
        done = subprocess.run(
            [str(a) for a in args],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=min(deadline.left(), 120),
        )
    except subprocess.TimeoutExpired:
        raise Failed(f"{what}: did not finish in time (--timeout)") from None
    if done.returncode != 0:
        raise Failed(f"{what}: exit {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def one(conn, query: str, params=()):
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchone()


class Http:
    """JSON over HTTP to one app instance, never through a proxy."""

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __init__(self, name: str, port: int) -> None:
        self.name, self.base = name, f"http://127.0.0.1:{port}"

    def __call__(self, method: str, path: str, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        sent = {"Content-Type": "application/json"} if data is not None else {}
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={**sent, **(headers or {})}
        )
        try:
            with self.opener.open(request, timeout=10) as response:
                status, hdrs, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            status, hdrs, raw = exc.code, exc.headers, exc.read()
        doc = json.loads(raw) if raw and "json" in hdrs.get("Content-Type", "") else None
        return status, hdrs, doc


class AppInstance:
    def __init__(self, name: str, env: dict, tmp: Path) -> None:
        self.port = free_port()
        self.http = Http(name, self.port)
        self.logfile = open(tmp / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [BIN / "yizhan", "serve", "--bind", "127.0.0.1", "--port", str(self.port)]
            + ["--workers", "2"],
            env=env,
            cwd=ROOT,
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn and its workers
        )

    def wait_ready(self, deadline: Deadline) -> None:
        while True:
            if self.process.poll() is not None:
                raise Failed(f"{self.http.name} exited with {self.process.returncode}")
            try:
                if self.http("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            deadline.left()
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.logfile.close()


def counters(conn) -> tuple[int, int]:
    """(transactions, tuples read) of the yizhan database on one server."""
    return one(
        conn,
        "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched "
        "FROM pg_stat_database WHERE datname = 'yizhan'",
    )


def app_connections(conn) -> int:
    return one(
        conn,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = 'yizhan' AND datname = 'yizhan'",
    )[0]


def start(cluster: Cluster, deadline: Deadline) -> None:
    """pg_ctl start, within what is left of the deadline."""
    cluster.start(wait=30, timeout=min(deadline.left(), 120))


def build_primary(primary: Cluster, deadline: Deadline) -> None:
    """initdb, replication settings, start; the database and extensions as ensure_db.py does."""
    log(f"initdb primary on port {primary.port}")
    primary.initdb(
        "--no-sync",
        timeout=min(deadline.left(), 120),
        wal_level="replica",
        max_wal_senders=4,
        hot_standby="on",
        max_connections=60,
        shared_buffers="64MB",
        fsync="off",  # a throwaway cluster: durability is not what this proves
    )
    hba = primary.data / "pg_hba.conf"
    hba.write_text(hba.read_text() + "\nhost replication all 127.0.0.1/32 trust\n")
    start(primary, deadline)


# `yizhan` commands (and scripts/ensure_db.py) one after another in one Python process: the
# installed command's own code, without paying its imports (seconds on a busy machine) each time.
SEQUENCE = """
import json, runpy, sys
from service.ops.cli import main
for args in json.loads(sys.argv[1]):
    print("[replica-proof]", *args, file=sys.stderr, flush=True)
    if args == ["ensure_db"]:
        if runpy.run_path(sys.argv[2])["main"]():
            sys.exit(1)
    else:
        main.main(args, prog_name="yizhan", standalone_mode=False)
"""


def yizhan(env: dict, deadline: Deadline, *commands: list[str]) -> str:
    ensure_db = ROOT / "scripts" / "ensure_db.py"
    what = "; ".join(" ".join(c) for c in commands)
    return run(
        [sys.executable, "-c", SEQUENCE, json.dumps(commands), ensure_db], deadline, env, what=what
    )


def load_primary(primary: Cluster, deadline: Deadline) -> None:
    """The database and extensions as `make db` makes them, the schema and the demo data."""
    commands = [["ensure_db"], ["db", "upgrade"], ["seed"], ["hours", "refresh"]]
    yizhan(app_env(primary.url()), deadline, *commands)


def build_standby(primary: Cluster, standby: Cluster, deadline: Deadline, report: Report) -> None:
    """pg_basebackup -R from the primary, start as a hot standby, wait until it streams."""
    log(f"pg_basebackup -R into the standby (port {standby.port})")
    run(
        as_postgres(
            [PG_BIN / "pg_basebackup", "-D", standby.data, "-R", "-X", "stream"]
            + ["-c", "fast", "--no-sync", "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres"]
        ),
        deadline,
        cwd=standby.root,
    )
    standby.configure(port=standby.port, cluster_name="yizhan_standby")
    start(standby, deadline)

    with primary.connect("postgres") as conn:
        while True:
            row = one(conn, "SELECT state, application_name FROM pg_stat_replication")
            if row and row[0] == "streaming":
                break
            deadline.left()
            time.sleep(0.05)
    with standby.connect() as s, primary.connect() as p:
        recovery = (
            one(p, "SELECT pg_is_in_recovery()")[0],
            one(s, "SELECT pg_is_in_recovery()")[0],
        )
    report.check(
        "standby streams from the primary",
        recovery == (False, True),
        f"pg_stat_replication: {row[1]} {row[0]}; pg_is_in_recovery primary={recovery[0]}, "
        f"standby={recovery[1]}",
    )


def app_env(database_url: str, replica_url: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_REPLICA_URL")}
    env.update(DATABASE_URL=database_url, ANON_PER_MINUTE="0", DB_POOL_SIZE="2")
    if replica_url:
        env["DATABASE_REPLICA_URL"] = replica_url
    return env


def make_tokens(env: dict, deadline: Deadline, *roles: str) -> dict[str, dict]:
    """Authorization headers from `yizhan tokens create` (on the primary), one per role."""
    out = yizhan(
        env,
        deadline,
        *[
            ["tokens", "create", "--org", "zj.zs.dh", "--role", r, "--user", f"proof-{r}"]
            for r in roles
        ],
    )
    made = [line for line in out.splitlines() if line.startswith("yz_")]
    if len(made) != len(roles):
        raise Failed(f"yizhan tokens create printed {out!r}")
    return {role: {"Authorization": f"Bearer {t}"} for role, t in zip(roles, made, strict=True)}


def prove_public_reads_counted(apps, primary, standby, deadline, report) -> None:
    """(a) The standby's counters move with public reads; the primary's stay still."""
    a, b = apps
    status, _, page = a(
        "GET",
        f"/v1/sites?bbox={SITE_LON - 0.1},{SITE_LAT - 0.1},"
        f"{SITE_LON + 0.1},{SITE_LAT + 0.1}&limit=5",
    )
    if status != 200 or not page["items"]:
        raise Failed(f"no demo sites near the test point ({status})")
    known = page["items"][0]["id"]
    paths = [
        f"/v1/sites/nearby?lat={SITE_LAT}&lon={SITE_LON}&limit=5",
        f"/v1/sites/{known}",
        "/v1/sites?bbox=122,29.9,122.3,30.1&limit=20",
        f"/v1/sites/nearby?lat={SITE_LAT}&lon={SITE_LON}&open_now=true&amenities=wifi",
        "/v1/tiles/14/13749/6759.mvt",
        f"/v1/sites/{known}/hours",
    ]
    with primary.connect() as p, standby.connect() as s:
        before = counters(p), counters(s)
        bad = []
        for i in range(PUBLIC_READS):
            status = (a, b)[i % 2]("GET", paths[i % len(paths)])[0]
            if status not in (200, 204):
                bad.append(status)
        # A read is one autocommit statement (a transaction) on the standby, or none when a
        # per-process cache answers it (amenity statistics, the hours horizon). Backends report
        # to pg_stat_database when idle, but at most once a second: a backend that flushed less
        # than a second ago waits PGSTAT_IDLE_INTERVAL (10 s) before it reports again. So wait
        # up to 15 s. Each poll of the standby is itself a transaction there, and is subtracted;
        # the primary is read once, at the end, so that polling it adds nothing.
        waited = time.monotonic()
        polls = 0
        while True:
            standby_now = counters(s)
            polls += 1
            elapsed = time.monotonic() - waited
            if (standby_now[0] - before[1][0] - polls >= MIN_STANDBY and elapsed > 1.5) or (
                elapsed > 15
            ):
                break
            deadline.left()
            time.sleep(0.5)
        after = counters(p), standby_now
        conns = app_connections(p), app_connections(s)
    dp = (after[0][0] - before[0][0], after[0][1] - before[0][1])
    ds = (after[1][0] - before[1][0] - polls, after[1][1] - before[1][1])
    report.measurements["public_reads"] = {
        "requests": PUBLIC_READS,
        "primary_transactions": dp[0],
        "primary_tuples_read": dp[1],
        "standby_transactions": ds[0],
        "standby_tuples_read": ds[1],
        "app_connections_primary": conns[0],
        "app_connections_standby": conns[1],
        "counter_wait_s": round(elapsed, 1),
        "standby_polls": polls,
    }
    report.check(
        "(a) public reads run on the standby (pg_stat_database)",
        not bad and ds[0] >= MIN_STANDBY and dp[0] < PUBLIC_READS // 4,
        f"{PUBLIC_READS} reads alternating over both instances: standby +{ds[0]} transactions, "
        f"+{ds[1]} tuples read; primary +{dp[0]} transactions, +{dp[1]} tuples; "
        f"non-2xx: {bad or 'none'}",
    )
    report.check(
        "(a) app connections: the standby only, before any write",
        conns[1] > 0 and conns[0] == 0,
        f"pg_stat_activity application_name=yizhan: standby {conns[1]}, primary {conns[0]}",
    )


def visible(app, site_id: int) -> tuple[int, str | None]:
    status, hdrs, _ = app("GET", f"/v1/sites/{site_id}")
    return status, hdrs.get("ETag")


def in_nearby(app, site_id: int) -> bool:
    status, _, page = app("GET", f"/v1/sites/nearby?lat={SITE_LAT}&lon={SITE_LON}&radius=300")
    if status != 200:
        raise Failed(f"nearby answered {status}")
    return any(item["id"] == site_id for item in page["items"])


def prove_lagging_standby(apps, env, tokens, primary, standby, deadline, report) -> None:
    """(a), (b), (c) with replay paused on the standby, then the lag once it resumes."""
    a, b = apps
    editor, admin = tokens["editor"], tokens["admin"]
    status, _, feed = b("GET", "/v1/changes?limit=1")
    if status != 200:
        raise Failed(f"GET /v1/changes answered {status}")
    cursor = feed["next_cursor"]

    with standby.connect() as s, primary.connect() as p:
        one(s, "SELECT pg_wal_replay_pause()")
        while one(s, "SELECT pg_get_wal_replay_pause_state()")[0] != "paused":
            deadline.left()
            time.sleep(0.02)
        log("replay paused on the standby")
        tag = uuid.uuid4().hex[:8]
        body = {
            "kind": "station",
            "name": f"副本验证驿站 {tag}",
            "external_id": f"REPLICA-{tag}",
            "location": {"lat": SITE_LAT, "lon": SITE_LON},
            "opening_hours": "24/7",
            "amenities": ["wifi"],
        }
        status, hdrs, site = a("POST", "/v1/sites", body, editor)
        if status != 201:
            raise Failed(f"POST /v1/sites through {a.name} answered {status}: {site}")
        site_id, etag = site["id"], hdrs["ETag"]
        on_primary = one(p, "SELECT version FROM sites WHERE id = %s", (site_id,))
        on_standby = one(s, "SELECT version FROM sites WHERE id = %s", (site_id,))
        report.check(
            "(b) the write went to the primary",
            on_primary == (1,) and on_standby is None,
            f"POST /v1/sites via {a.name}: 201, site {site_id}; primary has version "
            f"{on_primary and on_primary[0]}, paused standby has {on_standby}",
        )
        try:
            one(s, "INSERT INTO orgs (code, name) VALUES ('zj.zs.dh.rp', 'x')")
            refused = "accepted"
        except errors.ReadOnlySqlTransaction as exc:
            refused = str(exc).strip()
        report.check(
            "(b) the standby refuses writes",
            refused.startswith("cannot execute INSERT in a read-only transaction"),
            refused,
        )

        seen = []
        for app in (a, b, a, b):
            seen.append((app.name, visible(app, site_id)[0], in_nearby(app, site_id)))
        report.check(
            "(a) public reads do not see the site while replay is paused",
            all(status == 404 and not near for _, status, near in seen),
            "GET /v1/sites/{id} and nearby per instance: "
            + ", ".join(f"{n} {st}/{'listed' if near else 'not listed'}" for n, st, near in seen),
        )

        # (c) What must read the primary does, while the standby still lags.
        admin_get = [(app.name, *visible_as(app, site_id, editor)) for app in (a, b)]
        report.check(
            "(c) admin GET of the site reads the primary (current ETag)",
            all(st == 200 and tag_ == etag for _, st, tag_ in admin_get),
            f"with a bearer token: {admin_get}, POST gave {etag}",
        )
        status, hdrs, _ = b(
            "PATCH", f"/v1/sites/{site_id}", {"star_rating": 4}, {**editor, "If-Match": etag}
        )
        patched = hdrs.get("ETag")
        after_patch = visible_as(a, site_id, editor)
        report.check(
            "(c) PATCH with the ETag just read, then the admin reads the new version",
            status == 200 and after_patch == (200, patched) and patched != etag,
            f"PATCH via {b.name}: {status} {patched}; GET via {a.name}: {after_patch}",
        )
        histories = [(app.name, *history(app, site_id, editor)) for app in (a, b)]
        report.check(
            "(c) admin history reads the primary",
            all(st == 200 and actions == ["create", "update"] for _, st, actions in histories),
            f"GET /v1/sites/{site_id}/history: {histories}",
        )
        feeds = []
        for app in (a, b):
            status, _, page = app("GET", f"/v1/changes?since={cursor}")
            ids = [item["id"] for item in page["items"]] if status == 200 else []
            feeds.append((app.name, status, site_id in ids))
        report.check(
            "(c) the change feed reads the primary",
            all(st == 200 and found for _, st, found in feeds),
            f"GET /v1/changes?since=<before the write> lists site {site_id}: {feeds}",
        )
        code = f"zj.zs.dh.rp{tag}"
        made = a("POST", "/v1/orgs", {"code": code, "name": "副本验证"}, admin)[0]
        status, _, orgs = b("GET", "/v1/orgs", headers=admin)
        listed = status == 200 and any(o["code"] == code for o in orgs["items"])
        report.check(
            "(c) a new org is listed at once",
            made == 201 and listed,
            f"POST /v1/orgs via {a.name}: {made}; GET /v1/orgs via {b.name}: {status}, "
            f"listed={listed}",
        )
        made = b("POST", f"/v1/sites/{site_id}/reports", {"category": "other"})[0]
        status, _, reports = a("GET", f"/v1/reports?site_id={site_id}", headers=editor)
        count = len(reports["items"]) if status == 200 else None
        report.check(
            "(c) a rider report is visible to the admin at once",
            made == 201 and count == 1,
            f"POST report via {b.name}: {made}; GET /v1/reports via {a.name}: {status}, "
            f"{count} item(s)",
        )
        # Tokens: one made and one revoked while the standby lags; both count at once.
        admin_token = one(
            p,
            "SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE u.name = 'proof-admin'",
        )[0]
        out = yizhan(
            env,
            deadline,
            ["tokens", "create", "--org", "zj.zs.dh", "--role", "viewer", "--user", "proof-viewer"],
            ["tokens", "revoke", str(admin_token)],
        )
        made = [line for line in out.splitlines() if line.startswith("yz_")]
        viewer = {"Authorization": f"Bearer {made[0]}"} if made else {}
        new = [app("GET", "/v1/orgs", headers=viewer)[0] for app in (a, b)]
        revoked = [app("GET", "/v1/orgs", headers=admin)[0] for app in (a, b)]
        standby_view = one(
            s,
            "SELECT count(*) FILTER (WHERE u.name = 'proof-viewer'), "
            "bool_or(t.id = %s AND t.revoked_at IS NULL) "
            "FROM api_tokens t JOIN users u ON u.id = t.user_id",
            (admin_token,),
        )
        report.check(
            "(c) token checks read the primary",
            new == [200, 200] and revoked == [401, 401] and standby_view == (0, True),
            f"a token created while the standby lags: GET /v1/orgs {new}; one revoked: {revoked}; "
            f"the standby has {standby_view[0]} new token(s) and the revoked one active: "
            f"{standby_view[1]}",
        )
        still = [visible(app, site_id)[0] for app in (a, b)]
        report.check(
            "(a) the standby still lags after all those writes",
            still == [404, 404],
            f"public GET /v1/sites/{site_id} via both: {still}",
        )

        one(s, "SELECT pg_wal_replay_resume()")
        resumed = time.monotonic()
        first_seen: dict[str, float] = {}
        rounds = 0
        while len(first_seen) < 2:
            app = (a, b)[rounds % 2]
            rounds += 1
            if app.name not in first_seen and visible(app, site_id) == (200, patched):
                first_seen[app.name] = (time.monotonic() - resumed) * 1000
            if time.monotonic() - resumed > 10:
                break
            deadline.left()
        listed = [in_nearby(app, site_id) for app in (a, b)]
    report.measurements["resume_to_visible_ms"] = {k: round(v, 1) for k, v in first_seen.items()}
    report.check(
        "(a) after resume the site appears through both instances",
        len(first_seen) == 2 and all(listed),
        f"first public read showing version 2, ms after pg_wal_replay_resume(): "
        f"{report.measurements['resume_to_visible_ms']}; nearby lists it: {listed}",
    )


def visible_as(app, site_id: int, headers: dict) -> tuple[int, str | None]:
    """An admin's GET: status and the ETag without its open-report suffix ("-r0")."""
    status, hdrs, _ = app("GET", f"/v1/sites/{site_id}", headers=headers)
    etag = hdrs.get("ETag")
    if etag and "-r" in etag:
        etag = etag.rsplit("-r", 1)[0] + '"'
    return status, etag


def history(app, site_id: int, headers: dict) -> tuple[int, list]:
    status, _, page = app("GET", f"/v1/sites/{site_id}/history", headers=headers)
    return status, [item["action"] for item in page["items"]] if status == 200 else []


def prove_steady_lag(apps, editor, primary, deadline, report, writes: int = 10) -> None:
    """Replication lag with replay running: a PATCH through one instance, until a public read
    through the other shows it."""
    a, b = apps
    tag = uuid.uuid4().hex[:8]
    body = {
        "kind": "station",
        "name": f"副本延迟驿站 {tag}",
        "external_id": f"LAG-{tag}",
        "location": {"lat": SITE_LAT + 0.001, "lon": SITE_LON},
        "opening_hours": "24/7",
    }
    status, hdrs, site = a("POST", "/v1/sites", body, editor)
    if status != 201:
        raise Failed(f"POST /v1/sites answered {status}")
    site_id, etag = site["id"], hdrs["ETag"]
    lags = []
    for i in range(writes):
        writer, reader = (a, b) if i % 2 else (b, a)
        status, hdrs, _ = writer(
            "PATCH",
            f"/v1/sites/{site_id}",
            {"star_rating": 1 + i % 5},
            {**editor, "If-Match": etag},
        )
        if status != 200:
            raise Failed(f"PATCH answered {status}")
        written, etag = time.monotonic(), hdrs["ETag"]
        while time.monotonic() - written < 5:
            if visible(reader, site_id) == (200, etag):
                lags.append((time.monotonic() - written) * 1000)
                break
            deadline.left()
    with primary.connect("postgres") as p:
        replay_lag = one(p, "SELECT replay_lag::text FROM pg_stat_replication")[0]
    report.measurements["write_to_public_read_ms"] = {
        "writes": writes,
        "seen": len(lags),
        "median": round(statistics.median(lags), 1) if lags else None,
        "max": round(max(lags), 1) if lags else None,
        "pg_stat_replication_replay_lag": replay_lag,
    }
    m = report.measurements["write_to_public_read_ms"]
    report.check(
        "(a) steady replication lag: a write is on the standby within 5 s",
        len(lags) == writes,
        f"{writes} PATCHes alternating instances; the other instance's public GET showed each "
        f"after median {m['median']} ms, max {m['max']} ms (includes one HTTP round trip); "
        f"pg_stat_replication.replay_lag {replay_lag}",
    )


def prove(timeout: float) -> Report:
    report, deadline = Report(), Deadline(timeout)
    started = time.monotonic()
    tmp = temp_root("yizhan-replica-")
    primary, standby = Cluster(tmp, "primary", "yizhan"), Cluster(tmp, "standby", "yizhan")
    apps: list[AppInstance] = []
    try:
        build_primary(primary, deadline)
        env = app_env(primary.url(), standby.url())
        # The apps boot (seconds of imports) while the data loads; they connect when asked.
        apps += [AppInstance(name, env, tmp) for name in ("app1", "app2")]
        load_primary(primary, deadline)
        with ThreadPoolExecutor(1) as pool:
            made = pool.submit(make_tokens, env, deadline, "editor", "admin")
            build_standby(primary, standby, deadline, report)
            tokens = made.result()
        for app in apps:
            app.wait_ready(deadline)
        log(f"app1 on :{apps[0].port}, app2 on :{apps[1].port}, both with a replica")
        clients = [app.http for app in apps]
        prove_public_reads_counted(clients, primary, standby, deadline, report)
        prove_lagging_standby(clients, env, tokens, primary, standby, deadline, report)
        prove_steady_lag(clients, tokens["editor"], primary, deadline, report)
    except Exception as exc:  # any surprise is a failed proof, reported; cleanup still runs
        report.check("the proof ran to the end", False, f"{type(exc).__name__}: {exc}")
        for app in apps:
            log(f"{app.http.name} log tail: {tail(app.logfile.name)}")
    finally:
        for app in apps:
            app.stop()
        standby.stop()
        primary.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report.measurements["seconds"] = round(time.monotonic() - started, 1)
    report.measurements["workdir"] = str(tmp)  # removed by now
    report.measurements["ports"] = [primary.port, standby.port] + [app.port for app in apps]
    return report


def tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(none)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=150, help="seconds for the whole proof")
    parser.add_argument("--json", type=Path, help="also write the report here as JSON")
    options = parser.parse_args()
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
        print(
            "replica_proof: run as root or as postgres (initdb runs as postgres)", file=sys.stderr
        )
        return 2
    if not (PG_BIN / "initdb").exists():
        print(f"replica_proof: no {PG_BIN}/initdb; set PG_BIN", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop and clean up as on failure
    report = prove(options.timeout)
    print("\nReplica proof (real PostgreSQL 15 streaming replica, two app instances)")
    for c in report.checks:
        print(f"  {'PASS' if c.ok else 'FAIL'}  {c.name}\n        {c.detail}")
    print(f"  measurements: {json.dumps(report.measurements, ensure_ascii=False)}")
    print("ALL PROOFS HOLD" if report.ok else "SOME PROOF FAILED")
    if options.json:
        options.json.write_text(
            json.dumps(
                {
                    "ok": report.ok,
                    "checks": [asdict(c) for c in report.checks],
                    "measurements": report.measurements,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
