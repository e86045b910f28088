"""The `yizhan` command: database, demo data, opening hours, production server."""

import logging
import os
import shutil
import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from service import create_app
from service.core.clock import now
from service.core.db import db, statement_timeout
from service.geo.datums import CRS_NAMES
from service.hours import calendar
from service.hours import store as hours_store
from service.imports import xlsx
from service.ops import access_cli, maintenance
from service.ops.access_cli import refusal
from service.sites import store as site_store

logger = logging.getLogger(__name__)


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """Yizhan: the union waystation registry."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


for _group in (access_cli.keys_group, access_cli.users_group, access_cli.tokens_group):
    main.add_command(_group)


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations, then sync the amenity vocabulary and add the shipped calendar years."""
    from schema import migrate
    from service.amenities.queries import sync_vocabulary

    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    with db.writing() as conn:
        n = sync_vocabulary(conn)
        years = calendar.load_fixtures(conn) if revision == "head" else 0
    click.echo(f"database at {revision}; {n} amenity codes; {years} calendar years added")


@db_group.command("cluster")
@with_appcontext
def db_cluster() -> None:
    """Rewrite `sites` in spatial order, rebuild its indexes, VACUUM ANALYZE (after bulk loads).

    Nearby searches then read several times fewer index pages (service/ops/maintenance.py). It
    locks `sites` (ACCESS EXCLUSIVE: reads wait too) for the whole rewrite: 11 s at 1e5 sites
    and 15 min at 1e7 on the benchmark machine.
    """
    with db.engine().connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM needs it
        auto.execute(sa.text("SET statement_timeout = 0"))
        auto.execute(sa.text("SET maintenance_work_mem = '1GB'"))
        try:
            maintenance.cluster_in_spatial_order(auto)
            auto.execute(sa.text("VACUUM (ANALYZE) sites"))
            count = auto.scalar(sa.text("SELECT count(*) FROM sites"))
        finally:
            auto.execute(maintenance.DROP_SPATIAL_ORDER)  # left behind by a failed CLUSTER
            auto.execute(sa.text("RESET ALL"))  # the pooled connection's own settings again
    click.echo(f"sites clustered in spatial order: {count}")


@main.command("seed")
@click.option("--synthetic", type=float, default=0, help="Also add N synthetic sites (e.g. 1e5).")
@click.option("--seed", "rng_seed", type=int, default=42, show_default=True)
@click.option(
    "--spatial-order",
    is_flag=True,
    help="Leave the table in spatial order, as `yizhan db cluster` would (with --synthetic).",
)
@with_appcontext
def seed(synthetic: float, rng_seed: int, spatial_order: bool) -> None:
    """Load the demo orgs and sites from fixtures/ (idempotent)."""
    from fixtures import synthetic as synth
    from service.ops import seeding

    cfg = current_app.config
    with db.writing() as conn:
        stats = seeding.load_demo(conn, now(), cfg["HOURS_HORIZON_DAYS"])
    click.echo(f"demo data: {stats}")
    if synthetic:
        with db.writing() as conn:
            statement_timeout(conn, 0)  # bulk commands may run long
            added = synth.load(
                conn, int(synthetic), rng_seed, now(), cfg["HOURS_HORIZON_DAYS"], spatial_order
            )
        click.echo(f"synthetic sites added: {added}")


@main.group("hours")
def hours_group() -> None:
    """Materialised opening hours."""


@hours_group.command("refresh")
@with_appcontext
def hours_refresh() -> None:
    """Reopen the sites whose closure has ended, recompute every pattern's open intervals and
    roll the horizon forward (run daily, soon after midnight)."""
    cfg = current_app.config
    with db.writing() as conn:
        statement_timeout(conn, 0)  # bulk commands may run long
        reopened = site_store.reopen_due(conn, now(), cfg["HOURS_HORIZON_DAYS"])
        stats = hours_store.refresh(conn, now(), cfg["HOURS_HORIZON_DAYS"])
    click.echo(f"hours refreshed: {stats}; sites reopened: {reopened}")


@main.group("calendar")
def calendar_group() -> None:
    """China's statutory calendar (the days `PH` means, and the make-up working days)."""


