"""Loading the demo orgs and sites shipped in fixtures/ (idempotent)."""

import json
from collections import Counter
from datetime import datetime
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from service.amenities.queries import sync_vocabulary
from service.core.models import Org
from service.core.params import ORG_CODE
from service.sites.store import upsert_site


def fixture(name: str):
    return json.loads(resources.files("fixtures").joinpath(name).read_text("utf-8"))


def upsert_org(conn: sa.Connection, code: str, name: str) -> int:
    """Create or rename an org; a non-root org's parent must already exist."""
    if not ORG_CODE.match(code):
        raise ValueError(f"{code!r} is not an org code (dotted lowercase labels, e.g. zj.zs.dh)")
    if "." in code:
        parent = code.rsplit(".", 1)[0]
        if conn.scalar(sa.select(Org.id).where(Org.code == parent)) is None:
            raise ValueError(f"parent org {parent} does not exist")
    stmt = insert(Org).values(code=code, name=name)
    stmt = stmt.on_conflict_do_update(index_elements=[Org.code], set_={"name": name})
    return conn.scalar(stmt.returning(Org.id))


def load_demo(conn: sa.Connection, now: datetime, days: int, country: str) -> dict[str, int]:
    """Vocabulary, orgs and demo sites; running it twice changes nothing the second time."""
    sync_vocabulary(conn)
    org_ids = {o["code"]: upsert_org(conn, o["code"], o["name"]) for o in fixture("orgs.json")}
    outcomes: Counter[str] = Counter()
    for site in fixture("demo_sites.json"):
        _, outcome = upsert_site(conn, org_ids[site["org"]], site, now, days, country)
        outcomes[outcome] += 1
    return {"orgs": len(org_ids), **outcomes}
