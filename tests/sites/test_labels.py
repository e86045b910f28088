"""Filters take the Chinese labels of kinds and amenities (and the amenities' synonyms)
wherever they take codes (API.md, "Riders and map apps")."""

import pytest

from tests.support import assert_problem

NEAR = {"lat": 30.0176, "lon": 122.1069, "radius": 50000, "limit": 50}
BOX = {"bbox": "121,29,123,31", "limit": 200}


def ids(client, path: str, **query) -> list[int]:
    where = NEAR if path.endswith("nearby") else BOX
    r = client.get(path, query_string={**where, **query})
    assert r.status_code == 200, r.json
    return [i["id"] for i in r.json["items"]]


@pytest.mark.parametrize(
    "label, code",
    [("驿站", "station"), ("户外劳动者驿站", "station"), ("职工之家", "home"),
     ("服务设施", "facility")],
)  # fmt: skip
def test_a_kind_label_filters_as_its_code(client, label, code):
    by_code = ids(client, "/v1/sites/nearby", kind=code)
    assert by_code and ids(client, "/v1/sites/nearby", kind=label) == by_code


@pytest.mark.parametrize(
    "words, codes",
    [("微波炉", "microwave"), ("热饭", "microwave"), ("微波炉,充电", "microwave,phone_charging"),
     ("微波炉，免费Wi-Fi", "microwave,wifi"), ("microwave、热水", "microwave,water_dispenser")],
)  # fmt: skip
def test_amenity_labels_and_synonyms_filter_as_their_codes(client, words, codes):
    expected = ids(client, "/v1/sites/nearby", amenities=codes)
    assert expected
    assert ids(client, "/v1/sites/nearby", amenities=words) == expected
    assert ids(client, "/v1/sites", amenities=words) == ids(client, "/v1/sites", amenities=codes)


def test_an_unknown_label_is_a_422_naming_the_nearest(client):
    r = client.get("/v1/sites/nearby", query_string={**NEAR, "amenities": "微波灶"})
    assert_problem(r, 422)
    (message,) = r.json["errors"]["amenities"]
    assert "微波灶" in message and "微波炉" in message  # the nearest known label
    r = client.get("/v1/sites/nearby", query_string={**NEAR, "kind": "驿"})
    assert_problem(r, 422)
    assert "驿站" in r.json["errors"]["kind"][0]
