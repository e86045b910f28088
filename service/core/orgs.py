"""Orgs by code: the one lookup every resource uses, and the subtree rule on codes.

Org codes are ltree paths (`zj.zs.dh`): an org's subtree is itself and every code that
starts with it and a dot.
"""

import sqlalchemy as sa

from service.core.models import Org

_CODE = sa.cast(Org.code, sa.Text)


def covers(ancestor: str, code: str) -> bool:
    """Is `code` the org `ancestor` or below it?"""
    return code == ancestor or code.startswith(ancestor + ".")


def parent(code: str) -> str | None:
    return code.rsplit(".", 1)[0] if "." in code else None


def org_id(conn: sa.Connection, code: str) -> int | None:
    """The id of the org `code`, or None when there is no such org."""
    return conn.scalar(sa.select(Org.id).where(Org.code == code))


def org_ids(conn: sa.Connection, codes) -> dict[str, int]:
    """Code -> id for those of `codes` that exist (one query)."""
    return dict(conn.execute(sa.select(_CODE, Org.id).where(_CODE.in_(list(codes)))).all())
