"""The console's work pages: a site's history (who, when, field by field) with undo of one
change, and the subtree's rider reports (accept or reject with a note, jump to the site).

Both act through the API's own code: undo is a patch of the site validated by the API's
`SitePatchSchema` and written by `sites.store.update` (a new version, an audit row naming the
user); a report is triaged by `reports.queries.triage`, bounded by the org subtree.
"""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from service.access import gate
from service.console import auth, forms, queries
from service.core import orgs
from service.core.api import PageBlueprint
from service.core.clock import now, zone
from service.core.db import db
from service.core.models import REPORT_STATUSES
from service.reports import queries as reports
from service.sites import store
from service.sites.schemas import SitePatchSchema

blp = PageBlueprint(
    "console_work",
    __name__,
    url_prefix="/admin",
    description="The staff console's history and report pages (HTML, not part of the API).",
)
auth.install(blp)

ACTIONS = {"create": "新建", "update": "修改", "delete": "删除", "import": "导入"}
CATEGORIES = {
    "closed_but_listed_open": "显示开放但实际关闭",
    "amenity_missing": "设施缺失",
    "wrong_location": "位置不对",
    "other": "其他",
}
REPORT_LABELS = {"open": "待处理", "resolved": "已处理", "rejected": "不采纳"}
UNDOABLE = ("update", "import")


@blp.get("/sites/<int:site_id>/history")
@login_required
def history(site_id: int):
    with db.reading(primary=True) as conn:
        state = auth.subtree_site(conn, site_id)
        entries = store.history(conn, site_id, None, 500)[:500]
    return render_template(
        "console/history.html",
        site=state,
        site_id=site_id,
        site_zone=zone(state["timezone"]),
        entries=list(reversed(entries)),  # newest first
        actions=ACTIONS,
        undoable=UNDOABLE,
        may_write=current_user.account.role in gate.WRITERS,
    )


@blp.post("/sites/<int:site_id>/history/<int:entry_id>/undo")
@login_required
def undo(site_id: int, entry_id: int):
    """Write back the old values of one change (a new change, itself undoable)."""
    auth.writer()
    me, at = current_user.account, now()
    with db.writing() as conn:
        auth.subtree_site(conn, site_id)
        entry = queries.audit_entry(conn, site_id, entry_id)
        if entry is None or entry.action not in UNDOABLE:
            abort(404)
        old = {field: change["old"] for field, change in (entry.changes or {}).items()}
        try:
            changes = SitePatchSchema().load(old)
        except ValidationError as exc:
            problems = "；".join(f"{k}: {v}" for k, v in forms.flat_errors(exc.messages).items())
            flash(f"无法撤销：旧值已不再有效 (the old values are no longer valid): {problems}")
            return redirect(url_for("console_work.history", site_id=site_id))
        org_id = None
        if "org" in changes:
            org_id = orgs.org_id(conn, changes["org"])
            if org_id is None or not gate.principal().covers(changes["org"]):
                abort(403)
        try:
            store.update(
                conn, site_id, None, changes, org_id, me.id, at,
                current_app.config["HOURS_HORIZON_DAYS"],
            )  # fmt: skip
        except store.Invalid as exc:
            flash(f"无法撤销 (cannot undo): {exc.args[1]}")
            return redirect(url_for("console_work.history", site_id=site_id))
    flash(f"已撤销第 {entry.version} 版的修改 (version {entry.version} undone)")
    return redirect(url_for("console_work.history", site_id=site_id))


@blp.get("/reports")
@login_required
def report_list():
    status = request.args.get("status", "open")
    status = status if status in REPORT_STATUSES else None
    with db.reading(primary=True) as conn:
        rows = reports.in_subtree(conn, current_user.account.org_code, status, None, None, 200)
    return render_template(
        "console/reports.html",
        rows=rows[:200],
        status=status,
        categories=CATEGORIES,
        labels=REPORT_LABELS,
        may_write=current_user.account.role in gate.WRITERS,
    )


@blp.post("/reports/<int:report_id>")
@login_required
def triage(report_id: int):
    auth.writer()
    status = request.form.get("status", "")
    note = request.form.get("note", "").strip()[:500] or None
    if status not in REPORT_STATUSES:
        abort(400)
    me = current_user.account
    with db.writing() as conn:
        row = reports.triage(conn, report_id, me.org_code, status, note, me.id, now())
    if row is None:
        abort(404)
    flash(f"反馈 #{report_id} 已标为{REPORT_LABELS[status]}")
    return redirect(url_for("console_work.report_list"))
