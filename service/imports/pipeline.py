"""One import, from file to rows: parse, check each row's org, upsert (API and `yizhan import`)."""

from dataclasses import dataclass

import sqlalchemy as sa

from service.core import orgs
from service.imports import parse
from service.imports.store import Outcome, upsert


class Rejected(ValueError):
    """The file is refused: the errors say which rows and fields."""

    def __init__(self, errors: list[parse.RowError]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


@dataclass(frozen=True)
class Settings:
    max_rows: int
    horizon_days: int

    @classmethod
    def of(cls, cfg) -> "Settings":
        return cls(cfg["IMPORT_MAX_ROWS"], cfg["HOURS_HORIZON_DAYS"])


def run_import(
    conn: sa.Connection,
    body: bytes,
    content_type: str,
    org: str,
    user_id: int | None,
    covers,
    settings: Settings,
    at,
    crs: str = "wgs84",
    dry_run: bool = False,
) -> Outcome:
    """Parse, check every row's org, upsert; raises Rejected with every problem found.

    `covers(code)` says whether the caller may write to an org.
    """
    rows, errors = parse.parse(body, content_type, crs, settings.max_rows)
    known = orgs.org_ids(conn, {row.org or org for row in rows})
    resolved, seen = [], {}
    for row in rows:
        code = row.org or org
        if not orgs.covers(org, code) or not covers(code):
            errors.append(parse.RowError(row.number, "org", f"{code} is not in {org}'s subtree."))
        elif code not in known:
            errors.append(parse.RowError(row.number, "org", f"No org {code}."))
        elif (key := (code, row.data["external_id"])) in seen:
            # The parser sees `org` as written; an empty cell and `org=CODE` are the same org.
            message = f"Duplicate of row {seen[key]} (same org and external_id)."
            errors.append(parse.RowError(row.number, "external_id", message))
        else:
            seen[key] = row.number
            resolved.append((row.number, known[code], row.data))
    if errors:
        raise Rejected(sorted(set(errors), key=lambda e: (e.row, e.field, e.message)))
    return upsert(conn, resolved, user_id, at, settings.horizon_days, dry_run)
