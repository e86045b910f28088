"""One site by id (ETag, datums, closed sites), its opening hours, the vocabulary and probes.

Sites are found by their fixture external_id, never by an assumed id. Permanently closed
sites are hidden from every list, so their ids come from the database itself.
"""

import json

import pytest
import sqlalchemy as sa

from service.geo.datums import wgs84_to_gcj02
from tests import support

FIXTURES = support.FIXTURES
DEMO_SITES = json.loads((FIXTURES / "demo_sites.json").read_text(encoding="utf-8"))
AMENITIES = json.loads((FIXTURES / "amenities.json").read_text(encoding="utf-8"))
CLOSED = [s for s in DEMO_SITES if s["status"] == "closed"]


@pytest.fixture()
def ids(client) -> dict[str, int]:
    """external_id -> id of every listed site, from the API."""
    items = client.get("/v1/sites?limit=1000").get_json()["items"]
    return {s["external_id"]: s["id"] for s in items}


def fixture_site(external_id: str) -> dict:
    return next(s for s in DEMO_SITES if s["external_id"] == external_id)


def db_id(conn, external_id: str) -> int:
    site_id = conn.scalar(
        sa.text("SELECT id FROM sites WHERE external_id = :x AND deleted_at IS NULL"),
        {"x": external_id},
    )
    assert site_id is not None, external_id
    return site_id


