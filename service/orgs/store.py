"""The org tree's SQL: a subtree in tree order, and adding or renaming an org."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from service.core import orgs
from service.core.models import Org
from service.core.params import ORG_CODE


def subtree(conn: sa.Connection, code: str | None) -> list[tuple[str, str]]:
    """(code, name) of the org `code` and every org below it (None: every org), in tree order."""
    stmt = sa.select(sa.cast(Org.code, sa.Text), Org.name).order_by(Org.code)
    if code is not None:
        stmt = stmt.where(Org.code.descendant_of(code))
    return conn.execute(stmt).all()


def create(conn: sa.Connection, code: str, name: str) -> int | None:
    """Add an org; None when one with that code exists (the caller checked the parent)."""
    return conn.scalar(
        sa.text(
            "INSERT INTO orgs (code, name) VALUES (CAST(:code AS ltree), :name) "
            "ON CONFLICT (code) DO NOTHING RETURNING id"
        ),
        {"code": code, "name": name},
    )


def upsert_org(conn: sa.Connection, code: str, name: str) -> int:
    """Create or rename an org (seeds, `yizhan orgs add`); a non-root org's parent must
    already exist (ValueError otherwise)."""
    if not ORG_CODE.fullmatch(code):
        raise ValueError(f"{code!r} is not an org code (dotted lowercase labels, e.g. zj.zs.dh)")
    parent = orgs.parent(code)
    if parent is not None and orgs.org_id(conn, parent) is None:
        raise ValueError(f"parent org {parent} does not exist")
    stmt = insert(Org).values(code=code, name=name)
    stmt = stmt.on_conflict_do_update(index_elements=[Org.code], set_={"name": name})
    return conn.scalar(stmt.returning(Org.id))
