"""POST /v1/imports: bulk CSV, XLSX or GeoJSON upsert by (org, external_id), all or nothing;
GET /v1/imports/template.xlsx: the spreadsheet template with Chinese headers."""

import logging
from dataclasses import asdict

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, fields

from service.access import gate
from service.core.api import Blueprint
from service.core.clock import now
from service.core.db import db, statement_timeout
from service.core.params import StrictQuery, crs_field, org_code
from service.core.problems import problem
from service.core.responses import json_response
from service.imports import parse, template, xlsx
from service.imports.pipeline import Rejected, Settings, run_import

logger = logging.getLogger(__name__)

blp = Blueprint(
    "imports",
    __name__,
    url_prefix="/v1/imports",
    description="Bulk upsert of sites from CSV, XLSX or GeoJSON (Bearer token).",
)


# A file that is wrong everywhere would otherwise answer with a report larger than itself.
MAX_REPORTED_ERRORS = 1000


class ImportArgs(StrictQuery):
    org = org_code(required=True, metadata={"description": "Rows go to this org or below it."})
    dry_run = fields.Boolean(load_default=False)
    crs = crs_field()


class ImportResult(Schema):
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    dry_run = fields.Boolean(required=True)


UPLOAD_SUFFIXES = ((".csv", "text/csv"), (".xlsx", xlsx.MEDIA_TYPE))
GUESSED = {
    "", "application/octet-stream", "application/vnd.ms-excel", "application/zip",
    "application/x-zip-compressed",
}  # fmt: skip


def _upload() -> tuple[bytes, str]:
    """The file and its media type: the raw body, or the multipart field `file`."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            abort(400, message="A multipart upload needs the file in the field `file`.")
        media = upload.mimetype
        # Browsers label .csv files on Windows with Excel as application/vnd.ms-excel, and an
        # .xlsx as a zip (or as nothing) where no spreadsheet program is installed.
        if media in GUESSED:
            name = (upload.filename or "").lower()
            media = next(
                (known for suffix, known in UPLOAD_SUFFIXES if name.endswith(suffix)),
                "application/geo+json",
            )
        return upload.read(), media
    return request.get_data(cache=False), request.mimetype


_CSV_EXAMPLE = (
    "external_id,kind,name,lat,lon,amenities,opening_hours,org\n"
    'EX-0001,station,定海东门劳动者驿站,30.0180,122.1075,"microwave,water_dispenser",'
    "Mo-Su 09:00-21:00,zj.zs.dh\n"
)
# The body is the file itself (or a multipart upload of it): documented here, as webargs
# does not read it. Columns and properties: README "Import files", fixtures/import_template.*.
REQUEST_BODY = {
    "required": True,
    "description": "The whole file: one site per CSV or worksheet row or GeoJSON Point feature, "
    "upserted by (org, external_id); all or nothing. Fields as in a Site, plus `lat`/`lon` "
    "(CSV, XLSX), `crs` (a row's own datum: wgs84, gcj02, bd09 or 高德, 百度, ...) and `org` "
    "(a code in the `org` parameter's subtree; default: that org). Headers may be Chinese "
    "(名称, 纬度, 设施, ...), and kinds, statuses and amenities Chinese labels (驿站, 暂停开放, "
    "微波炉). Templates: GET /v1/imports/template.xlsx, fixtures/import_template.csv and "
    ".geojson.",
    "content": {
        "text/csv": {
            "schema": {"type": "string", "description": "UTF-8 (a BOM is fine) or GB18030."},
            "example": _CSV_EXAMPLE,
        },
        xlsx.MEDIA_TYPE: {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "An .xlsx workbook: its first worksheet, the first row with a "
                "value as the header; error rows are the worksheet's own row numbers.",
            }
        },
        "application/geo+json": {
            "schema": {
                "type": "object",
                "required": ["type", "features"],
                "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "A .csv, .xlsx or .geojson file.",
                    }
                },
            }
        },
    },
}


@blp.route("")
class Imports(MethodView):
    @gate.required(*gate.WRITERS)
    @blp.arguments(ImportArgs, location="query")
    @blp.response(200, ImportResult)
    @blp.doc(security=gate.BEARER, requestBody=REQUEST_BODY)
    def post(self, args):
        """Upsert a CSV, XLSX or GeoJSON file of sites; dry_run=true reports without writing."""
        me = gate.principal()
        gate.check(args["org"])
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]
        body, media = _upload()
        if media not in parse.MEDIA_TYPES:
            abort(
                415,
                message=f"Send text/csv, {xlsx.MEDIA_TYPE} or application/geo+json "
                "(or multipart `file`).",
            )
        try:
            with db.writing() as conn:
                # A 100,000-row file takes ~20 s; the per-request statement limit is for reads.
                statement_timeout(conn, current_app.config["IMPORT_STATEMENT_TIMEOUT_MS"])
                outcome = run_import(
                    conn,
                    body,
                    media,
                    args["org"],
                    me.user_id,
                    me.covers,
                    Settings.of(current_app.config),
                    now(),
                    args["crs"],
                    args["dry_run"],
                )
        except parse.TooLarge as exc:
            abort(413, message=str(exc) or "Too many rows in one import.")
        except Rejected as exc:
            shown = exc.errors[:MAX_REPORTED_ERRORS]
            more = "" if len(shown) == len(exc.errors) else f" (the first {len(shown)} listed)"
            return problem(
                422,
                f"The file was rejected: {len(exc.errors)} problems{more}; nothing was written.",
                title="Invalid import",
                kind="import-rejected",
                errors=[asdict(e) for e in shown],
            )
        return json_response({**asdict(outcome), "dry_run": args["dry_run"]})


TEMPLATE_DESCRIPTION = (
    "An .xlsx workbook to fill in and POST to /v1/imports: Chinese headers (frozen), one "
    "example station, drop-down lists for 类型, 状态, 坐标系 and 调休开放, and a sheet 设施 "
    "listing every amenity label. It imports as it is (try dry_run=true)."
)


@blp.route("/template.xlsx")
class ImportTemplate(MethodView):
    @gate.required(*gate.WRITERS)
    @blp.alt_response(
        200,
        description=TEMPLATE_DESCRIPTION,
        content_type=xlsx.MEDIA_TYPE,
        schema={"type": "string", "format": "binary"},
        success=True,
    )
    @blp.doc(security=gate.BEARER)
    def get(self):
        """The XLSX import template, with Chinese headers and drop-down lists."""
        headers = {"Content-Disposition": 'attachment; filename="yizhan-import-template.xlsx"'}
        return Response(template.workbook_bytes(), mimetype=xlsx.MEDIA_TYPE, headers=headers)
