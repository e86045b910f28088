"""One cell (or GeoJSON property) of an import file as the write schema takes it.

Pure. Text is stripped; an empty cell means "no value": OMIT (leave the key out, so the
schema's default applies) for fields with a default, None for nullable ones. Kinds, statuses
and amenities may be given by their Chinese labels (core.vocabulary: 驿站, 暂停开放, 微波炉),
workday_swaps as true/false/1/0/是/否, special_days as a cell of JSON, as the API takes it.
"""

import re

from service.core import vocabulary
from service.core.api import NumberTooLong, load_json
from service.core.params import PLAIN_NUMBER

NULLABLE = {
    "name_en", "address", "opening_hours", "area_m2", "star_rating", "phone", "description",
    "closed_until", "closure_reason",
}  # fmt: skip
# A CSV cell of workday_swaps; special_days is a cell of JSON, as the API takes it.
FLAGS = {"true": True, "false": False, "1": True, "0": False, "是": True, "否": False}
AMENITY_SEPARATORS = re.compile(r"[,，、]")
# Cells that may give a code by a Chinese label: the function that reads one, and the labels.
LABELLED = {
    "kind": (vocabulary.kind_code, vocabulary.KIND_LABELS),
    "status": (vocabulary.status_code, vocabulary.STATUS_LABELS),
}
HINTED = 3  # unknown amenities of one cell that get the nearest labels as a hint
OMIT = object()  # "leave the key out so the schema's default applies"


def convert(field: str, value):
    """One cell or property as the schema expects it; ValueError when it cannot be."""
    if isinstance(value, str):
        value = value.strip()
        if "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise ValueError("Must not contain NUL characters.")
    if value is None or value == "":
        return None if field in NULLABLE else OMIT
    if field in LABELLED and isinstance(value, str):
        code, table = LABELLED[field]
        if code(value) is None:
            raise ValueError(f"Must be one of: {choices(table)}.")
        return code(value)
    if field == "amenities" and isinstance(value, str):
        words = (word.strip() for word in AMENITY_SEPARATORS.split(value))
        return _amenities([word for word in words if word])
    if field == "amenities" and isinstance(value, list):
        return _amenities(value)
    if field == "area_m2" and isinstance(value, str):
        return _number(value, "Not a valid number.")
    if field == "star_rating" and isinstance(value, str | float):
        number = _number(value, "Not a valid integer.") if isinstance(value, str) else value
        if not number.is_integer():  # "3" and "3.0" are 3; "3.5" and NaN are errors
            raise ValueError("Not a valid integer.")
        return int(number)
    if field == "workday_swaps" and isinstance(value, str):
        if value.lower() not in FLAGS:
            raise ValueError("Must be true or false (是/否).")
        return FLAGS[value.lower()]
    if field == "special_days" and isinstance(value, str):
        try:
            return load_json(value)
        except (ValueError, NumberTooLong):
            raise ValueError(
                'Must be a JSON list, e.g. [{"from": "2027-02-10", "hours": "off"}].'
            ) from None
    if field == "external_id" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # GeoJSON exports often carry numeric ids
    return value


def _amenities(words: list) -> list:
    """Codes for codes, labels and synonyms (微波炉, 热饭: microwave); ValueError naming the
    unknown words and the labels nearest each. Not a string: left for the schema to refuse."""
    found, unknown = [], []
    for word in words:
        code = vocabulary.amenity_code(word) if isinstance(word, str) else word
        if code is None and isinstance(word, str):
            # Hints for the first few: each costs a difflib search of the vocabulary.
            nearest = vocabulary.nearest_amenities(word) if len(unknown) < HINTED else []
            unknown.append(f"{word} (nearest: {', '.join(nearest)})" if nearest else word)
        found.append(code)
    if unknown:
        raise ValueError(f"Unknown amenity: {'; '.join(unknown)} (see GET /v1/amenities).")
    return list(dict.fromkeys(found))


def _number(text: str, message: str) -> float:
    # float() alone would also take "nan", "inf" and "1_000"; a cell must be a plain decimal.
    if not PLAIN_NUMBER.fullmatch(text):
        raise ValueError(message)
    return float(text)


def datum(value, default: str) -> str:
    """The datum a `crs` cell names (wgs84, 高德, BD-09, ...), `default` for an empty one;
    ValueError for a word that names none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    code = vocabulary.crs_code(value) if isinstance(value, str) else None
    if code is None:
        raise ValueError(f"Must be one of: {choices(vocabulary.CRS_LABELS)}.")
    return code


def choices(table: dict[str, tuple[str, ...]]) -> str:
    """`station (驿站, 工会驿站), home (职工之家)`: the codes and their words, for a message."""
    return ", ".join(f"{code} ({', '.join(words)})" for code, words in table.items())
