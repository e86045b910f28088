"""The console's people page (admins only): users and API tokens of the admin's org subtree.

An admin adds a user (with a generated password), sets a role, deactivates a user, resets a
password, creates and revokes tokens. Nobody grants a role above their own
(`people.may_grant`), acts outside their subtree (a user or token outside it is a 404, decided
in SQL by console/people.py; an org outside it is a 403, by the gate's `covers`), or changes
their own role or deactivates themselves. A new password or token is shown once, in the POST's
own answer (never in a URL, a redirect or the session; the page is `no-store`), and only its
hash is kept. A role change, a password reset and a deactivation end that user's sessions.
"""

import functools
from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from service.access import accounts, gate, tokens, users
from service.console import auth, people
from service.core import orgs
from service.core.api import PageBlueprint
from service.core.clock import now, zone
from service.core.db import db
from service.core.models import ROLES
from service.core.settings import DEFAULT_TIMEZONE
from service.orgs import store as org_store

blp = PageBlueprint(
    "console_people",
    __name__,
    url_prefix="/admin/people",
    description="The staff console's users and API tokens page (HTML, not part of the API).",
)
auth.install(blp)

ROLE_LABELS = {"admin": "管理员", "editor": "编辑", "viewer": "只读"}
MAX_EXPIRY_DAYS = 3650
SELF_ROLE = "不能修改自己的角色（会把自己锁在外面）(you cannot change your own role)"
SELF_DEACTIVATE = "不能停用自己 (you cannot deactivate yourself)"
SELF_PASSWORD = "自己的密码请在「修改密码」页修改 (change your own password on the password page)"
INACTIVE = "该用户已停用 (the user is deactivated)"


def admins_only(view):
    """403 for a logged-in account that is not an admin (after `login_required`)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_user.account.role != "admin":
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def _grantable() -> list[str]:
    own = current_user.account.role
    return [role for role in ROLES if people.may_grant(own, role)]


def _page(conn, status: int = 200, errors=None, message: str | None = None, entered=None):
    """The people page (the subtree's users and tokens), with a refusal when there is one."""
    org = current_user.account.org_code
    return render_template(
        "console/people.html",
        users=people.users(conn, org),
        tokens=people.tokens(conn, org),
        org_choices=org_store.subtree(conn, org),
        grantable=_grantable(),
        role_labels=ROLE_LABELS,
        me=current_user.account,
        tz=zone(DEFAULT_TIMEZONE),
        at=now(),
        errors=errors or {},
        message=message,
        entered=entered or {},
        max_days=MAX_EXPIRY_DAYS,
    ), status


def _secret(kind: str, secret: str, user: str, **extra):
    """The one answer that shows a new password or token; nothing else ever shows it."""
    return render_template(
        "console/people_secret.html", kind=kind, secret=secret, user=user,
        role_labels=ROLE_LABELS, tz=zone(DEFAULT_TIMEZONE), **extra,
    )  # fmt: skip


def _number(text: str, low: int, high: int) -> int | None:
    """`text` as an integer from `low` to `high` (ASCII digits only), or None."""
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(high))):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _target(conn, user_id: int):
    """A user of the admin's subtree, or a 404 (existence outside it is not told)."""
    found = people.user(conn, current_user.account.org_code, user_id)
    if found is None:
        abort(404)
    return found


@blp.get("")
@login_required
@admins_only
def index():
    with db.reading(primary=True) as conn:
        return _page(conn)


@blp.post("/users")
@login_required
@admins_only
def add_user():
    name = request.form.get("name", "").strip()
    org = request.form.get("org", "").strip()
    role = request.form.get("role", "")
    entered = {"name": name[: people.NAME_MAX], "org": org, "role": role}
    if not gate.principal().covers(org):
        abort(403)  # the select offers only the subtree's orgs
    errors = {}
    if not name or len(name) > people.NAME_MAX or not name.isprintable():
        errors["name"] = (
            f"用户名须为 1–{people.NAME_MAX} 个可见字符 (1 to 100 printable characters)"
        )
    if not people.may_grant(current_user.account.role, role):
        errors["role"] = "不能授予这个角色 (you may not grant this role)"
    with db.writing() as conn:
        known = {code for code, _ in org_store.subtree(conn, current_user.account.org_code)}
        org_id = orgs.org_id(conn, org) if org in known else None  # never a malformed code
        if org_id is None:
            errors["org"] = "没有这个组织 (no such org)"
        if not errors:
            password = people.new_password(name)
            try:
                people.add_user(conn, org_id, name, role, password, now())
            except people.NameTaken as exc:
                errors["name"] = str(exc)
        if errors:
            return _page(conn, 422, errors=errors, entered=entered)
    return _secret("password", password, name, new_user=True, role=role, org=org)


