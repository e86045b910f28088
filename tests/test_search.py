"""Text search `q`: Chinese substrings through the CJK gram index, exact by LIKE."""

import pytest
import sqlalchemy as sa

from service.sites.filters import cjk_grams

TEXTS = [
    "定海区东门劳动者驿站\x1fDinghai East Gate Worker Station\x1f舟山市定海区东门交通综合体一楼",
    "杭州市上城区湖滨街道户外劳动者驿站\x1f\x1f杭州市上城区平海路12号",
    "顺丰速运 SF Express 网点爱心驿站　二楼\x1fCafé Ünïcode ΣΊΣΥΦΟΣ\x1f３号楼（南门）",
]


@pytest.mark.parametrize("text", TEXTS)
def test_query_grams_are_a_subset_of_the_indexed_grams(conn, text):
    """Every substring's grams must be in the text's grams, or a real match is lost."""
    stored = set(conn.scalar(sa.text("SELECT cjk_grams(lower(:t))"), {"t": text}))
    for i in range(len(text)):
        for j in range(i + 1, min(len(text), i + 12) + 1):
            q = text[i:j]
            if "\x1f" in q:
                continue
            assert set(cjk_grams(q)) <= stored, q


@pytest.mark.parametrize(
    "q, expected",
    [
        ("东门", "DEMO-DH-0001"),
        ("东", "DEMO-DH-0001"),
        ("东门劳动者", "DEMO-DH-0001"),
        ("dinghai east", "DEMO-DH-0001"),
        ("定海区东门", "DEMO-DH-0001"),
    ],
)
def test_chinese_and_english_substrings_find_the_station(client, q, expected):
    r = client.get("/v1/sites", query_string={"q": q, "limit": 1000})
    assert expected in {i["external_id"] for i in r.json["items"]}


def test_a_query_spanning_two_fields_matches_nothing(client):
    r = client.get("/v1/sites", query_string={"q": "驿站dinghai"})
    assert r.json["items"] == []


def test_mixed_script_site_is_found_by_each_part(client, make_site):
    site_id = make_site(
        45.0, 90.0, name="顺丰速运 SF Express 网点爱心驿站", address="３号楼（南门）"
    )
    for q in ("sf express", "速运 sf", "爱心驿", "（南门）", "３号楼"):
        r = client.get("/v1/sites", query_string={"q": q})
        assert site_id in {i["id"] for i in r.json["items"]}, q
