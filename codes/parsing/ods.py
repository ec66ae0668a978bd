"""ODS (OpenDocument spreadsheets), read with our own expat reader (codes.parsing.zipped):
no maintained library streams ODS rows, and repeated rows and columns must be made lazily."""

import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from .cells import _blank, _NotText
from .limits import UnreadableFile
from .zipped import _parse_xml, _XmlHandler, _Zip

# One filled ODS row repeated more often than this repeats one code: refused (its repeats are
# made lazily and counted first, but millions of copies of a code are not a file of codes).
_MAX_FILLED_ROW_REPEAT = 10_000


_ODS_TEXT_CONTAINERS = frozenset({"p", "h"})


class _OdsRows(_XmlHandler):
    """The rows of the first table of an ODS content.xml as (first line, cells, repeat).
    Repeated columns are expanded only as far as the columns limit; a repeated row is one
    entry, counted against the rows limit at once: a blank row repeated a million times costs
    nothing, a filled one is refused before it exists when it passes the limit."""

    def __init__(self, limits):
        self.limits = limits
        self.out = []
        self.table_depth = 0
        self.tables_seen = 0
        self.line = 0
        self.cells = None
        self.cell = None
        self.annotation = 0
        self.in_paragraph = 0
        self.rows_read = 0

    def start(self, tag, attrs):
        if tag == "table":
            if self.table_depth == 0:
                self.tables_seen += 1
            self.table_depth += 1
            return
        if self.tables_seen != 1 or self.table_depth != 1:
            return
        if tag == "table-row":
            self.row_repeat = _count(attrs, "table:number-rows-repeated")
            self.cells = []
        elif tag in ("table-cell", "covered-table-cell") and self.cells is not None:
            self.cell = {
                "type": attrs.get("office:value-type", ""),
                "attrs": attrs,
                "repeat": _count(attrs, "table:number-columns-repeated"),
                "parts": [],
                "length": 0,
                "paragraphs": 0,
            }
        elif self.cell is not None:
            if tag == "annotation":
                self.annotation += 1
            elif self.annotation:
                return
            elif tag in _ODS_TEXT_CONTAINERS:
                if self.cell["paragraphs"]:
                    self._add("\n")
                self.cell["paragraphs"] += 1
                self.in_paragraph += 1
            elif tag == "s":
                self._add(" " * min(_count(attrs, "text:c"), self.limits.cell_chars + 1))
            elif tag == "tab":
                self._add("\t")
            elif tag == "line-break":
                self._add("\n")

    def text(self, data):
        if self.cell is not None and not self.annotation and self.in_paragraph:
            self._add(data)

    def _add(self, data):
        cell = self.cell
        cell["length"] += len(data)
        if cell["length"] > self.limits.cell_chars:
            raise self.limits.cell_too_long(self.line + 1)
        cell["parts"].append(data)

    def end(self, tag):
        if tag == "table":
            self.table_depth -= 1
            return
        if self.tables_seen != 1 or self.table_depth != 1:
            return
        if tag == "annotation" and self.cell is not None:
            self.annotation -= 1
        elif tag in _ODS_TEXT_CONTAINERS and self.cell is not None and not self.annotation:
            self.in_paragraph = max(self.in_paragraph - 1, 0)
        elif tag in ("table-cell", "covered-table-cell") and self.cell is not None:
            value = _ods_value(self.cell)
            room = self.limits.columns - len(self.cells)
            self.cells.extend([value] * min(self.cell["repeat"], max(room, 0)))
            self.cell = None
        elif tag == "table-row" and self.cells is not None:
            repeat = self.row_repeat
            if any(not _blank(c) for c in self.cells):
                # Counted before any repeat exists; the repeats are made one by one as they
                # are read (_ods_rows), never held.
                self.rows_read += repeat
                if self.rows_read > self.limits.rows:
                    raise self.limits.too_many_rows()
                if repeat > _MAX_FILLED_ROW_REPEAT:
                    raise UnreadableFile(
                        _(
                            "Line %(line)s of this .ods file is repeated %(count)s times "
                            "(more than %(limit)s): each code of a file appears once. Remove "
                            "the repeats, or save the codes as CSV."
                        )
                        % {
                            "line": self.line + 1,
                            "count": f"{repeat:,}",
                            "limit": f"{_MAX_FILLED_ROW_REPEAT:,}",
                        }
                    )
                self.out.append((self.line + 1, self.cells, repeat))
            self.line += repeat
            self.cells = None


def _count(attrs, name):
    value = attrs.get(name, "1")
    return max(int(value), 1) if value.isascii() and value.isdigit() and len(value) < 19 else 1


def _ods_value(cell):
    kind = cell["type"]
    attrs = cell["attrs"]
    text = "".join(cell["parts"])
    if kind in ("", "string"):
        if not cell["paragraphs"]:
            text = attrs.get("office:string-value", "")
        return text if text or kind else None
    if kind in ("float", "percentage", "currency"):
        try:
            number = float(attrs.get("office:value", ""))
        except ValueError:
            return _NotText(text, N_("a number cell, not text: format the column as text"))
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "date":
        raw = attrs.get("office:date-value", "")
        try:
            moment = datetime.datetime.fromisoformat(raw)
        except ValueError:
            return _NotText(raw, N_("a date cell, not text: format the column as text"))
        return moment.date() if len(raw) <= 10 else moment
    if kind == "boolean":
        return attrs.get("office:boolean-value", "").lower() == "true"
    raw = attrs.get("office:time-value", text)
    return _NotText(
        raw,
        N_("a %(kind)s cell (%(value)s), not text: format the column as text"),
        kind=kind,
        value=raw[:20],
    )


def _ods_rows(stream, limits):
    book = _Zip(stream, "ods", limits)
    content = book.find("content.xml")
    if content is None:
        raise UnreadableFile(_("This .ods file is not a readable OpenDocument spreadsheet."))
    rows = _OdsRows(limits)
    for line, cells, repeat in _parse_xml(book.chunks(content), rows, "ods", rows.out):
        for offset in range(repeat):
            yield line + offset, cells
    if rows.tables_seen == 0:
        raise UnreadableFile(_("This .ods file is not a readable OpenDocument spreadsheet."))
