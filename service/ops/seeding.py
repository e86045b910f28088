"""Loading the demo orgs and sites shipped in fixtures/ (idempotent)."""

import json
from collections import Counter
from datetime import datetime
from importlib import resources

import sqlalchemy as sa

from service.amenities.queries import sync_vocabulary
from service.hours import calendar
from service.orgs.store import upsert_org
from service.sites.store import upsert_site


def fixture(name: str):
    return json.loads(resources.files("fixtures").joinpath(name).read_text("utf-8"))


def load_demo(conn: sa.Connection, now: datetime, days: int) -> dict[str, int]:
    """Vocabulary, calendar, orgs and demo sites; running it twice changes nothing the second
    time."""
    sync_vocabulary(conn)
    years = calendar.load_fixtures(conn)
    org_ids = {o["code"]: upsert_org(conn, o["code"], o["name"]) for o in fixture("orgs.json")}
    outcomes: Counter[str] = Counter()
    for site in fixture("demo_sites.json"):
        _, outcome = upsert_site(conn, org_ids[site["org"]], site, now, days)
        outcomes[outcome] += 1
    return {"calendar_years": years, "orgs": len(org_ids), **outcomes}