@blp.post("/users/<int(min=1, max=2147483647):user_id>/role")
@login_required
@admins_only
def set_role(user_id: int):
    role = request.form.get("role", "")
    me = current_user.account
    with db.writing() as conn:
        target = _target(conn, user_id)
        if target.id == me.id:
            return _page(conn, 409, message=SELF_ROLE)
        if target.disabled_at is not None:
            return _page(conn, 409, message=INACTIVE)
        if not people.may_grant(me.role, role):
            return _page(conn, 422, message="不能授予这个角色 (you may not grant this role)")
        if role == target.role:
            flash(f"{target.name} 的角色未变 (role unchanged)")
            return redirect(url_for("console_people.index"))
        users.ensure_user(conn, target.org_code, target.name, role)  # ends the user's sessions
    flash(f"{target.name} 的角色已改为{ROLE_LABELS[role]}，其登录已退出 (role changed)")
    return redirect(url_for("console_people.index"))


@blp.post("/users/<int(min=1, max=2147483647):user_id>/deactivate")
@login_required
@admins_only
def deactivate(user_id: int):
    with db.writing() as conn:
        target = _target(conn, user_id)
        if target.id == current_user.account.id:
            return _page(conn, 409, message=SELF_DEACTIVATE)
        if target.disabled_at is None:
            accounts.deactivate(conn, target.id, now())  # its sessions and tokens stop at once
    flash(f"{target.name} 已停用，其登录和令牌立即失效 (deactivated)")
    return redirect(url_for("console_people.index"))


@blp.post("/users/<int(min=1, max=2147483647):user_id>/password")
@login_required
@admins_only
def reset_password(user_id: int):
    with db.writing() as conn:
        target = _target(conn, user_id)
        if target.id == current_user.account.id:
            return _page(conn, 409, message=SELF_PASSWORD)
        if target.disabled_at is not None:
            return _page(conn, 409, message=INACTIVE)
        try:
            password = people.reset_password(conn, target.id, target.name, now())
        except people.NameTaken as exc:
            return _page(conn, 409, message=str(exc))
    return _secret("password", password, target.name)


@blp.post("/tokens")
@login_required
@admins_only
def create_token():
    user_id = request.form.get("user_id", "")
    label = request.form.get("label", "").strip()[:200] or None
    days = request.form.get("expires_days", "").strip()
    if _number(user_id, 1, 2**31 - 1) is None:
        abort(404)
    entered = {"token_user": user_id, "label": label or "", "expires_days": days}
    with db.writing() as conn:
        target = _target(conn, int(user_id))
        if target.disabled_at is not None:
            return _page(conn, 409, message=INACTIVE, entered=entered)
        expires = None
        if days:
            if _number(days, 1, MAX_EXPIRY_DAYS) is None:
                errors = {"expires_days": f"有效期须为 1–{MAX_EXPIRY_DAYS} 天，或留空表示不过期"}
                return _page(conn, 422, errors=errors, entered=entered)
            expires = timedelta(days=int(days))
        at = now()
        token_id, token = tokens.create_token(conn, target.id, at, expires, label)
    return _secret(
        "token", token, target.name, token_id=token_id, role=target.role, label=label,
        expires_at=at + expires if expires else None,
    )  # fmt: skip


@blp.post("/tokens/<int(min=1, max=2147483647):token_id>/revoke")
@login_required
@admins_only
def revoke_token(token_id: int):
    with db.writing() as conn:
        found = people.token(conn, current_user.account.org_code, token_id)
        if found is None:
            abort(404)
        if found.revoked_at is None:
            tokens.revoke_token(conn, found.id, now())
    flash(f"令牌 #{found.id}（{found.user_name}）已吊销，立即失效 (token revoked)")
    return redirect(url_for("console_people.index"))
