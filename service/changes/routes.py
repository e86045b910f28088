"""GET /v1/changes: a change feed for offline copies that never skips a change.

Without `since`: the current snapshot (every live site, closed ones included), paged
through `next`, and a `next_cursor` for everything that happens from now on. With
`since`: the sites created, updated or deleted (tombstones) after that cursor, each
with its current state; several changes to one site in a page collapse into one item.
"""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from service.changes import queries
from service.core import pagination
from service.core.api import Blueprint
from service.core.db import db
from service.core.params import StrictQuery, crs_field, invalid
from service.core.responses import json_response
from service.sites import serialize
from service.sites.schemas import SiteSchema

blp = Blueprint("changes", __name__, url_prefix="/v1/changes", description="Change feed.")

MAX_ID = 2**63 - 1


class ChangesArgs(StrictQuery):
    since = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "A next_cursor from an earlier answer; omit for a snapshot."},
    )
    snapshot = fields.String(
        validate=validate.Length(max=200), metadata={"description": "Snapshot page token."}
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    crs = crs_field()


class Change(Schema):
    id = fields.Integer(required=True)
    op = fields.String(required=True, validate=validate.OneOf(["upsert", "delete"]))
    site = fields.Nested(SiteSchema, allow_none=True, required=True)


class ChangePage(Schema):
    items = fields.List(fields.Nested(Change), required=True)
    next_cursor = fields.String(required=True)
    next = fields.String(allow_none=True, required=True)


def _decode(token: str, name: str, keys: tuple[str, ...]) -> dict:
    value = pagination.untoken(token)
    if not (
        isinstance(value, dict)
        and set(value) == set(keys)
        and all(type(value[k]) is int and 0 <= value[k] <= MAX_ID for k in keys if k != "s")
        and type(value.get("s", -1)) is int
        and -1 <= value.get("s", -1) <= MAX_ID  # -1 (before any row) is the only negative one
    ):
        invalid(name, f"Malformed {name}; use the value an earlier answer gave.")
    return value


def _change_position(row) -> dict:
    return {"x": int(row.xid), "s": row.seq}


@blp.route("")
class Changes(MethodView):
    @blp.arguments(ChangesArgs, location="query")
    @blp.response(200, ChangePage)
    def get(self, args):
        """Changes after `since`, or (without it) the current snapshot and a cursor for now."""
        if "since" in args and "snapshot" in args:
            invalid("since", "since and snapshot are exclusive.")
        limit, crs = args["limit"], args["crs"]
        # The feed reads the primary: a replica's snapshot boundary is not the primary's.
        with db.writing() as conn:
            if "since" in args:
                return self._changes(conn, _decode(args["since"], "since", ("x", "s")), limit, crs)
            if "snapshot" in args:
                position = _decode(args["snapshot"], "snapshot", ("a", "x"))
            else:
                position = {"a": 0, "x": queries.boundary(conn)}
            rows = queries.snapshot_page(conn, position["a"], limit)
        page, next_url = pagination.page(
            rows, limit, lambda r: {"a": r.id, "x": position["x"]}, "snapshot", pagination.token
        )
        items = [{"id": r.id, "op": "upsert", "site": serialize.site(r, crs)} for r in page]
        return json_response(
            {
                "items": items,
                "next_cursor": pagination.token({"x": position["x"], "s": -1}),
                "next": next_url,
            }
        )

    @staticmethod
    def _changes(conn, position: dict, limit: int, crs: str):
        rows = queries.changes_after(conn, position["x"], position["s"], limit)
        page, next_url = pagination.page(rows, limit, _change_position, "since", pagination.token)
        # An empty page (a poll with nothing new, the usual answer) needs no sites.
        states = queries.sites(conn, sorted({r.site_id for r in page})) if page else {}
        latest = {r.site_id: i for i, r in enumerate(page)}  # last change per site wins
        items = []
        for i, row in enumerate(page):
            if latest[row.site_id] != i:
                continue
            state = states.get(row.site_id)
            if state is None or state.deleted:
                items.append({"id": row.site_id, "op": "delete", "site": None})
            else:
                items.append(
                    {"id": row.site_id, "op": "upsert", "site": serialize.site(state, crs)}
                )
        cursor = pagination.token(_change_position(page[-1]) if page else position)
        return json_response({"items": items, "next_cursor": cursor, "next": next_url})
