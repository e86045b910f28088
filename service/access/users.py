"""Users of an org with a role (the `yizhan users` command; console accounts come later)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from service.core import orgs
from service.core.models import ROLES, User


class IdentityError(ValueError):
    pass


def ensure_user(conn: sa.Connection, org_code: str, name: str, role: str) -> int:
    """Create the user (or set its role); returns its id."""
    if role not in ROLES:
        raise IdentityError(f"role must be one of {', '.join(ROLES)}")
    org_id = orgs.org_id(conn, org_code)
    if org_id is None:
        raise IdentityError(f"no org {org_code}")
    stmt = insert(User).values(org_id=org_id, name=name, role=role)
    stmt = stmt.on_conflict_do_update(index_elements=[User.org_id, User.name], set_={"role": role})
    return conn.scalar(stmt.returning(User.id))
