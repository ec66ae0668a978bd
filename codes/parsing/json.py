"""JSON, streamed with ijson's events: nothing is built but the current item, and the bytes
are bounded (long strings, long numbers) before the parser sees them."""

import io
import re
import secrets

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from .cells import SHOWN_NUMBER_CHARS, _NotText
from .limits import _READ_CHUNK, UnreadableFile

# Deepest nesting of a JSON file (a list of strings or of flat objects needs 2).
_MAX_JSON_DEPTH = 32
# A JSON number longer than this (a code is at most 64 characters) is a refused row, never
# handed to the parser; its first SHOWN_NUMBER_CHARS characters are shown.
_MAX_JSON_NUMBER_CHARS = 64


class _JsonGuard(io.RawIOBase):
    """The raw JSON bytes for ijson, minus a UTF-8 BOM, bounded before the parser sees them:
    a string longer than the cell limit allows refuses the file (the parser would hold it
    whole), and a number longer than _MAX_JSON_NUMBER_CHARS is handed on as a marked string
    (`marker`, then its length and first characters), a refused row: a parser converting a
    number of thousands of digits can take seconds or, in ijson's C backend, crash the process
    (5,000 digits)."""

    _IN_STRING = re.compile(rb'[\\"]')
    _OUTSIDE = re.compile(rb'"[^"\\\\]*"|"|[-+.0-9eE]+')
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
        # Bytes pass through untouched (copied in one slice up to `copied`) except a number,
        # which is held in self.number until it ends, then handed on or replaced.
        out = self.ready
        copied = 0
        position, length = 0, len(data)
        while position < length:
            if self.in_string:
                if self.escaped:  # the character a backslash in the last chunk escapes
                    self.escaped = False
                    self.run += 1
                    position += 1
                    continue
                match = self._IN_STRING.search(data, position)
                if match is None:
                    self.run += length - position
                    self._check()
                    break
                self.run += match.end() - position
                position = match.end()
                if match.group() == b'"':
                    self.in_string = False
                    self.run = 0
                else:
                    self.escaped = True
                self._check()
            elif self.number is not None:  # a number begun in the last chunk
                match = self._NUMBER.match(data, position)
                self._grow_number(match.group())
                position = copied = match.end()
                if position < length:
                    self._end_number()
            else:
                match = self._OUTSIDE.search(data, position)
                if match is None:
                    break
                token = match.group()
                position = match.end()
                if token[0] == 0x22:  # a quote
                    if len(token) == 1:  # a string holding escapes, or going on past the chunk
                        self.in_string = True
                        self.run = 0
                    elif len(token) - 2 > self.max_bytes:
                        self.run = len(token) - 2
                        self._check()
                    continue
                out += data[copied : match.start()]
                copied = position
                self.number = bytearray()
                self.number_length = 0
                self._grow_number(token)
                if position < length:
                    self._end_number()
        out += data[copied:]

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
        length, _colon, shown = value[len(self.marker) :].partition(":")
        return _NotText(
            f"{shown}…",
            N_(
                "a number %(length)s characters long (%(value)s…), not a code: format the "
                "column as text"
            ),
            length=f"{int(length):,}",
            value=shown,
        )

    def _check(self):
        if self.run > self.max_bytes:
            raise UnreadableFile(
                _(
                    "This .json file holds a text longer than %(limit)s characters "
                    "(the CODES_UPLOAD_MAX_CELL_CHARS limit): this is not a file of codes."
                )
                % {"limit": f"{self.limits.cell_chars:,}"}
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
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else _("it ends too early")
        raise UnreadableFile(
            _("This .json file is not valid JSON: %(problem)s.") % {"problem": detail}
        ) from None


def _json_items(events, limits, long_number):
    first = next(events, None)
    if first is None:
        raise UnreadableFile(_("The file is empty."))
    if first[0] != "start_array":
        raise UnreadableFile(
            _('A .json file must hold a list of codes, or of objects with a "code" key.')
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
                    _(
                        "This .json file is nested more than %(limit)s levels deep: a "
                        "file of codes is a list of strings, or of flat objects."
                    )
                    % {"limit": _MAX_JSON_DEPTH}
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
                current.append(_NotText("(nested)", N_('a "code" that is not text')))
                wanted = False
            continue
        if event in ("end_map", "end_array"):
            depth -= 1
            if depth == 1:
                if current == ["list"]:
                    item = _NotText("(a list)", N_("a list, not text"))
                elif current:
                    item = current[0]
                else:
                    item = _NotText(
                        "(object without a code key)", N_('an object without a "code" key')
                    )
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
        raise UnreadableFile(
            _('No code column: none of the objects in this .json file has "code".')
        )


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
        return _NotText(str(value)[:SHOWN_NUMBER_CHARS], N_("a number out of range, not a code"))
