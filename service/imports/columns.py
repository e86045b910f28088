"""The columns of an import file and the names a header may give them (English or Chinese).

A header cell (or a GeoJSON property name) names a column after Unicode NFKC normalisation
(full-width brackets and letters become plain ones), trimming and case-folding: `Name`, `名称`
and ` 名称 ` all name `name`, `面积（平方米）` names `area_m2`. Pure: no Flask, no database.
"""

from dataclasses import dataclass

from service.core.vocabulary import word_key

COLUMNS = (
    "external_id", "kind", "name", "name_en", "address", "lat", "lon", "crs", "amenities",
    "opening_hours", "timezone", "workday_swaps", "special_days", "status", "closed_until",
    "closure_reason", "area_m2", "star_rating", "phone", "description", "org",
)  # fmt: skip
REQUIRED_COLUMNS = ("external_id", "kind", "name", "lat", "lon")
# column -> its Chinese names; the first is the template's header (service/imports/template.py).
CHINESE = {
    "external_id": ("编号", "外部编号"),
    "kind": ("类型",),
    "name": ("名称", "驿站名称"),
    "name_en": ("英文名称", "英文名"),
    "address": ("地址", "详细地址"),
    "lat": ("纬度",),
    "lon": ("经度",),
    "crs": ("坐标系",),
    "amenities": ("设施", "配套设施"),
    "opening_hours": ("开放时间", "营业时间"),
    "timezone": ("时区",),
    "workday_swaps": ("调休开放",),
    "special_days": ("特殊日期",),
    "status": ("状态",),
    "closed_until": ("暂停至", "恢复开放日期"),
    "closure_reason": ("暂停原因", "关闭原因"),
    "area_m2": ("面积（平方米）", "面积", "面积（㎡）"),
    "star_rating": ("星级",),
    "phone": ("电话", "联系电话"),
    "description": ("简介", "说明"),
    "org": ("所属组织", "组织"),
}
ALIASES = {word_key(name): column for column in COLUMNS for name in (column, *CHINESE[column])}
ACCEPTED = "; ".join(f"{column} ({', '.join(CHINESE[column])})" for column in COLUMNS)


@dataclass(frozen=True)
class Problem:
    field: str  # the column, or the header as written for an unknown one, or "file"
    message: str


def column_of(name: str) -> str | None:
    """The column a header cell or property name names; None for an unknown name."""
    return ALIASES.get(_key(name))


def _key(name: str) -> str:
    # "面积 (平方米)" as well as "面积（平方米）": no space matters next to a bracket.
    return word_key(name).replace(" (", "(").replace("( ", "(").replace(" )", ")")


def header(cells: list[str]) -> tuple[list[str], dict[str, str], list[Problem]]:
    """The column of each header cell ("" for an empty one), the header as written for each
    column named otherwise (`{"lat": "纬度"}`), and what is wrong with the header."""
    if not any(cell.strip() for cell in cells):
        return (
            [],
            {},
            [Problem("file", "The file is empty: expected a header row of column names.")],
        )
    columns, written, problems = [], {}, []
    for cell in cells:
        name = cell.strip()
        column = column_of(name) if name else ""
        if column is None:  # e.g. id or version: never writable (mass assignment)
            if name not in [p.field for p in problems]:
                problems.append(Problem(name, f"Unknown column; allowed: {ACCEPTED}."))
            column = ""
        columns.append(column)
        written.setdefault(column, []).append(name)
    for column in dict.fromkeys(c for c in columns if c):
        if len(written[column]) > 1:
            problems.append(Problem(column, _duplicate(column, written[column], "column")))
    problems += [
        Problem(column, "Missing required column.")
        for column in REQUIRED_COLUMNS
        if column not in written
    ]
    return columns, _renamed(written), problems


def properties(values: dict) -> tuple[dict, dict[str, str], list[Problem]]:
    """GeoJSON properties keyed by column; an unknown name is kept as it is (the write schema
    refuses it), a column named twice (`名称` and `name`) is a problem."""
    renamed, written, problems = {}, {}, []
    for name, value in values.items():
        column = column_of(name) if isinstance(name, str) else None
        if column is None:
            renamed[name] = value
            continue
        if column in written:
            written[column].append(name)
            continue
        written[column] = [name]
        renamed[column] = value
    for column, names in written.items():
        if len(names) > 1:
            problems.append(Problem(column, _duplicate(column, names, "property")))
    return renamed, _renamed(written), problems


def _duplicate(column: str, names: list[str], what: str) -> str:
    if len(set(names)) == 1:
        return f"Duplicate {what}."
    return f"Duplicate {what}: {' and '.join(dict.fromkeys(names))} are the same ({column})."


def _renamed(written: dict[str, list[str]]) -> dict[str, str]:
    return {
        column: names[0].strip()
        for column, names in written.items()
        if column and names[0].strip() != column
    }
