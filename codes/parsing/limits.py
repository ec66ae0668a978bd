"""What a code file may expand to (the CODES_UPLOAD_* settings), the formats read, and the
refusal of a file that cannot be read."""

from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

FORMATS = ("csv", "tsv", "txt", "xlsx", "xls", "ods", "json")
WHOLE_FILE_FORMATS = frozenset({"xls"})
_READ_CHUNK = 64 * 1024
# The part of a zipped file named when it unpacks past its own limit.
SHARED_STRINGS_PART = N_("file's shared-string table")


class UnreadableFile(ValueError):
    """The file cannot be read at all; the message says why, for a person."""


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
            _(
                "The file has more than %(limit)s rows (the CODES_UPLOAD_MAX_ROWS limit): "
                "split it into smaller files."
            )
            % {"limit": f"{self.rows:,}"}
        )

    def cell_too_long(self, line):
        return UnreadableFile(
            _(
                "Line %(line)s holds a cell longer than %(limit)s characters (the "
                "CODES_UPLOAD_MAX_CELL_CHARS limit): this is not a file of codes."
            )
            % {"line": line, "limit": f"{self.cell_chars:,}"}
        )

    def too_expanded(self, fmt, limit=None, part=None):
        limit = self.expanded_bytes if limit is None else limit
        return UnreadableFile(
            _(
                "This .%(format)s %(part)s unpacks to more than %(limit)s bytes (the "
                "CODES_UPLOAD_MAX_EXPANDED_BYTES limit): save the codes alone, or as CSV."
            )
            % {"format": fmt, "part": _(part) if part else _("file"), "limit": f"{limit:,}"}
        )


def file_format(file_name):
    """The format named by a file's extension; UnreadableFile for any other."""
    ext = PurePath(file_name or "").suffix.lower().lstrip(".")
    if ext not in FORMATS:
        formats = ", ".join("." + f for f in FORMATS)
        raise UnreadableFile(
            _("Cannot read .%(extension)s files: upload one of %(formats)s.")
            % {"extension": ext, "formats": formats}
            if ext
            else _("Cannot read files without an extension: upload one of %(formats)s.")
            % {"formats": formats}
        )
    return ext
