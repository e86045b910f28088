"""The console's import wizard: upload a CSV, XLSX or GeoJSON file, see the dry run (every
problem with its spreadsheet row and column, or what would be created, changed, unchanged),
then commit it: all or nothing, through the same code as `POST /v1/imports`.

The checked file is kept in `console_uploads` for an hour (schema/versions/0014_console.py),
so the commit does not upload it again; the commit checks it once more (the data may have
changed meanwhile) and writes nothing if anything is wrong.
"""

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from service.access import gate
from service.console import auth, queries
from service.core.api import PageBlueprint
from service.core.clock import now
from service.core.db import db, statement_timeout
from service.geo.datums import CRS_NAMES
from service.imports import template
from service.imports.pipeline import Rejected, Settings, run_import
from service.orgs import store as org_store

blp = PageBlueprint(
    "console_import",
    __name__,
    url_prefix="/admin/import",
    description="The staff console's import wizard (HTML, not part of the API).",
)
auth.install(blp)

MEDIA = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".geojson": "application/geo+json",
    ".json": "application/geo+json",
}
CRS_LABELS = {
    "wgs84": "WGS-84（GPS、天地图）",
    "gcj02": "GCJ-02（高德、腾讯）",
    "bd09": "BD-09（百度）",
}


def _page(status: int = 200, **context):
    with db.reading(primary=True) as conn:
        org_choices = org_store.subtree(conn, current_user.account.org_code)
    return (
        render_template(
            "console/import.html",
            org_choices=org_choices,
            crs_labels=CRS_LABELS,
            may_write=current_user.account.role in gate.WRITERS,
            **context,
        ),
        status,
    )


@blp.get("")
@login_required
def start():
    return _page()


def _run(conn, upload: dict, dry_run: bool):
    me = current_user.account
    statement_timeout(conn, current_app.config["IMPORT_STATEMENT_TIMEOUT_MS"])
    return run_import(
        conn,
        upload["body"],
        upload["media_type"],
        upload["org"],
        me.id,
        gate.principal().covers,
        Settings.of(current_app.config),
        now(),
        upload["crs"],
        dry_run=dry_run,
    )


@blp.get("/template.xlsx")
@login_required
def template_xlsx():
    """The API's XLSX template (Chinese headers, drop-down lists), for a logged-in clerk."""
    return Response(
        template.workbook_bytes(),
        mimetype=MEDIA[".xlsx"],
        headers={"Content-Disposition": 'attachment; filename="yizhan-import-template.xlsx"'},
    )


@blp.post("")
@login_required
def check():
    """The dry run of an uploaded file; a clean one is kept for its commit."""
    auth.writer()
    file = request.files.get("file")
    org = request.form.get("org") or current_user.account.org_code
    crs = request.form.get("crs", "wgs84")
    name = (file.filename or "") if file else ""
    media = next((m for ext, m in MEDIA.items() if name.lower().endswith(ext)), None)
    if not file or media is None:
        return _page(
            422,
            problem="请选择 .xlsx、.csv 或 .geojson 文件 (choose an .xlsx, .csv or .geojson file)",
        )
    if crs not in CRS_NAMES or not gate.principal().covers(org):
        return _page(422, problem="组织或坐标系不对 (the org or the datum is wrong)")
    upload = {"filename": name[:200], "media_type": media, "org": org, "crs": crs,
              "body": file.read(current_app.config["IMPORT_MAX_BYTES"] + 1)}  # fmt: skip
    if len(upload["body"]) > current_app.config["IMPORT_MAX_BYTES"]:
        return _page(413, problem="文件太大 (the file is too large)")
    with db.writing() as conn:
        try:
            outcome = _run(conn, upload, dry_run=True)
        except Rejected as exc:
            return _page(422, errors=exc.errors, filename=name)
        except ValueError as exc:
            return _page(422, problem=str(exc), filename=name)
        upload_id = queries.keep_upload(conn, current_user.account.id, upload, now())
    return _page(outcome=outcome, filename=name, upload=upload_id.hex())


@blp.post("/<upload>/commit")
@login_required
def commit(upload: str):
    auth.writer()
    try:
        upload_id = bytes.fromhex(upload)
    except ValueError:
        abort(404)
    with db.writing() as conn:
        kept = queries.take_upload(conn, upload_id, current_user.account.id, now())
        if kept is None:
            return _page(
                404, problem="文件已过期，请重新上传 (the checked file expired: upload it again)"
            )
        try:
            outcome = _run(conn, {**kept._asdict(), "body": bytes(kept.body)}, dry_run=False)
        except (Rejected, ValueError):  # refused before any row is written
            return _page(
                409, problem="数据已变化，文件未导入，请重新检查 (data changed: nothing imported)"
            )
    flash(
        f"已导入 {kept.filename}：新建 {outcome.created}，修改 {outcome.updated}，"
        f"未变 {outcome.unchanged}"
    )
    return redirect(url_for("console_import.start"))
