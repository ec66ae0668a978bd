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

import array
import csv
import datetime
import io
import itertools
import math
import re
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import NamedTuple
from xml.parsers import expat

from django.conf import settings

from .rules import CODE_PATTERN, InvalidCode, canonical_code

FORMATS = ("csv", "tsv", "txt", "xlsx", "xls", "ods", "json")
WHOLE_FILE_FORMATS = frozenset({"xls"})
SHOWN_VALUE_CHARS = 100
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A zipped workbook with more parts than this is not a spreadsheet of codes.
_MAX_ZIP_ENTRIES = 10_000
# Deepest nesting of a JSON file (a list of strings or of flat objects needs 2).
_MAX_JSON_DEPTH = 32
# A JSON number longer than this (a code is at most 64 characters) is a refused row, never
# handed to the parser; its first SHOWN_NUMBER_CHARS characters are shown.
_MAX_JSON_NUMBER_CHARS = 64
SHOWN_NUMBER_CHARS = 20
_READ_CHUNK = 64 * 1024
# XML tokens (a tag with its attributes) longer than this are refused: expat holds a whole tag
# in memory before it reports it.
_MAX_XML_TOKEN_BYTES = 1024 * 1024
# An XLSX's workbook, relationships and styles parts are small (a few KB, a few MB for a
# workbook of many styles): a part declaring more is refused before it is unpacked.
_MAX_SMALL_PART_BYTES = 32 * 1024 * 1024
# One filled ODS row repeated more often than this repeats one code: refused (its repeats are
# made lazily and counted first, but millions of copies of a code are not a file of codes).
_MAX_FILLED_ROW_REPEAT = 10_000
# Empty texts in an XLSX's shared-string table (Excel and LibreOffice keep each text once).
_MAX_EMPTY_SHARED_STRINGS = 100_000


# Header cells that name the code column, compared without case, spaces, "_" or "-".
HEADER_NAMES = (
    "code",
    "codes",
    "promo code",
    "promo_code",
    "promocode",
    "coupon",
    "coupon code",
    "voucher",
    "voucher code",
)
_SEPARATORS = re.compile(r"[\s_-]+")
_HEADER_KEYS = frozenset(_SEPARATORS.sub("", name) for name in HEADER_NAMES)
# Header cells of files that are not lists of codes (a participant or order export): a first row
# holding one of these and no code header is a header row, and the file has no code column.
_OTHER_HEADER_KEYS = frozenset(
    _SEPARATORS.sub("", name)
    for name in (
        "name",
        "first name",
        "last name",
        "full name",
        "email",
        "e-mail",
        "email address",
        "mail",
        "phone",
        "participant id",
        "customer id",
        "customer",
        "order id",
        "account id",
        "user",
        "username",
    )
)


def header_key(cell) -> str | None:
    """A header cell compared without case, spaces, `_` or `-`; None for a non-text cell."""
    if not isinstance(cell, str):
        return None
    return _SEPARATORS.sub("", cell.strip().casefold())


def names_code_column(cell) -> bool:
    return header_key(cell) in _HEADER_KEYS


class UnreadableFile(ValueError):
    """The file cannot be read at all; the message says why, for a person."""


class Row(NamedTuple):
    """One non-blank data row: its line number, the cell (escaped and cut when refused), and its
    canonical code or why not."""

    line: int
    value: object
    code: str | None
    reason: str = ""


@dataclass(frozen=True)
class Limits:
    """What a file may expand to (the CODES_UPLOAD_* settings, named in the README)."""

    rows: int
    columns: int
    cell_chars: int
    expanded_bytes: int
    whole_file_bytes: int

    @classmethod
    def from_settings(cls):
        return cls(
            rows=settings.CODES_UPLOAD_MAX_ROWS,
            columns=settings.CODES_UPLOAD_MAX_COLUMNS,
            cell_chars=settings.CODES_UPLOAD_MAX_CELL_CHARS,
            expanded_bytes=settings.CODES_UPLOAD_MAX_EXPANDED_BYTES,
            whole_file_bytes=settings.CODES_WHOLE_FILE_MAX_BYTES,
        )

    def too_many_rows(self):
        return UnreadableFile(
            f"The file has more than {self.rows:,} rows (the CODES_UPLOAD_MAX_ROWS limit): "
            "split it into smaller files."
        )

    def cell_too_long(self, line):
        return UnreadableFile(
            f"Line {line} holds a cell longer than {self.cell_chars:,} characters (the "
            "CODES_UPLOAD_MAX_CELL_CHARS limit): this is not a file of codes."
        )

    def too_expanded(self, fmt, limit=None, part="file"):
        limit = self.expanded_bytes if limit is None else limit
        return UnreadableFile(
            f"This .{fmt} {part} unpacks to more than {limit:,} bytes (the "
            "CODES_UPLOAD_MAX_EXPANDED_BYTES limit): save the codes alone, or as CSV."
        )


