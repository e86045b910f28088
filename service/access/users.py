"""Users of an org with a role (the `yizhan users` command); console passwords and sessions are
in accounts.py."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from service.access import accounts
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
    before = conn.scalar(sa.select(User.role).where(User.org_id == org_id, User.name == name))
    stmt = insert(User).values(org_id=org_id, name=name, role=role)
    stmt = stmt.on_conflict_do_update(index_elements=[User.org_id, User.name], set_={"role": role})
    user_id = conn.scalar(stmt.returning(User.id))
    if before is not None and before != role:
        accounts.end_sessions(conn, user_id)  # a new role: log in again to get it
    return user_id
