"""Reading code files (DESIGN §2 Codes): every upload format, streamed where the format allows.

CSV, TSV, TXT and XLSX are read row by row, so memory stays flat whatever the file size;
XLS, ODS and JSON are read whole (callers cap their size). The first row is a header when one
of its cells reads `code` in any case, and that column holds the codes; otherwise the first
column does. A file that cannot be read at all raises UnreadableFile, naming the problem.
"""

import csv
import datetime
import io
import itertools
import json
from pathlib import PurePath
from typing import NamedTuple

from .rules import CODE_PATTERN, InvalidCode, canonical_code

FORMATS = ("csv", "tsv", "txt", "xlsx", "xls", "ods", "json")
WHOLE_FILE_FORMATS = frozenset({"xls", "ods", "json"})
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class UnreadableFile(ValueError):
    """The file cannot be read at all; the message says why, for a person."""


class Row(NamedTuple):
    """One non-blank data row: its line number, the raw cell, and its canonical code or why not."""

    line: int
    value: object
    code: str | None
    reason: str = ""


def file_format(file_name):
    """The format named by a file's extension; UnreadableFile for any other."""
    ext = PurePath(file_name or "").suffix.lower().lstrip(".")
    if ext not in FORMATS:
        shown = f".{ext} files" if ext else "files without an extension"
        raise UnreadableFile(
            f"Cannot read {shown}: upload one of {', '.join('.' + f for f in FORMATS)}."
        )
    return ext


def read_rows(stream, fmt):
    """Classify every non-blank data row of a binary stream: yields Row.

    Raises UnreadableFile (possibly after some rows, so callers import inside a transaction or
    stage first) for a file that cannot be read, has no rows or has no code column.
    """
    if fmt == "json":
        cells = _json_cells(stream.read())
    else:
        cells = _table_cells(_TABLE_READERS[fmt](stream))
    valid = CODE_PATTERN.fullmatch  # the canonical-form rule of codes.rules, inlined for speed
    seen = False
    for line, value in cells:
        if type(value) is str:
            text = value.strip()
            if not text:
                continue  # a blank row
            seen = True
            if valid(text):  # the common case, without the cost of an exception
                yield Row(line, value, text.upper())
                continue
        elif value is None:
            continue
        seen = True
        yield _classify(line, value)
    if not seen:
        raise UnreadableFile("The file has no codes: it is empty or holds only a header row.")


def _classify(line, value):
    if not isinstance(value, str):
        return Row(line, _shown(value), None, _not_text(value))
    try:
        return Row(line, value, canonical_code(value))
    except InvalidCode as exc:
        return Row(line, value, None, str(exc))


def _shown(value):
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value if isinstance(value, int | float | bool) else str(value)


def _not_text(value):
    if isinstance(value, bool):
        return "a true/false cell, not text"
    if isinstance(value, int | float):
        return f"a number cell ({value:g}), not text: format the column as text"
    if isinstance(value, datetime.date | datetime.time):
        return f"a date cell ({value.isoformat()}), not text: format the column as text"
    if isinstance(value, _MissingKey):
        return 'an object without a "code" key'
    return f"not text ({type(value).__name__})"


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _table_cells(rows):
    """Apply the header rule to (line, cells) rows; yield (line, code cell) of each data row."""
    rows = iter(rows)
    column = None
    for line, cells in rows:
        if all(_blank(c) for c in cells):
            continue
        header = [
            i for i, c in enumerate(cells) if isinstance(c, str) and c.strip().lower() == "code"
        ]
        if header:
            column = header[0]
        else:
            column = 0
            yield line, cells[0]
        break
    if column is None:
        return
    for line, cells in rows:
        if column < len(cells):
            yield line, cells[column]


# Text formats ------------------------------------------------------------------------------


def _text(stream, fmt):
    head = stream.read(4096)
    if not head:
        raise UnreadableFile("The file is empty.")
    if head.startswith(_ZIP_MAGIC):
        raise UnreadableFile(
            f"This .{fmt} file is a zip archive (an XLSX or ODS workbook?), not text: "
            "give it the right extension."
        )
    if head.startswith(_OLE_MAGIC):
        raise UnreadableFile(f"This .{fmt} file is an old Excel (XLS) workbook, not text.")
    if b"\x00" in head:
        raise UnreadableFile(f"This .{fmt} file holds binary data, not text.")
    raw = io.BufferedReader(_Prepend(head, stream), buffer_size=1 << 16)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


class _Prepend(io.RawIOBase):
    """A raw stream that replays `head` then continues with `rest`."""

    def __init__(self, head, rest):
        self._head = memoryview(head)
        self._rest = rest

    def readable(self):
        return True

    def readinto(self, buffer):
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_text(rows, fmt):
    try:
        yield from rows
    except UnicodeDecodeError:
        raise UnreadableFile(
            f"This .{fmt} file is not UTF-8 text: save it as CSV UTF-8 and upload again."
        ) from None
    except csv.Error as exc:
        raise UnreadableFile(f"This .{fmt} file cannot be read as {fmt.upper()}: {exc}.") from None


