"""Reading code files (docs/architecture.md, Codes and Resilience): every upload format, as a
stream, bounded
by what the file expands to rather than its size on disk.

The first row is a header when one of its cells names the code column (HEADER_NAMES: `code`,
`promo code`, `coupon`, `voucher code`… in any case, spaces, `_` and `-` alike), and that column
holds the codes; otherwise the first column does. A first row of several cells that is plainly
the header of another kind of file (`name,email`: no cell names codes, one names a person's
details) is refused, never read as a code. A file that cannot be read at all raises
UnreadableFile, naming the problem.

Limits (Limits, from the CODES_UPLOAD_* settings) hold for every format: rows read, columns read
(cells to the right are never materialised), the length of a cell, and, for the zipped formats
(XLSX, ODS), the bytes they unpack to. A file past a limit is refused whole with a sentence
naming the limit. A sheet's declared dimension is never trusted: only the cells present are
read. CSV, TSV, TXT, JSON, XLSX and ODS are streamed (XLSX and ODS with our own expat readers,
which never build the document); XLS is read whole and capped in size. A refused value is kept
escaped and cut to SHOWN_VALUE_CHARS characters.

What a file repeats is bounded too: an ODS row or cell repeated is made one at a time as it is
read, counted against the rows limit before it exists (and a filled row repeated more than
_MAX_FILLED_ROW_REPEAT times, one code over and over, is refused); every zip part is unpacked as
a stream, checked by its declared size before and its real size during; a JSON number longer
than _MAX_JSON_NUMBER_CHARS never reaches the parser (a refused row naming its line).
"""

import itertools

from ..rules import CODE_PATTERN
from .cells import SHOWN_VALUE_CHARS, Row, _classify, expiry_moment, shown_value
from .csv import _csv_rows, _tsv_rows, _txt_rows
from .headers import (
    EXPIRY_HEADER_NAMES,
    HEADER_NAMES,
    _table_cells,
    header_key,
    names_code_column,
)
from .json import _json_cells
from .limits import FORMATS, WHOLE_FILE_FORMATS, Limits, UnreadableFile, file_format
from .ods import _ods_rows
from .xls import _xls_rows
from .xlsx import _xlsx_rows


def read_rows(stream, fmt, *, limits=None, layout=None):
    """Classify every non-blank data row of a binary stream: yields Row.

    Raises UnreadableFile (possibly after some rows, so callers import inside a transaction or
    stage first) for a file that cannot be read, has no rows, has no code column or passes a
    limit. `layout`, a dict when given, is filled with the header cell that named the code
    column ("header", None without one), the column's index ("column") and, without a header,
    the first row's cells when it has several ("first_row": it is read as data); and when a
    header cell names an expiry column (EXPIRY_HEADER_NAMES), "expiry_header" and
    "expiry_column": each Row then carries its code's own `expires_at`.
    """
    limits = limits or Limits.from_settings()
    if layout is None:
        layout = {}
    if fmt == "json":
        cells = _json_cells(stream, limits)
        layout.update(header=None, column=0)
    else:
        cells = _table_cells(_TABLE_READERS[fmt](stream, limits), limits, layout)
    # The header row is read with the first data row: then the layout says whether a column
    # gives each code its own expiry (files without one keep the plain loop's speed).
    cells = iter(cells)
    first = next(cells, None)
    if first is not None:
        cells = itertools.chain((first,), cells)
    if "expiry_column" in layout:
        for row in _classified(cells):
            yield row if row.code is None else _with_expiry(row, layout)
        return
    yield from _classified(cells)


def _classified(cells):
    """Row of each (line, cell); UnreadableFile at the end when no row held anything."""
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


def _with_expiry(row, layout):
    """The row with its own expiry (the cell of the expiry column), or refused for a bad one."""
    try:
        return row._replace(expires_at=expiry_moment(layout["expiry_cell"]))
    except ValueError as error:
        return Row(row.line, shown_value(row.value), None, str(error))


_TABLE_READERS = {
    "csv": _csv_rows,
    "tsv": _tsv_rows,
    "txt": _txt_rows,
    "xlsx": _xlsx_rows,
    "xls": _xls_rows,
    "ods": _ods_rows,
}

__all__ = [
    "EXPIRY_HEADER_NAMES",
    "FORMATS",
    "HEADER_NAMES",
    "SHOWN_VALUE_CHARS",
    "WHOLE_FILE_FORMATS",
    "Limits",
    "Row",
    "UnreadableFile",
    "file_format",
    "header_key",
    "names_code_column",
    "read_rows",
    "shown_value",
]
