"""The servers under test: Yizhan (`yizhan serve`) and its peers, pygeoapi and tipg.

Each peer lives in its own virtualenv under bench-out/ (their dependencies conflict with
ours), installed from the pinned bench/requirements-<peer>.txt; their configurations are
generated here, into bench-out/, and never committed. Every server runs the same number
of worker processes as `yizhan serve` (2 x cores + 1) on 127.0.0.1, and reads the same
database through a view of the listed sites (bench_peer.sites: not deleted, not closed,
the columns Yizhan returns, with the org's code and name joined in).
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKERS = 2 * (os.cpu_count() or 1) + 1
# The same per-connection settings as Yizhan's engine (service/core/db.py).
PG_SETTINGS = {"max_parallel_workers_per_gather": "0", "jit": "off", "statement_timeout": "5000"}

PEER_VIEW = """
CREATE SCHEMA IF NOT EXISTS bench_peer;
CREATE OR REPLACE VIEW bench_peer.sites AS
SELECT s.id, s.kind, s.name, s.name_en, o.code::text AS org_code, o.name AS org_name,
       s.external_id, s.address, s.amenities, s.opening_hours, s.timezone, s.status,
       s.area_m2, s.star_rating, s.phone, s.description, s.updated_at, s.version, s.geom
FROM public.sites s JOIN public.orgs o ON o.id = s.org_id
WHERE s.deleted_at IS NULL AND s.status <> 'closed';
"""


def create_peer_view(url: str) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(PEER_VIEW)


def ensure_venv(out: Path, name: str, requirements: Path) -> Path:
    """bench-out/venv-<name> with `requirements` installed (again only when they change)."""
    venv = out / f"venv-{name}"
    stamp = venv / ".installed"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return venv
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", "-r",
         str(requirements)],
        capture_output=True, text=True,
    )  # fmt: skip
    if pip.returncode != 0:
        raise RuntimeError(f"installing {requirements.name} failed:\n{pip.stderr[-3000:]}")
    stamp.write_text(digest)
    print(f"installed {name} into {venv} in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return venv


class Server:
    """A gunicorn master started in its own process group; stopped with it."""

    name = ""

    def __init__(self, port: int, out: Path) -> None:
        self.port, self.out = port, out
        self.proc: subprocess.Popen | None = None

    def command(self) -> tuple[list[str], dict]:
        raise NotImplementedError

    ready_path = "/"
    expected_workers = WORKERS  # wait_ready waits for this many worker processes

    def launch(self) -> None:
        cmd, env = self.command()
        log = (self.out / f"{self.name}.log").open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=self.out,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 120) -> None:
        """Until it answers 200 with all its workers up (or RuntimeError)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.out / self.name}.log")
            try:
                with urllib.request.urlopen(self.url(self.ready_path), timeout=5) as r:
                    if r.status == 200 and len(self.workers()) >= self.expected_workers:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} did not become ready; see {self.out / self.name}.log")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def workers(self) -> list[int]:
        """Pids of the gunicorn master's worker processes."""
        if self.proc is None:
            return []
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def worker_rss_mb(self) -> list[float]:
        sizes = []
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            kb = next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:")
            sizes.append(kb / 1024)
        return sizes

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


class Yizhan(Server):
    name = "yizhan"
    ready_path = "/readyz"

    def __init__(self, port: int, out: Path, url: str, code: Path | None = None) -> None:
        super().__init__(port, out)
        self.db_url = url
        self.code = code  # another checkout's service/ (bench/ab.py); None: this one

    def command(self):
        yizhan = str(Path(sys.executable).with_name("yizhan"))
        # The load comes from one address: lift the anonymous quota (it would answer 429).
        env = {**os.environ, "DATABASE_URL": self.db_url, "ANON_PER_MINUTE": "0"}
        if self.code is not None:
            env["PYTHONPATH"] = str(self.code)  # found before this checkout's editable install
        return [yizhan, "serve", "--bind", "127.0.0.1", "--port", str(self.port)], env


def _pg_parts(url: str) -> dict:
    u = urlsplit(url)
    return {
        "host": u.hostname or "127.0.0.1",
        "port": u.port or 5432,
        "dbname": u.path.lstrip("/"),
        "user": u.username or "postgres",
        "password": u.password or "",
    }


