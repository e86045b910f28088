"""A private, throwaway PostgreSQL 15 cluster on 127.0.0.1, for scripts that must not touch the
shared server: scripts/drill.py (restarts it under load) and scripts/replica_proof.py (a
primary and a streaming standby).

    root = temp_root("yizhan-x-")              # owned by `postgres` when run as root
    cluster = Cluster(root, dbname="yizhan")   # a free port; data and log under root
    cluster.initdb(max_connections=60)         # trust auth, UTF8, C.UTF-8; settings appended
    cluster.start()
    with cluster.connect("postgres") as conn:  # autocommit, closed afterwards
        ...
    cluster.stop()                             # pg_ctl stop (-m fast, then immediate), or kill
    shutil.rmtree(root)

The rules live here once: PostgreSQL's programs run as the `postgres` OS user when this runs
as root (`runuser -u postgres`; they refuse to run as root) and as the current user otherwise;
the cluster listens on 127.0.0.1 only, on a port free when it was chosen, with its unix socket
in its root directory; every pg_ctl call waits (-w) and is bounded by a timeout. PG_BIN (default
/usr/lib/postgresql/15/bin) says where initdb and pg_ctl are.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


class ClusterError(RuntimeError):
    """initdb or pg_ctl failed or did not finish in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (another process may take it later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(cmd: list) -> list[str]:
    """`cmd` as strings, run as the `postgres` OS user when this process is root."""
    cmd = [str(c) for c in cmd]
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def temp_root(prefix: str) -> Path:
    """A new temporary directory for clusters, owned by `postgres` when run as root."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    return root


def quote(value) -> str:
    """A postgresql.conf value: numbers as they are, booleans on/off, strings quoted."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _run(cmd: list, timeout: float, what: str, cwd: Path) -> str:
    """Run a PostgreSQL program as `postgres` in `cwd` (a directory it may enter); its stdout,
    or ClusterError with its stderr."""
    try:
        done = subprocess.run(
            as_postgres(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise ClusterError(f"{what}: did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        raise ClusterError(f"{what}: exit {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done.stdout


class Cluster:
    """A PostgreSQL data directory `root/name`, logging to `root/name.log`, on 127.0.0.1:port.

    `root` also holds the unix socket; several clusters may share it (each has its own port).
    `dbname` is the database `url()` and `connect()` mean when given none.
    """

    def __init__(self, root: Path, name: str = "postgres", dbname: str = "postgres") -> None:
        self.root, self.name, self.dbname = root, name, dbname
        self.data, self.log = root / name, root / f"{name}.log"
        self.port = free_port()

    def url(self, dbname: str | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname or self.dbname}"

    @contextmanager
    def connect(self, dbname: str | None = None) -> Iterator:
        """An autocommit connection, closed afterwards (psycopg2's own `with` is a transaction,
        which neither CREATE DATABASE nor a fresh look at pg_stat_* can run in)."""
        conn = psycopg2.connect(self.url(dbname), connect_timeout=5)
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.close()

    def initdb(self, *args: str, timeout: float = 120, **settings) -> None:
        """initdb (superuser postgres, trust authentication, UTF8, C.UTF-8, then `args`), and
        the cluster's port, listen_addresses, socket directory and `settings` appended to its
        postgresql.conf. `root` must be writable by `postgres` (temp_root makes it so)."""
        _run(
            [PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust"]
            + ["-E", "UTF8", "--locale=C.UTF-8", *args],
            timeout,
            f"initdb {self.name}",
            self.root,
        )
        self.configure(
            port=self.port,
            listen_addresses="127.0.0.1",
            unix_socket_directories=str(self.root),
            **settings,
        )

    def configure(self, *lines: str, **settings) -> None:
        """Append `settings` (name=value, quoted as postgresql.conf wants) and then `lines`
        (written as they are, e.g. "work_mem = '8MB'") to postgresql.conf; later ones win."""
        text = [f"{k} = {quote(v)}" for k, v in settings.items()] + list(lines)
        conf = self.data / "postgresql.conf"
        with open(conf, "a") as out:  # as root, or as the owner of the data directory
            out.write("\n# scripts/localcluster.py\n" + "".join(f"{t}\n" for t in text))

    def pg_ctl(self, *args: str, wait: int = 60, timeout: float | None = None) -> str:
        """`pg_ctl -D data -l log -w -t wait ARGS`, killed after `timeout` s (wait + 30)."""
        cmd = [PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", str(wait), *args]
        what = f"pg_ctl {' '.join(args)} ({self.name})"
        try:
            return _run(cmd, wait + 30 if timeout is None else timeout, what, self.root)
        except ClusterError as exc:
            raise ClusterError(f"{exc}; {self.log} ends:\n{self.log_tail()}") from None

    def log_tail(self, lines: int = 10) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self, wait: int = 60, timeout: float | None = None) -> None:
        self.pg_ctl("start", wait=wait, timeout=timeout)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def stop(self, modes: tuple[str, ...] = ("fast", "immediate"), wait: int = 20) -> None:
        """Stop it if it runs: pg_ctl stop in each mode in turn until one works, then SIGKILL
        to the postmaster if none did. Never raises for a cluster that would not stop."""
        for mode in modes:
            if not self.running():
                return
            try:
                self.pg_ctl("stop", "-m", mode, wait=wait)
                return
            except (ClusterError, OSError):  # OSError: runuser or pg_ctl missing
                continue
        pidfile = self.data / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
            # A stale pid file may name another process by now: only this cluster's
            # postmaster (its command line names this data directory) is killed.
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            return
        if (
            not any(b"postgres" in part for part in cmdline[:1])
            or str(self.data).encode() not in cmdline
        ):
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10  # the caller removes the directory next
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