def file_format(file_name):
    """The format named by a file's extension; UnreadableFile for any other."""
    ext = PurePath(file_name or "").suffix.lower().lstrip(".")
    if ext not in FORMATS:
        shown = f".{ext} files" if ext else "files without an extension"
        raise UnreadableFile(
            f"Cannot read {shown}: upload one of {', '.join('.' + f for f in FORMATS)}."
        )
    return ext


def read_rows(stream, fmt, *, limits=None, layout=None):
    """Classify every non-blank data row of a binary stream: yields Row.

    Raises UnreadableFile (possibly after some rows, so callers import inside a transaction or
    stage first) for a file that cannot be read, has no rows, has no code column or passes a
    limit. `layout`, a dict when given, is filled with the header cell that named the code
    column ("header", None without one), the column's index ("column") and, without a header,
    the first row's cells when it has several ("first_row": it is read as data).
    """
    limits = limits or Limits.from_settings()
    if layout is None:
        layout = {}
    if fmt == "json":
        cells = _json_cells(stream, limits)
        layout.update(header=None, column=0)
    else:
        cells = _table_cells(_TABLE_READERS[fmt](stream, limits), limits, layout)
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


_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def shown_value(value):
    """A refused cell as it is stored and shown: control characters and lone surrogates escaped
    (they cannot be stored or printed), cut to SHOWN_VALUE_CHARS characters."""
    if isinstance(value, bool) or (isinstance(value, int) and abs(value) < 2**53):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > SHOWN_VALUE_CHARS
    text = _UNSHOWABLE.sub(_escape, text[: SHOWN_VALUE_CHARS + 1])
    if cut or len(text) > SHOWN_VALUE_CHARS:
        return text[:SHOWN_VALUE_CHARS] + "…"
    return text


def _escape(match):
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def _classify(line, value):
    if not isinstance(value, str):
        return Row(line, shown_value(value), None, _not_text(value))
    try:
        return Row(line, value, canonical_code(value))
    except InvalidCode as exc:
        return Row(line, shown_value(value), None, str(exc))


def _not_text(value):
    if isinstance(value, bool):
        return "a true/false cell, not text"
    if isinstance(value, int | float):
        return f"a number cell ({_number_shown(value)}), not text: format the column as text"
    if isinstance(value, datetime.date | datetime.time):
        return f"a date cell ({value.isoformat()}), not text: format the column as text"
    if isinstance(value, _NotText):
        return value.reason
    return f"not text ({type(value).__name__})"


def _number_shown(value):
    if isinstance(value, int) and abs(value) >= 10**15:
        digits = str(abs(value)) if value.bit_length() < 14_000 else "many digits"
        return ("-" if value < 0 else "") + (digits[:SHOWN_NUMBER_CHARS] + "…")
    return f"{value:g}"


class _NotText:
    """A cell that is neither text nor a number or date: an error cell, a JSON object without a
    code key, a nested list…"""

    def __init__(self, shown, reason):
        self.shown = shown
        self.reason = reason

    def __str__(self):
        return self.shown


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _table_cells(rows, limits, layout):
    """Apply the header rule to (line, cells) rows; yield (line, code cell) of each data row.

    Counts non-blank rows against the rows limit and checks every cell's length.
    """
    rows = iter(rows)
    column = None
    counted = 0
    for line, cells in rows:
        if all(_blank(c) for c in cells):
            continue
        _check_cells(line, cells, limits)
        header = [i for i, c in enumerate(cells) if names_code_column(c)]
        if header:
            column = header[0]
            layout.update(header=cells[column].strip(), column=column)
        else:
            filled = [c for c in cells if not _blank(c)]
            if len(filled) > 1 and any(header_key(c) in _OTHER_HEADER_KEYS for c in filled):
                shown = ", ".join(str(shown_value(c)).strip() for c in filled[:6])
                raise UnreadableFile(
                    f"No code column: the first row ({shown}) is a header, and none of its "
                    f"cells names the codes ({', '.join(HEADER_NAMES)}). Is this the right "
                    "file? If it holds codes, head their column “code”."
                )
            column = 0
            first_row = [str(shown_value(c)).strip() for c in filled] if len(filled) > 1 else []
            layout.update(header=None, column=0, first_row=first_row)
            counted += 1
            yield line, cells[0]
        break
    if column is None:
        return
    max_rows = limits.rows
    for line, cells in rows:
        if column < len(cells) and not _blank(cells[column]):
            counted += 1
            if counted > max_rows:
                raise limits.too_many_rows()
            _check_cells(line, cells, limits)
            yield line, cells[column]


