"""Writing code exports (docs/architecture.md, Exports): CSV and XLSX, streamed, formula-safe.

A code begins with a letter or digit (codes.rules), so codes are written verbatim. A free-text
cell that a spreadsheet would read as a formula (OWASP, CSV injection: `=`, `+`, `-`, `@`, a
tab or a line break first, their full-width forms too, after any leading spaces: a spreadsheet
skips those) is prefixed with a single quote in CSV; in XLSX every cell is written as text, so
nothing is ever evaluated.
"""

import csv

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from .selectors import EXPORT_COLUMNS

HEADER = [title for title, _ in EXPORT_COLUMNS]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
# Columns safe by construction (their values are the product's own words); every other one is
# neutralised: free text from people (pool names, file names, participant and order ids), and
# the code itself, which begins with a letter or digit except in data older than that rule.
_VERBATIM_COLUMNS = {"usage", "status"}


def neutralise(text):
    """Prefix a cell a spreadsheet would take for a formula with a single quote."""
    if text.startswith(_FORMULA_STARTS) or text.lstrip().startswith(_FORMULA_STARTS):
        return "'" + text
    return text


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
