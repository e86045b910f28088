"""The XLSX import template (GET /v1/imports/template.xlsx), made by openpyxl.

Sheet 驿站: Chinese headers (the first name of each column in columns.CHINESE), frozen, and one
example station (the contract's typical one); drop-down lists for 类型, 状态, 坐标系 and 调休开放.
Sheet 设施: every amenity, its label first (the words a 设施 cell takes). The file imports as
it is (tests/imports/test_xlsx.py posts it back). Built once per process: it never changes.
"""

import io
from functools import lru_cache

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from service.core import vocabulary
from service.core.settings import DEFAULT_TIMEZONE
from service.imports.columns import CHINESE, COLUMNS, REQUIRED_COLUMNS

EXAMPLE = {
    "external_id": "EX-0001",
    "kind": vocabulary.KIND_LABELS["station"][0],
    "name": "示例·定海区东门劳动者驿站",
    "name_en": "Example Dinghai East Gate Worker Station",
    "address": "舟山市定海区东门示例路1号",
    "lat": 30.0176,
    "lon": 122.1069,
    "crs": "WGS-84",
    "amenities": ["air_conditioning", "microwave", "fridge", "water_dispenser"]
    + ["first_aid_kit", "wifi", "phone_charging"],
    "opening_hours": "Mo-Su 09:00-21:00",
    "timezone": DEFAULT_TIMEZONE,
    "workday_swaps": "否",
    "status": vocabulary.STATUS_LABELS["active"][0],
    "area_m2": 40,
    "description": "示例数据：每天 9:00-21:00 开放，可歇脚、喝水、热饭、充电。",
}
CHOICES = {
    "kind": [words[0] for words in vocabulary.KIND_LABELS.values()],
    "status": [words[0] for words in vocabulary.STATUS_LABELS.values()],
    "crs": [words[0] for words in vocabulary.CRS_LABELS.values()],
    "workday_swaps": ["是", "否"],
}
HINTS = {
    "crs": "坐标系：高德、腾讯为 GCJ-02，百度为 BD-09，GPS、天地图为 WGS-84；空着用请求的 crs。",
    "amenities": "设施：用顿号或逗号分隔，名称见「设施」表。",
    "opening_hours": "开放时间：OSM 写法，如 Mo-Su 09:00-21:00、24/7、Mo-Fr 08:30-17:00; PH off",
    "workday_swaps": "调休开放：调休上班日按周一的时间开放填“是”。",
    "closed_until": "暂停至：状态为“暂停开放”时填恢复开放的日期。",
}
LAST_ROW = 10_000  # the drop-down lists cover rows 2 to this one


def header(column: str) -> str:
    """The template's header of a column: its first Chinese name."""
    return CHINESE[column][0]


def _labels(codes: list[str]) -> str:
    words = vocabulary.amenity_words()
    return "、".join(words[code][0] for code in codes)


@lru_cache(maxsize=1)
def workbook_bytes() -> bytes:
    """The template as an .xlsx file."""
    book = Workbook()
    sheet = book.active
    sheet.title = "驿站"
    sheet.append([header(column) for column in COLUMNS])
    example = {**EXAMPLE, "amenities": _labels(EXAMPLE["amenities"])}
    sheet.append([example.get(column) for column in COLUMNS])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet[f"{letter}1"].font = Font(bold=column in REQUIRED_COLUMNS)
        width = 2 * len(str(example.get(column, "")))
        sheet.column_dimensions[letter].width = max(10, min(40, width))
        validation = _validation(column)
        if validation is not None:
            sheet.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{LAST_ROW}")
    _amenity_sheet(book.create_sheet("设施"))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _validation(column: str) -> DataValidation | None:
    """A drop-down list for the columns in CHOICES, an input hint for those in HINTS."""
    if column in CHOICES:
        validation = DataValidation(
            type="list", formula1=f'"{",".join(CHOICES[column])}"', allow_blank=True
        )
        # A warning, not a refusal: the importer also takes other words (工会驿站, 高德).
        validation.errorStyle, validation.showErrorMessage = "warning", True
        validation.errorTitle = header(column)
        validation.error = f"请从列表中选择{header(column)}。"
    elif column in HINTS:
        validation = DataValidation(allow_blank=True)
    else:
        return None
    if column in HINTS:
        validation.promptTitle, validation.prompt = header(column), HINTS[column]
        validation.showInputMessage = True
    return validation


def _amenity_sheet(sheet) -> None:
    sheet.append(["名称", "代码", "English", "也可写作"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for amenity in vocabulary.amenities():
        synonyms = "、".join(amenity.get("synonyms", ()))
        sheet.append([amenity["label"], amenity["code"], amenity["label_en"], synonyms])
    for letter, width in zip("ABCD", (20, 20, 32, 40), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
