"""Rider reports: anyone reports a problem with a site; admins triage those of their subtree."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, fields, validate

from service.access import gate, quotas
from service.core import pagination
from service.core.api import Blueprint, require_json
from service.core.clock import now
from service.core.db import db
from service.core.models import REPORT_CATEGORIES, REPORT_STATUSES
from service.core.params import StrictQuery, Text
from service.core.responses import json_response
from service.reports import queries

blp = Blueprint("reports", __name__, description="Rider reports and their triage.")
blp.before_request(require_json)


class ReportIn(Schema):
    class Meta:
        unknown = RAISE

    category = fields.String(required=True, validate=validate.OneOf(REPORT_CATEGORIES))
    comment = Text(multiline=True, allow_none=True, validate=validate.Length(max=500))


class ReportSchema(Schema):
    id = fields.Integer(required=True)
    site_id = fields.Integer(required=True)
    category = fields.String(required=True)
    comment = fields.String(allow_none=True)
    status = fields.String(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})


class TriagedReport(ReportSchema):
    site_name = fields.String(required=True)
    org = fields.String(required=True)
    resolved_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    resolved_by = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class ReportPage(Schema):
    items = fields.List(fields.Nested(TriagedReport), required=True)
    next = fields.String(allow_none=True, required=True)


class ReportListArgs(StrictQuery):
    status = fields.String(validate=validate.OneOf(REPORT_STATUSES))
    site_id = fields.Integer(validate=validate.Range(1, 2**63 - 1))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=validate.Length(max=200))


class ReportPatch(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(required=True, validate=validate.OneOf(REPORT_STATUSES))
    note = Text(multiline=True, allow_none=True, validate=validate.Length(max=500))


@blp.route("/v1/sites/<id:site_id>/reports")
class SiteReports(MethodView):
    @blp.arguments(ReportIn, location="json")
    @blp.response(201, ReportSchema)
    @blp.doc(
        responses={
            201: {
                "links": {
                    "TriageReport": {
                        "operationRef": "#/paths/~1v1~1reports~1{report_id}/patch",
                        "parameters": {"report_id": "$response.body#/id"},
                        "description": "An admin of the site's subtree resolves or rejects it.",
                    }
                }
            }
        }
    )
    def post(self, data, site_id):
        """Report a problem with a site (no credentials; limited per client)."""
        cfg = current_app.config
        quotas.hit("reports", cfg["REPORTS_PER_HOUR"], 3600)
        with db.writing() as conn:
            row = queries.create(conn, site_id, data["category"], data.get("comment"), now())
        if row is None:
            abort(404, message=f"No site with id {site_id}.")
        return json_response(queries.public(row), status=201)


@blp.route("/v1/reports")
class Reports(MethodView):
    @gate.required(*gate.READERS)
    @blp.arguments(ReportListArgs, location="query")
    @blp.response(200, ReportPage)
    @blp.doc(security=gate.BEARER)
    def get(self, args):
        """Reports on sites of your subtree, newest first; filter by status and site."""
        before = pagination.after_id(args)
        with db.reading(primary=True) as conn:  # triage is read right after it is written
            rows = queries.in_subtree(
                conn,
                gate.principal().org_code,
                args.get("status"),
                args.get("site_id"),
                before,
                args["limit"],
            )
        page, next_url = pagination.page(rows, args["limit"])
        return json_response({"items": [queries.triaged(r) for r in page], "next": next_url})


@blp.route("/v1/reports/<id:report_id>")
class ReportById(MethodView):
    @gate.required(*gate.WRITERS)
    @blp.arguments(ReportPatch, location="json")
    @blp.response(200, TriagedReport)
    @blp.doc(security=gate.BEARER)
    def patch(self, data, report_id):
        """Resolve or reject a report (or reopen it)."""
        me = gate.principal()
        with db.writing() as conn:
            row = queries.triage(
                conn, report_id, me.org_code, data["status"], data.get("note"), me.user_id, now()
            )
        if row is None:
            abort(404, message=f"No report {report_id} in your subtree.")
        return json_response(queries.triaged(row))
