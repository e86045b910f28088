"""The console's site pages: the list (filters, sort, pages, CSV export) and the site form.

Writes go through the API's own code: the body is the API's write shape, validated by
`SiteWriteSchema`, written by `sites.store` with the account as the acting user (the same
audit trail), within the account's org subtree (the gate's `covers`). An edit carries the
version it was loaded at; when someone saved the site meanwhile, the form comes back with
everything typed kept and both versions side by side.
"""

import csv
import io
from datetime import UTC, datetime

import openpyxl
from flask import Response, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from service.access import gate
from service.console import auth, forms, hours_editor, queries
from service.core import orgs, vocabulary
from service.core.api import PageBlueprint
from service.core.clock import now
from service.core.db import db
from service.core.models import KINDS, STATUSES
from service.core.params import ORG_CODE
from service.core.settings import DEFAULT_TIMEZONE
from service.orgs import store as org_store
from service.sites import store
from service.sites.schemas import SiteWriteSchema

blp = PageBlueprint(
    "console_sites",
    __name__,
    url_prefix="/admin/sites",
    description="The staff console's site pages (HTML, not part of the API).",
)
auth.install(blp)

EXPORT_COLUMNS = (
    ("id", "编号 id"), ("external_id", "外部编号 external_id"), ("kind", "类型 kind"),
    ("name", "名称 name"), ("status", "状态 status"), ("org_code", "组织 org"),
    ("org_name", "组织名称 org_name"), ("address", "地址 address"), ("lat", "纬度 lat"),
    ("lon", "经度 lon"), ("amenities", "设施 amenities"),
    ("opening_hours", "开放时间 opening_hours"), ("phone", "电话 phone"),
    ("updated_at", "更新时间 updated_at"),
)  # fmt: skip
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EDITOR_FIELDS = ("opening_hours", "special_days", "timezone", "workday_swaps")


def _filter() -> queries.SiteFilter:
    org = current_user.account.org_code
    wanted = request.args.get("org") or org
    if not ORG_CODE.fullmatch(wanted) or not gate.principal().covers(wanted):
        wanted = org  # a code outside the subtree, or no code at all (`zj.nb.`): one's own
    page = request.args.get("page", "1")
    return queries.SiteFilter(
        org=wanted,
        kind=request.args.get("kind") if request.args.get("kind") in KINDS else None,
        status=request.args.get("status") if request.args.get("status") in STATUSES else None,
        amenity=request.args.get("amenity") if request.args.get("amenity") in vocabulary.codes()
        else None,
        q=(request.args.get("q") or "").strip()[:100] or None,
        sort=request.args.get("sort") if request.args.get("sort") in queries.SORTS else "id",
        page=int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1,
        no_hours=request.args.get("hours") == "none",
    )  # fmt: skip


