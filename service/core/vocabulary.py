"""The amenity vocabulary, read from `fixtures/amenities.json`, and the Chinese words for codes.

The file is the single source: `yizhan db upgrade` syncs it into the
`amenities` table, and validators check codes against it in memory (no
database query inside a validator).

People write labels, not codes: a clerk's spreadsheet says 驿站, 暂停开放 and 微波炉 where the
API says `station`, `temporarily_closed` and `microwave`. The functions below turn such words
into codes (None when a word is unknown). They are pure, and they match after Unicode NFKC
normalisation (full-width letters and brackets become plain ones), trimming and case-folding,
so `WIFI`, ` wifi ` and `ｗｉｆｉ` are one word. A code is always its own label. Imports use them
for cells; query filters can use the same ones.
"""

import difflib
import json
import unicodedata
from functools import lru_cache
from importlib import resources

# code -> its Chinese words; the first is the one a form shows (the import template's lists).
KIND_LABELS = {
    "station": ("驿站", "工会驿站", "户外劳动者驿站"),
    "home": ("职工之家",),
    "facility": ("服务设施", "服务点"),
}
STATUS_LABELS = {
    "active": ("开放", "正常"),
    "temporarily_closed": ("暂停开放", "暂停"),
    "closed": ("关闭", "停用"),
}
# The datum of a coordinate (geo.datums.CRS_NAMES), by the names of the maps that use it.
CRS_LABELS = {
    "wgs84": ("WGS-84", "GPS", "天地图"),
    "gcj02": ("GCJ-02", "高德", "高德地图", "腾讯", "腾讯地图"),
    "bd09": ("BD-09", "百度", "百度地图"),
}


@lru_cache(maxsize=1)
def amenities() -> tuple[dict, ...]:
    text = resources.files("fixtures").joinpath("amenities.json").read_text("utf-8")
    return tuple(json.loads(text))


@lru_cache(maxsize=1)
def codes() -> frozenset[str]:
    return frozenset(a["code"] for a in amenities())


def word_key(text: str) -> str:
    """The form words are compared in: NFKC, trimmed, case-folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _index(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {word_key(word): code for code, words in table.items() for word in (code, *words)}


@lru_cache(maxsize=1)
def _kinds() -> dict[str, str]:
    return _index(KIND_LABELS)


@lru_cache(maxsize=1)
def _statuses() -> dict[str, str]:
    return _index(STATUS_LABELS)


@lru_cache(maxsize=1)
def _datums() -> dict[str, str]:
    return _index(CRS_LABELS)


@lru_cache(maxsize=1)
def amenity_words() -> dict[str, tuple[str, ...]]:
    """code -> its label, then its synonyms (fixtures/amenities.json `synonyms`)."""
    return {a["code"]: (a["label"], *a.get("synonyms", ())) for a in amenities()}


@lru_cache(maxsize=1)
def _amenities() -> dict[str, str]:
    return _index(amenity_words())


def kind_code(text: str) -> str | None:
    """`station` for 驿站, 工会驿站, 户外劳动者驿站 or station; None for an unknown word."""
    return _kinds().get(word_key(text))


def status_code(text: str) -> str | None:
    """`active` for 开放 or 正常, `temporarily_closed` for 暂停开放 or 暂停, `closed` for 关闭 or
    停用; None for an unknown word."""
    return _statuses().get(word_key(text))


def crs_code(text: str) -> str | None:
    """`gcj02` for 高德, 腾讯 or GCJ-02; `bd09` for 百度 or BD-09; `wgs84` for GPS, 天地图 or
    WGS-84 (and each code itself); None for an unknown word."""
    return _datums().get(word_key(text))


def amenity_code(text: str) -> str | None:
    """The code of an amenity given by its code, its Chinese label or one of its synonyms."""
    return _amenities().get(word_key(text))


def nearest_amenities(text: str, n: int = 3) -> list[str]:
    """The labels of up to `n` amenities whose code, label or a synonym looks most like `text`
    (difflib), best first: the hint for a word `amenity_code` does not know. Nothing for a
    word longer than any code may be (40 characters): difflib's time grows with its square."""
    key = word_key(text)
    return list(_nearest(key)[:n]) if len(key) <= 40 else []


@lru_cache(maxsize=4096)  # a file repeats its misspellings
def _nearest(key: str) -> tuple[str, ...]:
    index = _amenities()
    found = difflib.get_close_matches(key, index, n=len(index), cutoff=0.5)
    labels = {code: words[0] for code, words in amenity_words().items()}
    return tuple(dict.fromkeys(labels[index[word]] for word in found))