def _csv_rows(stream, fmt="csv"):
    return _read_text(_csv_reader(_text(stream, fmt), fmt), fmt)


def _csv_reader(text, fmt):
    first = text.readline()
    semicolons = first.count(";") > first.count(",")
    delimiter = {"tsv": "\t"}.get(fmt, ";" if semicolons else ",")
    reader = csv.reader(itertools.chain((first,), text), delimiter=delimiter)
    for cells in reader:
        yield reader.line_num, cells


def _tsv_rows(stream):
    return _csv_rows(stream, "tsv")


def _txt_rows(stream):
    text = _text(stream, "txt")
    return _read_text(((n, [v.rstrip("\r\n")]) for n, v in enumerate(text, 1)), "txt")


# Spreadsheets ------------------------------------------------------------------------------


def _xlsx_rows(stream):
    import openpyxl

    try:
        book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        sheet = book.worksheets[0]
    except Exception:
        raise UnreadableFile("This .xlsx file is not a readable Excel workbook.") from None
    try:
        for line, cells in enumerate(sheet.iter_rows(values_only=True), 1):
            yield line, list(cells)
    except Exception:
        raise UnreadableFile("This .xlsx file is damaged: its rows cannot be read.") from None
    finally:
        book.close()


def _xls_rows(stream):
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=stream.read())
        sheet = book.sheet_by_index(0)
    except Exception:
        raise UnreadableFile("This .xls file is not a readable Excel 97–2003 workbook.") from None
    for r in range(sheet.nrows):
        cells = []
        for cell in sheet.row(r):
            if cell.ctype == xlrd.XL_CELL_TEXT:
                cells.append(cell.value)
            elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                cells.append(None)
            elif cell.ctype == xlrd.XL_CELL_DATE:
                cells.append(xlrd.xldate_as_datetime(cell.value, book.datemode))
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                cells.append(bool(cell.value))
            else:
                cells.append(cell.value)
        yield r + 1, cells


def _ods_rows(stream):
    from odf import opendocument
    from tablib.formats._ods import ODSFormat

    try:
        document = opendocument.load(io.BytesIO(stream.read()))
        sheets = [s for s in document.spreadsheet.childNodes if s.qname[1] == "table"]
        sheet = sheets[0]
    except Exception:
        raise UnreadableFile("This .ods file is not a readable OpenDocument spreadsheet.") from None
    rows = (row for row in sheet.childNodes if row.qname[1] == "table-row")
    for line, row in enumerate(rows, 1):
        cells = []
        for cell in row.childNodes:
            if cell.qname[1] not in ("table-cell", "covered-table-cell"):
                continue
            value_type = cell.getAttribute("valuetype")
            repeat = int(cell.getAttribute("numbercolumnsrepeated") or 1)
            if not cell.hasChildNodes() and not value_type:
                cells.extend([None] * min(repeat, 256))
                continue
            value = ODSFormat.read_cell(cell)
            if value_type in ("float", "percentage", "currency") and isinstance(value, str):
                value = float(cell.getAttribute("value") or 0)
            cells.extend([value] * min(repeat, 256))
        yield line, cells


# JSON --------------------------------------------------------------------------------------


def _json_cells(data):
    if not data:
        raise UnreadableFile("The file is empty.")
    try:
        items = json.loads(data.decode("utf-8-sig") if isinstance(data, bytes) else data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnreadableFile(f"This .json file is not valid JSON: {exc}.") from None
    if not isinstance(items, list):
        raise UnreadableFile(
            'A .json file must hold a list of codes, or of objects with a "code" key.'
        )
    if items and all(isinstance(i, dict) for i in items) and not any(_code_key(i) for i in items):
        raise UnreadableFile('No code column: none of the objects in this .json file has "code".')
    for line, item in enumerate(items, 1):
        if isinstance(item, dict):
            key = _code_key(item)
            if key is None:
                yield line, _MissingKey()
                continue
            item = item[key]
        if _blank(item):
            continue
        yield line, item


class _MissingKey:
    def __str__(self):
        return "(object without a code key)"


def _code_key(item):
    return next((k for k in item if k.strip().lower() == "code"), None)


_TABLE_READERS = {
    "csv": _csv_rows,
    "tsv": _tsv_rows,
    "txt": _txt_rows,
    "xlsx": _xlsx_rows,
    "xls": _xls_rows,
    "ods": _ods_rows,
}

__all__ = ["FORMATS", "WHOLE_FILE_FORMATS", "Row", "UnreadableFile", "file_format", "read_rows"]