def hours(client, site_id: int, query: str) -> list[tuple[str, str]]:
    response = client.get(f"/v1/sites/{site_id}/hours?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["timezone"] == "Asia/Shanghai"
    return [(i["start"], i["end"]) for i in body["intervals"]]


# --- GET /v1/sites/{id}: representation and conditional requests ---------------------


def test_site_by_id_has_the_fixture_fields_and_an_etag(client, ids):
    """The Dinghai station comes back as seeded, with a quoted ETag."""
    response = client.get(f"/v1/sites/{ids['DEMO-DH-0001']}")
    assert response.status_code == 200
    site = response.get_json()
    seeded = fixture_site("DEMO-DH-0001")
    for key in ("kind", "name", "name_en", "address", "opening_hours", "timezone", "status"):
        assert site[key] == seeded[key]
    assert site["org"]["code"] == seeded["org"]
    assert site["location"] == seeded["location"]
    assert sorted(site["amenities"]) == sorted(seeded["amenities"])
    etag = response.headers.get("ETag")
    assert etag and etag.startswith('"') and etag.endswith('"')


def test_if_none_match_with_the_etag_is_a_304_with_no_body(client, ids):
    """Revalidation with the current ETag: 304, empty body, the same ETag."""
    url = f"/v1/sites/{ids['DEMO-DH-0001']}"
    etag = client.get(url).headers["ETag"]
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag


def test_if_none_match_in_a_list_of_etags_is_a_304(client, ids):
    """If-None-Match may list several ETags; one match is enough."""
    url = f"/v1/sites/{ids['DEMO-DH-0001']}"
    etag = client.get(url).headers["ETag"]
    response = client.get(url, headers={"If-None-Match": f'"stale", {etag}'})
    assert response.status_code == 304


def test_if_none_match_uses_weak_comparison(client, ids):
    """RFC 9110 13.1.2: W/"x" matches "x" (proxies that compress weaken ETags)."""
    url = f"/v1/sites/{ids['DEMO-DH-0001']}"
    etag = client.get(url).headers["ETag"]
    response = client.get(url, headers={"If-None-Match": f"W/{etag}"})
    assert response.status_code == 304
    assert response.data == b""


def test_if_none_match_with_another_etag_is_a_200(client, ids):
    """A stale ETag gets the full representation."""
    url = f"/v1/sites/{ids['DEMO-DH-0001']}"
    response = client.get(url, headers={"If-None-Match": '"not-the-etag"'})
    assert response.status_code == 200
    assert response.get_json()["external_id"] == "DEMO-DH-0001"


def test_gcj02_has_its_own_etag_and_shifted_location(client, ids):
    """crs=gcj02: another representation, so another ETag; location is WGS-84 shifted."""
    url = f"/v1/sites/{ids['DEMO-DH-0001']}"
    wgs = client.get(url)
    gcj = client.get(f"{url}?crs=gcj02")
    assert gcj.status_code == 200
    assert gcj.headers["ETag"] != wgs.headers["ETag"]
    loc = wgs.get_json()["location"]
    lat, lon = wgs84_to_gcj02(loc["lat"], loc["lon"])
    assert gcj.get_json()["location"] == {"lat": round(lat, 7), "lon": round(lon, 7)}
    # The WGS-84 ETag does not validate the GCJ-02 representation.
    revalidated = client.get(f"{url}?crs=gcj02", headers={"If-None-Match": wgs.headers["ETag"]})
    assert revalidated.status_code == 200


# --- closed sites -----------------------------------------------------------------------


@pytest.mark.parametrize("seeded", CLOSED, ids=[s["external_id"] for s in CLOSED])
def test_closed_site_is_returned_by_id_only(client, conn, seeded):
    """status closed: GET by id works; /v1/sites and nearby never list it."""
    site_id = db_id(conn, seeded["external_id"])
    response = client.get(f"/v1/sites/{site_id}")
    assert response.status_code == 200
    assert response.get_json()["status"] == "closed"

    listed = client.get("/v1/sites?limit=1000").get_json()
    assert listed["next"] is None
    assert site_id not in {s["id"] for s in listed["items"]}

    lat, lon = seeded["location"]["lat"], seeded["location"]["lon"]
    box = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    in_box = client.get(f"/v1/sites?bbox={box}&limit=1000").get_json()["items"]
    assert site_id not in {s["id"] for s in in_box}

    near = client.get(f"/v1/sites/nearby?lat={lat}&lon={lon}&radius=1000&limit=100").get_json()
    assert site_id not in {s["id"] for s in near["items"]}
    by_name = client.get(
        f"/v1/sites/nearby?lat={lat}&lon={lon}&radius=50000&limit=100&q={seeded['name']}"
    ).get_json()
    assert site_id not in {s["id"] for s in by_name["items"]}


def test_listing_hides_exactly_the_closed_sites(ids):
    """Every non-closed fixture is listed; no closed one is."""
    listed = set(ids)
    expected = {s["external_id"] for s in DEMO_SITES if s["status"] != "closed"}
    assert listed == expected


# --- GET /v1/sites/{id}/hours -----------------------------------------------------------


def test_dinghai_hours_over_two_days(client, ids):
    """ "Mo-Su 09:00-21:00" from Monday midnight for 2 days: two 09:00-21:00 intervals."""
    assert fixture_site("DEMO-DH-0001")["opening_hours"] == "Mo-Su 09:00-21:00"
    got = hours(client, ids["DEMO-DH-0001"], "from=2026-11-30T00:00:00%2B08:00&days=2")
    assert got == [
        ("2026-11-30T09:00:00+08:00", "2026-11-30T21:00:00+08:00"),
        ("2026-12-01T09:00:00+08:00", "2026-12-01T21:00:00+08:00"),
    ]


def test_hours_from_utc_instant_are_given_in_the_sites_zone(client, ids):
    """A `from` in UTC is the same window; intervals still carry +08:00."""
    got = hours(client, ids["DEMO-DH-0001"], "from=2026-11-29T16:00:00Z&days=1")
    assert got == [("2026-11-30T09:00:00+08:00", "2026-11-30T21:00:00+08:00")]


def test_always_open_site_covers_the_whole_window(client, ids):
    """ "24/7" over days=1 from now (12:00): one interval, now to now + 1 day."""
    site = next(s for s in DEMO_SITES if s["opening_hours"] == "24/7" and s["status"] == "active")
    got = hours(client, ids[site["external_id"]], "days=1")
    assert got == [("2026-11-30T12:00:00+08:00", "2026-12-01T12:00:00+08:00")]


def test_temporarily_closed_site_has_no_intervals(client, ids):
    """status temporarily_closed overrides the hours: never open."""
    closed = [s for s in DEMO_SITES if s["status"] == "temporarily_closed" and s["opening_hours"]]
    assert closed
    for site in closed:
        assert hours(client, ids[site["external_id"]], "days=7") == [], site["external_id"]


def test_public_holiday_closes_a_ph_off_site(client, ids):
    """Linhai service centre, "... PH off": open on 2026-09-30, shut on National Day."""
    site = fixture_site("DEMO-LH-0001")
    assert "PH off" in site["opening_hours"]
    got = hours(client, ids["DEMO-LH-0001"], "from=2026-09-30T00:00:00%2B08:00&days=3")
    days = {start[:10] for start, _ in got}
    assert "2026-09-30" in days
    assert "2026-10-01" not in days
    for start, end in got:
        assert start.endswith("+08:00") and end.endswith("+08:00")


# --- vocabulary and probes --------------------------------------------------------------


def test_amenities_list_the_whole_vocabulary(client):
    """Every code of fixtures/amenities.json with its Chinese and English label; next null."""
    response = client.get("/v1/amenities")
    assert response.status_code == 200
    body = response.get_json()
    assert body["next"] is None
    served = {a["code"]: a for a in body["items"]}
    assert len(served) == len(body["items"]), "codes are unique"
    assert set(served) == {a["code"] for a in AMENITIES}
    for expected in AMENITIES:
        item = served[expected["code"]]
        assert item["label"] == expected["label"]
        assert item["label_en"] == expected["label_en"]


def test_healthz(client):
    """Liveness answers 200."""
    assert client.get("/healthz").status_code == 200


def test_readyz(client):
    """Readiness: 200 and every check ok (database, migrations, hours horizon)."""
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_data(as_text=True)
    checks = response.get_json()["checks"]
    assert {"database", "migrations", "hours"} <= set(checks)
    assert all(v == "ok" for v in checks.values()), checks