def _check_cells(line, cells, limits):
    longest = limits.cell_chars
    for cell in cells:
        if type(cell) is str and len(cell) > longest:
            raise limits.cell_too_long(line)


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


def _bounded_lines(text, max_chars):
    """The physical lines of a text stream, refusing one longer than `max_chars` (read with a
    bound, so a file that is one endless line never sits in memory)."""
    number = 0
    while line := text.readline(max_chars + 2):
        number += 1
        if len(line) > max_chars and len(line.rstrip("\r\n")) > max_chars:
            raise UnreadableFile(
                f"Line {number} is longer than {max_chars:,} characters (the "
                "CODES_UPLOAD_MAX_CELL_CHARS limit, per column read): this is not a file of "
                "codes."
            )
        yield line


def _read_text(rows, fmt):
    try:
        yield from rows
    except UnicodeDecodeError:
        raise UnreadableFile(
            f"This .{fmt} file is not UTF-8 text: save it as CSV UTF-8 and upload again."
        ) from None
    except csv.Error as exc:
        raise UnreadableFile(f"This .{fmt} file cannot be read as {fmt.upper()}: {exc}.") from None


def _csv_rows(stream, limits, fmt="csv"):
    text = _text(stream, fmt)
    max_line = limits.columns * (limits.cell_chars + 3)
    return _read_text(_csv_reader(_bounded_lines(text, max_line), fmt, limits), fmt)


def _csv_reader(lines, fmt, limits):
    first = next(lines, "")
    semicolons = first.count(";") > first.count(",")
    delimiter = {"tsv": "\t"}.get(fmt, ";" if semicolons else ",")
    reader = csv.reader(itertools.chain((first,), lines), delimiter=delimiter)
    columns = limits.columns
    for cells in reader:
        yield reader.line_num, cells[:columns]


def _tsv_rows(stream, limits):
    return _csv_rows(stream, limits, "tsv")


def _txt_rows(stream, limits):
    lines = _bounded_lines(_text(stream, "txt"), limits.cell_chars)
    return _read_text(((n, [v.rstrip("\r\n")]) for n, v in enumerate(lines, 1)), "txt")


# XLS (read whole, capped) -------------------------------------------------------------------


def _xls_rows(stream, limits):
    import xlrd

    data = stream.read(limits.whole_file_bytes + 1)
    if len(data) > limits.whole_file_bytes:
        raise UnreadableFile(
            f"XLS files are read whole and this one is larger than {limits.whole_file_bytes:,} "
            "bytes (the CODES_WHOLE_FILE_MAX_BYTES limit): save it as CSV or XLSX, which are "
            "streamed."
        )
    try:
        # ragged_rows: a row is as long as its last cell, never padded to the widest row.
        book = xlrd.open_workbook(file_contents=data, on_demand=True, ragged_rows=True)
        sheet = book.sheet_by_index(0)
    except Exception:
        raise UnreadableFile("This .xls file is not a readable Excel 97–2003 workbook.") from None
    del data
    for r in range(sheet.nrows):
        cells = []
        for cell in sheet.row_slice(r, 0, min(sheet.row_len(r), limits.columns)):
            if cell.ctype == xlrd.XL_CELL_TEXT:
                cells.append(cell.value)
            elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                cells.append(None)
            elif cell.ctype == xlrd.XL_CELL_DATE:
                try:
                    cells.append(xlrd.xldate_as_datetime(cell.value, book.datemode))
                except (ValueError, OverflowError):
                    cells.append(cell.value)
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                cells.append(bool(cell.value))
            elif cell.ctype == xlrd.XL_CELL_ERROR:
                cells.append(_NotText("#ERROR", "an error cell, not text"))
            else:
                cells.append(cell.value)
        yield r + 1, cells


# Zipped workbooks (XLSX, ODS): bounded unpacking, streamed XML --------------------------------