@blp.get("")
@login_required
def index():
    f = _filter()
    with db.reading(primary=True) as conn:
        rows, total = queries.sites(conn, f)
        org_choices = org_store.subtree(conn, current_user.account.org_code)
    pages = max(1, -(-total // queries.PAGE))
    return render_template(
        "console/sites.html",
        rows=rows,
        total=total,
        f=f,
        pages=pages,
        org_choices=org_choices,
        amenities=vocabulary.amenities(),
        args={k: v for k, v in request.args.items() if k != "page"},
    )


def neutral(value) -> str:
    """A cell a spreadsheet shows as text: a leading =, +, -, @ would start a formula."""
    text = "" if value is None else ",".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@blp.get("/export.csv")
@login_required
def export_csv():
    f = _filter()
    buffer = io.StringIO()
    buffer.write("\ufeff")  # UTF-8 with BOM: Excel opens Chinese text right
    writer = csv.writer(buffer)
    writer.writerow([label for _, label in EXPORT_COLUMNS])
    with db.reading(primary=True) as conn:
        for row in queries.all_sites(conn, f):
            writer.writerow([neutral(getattr(row, name)) for name, _ in EXPORT_COLUMNS])
    return Response(
        buffer.getvalue().encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=sites.csv"},
    )


@blp.get("/export.xlsx")
@login_required
def export_xlsx():
    """The filtered list as a workbook: text cells neutralised as in the CSV, numbers kept."""
    f = _filter()
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("站点")
    sheet.append([label for _, label in EXPORT_COLUMNS])
    with db.reading(primary=True) as conn:
        for row in queries.all_sites(conn, f):
            sheet.append([_cell(getattr(row, name)) for name, _ in EXPORT_COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(
        buffer.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=sites.xlsx"},
    )


def _cell(value):
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)  # Excel has no zones: UTC
    return neutral(value)


@blp.get("/convert")
@login_required
def convert():
    """The WGS-84 point of a pasted pair (the form shows it as it is typed, through htmx)."""
    try:
        lat, lon = forms.converted(request.args.get("pair", ""), request.args.get("datum", ""))
    except forms.PairError as exc:
        return render_template("console/_point.html", problem=str(exc))
    return render_template("console/_point.html", lat=lat, lon=lon)


def _form(status: int = 200, **context):
    me = current_user.account
    with db.reading(primary=True) as conn:
        org_choices = org_store.subtree(conn, me.org_code)
    context.setdefault("values", {})
    context.setdefault("errors", {})
    editor = hours_editor.editor_state(context["values"])
    editor["errors"].update(
        {k: v for k, v in context["errors"].items() if k in EDITOR_FIELDS}
    )  # the form's own verdict on the editor's fields (the API's schema)
    context["editor"] = editor
    pair = context["values"].get("pair")
    if pair and "point" not in context:  # a form shown again: its pasted pair's point too
        try:
            context["point"] = forms.converted(pair, context["values"].get("datum", "gcj02"))
        except forms.PairError:
            pass
    return (
        render_template(
            "console/site_form.html",
            org_choices=org_choices,
            amenities=vocabulary.amenities(),
            datums=forms.DATUMS,
            kinds=KINDS,
            statuses=STATUSES,
            may_write=me.role in gate.WRITERS,
            **context,
        ),
        status,
    )


def _again(errors: dict, **context):
    """The form again, 422, with everything submitted and the errors beside their fields."""
    return _form(422, values=forms.values_from(request.form), errors=errors, **context)


def _validated(form) -> tuple[dict | None, dict]:
    body, errors = forms.body_from(form, sorted(vocabulary.codes()))
    code = body.get("org") or current_user.account.org_code
    if not gate.principal().covers(code):
        errors["org"] = "该组织不在你的管辖范围内 (not in your org subtree)"
    if errors:
        return None, errors
    try:
        return SiteWriteSchema().load(body), {}
    except ValidationError as exc:
        return None, forms.flat_errors(exc.messages)


@blp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if request.method == "GET":
        return _form(values={"kind": "station", "datum": "gcj02", "timezone": DEFAULT_TIMEZONE})
    auth.writer()
    data, errors = _validated(request.form)
    if errors:
        return _again(errors=errors)
    me, at = current_user.account, now()
    with db.writing() as conn:
        org_id = orgs.org_id(conn, data.get("org") or me.org_code)
        if org_id is None:
            return _form(
                422,
                values=forms.values_from(request.form),
                errors={"org": "没有这个组织 (no such org)"},
            )
        try:
            site_id = store.create(conn, org_id, data, me.id, at, _days())
        except store.Conflict:
            message = "本组织已有使用该外部编号的站点 (external_id already used)"
            return _form(
                422, values=forms.values_from(request.form), errors={"external_id": message}
            )
    return redirect(url_for("console_sites.edit", site_id=site_id, saved=1))


def _days() -> int:
    return current_app.config["HOURS_HORIZON_DAYS"]


def _values_of(state: dict) -> dict:
    """A stored site as the form's fields."""
    values = {k: ("" if v is None else v) for k, v in state.items() if k != "location"}
    values["lat"], values["lon"] = state["location"]["lat"], state["location"]["lon"]
    values["special_days"] = forms.special_days_text(state.get("special_days") or [])
    values["closed_until"] = state["closed_until"].isoformat() if state.get("closed_until") else ""
    values["datum"] = "gcj02"
    return values


def _shown(value) -> str:
    if isinstance(value, list):
        return ",".join(sorted(value))
    return "" if value is None else str(value).strip()


@blp.route("/<int:site_id>", methods=["GET", "POST"])
@login_required
def edit(site_id: int):
    if request.method == "GET":
        with db.reading(primary=True) as conn:
            state = auth.subtree_site(conn, site_id)
        return _form(values=_values_of(state), site_id=site_id, saved=request.args.get("saved"))
    auth.writer()
    data, errors = _validated(request.form)
    expected = request.form.get("version", "")
    if errors or not expected.isdigit():
        return _again(errors=errors, site_id=site_id)
    me, at = current_user.account, now()
    with db.writing() as conn:
        auth.subtree_site(conn, site_id)
        org_id = orgs.org_id(conn, data["org"]) if data.get("org") else None
        try:
            store.update(conn, site_id, int(expected), data, org_id, me.id, at, _days())
        except store.Stale:
            current = store.snapshot(conn, site_id)
            theirs = _values_of(current)
            mine = forms.values_from(request.form)
            mine["version"] = str(current["version"])  # saving again overwrites theirs
            differ = [k for k in forms.COMPARED if _shown(theirs.get(k)) != _shown(mine.get(k))]
            return _form(409, values=mine, site_id=site_id, conflict=theirs, differ=differ)
        except store.Invalid as exc:
            field, message = exc.args
            return _form(
                422,
                values=forms.values_from(request.form),
                errors={field: message},
                site_id=site_id,
            )
        except store.Conflict:
            message = "本组织已有使用该外部编号的站点 (external_id already used)"
            return _form(
                422,
                values=forms.values_from(request.form),
                errors={"external_id": message},
                site_id=site_id,
            )
    return redirect(url_for("console_sites.edit", site_id=site_id, saved=1))
