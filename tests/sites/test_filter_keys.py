"""`filter_keys` (schema/versions/0006_filter_keys.py): the nearby index's prefilter.

A key test may keep a site the exact filter drops, never the reverse: a missing key would
hide a matching station from riders with no error anywhere. These tests check that rule
over every amenity and hours pattern of the demo data, and that writes keep keys current.
"""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.sites.store import upsert_site
from tests.conftest import FROZEN_NOW, HORIZON_DAYS

ABSENT = "no_such_amenity"


def test_every_site_with_an_amenity_carries_its_key(conn):
    codes = conn.scalars(sa.text("SELECT code FROM amenities")).all()
    assert len(codes) > 10
    with_amenity = 0
    for code in [*codes, ABSENT]:
        row = conn.execute(
            sa.text(
                "SELECT count(*) FILTER (WHERE amenities @> ARRAY[:c]) AS exact, "
                "count(*) FILTER (WHERE amenities @> ARRAY[:c] "
                "                 AND NOT filter_keys @> amenity_keys(ARRAY[:c])) AS missed "
                "FROM sites"
            ),
            {"c": code},
        ).one()
        assert row.missed == 0, code
        with_amenity += row.exact
    assert with_amenity > 100  # the check saw real matches


def test_amenity_keys_are_positive_and_distinct_from_hours_keys(conn):
    keys = conn.scalar(sa.text("SELECT amenity_keys(array_agg(code)) FROM amenities"))
    assert all(k >= 2**30 for k in keys)
    assert keys == sorted(set(keys))
    # Order and repeats of the asked codes do not matter.
    assert conn.scalar(
        sa.text("SELECT amenity_keys('{wifi,microwave,wifi}') = amenity_keys('{microwave,wifi}')")
    )


@pytest.mark.parametrize("hours", [0, 3, 9, 12, 20.99, 21, 23.5, 24 * 5 + 12])
def test_every_site_open_at_a_time_carries_an_open_key(conn, hours):
    at = FROZEN_NOW + timedelta(hours=hours)
    row = conn.execute(
        sa.text(
            """
            WITH open_patterns AS (
                SELECT array_agg(pattern_id) AS ids, array_agg(-pattern_id) AS keys
                FROM hours_pattern_intervals WHERE during @> CAST(:at AS timestamptz)
            )
            SELECT count(*) FILTER (WHERE exact) AS exact,
                   count(*) FILTER (WHERE exact <> coalesce(keyed, false)) AS differ
            FROM (
                SELECT s.status = 'active' AND s.hours_pattern_id = ANY(o.ids) AS exact,
                       s.filter_keys && o.keys AS keyed
                FROM sites s, open_patterns o
                WHERE s.deleted_at IS NULL AND s.status <> 'closed'
            ) t
            """
        ),
        {"at": at},
    ).one()
    # Hours keys are exact: the same sites, not merely a superset.
    assert row.differ == 0, at
    if hours in (3, 12):
        assert row.exact > 0


def nearby_ids(client, **params) -> set[int]:
    query = {"lat": 30.0, "lon": 120.0, "radius": 2000, "limit": 50, **params}
    r = client.get("/v1/sites/nearby", query_string=query)
    assert r.status_code == 200, r.json
    return {item["id"] for item in r.json["items"]}


def test_keys_follow_amenity_status_and_hours_changes(client, conn):
    org_id = conn.scalar(sa.text("SELECT id FROM orgs WHERE code = 'zj'"))
    site = {
        "kind": "station",
        "name": "键测试驿站",
        "external_id": "KEYS-1",
        "opening_hours": "24/7",
        "location": {"lat": 30.001, "lon": 120.001},
        "amenities": ["microwave"],
    }

    def save(**changes):
        site.update(changes)
        site_id, _ = upsert_site(conn, org_id, site, FROZEN_NOW, HORIZON_DAYS)
        return site_id

    site_id = save()
    both = {"amenities": "microwave,wifi", "open_now": "true"}
    assert site_id not in nearby_ids(client, **both)
    assert site_id in nearby_ids(client, amenities="microwave", open_now="true")

    save(amenities=["microwave", "wifi"])
    assert site_id in nearby_ids(client, **both)

    save(status="temporarily_closed")
    assert site_id not in nearby_ids(client, **both)
    assert site_id in nearby_ids(client, amenities="microwave,wifi")

    save(status="active", opening_hours="Mo-Su 01:00-02:00")  # FROZEN_NOW is noon
    assert site_id not in nearby_ids(client, **both)
    save(opening_hours="Mo-Su 00:00-24:00")
    assert site_id in nearby_ids(client, **both)


def test_keys_compute_with_an_empty_search_path(conn):
    """pg_restore recomputes stored generated columns with search_path ''."""
    schema = conn.scalar(sa.text("SELECT current_schema()"))
    call = "site_filter_keys('{wifi,microwave,wifi}', 'active', 7)"
    expected = conn.scalar(sa.text(f"SELECT {call}"))
    conn.execute(sa.text("SET LOCAL search_path = ''"))
    assert conn.scalar(sa.text(f'SELECT "{schema}".{call}')) == expected
    assert expected[0] == -7 and len(expected) == 3
    assert expected[1:] == sorted(expected[1:])
