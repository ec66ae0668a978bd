"""Writing code exports (docs/architecture.md, Exports): CSV and XLSX, streamed, formula-safe.

Codes are safe by their alphabet and written verbatim. Free-text cells starting with a
character a spreadsheet would read as a formula are prefixed with a single quote in CSV; in
XLSX every cell is written as text, so nothing is ever evaluated.
"""

import csv

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from .selectors import EXPORT_COLUMNS

HEADER = [title for title, _ in EXPORT_COLUMNS]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Columns safe by construction; every other one comes from people (pool names, file names,
# participant and order ids) and is neutralised.
_VERBATIM_COLUMNS = {"code", "usage", "status"}


def neutralise(text):
    """Prefix a cell a spreadsheet would take for a formula with a single quote."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class _Echo:
    def write(self, value):
        return value


def csv_lines(rows, header=HEADER):
    """The CSV export of `rows` as an iterator of lines (for StreamingHttpResponse or a file)."""
    writer = csv.writer(_Echo())
    verbatim = {i for i, title in enumerate(header) if title in _VERBATIM_COLUMNS}
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([v if i in verbatim else neutralise(v) for i, v in enumerate(row)])


def write_xlsx(rows, target, header=HEADER):
    """Write the XLSX export of `rows` to a path or binary file, with openpyxl's write-only mode."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("codes")

    def text_cells(values):
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # text, even for "=…": never a formula, never a number
            cells.append(cell)
        return cells

    sheet.append(text_cells(header))
    for row in rows:
        sheet.append(text_cells(row))
    book.save(target)
