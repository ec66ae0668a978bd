"""What a code file may expand to (the CODES_UPLOAD_* settings), the formats read, and the
refusal of a file that cannot be read."""

from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings

FORMATS = ("csv", "tsv", "txt", "xlsx", "xls", "ods", "json")
WHOLE_FILE_FORMATS = frozenset({"xls"})
_READ_CHUNK = 64 * 1024


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