class PyGeoAPI(Server):
    name = "pygeoapi"

    def __init__(self, port: int, out: Path, url: str, venv: Path) -> None:
        super().__init__(port, out)
        self.db_url, self.venv = url, venv

    ready_path = "/collections/sites?f=json"

    def config(self) -> dict:
        base = f"http://127.0.0.1:{self.port}"
        return {
            "server": {
                "bind": {"host": "127.0.0.1", "port": self.port},
                "url": base,
                "mimetype": "application/json; charset=UTF-8",
                "encoding": "utf-8",
                "language": "en-US",
                "cors": False,
                "pretty_print": False,
                "limits": {"default_items": 10, "max_items": 10000},
                "map": {
                    "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                    "attribution": "none",
                },  # fmt: skip
            },
            "logging": {"level": "ERROR"},
            "metadata": {
                "identification": {
                    "title": "bench",
                    "description": "Yizhan benchmark peer",
                    "keywords": ["bench"],
                    "keywords_type": "theme",
                    "terms_of_service": "none",
                    "url": base,
                },  # fmt: skip
                "license": {
                    "name": "CC-BY 4.0",
                    "url": "https://creativecommons.org/licenses/by/4.0/",
                },  # fmt: skip
                "provider": {"name": "bench", "url": base},
                "contact": {"name": "bench"},
            },
            "resources": {
                "sites": {
                    "type": "collection",
                    "title": "sites",
                    "description": "listed sites (view bench_peer.sites)",
                    "keywords": ["sites"],
                    "extents": {
                        "spatial": {
                            "bbox": [-180, -90, 180, 90],
                            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                        }
                    },
                    "providers": [
                        {
                            "type": "feature",
                            "name": "PostgreSQL",
                            "data": {
                                **_pg_parts(self.db_url),
                                "search_path": ["bench_peer", "public"],
                            },  # fmt: skip
                            "id_field": "id",
                            "table": "sites",
                            "geom_field": "geom",
                        }
                    ],
                }
            },
        }

    def command(self):
        cfg = self.out / "pygeoapi-config.yml"
        cfg.write_text(json.dumps(self.config(), indent=1))  # JSON is YAML
        openapi = self.out / "pygeoapi-openapi.yml"
        env = {
            **os.environ,
            "PYGEOAPI_CONFIG": str(cfg),
            "PYGEOAPI_OPENAPI": str(openapi),
            "PGOPTIONS": " ".join(f"-c {k}={v}" for k, v in PG_SETTINGS.items()),
        }
        subprocess.run(
            [str(self.venv / "bin/pygeoapi"), "openapi", "generate", str(cfg),
             "--output-file", str(openapi)],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        cmd = [
            str(self.venv / "bin/gunicorn"), "pygeoapi.flask_app:APP",
            f"--bind=127.0.0.1:{self.port}", f"--workers={WORKERS}", "--worker-class=sync",
            "--keep-alive=5",
        ]  # fmt: skip
        return cmd, env


class Tipg(Server):
    name = "tipg"
    ready_path = "/collections"

    def __init__(self, port: int, out: Path, url: str, venv: Path) -> None:
        super().__init__(port, out)
        self.db_url, self.venv = url, venv

    def command(self):
        p = _pg_parts(self.db_url)
        # asyncpg passes unknown DSN query parameters to the server as settings.
        settings = "&".join(f"{k}={v}" for k, v in PG_SETTINGS.items())
        dsn = (
            f"postgresql://{p['user']}:{p['password'] or 'postgres'}@{p['host']}:{p['port']}/"
            f"{p['dbname']}?{settings}"
        )
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "TIPG_DB_SCHEMAS": '["bench_peer"]',
            "TIPG_DB_MIN_CONN_SIZE": "1",
            "TIPG_DB_MAX_CONN_SIZE": "4",
            "TIPG_TILE_BUFFER": "64",  # Yizhan's buffer (tipg's default is 256)
            "TIPG_DEBUG": "false",
            # Each worker builds its catalog at startup; with extents it scans the whole view
            # (over 5 s at 1e6 sites: the statement timeout killed it, and gunicorn's 30 s boot
            # timeout looped). The extents only fill the collection's metadata.
            "TIPG_DB_SPATIAL_EXTENT": "false",
            "TIPG_DB_DATETIME_EXTENT": "false",
        }
        cmd = [
            str(self.venv / "bin/gunicorn"), "tipg.main:app",
            f"--bind=127.0.0.1:{self.port}", f"--workers={WORKERS}",
            "--worker-class=uvicorn.workers.UvicornWorker", "--keep-alive=5",
        ]  # fmt: skip
        return cmd, env