@calendar_group.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--year", type=int, default=None, help="The notice's year (default: its dates').")
@with_appcontext
def calendar_load(path: str, year: int | None) -> None:
    """Add or replace a year from a `date,kind,name` CSV, in one transaction, and recompute the
    opening hours that mention PH."""
    with refusal():
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()  # not UTF-8: a UnicodeDecodeError, a ValueError
        year, days = calendar.parse(text, year)
        with db.writing() as conn:
            statement_timeout(conn, 0)  # re-materialising may take a while at 1e6 sites
            calendar.store_year(conn, year, days, source=os.path.basename(path))
            patterns = hours_store.refresh_holiday_patterns(conn)
    holidays = sum(d.kind == "holiday" for d in days)
    click.echo(
        f"calendar {year}: {holidays} holidays, {len(days) - holidays} make-up working days; "
        f"{patterns} hours patterns with PH recomputed"
    )


@main.group("orgs")
def orgs_group() -> None:
    """The org tree."""


@orgs_group.command("add")
@click.argument("code")
@click.argument("name")
@with_appcontext
def orgs_add(code: str, name: str) -> None:
    """Add (or rename) an org; its parent must exist unless it is a root."""
    from service.orgs import store as org_store

    with db.writing() as conn, refusal():
        org_id = org_store.upsert_org(conn, code, name)
    click.echo(f"org {code} (id {org_id})")


@main.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--org", "org_code", required=True, help="Rows go to this org or below it.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--crs", type=click.Choice(CRS_NAMES), default="wgs84", show_default=True)
@with_appcontext
def import_file(path: str, org_code: str, dry_run: bool, crs: str) -> None:
    """Upsert a CSV (UTF-8 or GB18030) or GeoJSON file of sites, all or nothing."""
    from service.imports.parse import TooLarge
    from service.imports.pipeline import Rejected, Settings, run_import

    lower = path.lower()
    media = (
        "application/geo+json"
        if lower.endswith(("json", "geojson"))
        else xlsx.MEDIA_TYPE
        if lower.endswith(".xlsx")
        else "text/csv"
    )
    with open(path, "rb") as f:
        body = f.read()
    try:
        with db.writing() as conn:
            statement_timeout(conn, 0)  # bulk commands may run long
            outcome = run_import(
                conn,
                body,
                media,
                org_code,
                None,
                lambda code: True,
                Settings.of(current_app.config),
                now(),
                crs,
                dry_run,
            )
    except Rejected as exc:
        for e in exc.errors:
            click.echo(f"row {e.row}\t{e.field}\t{e.message}", err=True)
        raise click.ClickException(
            f"rejected: {len(exc.errors)} problems; nothing written"
        ) from None
    except TooLarge as exc:
        raise click.ClickException(str(exc) or "too many rows") from None
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{outcome.created} created, {outcome.updated} updated, {outcome.unchanged} unchanged "
        f"({verb} written)"
    )


@main.command("serve")
@click.option("--workers", type=int, default=None, help="Default: 2 x CPU cores + 1.")
@click.option("--port", type=int, default=None, help="Default: $PORT or 8000.")
@click.option("--bind", "host", default="0.0.0.0", show_default=True)
@with_appcontext
def serve(workers: int | None, port: int | None, host: str) -> None:
    """Production server: gunicorn, sync workers sized for this machine.

    Refuses to start when the workers' connection pools could exceed the database
    server's max_connections (minus its reserved slots).
    """
    from service.ops import serving

    gunicorn = shutil.which("gunicorn") or os.path.join(os.path.dirname(sys.executable), "gunicorn")
    workers = workers or serving.default_workers()
    port = port or int(os.environ.get("PORT", 8000))
    per_worker = f"{workers} workers x 2 x DB_POOL_SIZE={current_app.config['DB_POOL_SIZE']}"
    for budget in serving.connection_budgets(current_app.config, workers):
        if not budget.fits:
            raise click.ClickException(
                f"{per_worker} may open {budget.needed} connections to {budget.server}, "
                f"which allows {budget.available} (max_connections minus reserved): "
                "lower --workers or DB_POOL_SIZE, or raise max_connections"
            )
        if budget.available is not None:
            logger.info(
                "%s: up to %d of %d connections to %s",
                per_worker,
                budget.needed,
                budget.available,
                budget.server,
            )
    args = serving.gunicorn_args(gunicorn, workers, host, port)
    os.execv(gunicorn, args)