class _Zip:
    """A zipped workbook opened with its unpacked size budgeted: the parts read may declare at
    most `limits.expanded_bytes` together (zipfile never unpacks a part past its declared size:
    a part that lies is refused as damaged)."""

    def __init__(self, stream, fmt, limits):
        self.fmt = fmt
        self.limits = limits
        self.budget = limits.expanded_bytes
        damaged = UnreadableFile(
            f"This .{fmt} file is not a readable "
            + ("Excel workbook." if fmt == "xlsx" else "OpenDocument spreadsheet.")
        )
        try:
            stream.seek(0)
            end = zipfile._EndRecData(stream)  # the entry count, before zipfile reads them all
            if end is None:
                raise damaged
            if end[zipfile._ECD_ENTRIES_TOTAL] > _MAX_ZIP_ENTRIES:
                raise UnreadableFile(
                    f"This .{fmt} file holds more than {_MAX_ZIP_ENTRIES:,} parts: it is not a "
                    "spreadsheet of codes."
                )
            stream.seek(0)
            self.archive = zipfile.ZipFile(stream)
        except UnreadableFile:
            raise
        except Exception:
            raise damaged from None
        self.names = {info.filename.lower().lstrip("/"): info for info in self.archive.infolist()}

    def find(self, name):
        return self.names.get(name.lower().lstrip("/"))

    def parse_small(self, name, handler):
        """Stream a small part (workbook, relationships, styles) through `handler`; False when
        the part is missing. A part declaring more than _MAX_SMALL_PART_BYTES is refused before
        it is unpacked."""
        info = self.find(name)
        if info is None:
            return False
        if info.file_size > _MAX_SMALL_PART_BYTES:
            raise UnreadableFile(
                f"This .{self.fmt} file's {info.filename} unpacks to {info.file_size:,} bytes, "
                f"more than such a part ever needs ({_MAX_SMALL_PART_BYTES:,}): it is not a "
                "spreadsheet of codes."
            )
        for _ in _parse_xml(self.chunks(info), handler, self.fmt):
            pass
        return True

    def chunks(self, info, limit=None, part="file's shared-string table"):
        """The unpacked bytes of a part, in chunks. Its declared size is checked against
        `limit` and the budget before anything is unpacked, and the bytes really unpacked are
        counted as they come: zipfile stops a part at its declared size (a part whose data runs
        longer fails its check and is refused as damaged), and this counts again."""
        size = info.file_size
        if limit is not None and size > limit:
            raise self.limits.too_expanded(self.fmt, limit, part=part)
        if size > self.budget:
            raise self.limits.too_expanded(self.fmt)
        self.budget -= size
        unpacked = 0
        try:
            with self.archive.open(info) as stream:
                while chunk := stream.read(_READ_CHUNK):
                    unpacked += len(chunk)
                    if unpacked > size:
                        raise self.limits.too_expanded(self.fmt)
                    yield chunk
        except UnreadableFile:
            raise
        except Exception:
            raise UnreadableFile(
                f"This .{self.fmt} file is damaged: its {info.filename} cannot be unpacked."
            ) from None


class _XmlHandler:
    """Base of our streaming XML readers: local tag names, a counter of events (so a file whose
    tags never end is caught), no DTD at all (no entity tricks)."""

    events = 0

    def start(self, tag, attrs):
        pass

    def end(self, tag):
        pass

    def text(self, data):
        pass


