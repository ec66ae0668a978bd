"""Reading code files (docs/architecture.md, Codes and Resilience): every upload format, as a
stream, bounded
by what the file expands to rather than its size on disk.

The first row is a header when one of its cells names the code column (codes.rules.HEADER_NAMES:
`code`, `promo code`, `discount code`, `coupon`… in any case, spaces, `_` and `-` alike; when
several do, the earliest in that list wins), and that column holds the codes; or when it holds a
platform export's columns (codes.parsing.layouts: Shopify, WooCommerce, Stripe, Voucherify),
whose code column holds them and whose expired, inactive or used rows are skipped and counted.
Otherwise the first column holds the codes, unless the first row is plainly a header naming no
codes (`Title`; `name,email`): NoCodeColumn, the codes' column must be chosen. A chosen column
(`column`) or `no_header` overrides the rule. A file that cannot be read at all raises
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

from django.utils.translation import gettext as _

from ..rules import CODE_PATTERN, HEADER_NAMES
from .cells import SHOWN_VALUE_CHARS, Row, _classify, expiry_moment, shown_value
from .csv import _csv_rows, _tsv_rows, _txt_rows
from .headers import (
    EXPIRY_HEADER_NAMES,
    SAMPLE_ROWS,
    NoCodeColumn,
    _table_cells,
    header_key,
    names_code_column,
)
from .json import _json_cells
from .layouts import PLATFORMS, SKIP_REASONS, Skip, skipped_phrases
from .limits import FORMATS, WHOLE_FILE_FORMATS, Limits, UnreadableFile, file_format
from .ods import _ods_rows
from .xls import _xls_rows
from .xlsx import _xlsx_rows


def read_rows(stream, fmt, *, limits=None, layout=None, column=None, no_header=False):
    """Classify every non-blank data row of a binary stream: yields Row.

    Raises UnreadableFile (possibly after some rows, so callers import inside a transaction or
    stage first) for a file that cannot be read, has no rows, has no code column or passes a
    limit. `layout`, a dict when given, is filled with the header cell that named the code
    column ("header", None without one), the column's index ("column") and, without a header,
    the first row's cells when it has several ("first_row": it is read as data); and when a
    header cell names an expiry column (EXPIRY_HEADER_NAMES), "expiry_header" and
    "expiry_column": each Row then carries its code's own `expires_at`. For a table it also
    holds "width" (the first row's cells), "has_header", "sample_rows" (the first SAMPLE_ROWS
    rows, every column, as shown) and "chosen" (a column was chosen); for a platform export,
    "platform" (its name) and "skipped" ({Skip: rows}, complete once the rows are read).

    `column` chooses the codes' column (a 0-based index, or a header cell's name) and
    `no_header` reads the first row as data; a bad column raises UnreadableFile listing the
    columns. A first row that is a header naming no codes raises NoCodeColumn.
    """
    limits = limits or Limits.from_settings()
    if layout is None:
        layout = {}
    if fmt == "json":
        if column is not None or no_header:
            raise UnreadableFile(
                _(
                    "A JSON file has no columns or header row: its codes are its strings, or "
                    "the “code” of each object."
                )
            )
        cells = _json_cells(stream, limits)
        layout.update(header=None, column=0)
    else:
        rows = _TABLE_READERS[fmt](stream, limits)
        cells = _table_cells(rows, limits, layout, column=column, no_header=no_header)
    # The header row is read with the first data row: then the layout says whether a column
    # gives each code its own expiry (files without one keep the plain loop's speed).
    cells = iter(cells)
    first = next(cells, None)
    if first is not None:
        cells = itertools.chain((first,), cells)
    if "expiry_column" in layout:
        for row in _classified(cells, layout):
            yield row if row.code is None else _with_expiry(row, layout)
        return
    yield from _classified(cells, layout)


def _classified(cells, layout):
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
    if not seen and not any(layout.get("skipped", {}).values()):
        raise UnreadableFile(_("The file has no codes: it is empty or holds only a header row."))


def _with_expiry(row, layout):
    """The row with its own expiry (the cell of the expiry column), or refused for a bad one."""
    try:
        read = layout.get("expiry_reader", expiry_moment)
        return row._replace(expires_at=read(layout["expiry_cell"]))
    except ValueError as error:
        return Row(row.line, shown_value(row.value), None, error.args[0])


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
    "PLATFORMS",
    "SAMPLE_ROWS",
    "SHOWN_VALUE_CHARS",
    "SKIP_REASONS",
    "WHOLE_FILE_FORMATS",
    "Limits",
    "NoCodeColumn",
    "Row",
    "Skip",
    "UnreadableFile",
    "file_format",
    "header_key",
    "names_code_column",
    "read_rows",
    "shown_value",
    "skipped_phrases",
]
