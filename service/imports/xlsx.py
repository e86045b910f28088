"""Read the first worksheet of an uploaded XLSX workbook as rows of cell values, safely.

Pure: bytes in, rows out. Before openpyxl sees the file, the zip archive is checked from its
own directory: at most MAX_MEMBERS members (MAX_DIRECTORY bytes of directory), none encrypted,
and at most MAX_UNPACKED bytes once unpacked (Python's zipfile never inflates a member past
the size the directory declares, so a zip bomb is refused here, not found while parsing).
Anything openpyxl cannot read is `Unreadable`, a file-level problem, never an exception.

Rows carry the worksheet's own row numbers (the ones Excel shows at the left); rows with no
value are left out, and reading stops after `limit` rows with values. Only the first
MAX_COLUMNS columns are read (an import has about twenty). `cell` turns a value into what the
parser takes for a column: numbers stay numbers where numbers are meant, dates become ISO
dates, booleans stay booleans for `workday_swaps`, anything else becomes the text Excel shows.
"""

import io
import logging
import struct
import warnings
import zipfile
from datetime import date, datetime, time

import openpyxl

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UNPACKED = 200 * 1024 * 1024
MAX_MEMBERS = 10_000
MAX_DIRECTORY = 2**20  # at 46 bytes or more a member, at most ~23,000 members
MAX_COLUMNS = 256
EXCEL_ROWS = 1_048_576  # the last row of a worksheet
NUMERIC = {"lat", "lon", "area_m2", "star_rating"}
FLAGS = {"workday_swaps"}
# An encrypted (password-protected) workbook is an OLE compound file, as an old .xls is.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
END_OF_DIRECTORY = b"PK\x05\x06"
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_END = b"PK\x06\x06"


class Unreadable(ValueError):
    """The file is not a workbook this reader takes; the message says why, for people."""


def read(body: bytes, limit: int) -> list[tuple[int, list]]:
    """(row number, cell values) of the first worksheet's rows that hold a value, at most
    `limit` of them; Unreadable when the file is not a usable XLSX workbook."""
    if body.startswith(OLE_MAGIC):
        raise Unreadable(
            "The file is a password-protected workbook or an old .xls file: save it in Excel "
            "as an .xlsx workbook without a password."
        )
    _check_archive(body)
    with warnings.catch_warnings():  # "no default style" and the like: nothing for the user
        warnings.simplefilter("ignore")
        try:
            book = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises KeyError, ValueError, XML errors, ...
            logger.info("unreadable workbook: %r", exc)
            raise Unreadable("The file is not a readable XLSX workbook.") from None
        try:
            if not book.worksheets:
                raise Unreadable("The workbook has no worksheet.")
            sheet = book.worksheets[0]
            sheet.reset_dimensions()  # the stored dimension may be wrong; read what is there
            return _rows(sheet, limit)
        except Unreadable:
            raise
        except Exception as exc:
            logger.info("unreadable worksheet: %r", exc)
            raise Unreadable("The worksheet is not readable: the XLSX file is damaged.") from None
        finally:
            book.close()


def _check_archive(body: bytes) -> None:
    entries, directory = _directory(body)
    # zipfile builds one object per member listed; a 64 MiB directory lists a million.
    if entries > MAX_MEMBERS or directory > MAX_DIRECTORY:
        raise Unreadable(f"The zip archive has more than {MAX_MEMBERS} members: not a workbook.")
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            members = archive.infolist()
    except Exception:  # BadZipFile, NotImplementedError ("zip file version 16.2"), OSError, ...
        raise Unreadable("The file is not an XLSX workbook: a damaged zip archive.") from None
    if len(members) > MAX_MEMBERS:
        raise Unreadable(f"The zip archive has more than {MAX_MEMBERS} members: not a workbook.")
    if any(member.flag_bits & 0x1 for member in members):
        raise Unreadable("The workbook is encrypted: save it without a password.")
    # Workbooks are stored or deflated; zipfile inflates bzip2 and lzma without a bound.
    if any(
        member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for member in members
    ):
        raise Unreadable("The zip archive is not an XLSX workbook (unknown compression).")
    if sum(member.file_size for member in members) > MAX_UNPACKED:
        raise Unreadable(
            f"The workbook unpacks to more than {MAX_UNPACKED // 2**20} MB: split it into "
            "smaller files."
        )
    if "[Content_Types].xml" not in {member.filename for member in members}:
        raise Unreadable("The zip archive is not an XLSX workbook.")


def _directory(body: bytes) -> tuple[int, int]:
    """(members, bytes) of the zip's central directory as its end records state them, read
    where zipfile reads them: the last end record, and the ZIP64 one just before it if any."""
    end = body.rfind(END_OF_DIRECTORY, max(0, len(body) - 22 - 65_535))
    if end < 0 or len(body) < end + 22:
        raise Unreadable("The file is not an XLSX workbook (an .xlsx file is a zip archive).")
    entries, size = struct.unpack("<HI", body[end + 10 : end + 16])
    locator = end - 20
    if locator >= 56 and body[locator : locator + 4] == ZIP64_LOCATOR:
        record = locator - 56
        if body[record : record + 4] == ZIP64_END:
            entries, size = struct.unpack("<QQ", body[record + 32 : record + 48])
    return entries, size


def _rows(sheet, limit: int) -> list[tuple[int, list]]:
    found = []
    # Missing rows come back empty, so counting from 1 gives the worksheet's row numbers.
    rows = sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS, values_only=True)
    for number, cells in enumerate(rows, start=1):
        if number > EXCEL_ROWS:
            raise Unreadable(f"The worksheet has more than {EXCEL_ROWS} rows.")
        if cells.count(None) == len(cells) or all(blank(cell) for cell in cells):
            continue
        found.append((number, _trimmed(cells)))
        if len(found) >= limit:
            break
    return found


def _trimmed(cells: tuple) -> list:
    cells = list(cells)
    while cells and blank(cells[-1]):
        cells.pop()
    return cells


def blank(value) -> bool:
    """No value: an empty cell, or one holding only spaces."""
    return value is None or (isinstance(value, str) and not value.strip())


def header_text(value) -> str:
    """A header cell as text (a number or a date is a name too, if a wrong one)."""
    return "" if value is None else _text(value)


def cell(column: str, value):
    """A cell's value as the parser takes it for `column`: a string, or for numeric columns a
    number, for workday_swaps a boolean; None stays None (no value, as an empty CSV cell)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return value if column in FLAGS else _text(value)
    if column in NUMERIC and isinstance(value, int | float):
        # float() of a 400-digit integer overflows; as text it is just a number out of range.
        return value if isinstance(value, float) or abs(value) < 2**53 else str(value)
    return _text(value)


def _text(value) -> str:
    """What Excel shows for a value in a General cell: 12 not 12.0, TRUE, 2026-12-05."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)
