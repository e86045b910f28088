"""Text search `q`: Chinese substrings through the CJK gram index, exact by LIKE."""

import importlib.util

import pytest
import sqlalchemy as sa

from service.sites.filters import cjk_grams
from tests import support

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


def _walk_of_0001():
    """The body `cjk_grams` had before 0009's ASCII shortcut (kept in that migration)."""
    path = support.ROOT / "schema" / "versions" / "0009_ascii_grams.py"
    spec = importlib.util.spec_from_file_location("migration_0009", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WALK


GRAM_TEXTS = [
    *TEXTS,
    "",
    " ",
    "plain ascii name\x1fwith\tcontrols\x1froad 12",
    "\x7f\x01 edge of ascii \x7f",
    "\x80 first above ascii",
    "café",
    "东",
    "a东",
    "东 a",
    "驿站🚲 emoji 𠮷野家",
    "\x1f东\x1f门\x1f",
    "zhoushan synthetic station 12\x1f\x1fzhoushan district 3 road 7",
]


@pytest.mark.parametrize("text", GRAM_TEXTS)
def test_ascii_shortcut_gives_the_walks_grams(conn, text):
    """0009 answers ASCII text without the walk; every text gets the same grams as before."""
    conn.execute(
        sa.text(
            "CREATE FUNCTION pg_temp.walk(t text) RETURNS text[] "
            f"LANGUAGE sql IMMUTABLE STRICT AS $$ {_walk_of_0001()} $$"
        )
    )
    now, before = conn.execute(
        sa.text("SELECT cjk_grams(lower(:t)), pg_temp.walk(lower(:t))"), {"t": text}
    ).one()
    assert now == before
    assert (now == []) == all(ord(c) < 128 for c in text)


def test_grams_compute_with_an_empty_search_path(conn):
    """pg_restore recomputes stored generated columns with search_path ''."""
    schema = conn.scalar(sa.text("SELECT current_schema()"))
    conn.execute(sa.text("SET LOCAL search_path = ''"))
    grams = conn.scalar(sa.text(f"SELECT \"{schema}\".cjk_grams('ab东门 x')"))
    assert set(grams) == {"b东", "东", "东门", "门"}
    assert conn.scalar(sa.text(f"SELECT \"{schema}\".cjk_grams('ascii only')")) == []
