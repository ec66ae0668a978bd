"""Text formats (CSV, TSV, TXT): streamed, each line read with a bound."""

import csv
import io
import itertools

from django.utils.translation import gettext as _

from .limits import UnreadableFile

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _text(stream, fmt):
    head = stream.read(4096)
    if not head:
        raise UnreadableFile(_("The file is empty."))
    if head.startswith(_ZIP_MAGIC):
        raise UnreadableFile(
            _(
                "This .%(format)s file is a zip archive (an XLSX or ODS workbook?), not text: "
                "give it the right extension."
            )
            % {"format": fmt}
        )
    if head.startswith(_OLE_MAGIC):
        raise UnreadableFile(
            _("This .%(format)s file is an old Excel (XLS) workbook, not text.") % {"format": fmt}
        )
    if b"\x00" in head:
        raise UnreadableFile(
            _("This .%(format)s file holds binary data, not text.") % {"format": fmt}
        )
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
                _(
                    "Line %(line)s is longer than %(limit)s characters (the "
                    "CODES_UPLOAD_MAX_CELL_CHARS limit, per column read): this is not a file "
                    "of codes."
                )
                % {"line": number, "limit": f"{max_chars:,}"}
            )
        yield line


def _read_text(rows, fmt):
    try:
        yield from rows
    except UnicodeDecodeError:
        raise UnreadableFile(
            _("This .%(format)s file is not UTF-8 text: save it as CSV UTF-8 and upload again.")
            % {"format": fmt}
        ) from None
    except csv.Error as exc:
        raise UnreadableFile(
            _("This .%(format)s file cannot be read as %(kind)s: %(problem)s.")
            % {"format": fmt, "kind": fmt.upper(), "problem": exc}
        ) from None


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