def _parse_xml(chunks, handler, fmt, out=None):
    """Feed XML chunks to `handler` through expat; after each chunk, yield what the handler
    collected in `out` (a list it appends to), so rows flow out as the file is read."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    local_names = {}  # "x:row" -> "row", once per tag name

    def local(name):
        tag = local_names[name] = name.rpartition(":")[2]
        return tag

    def start(name, attrs):
        handler.events += 1
        handler.start(local_names.get(name) or local(name), attrs)

    def end(name):
        handler.events += 1
        handler.end(local_names.get(name) or local(name))

    def text(data):
        handler.events += 1
        handler.text(data)

    def doctype(*args):
        raise UnreadableFile(f"This .{fmt} file holds an XML document type declaration.")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    quiet_bytes = 0
    try:
        for chunk in chunks:
            before = handler.events
            parser.Parse(chunk, False)
            quiet_bytes = 0 if handler.events != before else quiet_bytes + len(chunk)
            if quiet_bytes > _MAX_XML_TOKEN_BYTES:
                raise UnreadableFile(
                    f"This .{fmt} file holds an XML tag longer than {_MAX_XML_TOKEN_BYTES:,} "
                    "bytes: it is not a spreadsheet of codes."
                )
            if out:
                yield from out
                out.clear()
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise UnreadableFile(
            f"This .{fmt} file is damaged: its XML is not well formed ({exc})."
        ) from None
    if out:
        yield from out
        out.clear()


# XLSX --------------------------------------------------------------------------------------

_EXCEL_EPOCH = datetime.datetime(1899, 12, 30)
_EXCEL_EPOCH_1904 = datetime.datetime(1904, 1, 1)
_DATE_FORMAT_IDS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])
_FORMAT_NOISE = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')
_DATE_TOKENS = re.compile(r"[dmyhs]", re.IGNORECASE)
_CELL_REF = re.compile(r"([A-Za-z]{1,7})")


class _SharedStrings(_XmlHandler):
    """The shared-string table, kept compact: one string of all texts and an array of offsets.
    A text longer than the cell limit is kept cut, and remembered as too long."""

    def __init__(self, limits):
        self.limits = limits
        self.buffer = io.StringIO()
        # The texts kept are at most a quarter of the unpacking budget: 32-bit offsets do.
        wide = limits.expanded_bytes // 4 >= 2**32
        self.offsets = array.array("Q" if wide else "I", [0])
        # A file of codes needs a text per row at most (and its header cells); spreadsheet
        # programs keep each text once, so empty texts are few.
        self.max_items = limits.rows + limits.columns
        self.empty_items = 0
        self.too_long = set()
        self.in_item = self.in_text = self.in_phonetic = False
        self.length = 0
        self.joined = ""

    def start(self, tag, attrs):
        if tag == "si":
            self.in_item = True
            self.length = 0
        elif tag == "rPh":
            self.in_phonetic = True
        elif tag == "t" and self.in_item and not self.in_phonetic:
            self.in_text = True

    def end(self, tag):
        if tag == "t":
            self.in_text = False
        elif tag == "rPh":
            self.in_phonetic = False
        elif tag == "si":
            self.in_item = False
            if self.length > self.limits.cell_chars:
                self.too_long.add(len(self.offsets) - 1)
            elif not self.length:
                self.empty_items += 1
                if self.empty_items > _MAX_EMPTY_SHARED_STRINGS:
                    raise UnreadableFile(
                        "This .xlsx file's shared-string table holds more than "
                        f"{_MAX_EMPTY_SHARED_STRINGS:,} empty texts (a spreadsheet program "
                        "keeps each text once): this is not a file of codes."
                    )
            if len(self.offsets) > self.max_items:
                raise UnreadableFile(
                    f"This .xlsx file's shared-string table holds more than "
                    f"{self.max_items:,} texts (the CODES_UPLOAD_MAX_ROWS limit, with a header): "
                    "this is not a file of codes."
                )
            self.offsets.append(self.buffer.tell())

    def text(self, data):
        if self.in_text:
            room = self.limits.cell_chars + 1 - self.length
            if room > 0:
                self.buffer.write(data[:room])
            self.length += len(data)

    def finish(self):
        self.joined = self.buffer.getvalue()
        self.buffer = None

    def get(self, index, line):
        if not 0 <= index < len(self.offsets) - 1:
            raise UnreadableFile(f"This .xlsx file is damaged: line {line} names a missing text.")
        if index in self.too_long:
            raise self.limits.cell_too_long(line)
        return self.joined[self.offsets[index] : self.offsets[index + 1]]


class _Styles(_XmlHandler):
    """Which cell styles show a number as a date."""

    def __init__(self):
        self.custom = {}
        self.xf_formats = []
        self.in_cell_xfs = False

    def start(self, tag, attrs):
        if tag == "numFmt":
            self.custom[attrs.get("numFmtId")] = attrs.get("formatCode", "")
        elif tag == "cellXfs":
            self.in_cell_xfs = True
        elif tag == "xf" and self.in_cell_xfs:
            self.xf_formats.append(attrs.get("numFmtId", "0"))

    def end(self, tag):
        if tag == "cellXfs":
            self.in_cell_xfs = False

    def date_styles(self):
        dates = set()
        for index, format_id in enumerate(self.xf_formats):
            code = self.custom.get(format_id)
            if code is not None:
                if _DATE_TOKENS.search(_FORMAT_NOISE.sub("", code)):
                    dates.add(str(index))
            elif format_id.isdigit() and int(format_id) in _DATE_FORMAT_IDS:
                dates.add(str(index))
        return dates


class _Workbook(_XmlHandler):
    def __init__(self):
        self.first_sheet = None
        self.date1904 = False

    def start(self, tag, attrs):
        if tag == "sheet" and self.first_sheet is None:
            self.first_sheet = next(
                (v for k, v in attrs.items() if k.rpartition(":")[2] == "id" and ":" in k), None
            )
        elif tag == "workbookPr":
            self.date1904 = attrs.get("date1904", "").lower() in ("1", "true")


class _Relationships(_XmlHandler):
    def __init__(self):
        self.by_id = {}
        self.by_type = {}

    def start(self, tag, attrs):
        if tag == "Relationship":
            target = attrs.get("Target", "")
            self.by_id[attrs.get("Id")] = target
            self.by_type.setdefault(attrs.get("Type", "").rpartition("/")[2], target)


class _SheetRows(_XmlHandler):
    """The rows of a worksheet as (line, cells), cells only up to the columns limit. Cells come
    from their `r` reference (or follow the previous one): gaps are None, and the declared
    dimension is never read."""

    def __init__(self, limits, shared, date_styles, epoch):
        self.limits = limits
        self.shared = shared
        self.date_styles = date_styles
        self.epoch = epoch
        self.out = []
        self.line = 0
        self.cells = None
        self.next_column = 0
        self.column = None
        self.in_value = self.in_inline = self.in_phonetic = False

    def start(self, tag, attrs):
        if tag == "c":
            ref = attrs.get("r")
            column = _column_index(ref) if ref else self.next_column
            self.next_column = column + 1
            if column < self.limits.columns and self.cells is not None:
                self.column = column
                self.kind = attrs.get("t", "n")
                self.style = attrs.get("s", "0")
                self.parts = []
                self.length = 0
            else:
                self.column = None
        elif tag == "row":
            ref = attrs.get("r", "")
            numbered = ref.isascii() and ref.isdigit() and len(ref) < 19
            self.line = int(ref) if numbered else self.line + 1
            self.cells = {}
            self.next_column = 0
        elif self.column is not None:
            if tag == "v":
                self.in_value = True
            elif tag == "is":
                self.in_inline = True
            elif tag == "rPh":
                self.in_phonetic = True
            elif tag == "t" and self.in_inline and not self.in_phonetic:
                self.in_value = True

    def text(self, data):
        if self.in_value:
            self.length += len(data)
            if self.length > self.limits.cell_chars:
                raise self.limits.cell_too_long(self.line)
            self.parts.append(data)

    def end(self, tag):
        if tag in ("v", "t"):
            self.in_value = False
        elif tag == "is":
            self.in_inline = False
        elif tag == "rPh":
            self.in_phonetic = False
        elif tag == "c":
            if self.column is not None:
                value = self._value("".join(self.parts))
                if value is not None:
                    self.cells[self.column] = value
                self.column = None
        elif tag == "row" and self.cells is not None:
            if self.cells:
                row = [None] * (max(self.cells) + 1)
                for column, value in self.cells.items():
                    row[column] = value
                self.out.append((self.line, row))
            self.cells = None

    def _value(self, text):
        kind = self.kind
        if kind in ("inlineStr", "str"):
            return text
        if not text:
            return None
        if kind == "s":
            try:
                index = int(text)
            except ValueError:
                raise UnreadableFile(
                    f"This .xlsx file is damaged: line {self.line} names a missing text."
                ) from None
            return self.shared.get(index, self.line)
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind == "e":
            return _NotText(text, f"an error cell ({text[:20]}), not text")
        if kind == "d":
            try:
                return datetime.datetime.fromisoformat(text)
            except ValueError:
                return _NotText(text, "a date cell, not text: format the column as text")
        try:
            number = float(text)
        except ValueError:
            return _NotText(text, "a cell that is not text")
        if self.style in self.date_styles and math.isfinite(number):
            try:
                return self.epoch + datetime.timedelta(days=number)
            except OverflowError:
                pass
        return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _column_index(ref):
    match = _CELL_REF.match(ref)
    if match is None:
        return 0
    index = 0
    for letter in match.group(1).upper():
        index = index * 26 + ord(letter) - 64
    return index - 1


def _part_path(base, target):
    if target.startswith("/"):
        return target.lstrip("/")
    parts = [*base.split("/")[:-1], *target.split("/")]
    path = []
    for part in parts:
        if part == "..":
            if path:
                path.pop()
        elif part and part != ".":
            path.append(part)
    return "/".join(path)


def _xlsx_rows(stream, limits):
    book = _Zip(stream, "xlsx", limits)
    workbook = _Workbook()
    if not book.parse_small("xl/workbook.xml", workbook):
        raise UnreadableFile("This .xlsx file is not a readable Excel workbook.")
    relationships = _Relationships()
    book.parse_small("xl/_rels/workbook.xml.rels", relationships)
    sheet_target = relationships.by_id.get(workbook.first_sheet, "worksheets/sheet1.xml")
    sheet = book.find(_part_path("xl/workbook.xml", sheet_target))
    if sheet is None:
        raise UnreadableFile("This .xlsx file is damaged: it has no worksheet.")

    shared = _SharedStrings(limits)
    strings_target = relationships.by_type.get("sharedStrings", "sharedStrings.xml")
    strings = book.find(_part_path("xl/workbook.xml", strings_target))
    if strings is not None:
        # Held in memory: a quarter of the unpacking budget at most.
        chunks = book.chunks(strings, limit=limits.expanded_bytes // 4)
        for _ in _parse_xml(chunks, shared, "xlsx"):
            pass
    shared.finish()
    date_styles = set()
    styles_target = relationships.by_type.get("styles", "styles.xml")
    styles = _Styles()
    if book.parse_small(_part_path("xl/workbook.xml", styles_target), styles):
        date_styles = styles.date_styles()
    epoch = _EXCEL_EPOCH_1904 if workbook.date1904 else _EXCEL_EPOCH
    rows = _SheetRows(limits, shared, date_styles, epoch)
    yield from _parse_xml(book.chunks(sheet), rows, "xlsx", rows.out)


# ODS ---------------------------------------------------------------------------------------

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
                        f"Line {self.line + 1} of this .ods file is repeated {repeat:,} times "
                        f"(more than {_MAX_FILLED_ROW_REPEAT:,}): each code of a file appears "
                        "once. Remove the repeats, or save the codes as CSV."
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
            return _NotText(text, "a number cell, not text: format the column as text")
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "date":
        raw = attrs.get("office:date-value", "")
        try:
            moment = datetime.datetime.fromisoformat(raw)
        except ValueError:
            return _NotText(raw, "a date cell, not text: format the column as text")
        return moment.date() if len(raw) <= 10 else moment
    if kind == "boolean":
        return attrs.get("office:boolean-value", "").lower() == "true"
    raw = attrs.get("office:time-value", text)
    return _NotText(raw, f"a {kind} cell ({raw[:20]}), not text: format the column as text")


def _ods_rows(stream, limits):
    book = _Zip(stream, "ods", limits)
    content = book.find("content.xml")
    if content is None:
        raise UnreadableFile("This .ods file is not a readable OpenDocument spreadsheet.")
    rows = _OdsRows(limits)
    for line, cells, repeat in _parse_xml(book.chunks(content), rows, "ods", rows.out):
        for offset in range(repeat):
            yield line + offset, cells
    if rows.tables_seen == 0:
        raise UnreadableFile("This .ods file is not a readable OpenDocument spreadsheet.")


# JSON (streamed with ijson's events: nothing is built but the current item) ----------------


class _JsonGuard(io.RawIOBase):
    """The raw JSON bytes for ijson, minus a UTF-8 BOM, bounded before the parser sees them:
    a string longer than the cell limit allows refuses the file (the parser would hold it
    whole), and a number longer than _MAX_JSON_NUMBER_CHARS is handed on as a marked string
    (`marker`, then its length and first characters), a refused row: a parser converting a
    number of thousands of digits can take seconds or, in ijson's C backend, crash the process
    (5,000 digits)."""

    _IN_STRING = re.compile(rb'[\\"]')
    _OUTSIDE = re.compile(rb'"|[-+.0-9eE]+')
    _NUMBER = re.compile(rb"[-+.0-9eE]*")

    def __init__(self, stream, limits):
        self.stream = stream
        self.limits = limits
        self.max_bytes = limits.cell_chars * 6 + 2  # \uXXXX: six bytes per character
        self.marker = "\x00" + secrets.token_hex(8) + ":"
        self.marker_bytes = b"\\u0000" + self.marker[1:].encode()
        self.ready = bytearray()
        self.in_string = False
        self.escaped = False  # the last chunk ended inside a string on a backslash
        self.run = 0
        self.number = None  # the number being read (its first characters), outside strings
        self.number_length = 0
        self.started = self.ended = False

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self.ready and not self.ended:
            data = self.stream.read(_READ_CHUNK)
            if not self.started:
                self.started = True
                if data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
            if not data:
                self.ended = True
                self._end_number()
            else:
                self._scan(data)
        size = min(len(buffer), len(self.ready))
        buffer[:size] = self.ready[:size]
        del self.ready[:size]
        return size

    def _scan(self, data):
        out = self.ready
        position, length = 0, len(data)
        while position < length:
            if self.in_string:
                if self.escaped:  # the character a backslash in the last chunk escapes
                    self.escaped = False
                    out += data[position : position + 1]
                    self.run += 1
                    position += 1
                    continue
                match = self._IN_STRING.search(data, position)
                if match is None:
                    self.run += length - position
                    out += data[position:]
                    self._check()
                    return
                self.run += match.end() - position
                out += data[position : match.end()]
                position = match.end()
                if match.group() == b'"':
                    self.in_string = False
                    self.run = 0
                else:
                    self.escaped = True
                self._check()
            elif self.number is not None:
                match = self._NUMBER.match(data, position)
                self._grow_number(match.group())
                position = match.end()
                if position < length:
                    self._end_number()
            else:
                match = self._OUTSIDE.search(data, position)
                if match is None:
                    out += data[position:]
                    return
                out += data[position : match.start()]
                position = match.end()
                if match.group() == b'"':
                    out += b'"'
                    self.in_string = True
                    self.run = 0
                else:
                    self.number = bytearray()
                    self.number_length = 0
                    self._grow_number(match.group())
                    if position < length:
                        self._end_number()

    def _grow_number(self, part):
        self.number_length += len(part)
        room = _MAX_JSON_NUMBER_CHARS + 1 - len(self.number)
        if room > 0:
            self.number += part[:room]

    def _end_number(self):
        if self.number is None:
            return
        if self.number_length <= _MAX_JSON_NUMBER_CHARS:
            self.ready += self.number
        else:
            shown = bytes(self.number[:SHOWN_NUMBER_CHARS])
            self.ready += b'"%s%d:%s"' % (self.marker_bytes, self.number_length, shown)
        self.number = None

    def long_number(self, value):
        """The refused cell of a number the guard marked, or None for any other string."""
        if not value.startswith(self.marker):
            return None
        length, _, shown = value[len(self.marker) :].partition(":")
        return _NotText(
            f"{shown}…",
            f"a number {int(length):,} characters long ({shown}…), not a code: format the "
            "column as text",
        )

    def _check(self):
        if self.run > self.max_bytes:
            raise UnreadableFile(
                f"This .json file holds a text longer than {self.limits.cell_chars:,} characters "
                "(the CODES_UPLOAD_MAX_CELL_CHARS limit): this is not a file of codes."
            )


def _json_cells(stream, limits):
    import ijson

    guard = _JsonGuard(stream, limits)
    events = ijson.basic_parse(io.BufferedReader(guard, _READ_CHUNK))
    try:
        yield from _json_items(events, limits, guard.long_number)
    except UnreadableFile:
        raise
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "it ends too early"
        raise UnreadableFile(f"This .json file is not valid JSON: {detail}.") from None


def _json_items(events, limits, long_number):
    first = next(events, None)
    if first is None:
        raise UnreadableFile("The file is empty.")
    if first[0] != "start_array":
        raise UnreadableFile(
            'A .json file must hold a list of codes, or of objects with a "code" key.'
        )
    depth = 1
    line = 0
    only_objects = True
    code_keys = 0
    current = None  # the item being read: a list [value] of an object, or None
    wanted = False  # the next value at depth 2 is the object's code
    counted = 0
    for event, value in events:
        if event in ("start_map", "start_array"):
            depth += 1
            if depth > _MAX_JSON_DEPTH:
                raise UnreadableFile(
                    f"This .json file is nested more than {_MAX_JSON_DEPTH} levels deep: a "
                    "file of codes is a list of strings, or of flat objects."
                )
            if depth == 2:
                line += 1
                if event == "start_map":
                    current = []
                    continue
                only_objects = False
                current = ["list"]
                continue
            if depth == 3 and wanted:
                current.append(_NotText("(nested)", 'a "code" that is not text'))
                wanted = False
            continue
        if event in ("end_map", "end_array"):
            depth -= 1
            if depth == 1:
                if current == ["list"]:
                    item = _NotText("(a list)", "a list, not text")
                elif current:
                    item = current[0]
                else:
                    item = _NotText("(object without a code key)", 'an object without a "code" key')
                current = None
                counted += 1
                if counted > limits.rows:
                    raise limits.too_many_rows()
                yield line, item
            elif depth == 0:
                break
            continue
        if event == "map_key":
            first_code_key = current == [] and value.strip().lower() == "code"
            if depth == 2 and first_code_key:
                wanted = True
                code_keys += 1
            continue
        if event == "number":
            value = _json_number(value)
        elif event == "string":
            if len(value) > limits.cell_chars:
                raise limits.cell_too_long(line + (depth == 1))
            value = long_number(value) or value
        if depth == 1:  # a scalar item
            line += 1
            only_objects = False
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            counted += 1
            if counted > limits.rows:
                raise limits.too_many_rows()
            yield line, value
        elif depth == 2 and wanted:
            current.append(value if value is not None else "")
            wanted = False
    if line and only_objects and not code_keys:
        raise UnreadableFile('No code column: none of the objects in this .json file has "code".')


def _json_number(value):
    # ijson gives an int, or a Decimal for anything with a fraction or an exponent.
    # copy_abs, not abs(): it never rounds, so 1e999999999 does not overflow the context.
    if isinstance(value, int):
        return value
    try:
        if value == value.to_integral_value() and value.copy_abs() < 2**53:
            return int(value)
        return float(value)
    except ArithmeticError:
        return _NotText(str(value)[:SHOWN_NUMBER_CHARS], "a number out of range, not a code")


_TABLE_READERS = {
    "csv": _csv_rows,
    "tsv": _tsv_rows,
    "txt": _txt_rows,
    "xlsx": _xlsx_rows,
    "xls": _xls_rows,
    "ods": _ods_rows,
}

__all__ = [
    "FORMATS",
    "SHOWN_VALUE_CHARS",
    "WHOLE_FILE_FORMATS",
    "Limits",
    "Row",
    "UnreadableFile",
    "file_format",
    "read_rows",
    "shown_value",
]
