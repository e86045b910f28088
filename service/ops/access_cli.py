"""`yizhan keys`, `yizhan users` and `yizhan tokens`: partner keys, users with their console
passwords, and API tokens (added to the `yizhan` command by ops/cli.py)."""

import secrets
import sys
from contextlib import contextmanager
from datetime import timedelta

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from service.access import accounts, partners, tokens, users
from service.core.clock import now
from service.core.db import db
from service.core.models import ROLES


@contextmanager
def refusal():
    """A refused command says why in one line, not with a traceback."""
    try:
        yield
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("keys")
def keys_group() -> None:
    """Partner API keys for map apps (X-API-Key): never admin credentials."""


@keys_group.command("create")
@click.argument("name")
@click.option(
    "--per-minute",
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="Quota (default: DEFAULT_PARTNER_PER_MINUTE).",
)
@with_appcontext
def keys_create(name: str, per_minute: int | None) -> None:
    """Create a key for a partner; prints the key once."""

    quota = per_minute or current_app.config["DEFAULT_PARTNER_PER_MINUTE"]
    with db.writing() as conn, refusal():
        try:
            key_id, key = partners.create(conn, name, quota)
        except sa.exc.IntegrityError:
            raise ValueError(f"a key named {name!r} exists") from None
    click.echo(f"key {key_id} for {name} ({quota}/min); it is shown only now:", err=True)
    click.echo(key)


@keys_group.command("list")
@with_appcontext
def keys_list() -> None:
    """Keys with their quota and today's (UTC) request count."""

    with db.reading(primary=True) as conn:
        rows = partners.listing(conn, now().date())
    for r in rows:
        state = "revoked" if r.revoked_at else "active"
        click.echo(f"{r.id}\t{r.name}\t{r.per_minute}/min\t{state}\ttoday={r.today}")


@keys_group.command("revoke")
@click.argument("key_id", type=int)
@with_appcontext
def keys_revoke(key_id: int) -> None:
    """Revoke a key (within CACHE_SECONDS on every worker)."""

    with db.writing() as conn:
        if not partners.revoke(conn, key_id, now()):
            raise click.ClickException(f"no active key {key_id}")
    click.echo(f"key {key_id} revoked")


@click.group("users")
def users_group() -> None:
    """Admin users (each belongs to one org, with a role)."""


@users_group.command("add")
@click.option("--org", "org_code", required=True, help="Org code, e.g. zj.zs.dh")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read a console password from standard input.")
@click.argument("name")
@with_appcontext
def users_add(org_code: str, role: str, name: str, password_stdin: bool) -> None:
    """Add a user to an org (or change its role); with --password-stdin, a console login."""
    password = _password_from_stdin(name) if password_stdin else None
    with db.writing() as conn, refusal():
        user_id = users.ensure_user(conn, org_code, name, role)
        if password is not None:
            _set_password(conn, user_id, password)
    login = " with a console password" if password is not None else ""
    click.echo(f"user {name} ({role}) in {org_code}: id {user_id}{login}")


@users_group.command("passwd")
@click.option("--password-stdin", is_flag=True, required=True, help="Read it from stdin.")
@click.argument("name")
@with_appcontext
def users_passwd(name: str, password_stdin: bool) -> None:
    """Set a user's console password (ends the user's console sessions)."""
    password = _password_from_stdin(name)
    with db.writing() as conn:
        account = accounts.by_name(conn, name)
        if account is None:
            raise click.ClickException(f"no user {name} (or the name is in several orgs)")
        _set_password(conn, account.id, password)
    click.echo(f"password of {name} set; its console sessions ended")


@users_group.command("deactivate")
@click.argument("name")
@with_appcontext
def users_deactivate(name: str) -> None:
    """Deactivate a user: its tokens and console sessions stop at once."""
    with db.writing() as conn:
        account = accounts.by_name(conn, name)
        if account is None:
            raise click.ClickException(f"no user {name} (or the name is in several orgs)")
        accounts.deactivate(conn, account.id, now())
    click.echo(f"user {name} deactivated")


@users_group.command("demo-admin")
@click.option("--url", default="http://127.0.0.1:8000/admin/", help="The console's address.")
@with_appcontext
def users_demo_admin(url: str) -> None:
    """A demo admin of the demo province org (zj) with a new random password, printed once
    (`make run`). Only for a database on this machine: never in production settings."""
    host = sa.engine.make_url(current_app.config["DATABASE_URL"]).host
    if host not in (None, "", "localhost", "127.0.0.1", "::1"):
        raise click.ClickException(f"refused: the database is on {host}, not this machine")
    password = "-".join(secrets.token_urlsafe(4) for _ in range(4))
    with db.writing() as conn, refusal():
        user_id = users.ensure_user(conn, "zj", "demo-admin", "admin")
        _set_password(conn, user_id, password)
    click.echo(f"console: {url}  user: demo-admin  password: {password}  (shown only now)")


def _password_from_stdin(name: str) -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        accounts.check_password_rule(password, name)
    except accounts.PasswordRejected as exc:
        raise click.ClickException(str(exc)) from None
    return password


def _set_password(conn, user_id: int, password: str) -> None:
    try:
        with conn.begin_nested():
            accounts.set_password(conn, user_id, password, now())
    except sa.exc.IntegrityError:
        raise click.ClickException(
            "another org already has a console user of this name: login names are unique"
        ) from None


@click.group("tokens")
def tokens_group() -> None:
    """API tokens: shown once at creation, stored as a hash."""


@tokens_group.command("create")
@click.option("--org", "org_code", required=True, help="Org code, e.g. zj.zs.dh")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--user", "user_name", default=None, help="User name (default: <org>-<role>).")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None)
@click.option("--label", default=None, help="What the token is for.")
@with_appcontext
def tokens_create(
    org_code: str, role: str, user_name: str | None, expires_days: int | None, label: str | None
) -> None:
    """Create a token for a user of ORG with ROLE; prints the token once."""
    user_name = user_name or f"{org_code}-{role}"
    expires = timedelta(days=expires_days) if expires_days else None
    with db.writing() as conn, refusal():
        user_id = users.ensure_user(conn, org_code, user_name, role)
        token_id, token = tokens.create_token(conn, user_id, now(), expires, label)
    click.echo(
        f"token {token_id} for {user_name} ({role}, {org_code}); it is shown only now:", err=True
    )
    click.echo(token)


@tokens_group.command("list")
@click.option("--org", "org_code", default=None, help="Only this org's subtree.")
@with_appcontext
def tokens_list(org_code: str | None) -> None:
    """List tokens (never the tokens themselves)."""
    with db.reading(primary=True) as conn:
        rows = tokens.list_tokens(conn, org_code)
    for r in rows:
        state = "revoked" if r.revoked_at else "active"
        click.echo(
            f"{r.id}\t{r.code}\t{r.name}\t{r.role}\t{state}\t"
            f"expires={r.expires_at or '-'}\tlast_used={r.last_used_at or '-'}\t{r.label or ''}"
        )


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke(token_id: int) -> None:
    """Revoke a token at once."""
    with db.writing() as conn:
        if not tokens.revoke_token(conn, token_id, now()):
            raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")
