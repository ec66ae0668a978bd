"""Zipped workbooks (XLSX, ODS): bounded unpacking and streamed XML.

Every part is unpacked as a stream: its declared size is checked against the budget (and
the small parts against _MAX_SMALL_PART_BYTES) before anything is unpacked, and the bytes
really unpacked are counted as they come. The XML goes through expat event by event, with no
document type declaration allowed (no entity tricks) and a bound on a single tag."""

import zipfile
from xml.parsers import expat

from django.utils.translation import gettext as _

from .limits import _READ_CHUNK, SHARED_STRINGS_PART, UnreadableFile

# A zipped workbook with more parts than this is not a spreadsheet of codes.
_MAX_ZIP_ENTRIES = 10_000
# XML tokens (a tag with its attributes) longer than this are refused: expat holds a whole tag
# in memory before it reports it.
_MAX_XML_TOKEN_BYTES = 1024 * 1024
# An XLSX's workbook, relationships and styles parts are small (a few KB, a few MB for a
# workbook of many styles): a part declaring more is refused before it is unpacked.
_MAX_SMALL_PART_BYTES = 32 * 1024 * 1024


class _Zip:
    """A zipped workbook opened with its unpacked size budgeted: the parts read may declare at
    most `limits.expanded_bytes` together (zipfile never unpacks a part past its declared size:
    a part that lies is refused as damaged)."""

    def __init__(self, stream, fmt, limits):
        self.fmt = fmt
        self.limits = limits
        self.budget = limits.expanded_bytes
        damaged = UnreadableFile(
            _("This .xlsx file is not a readable Excel workbook.")
            if fmt == "xlsx"
            else _("This .ods file is not a readable OpenDocument spreadsheet.")
        )
        try:
            stream.seek(0)
            end = zipfile._EndRecData(stream)  # the entry count, before zipfile reads them all
            if end is None:
                raise damaged
            if end[zipfile._ECD_ENTRIES_TOTAL] > _MAX_ZIP_ENTRIES:
                raise UnreadableFile(
                    _(
                        "This .%(format)s file holds more than %(limit)s parts: it is not a "
                        "spreadsheet of codes."
                    )
                    % {"format": fmt, "limit": f"{_MAX_ZIP_ENTRIES:,}"}
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
                _(
                    "This .%(format)s file's %(part)s unpacks to %(size)s bytes, more than such "
                    "a part ever needs (%(limit)s): it is not a spreadsheet of codes."
                )
                % {
                    "format": self.fmt,
                    "part": info.filename,
                    "size": f"{info.file_size:,}",
                    "limit": f"{_MAX_SMALL_PART_BYTES:,}",
                }
            )
        for _event in _parse_xml(self.chunks(info), handler, self.fmt):
            pass
        return True

    def chunks(self, info, limit=None, part=SHARED_STRINGS_PART):
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
                _("This .%(format)s file is damaged: its %(part)s cannot be unpacked.")
                % {"format": self.fmt, "part": info.filename}
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
        raise UnreadableFile(
            _("This .%(format)s file holds an XML document type declaration.") % {"format": fmt}
        )

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
                    _(
                        "This .%(format)s file holds an XML tag longer than %(limit)s bytes: it "
                        "is not a spreadsheet of codes."
                    )
                    % {"format": fmt, "limit": f"{_MAX_XML_TOKEN_BYTES:,}"}
                )
            if out:
                yield from out
                out.clear()
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise UnreadableFile(
            _("This .%(format)s file is damaged: its XML is not well formed (%(problem)s).")
            % {"format": fmt, "problem": exc}
        ) from None
    if out:
        yield from out
        out.clear()
