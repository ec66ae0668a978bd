"""Reads of the codes app that are more than one ORM call."""

from dataclasses import dataclass, field

from .models import PromoCode
from .parsing import file_format, read_rows

_EXISTING_CHUNK = 5000


@dataclass
class UploadPreview:
    """What importing a file would do: the counts of a batch and every refused row."""

    file_name: str
    rows_read: int = 0
    codes_to_add: int = 0
    duplicates_in_file: int = 0
    already_in_program: int = 0
    invalid_rows: int = 0
    refused: list = field(default_factory=list)  # [{"line", "value", "reason"}] by line


def upload_preview(*, pool, stream, file_name):
    """Read a whole uploaded file and say which rows would be imported and which refused.

    Validation and de-duplication happen in memory; codes already in the program are looked up
    a few thousand at a time (no query per row). Raises parsing.UnreadableFile.
    """
    preview = UploadPreview(file_name=file_name)
    first_line = {}
    for row in read_rows(stream, file_format(file_name)):
        preview.rows_read += 1
        if row.code is None:
            preview.invalid_rows += 1
            preview.refused.append({"line": row.line, "value": row.value, "reason": row.reason})
        elif row.code in first_line:
            preview.duplicates_in_file += 1
            preview.refused.append(
                {"line": row.line, "value": row.value, "reason": "duplicate within the file"}
            )
        else:
            first_line[row.code] = row
    codes = list(first_line)
    for start in range(0, len(codes), _EXISTING_CHUNK):
        existing = PromoCode.objects.filter(
            program_id=pool.program_id, code__in=codes[start : start + _EXISTING_CHUNK]
        ).values_list("code", flat=True)
        for code in existing:
            row = first_line[code]
            preview.already_in_program += 1
            preview.refused.append(
                {"line": row.line, "value": row.value, "reason": "already in the program"}
            )
    preview.codes_to_add = len(codes) - preview.already_in_program
    preview.refused.sort(key=lambda r: r["line"])
    return preview


EXPORT_COLUMNS = [
    ("code", "code"),
    ("usage", "usage"),
    ("status", "status"),
    ("pool", "pool__name"),
    ("batch", "batch_id"),
    ("advocate id", "holder__participant_id"),
    ("assigned", "assigned_at"),
    ("first copied", "first_copied_at"),
    ("redeemed", "redeemed_at"),
    ("order id", "redeemed_order_id"),
]


def codes_export_rows(*, queryset=None, program=None):
    """The export rows (DESIGN §4 Exports) of `queryset`, or of all of `program`'s codes.

    Streams from the database in chunks; every value comes out as text ("" for none).
    """
    if queryset is None:
        queryset = PromoCode.objects.filter(program=program)
    rows = queryset.order_by("id").values_list(*(lookup for _, lookup in EXPORT_COLUMNS))
    for row in rows.iterator(chunk_size=2000):
        yield [_text(value) for value in row]


def _text(value):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
