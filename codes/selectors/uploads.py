"""The upload flow's reads: the preview of a file before it is imported, its columns, and the
batches waiting or stalled.
"""

import itertools
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext

from ..models import (
    Batch,
    BatchStatus,
    Pool,
    PromoCode,
)
from ..parsing import SAMPLE_ROWS, SKIP_REASONS, Skip, file_format, read_rows, skipped_phrases

# --- Upload preview ---------------------------------------------------------------------------

_EXISTING_CHUNK = 5000


# Refused rows listed on the preview (counts are always of the whole file).
PREVIEW_REFUSED_KEPT = 1000


# The first codes it will add, shown on the preview.
PREVIEW_SAMPLE_CODES = 10


@dataclass
class UploadPreview:
    """What importing a file would do: the counts of a batch, a sample, the first refused rows.

    Rows read and invalid rows are counted over the whole file. Duplicates within the file and
    codes already in the program are checked over the first `checked_rows` valid rows (all of
    them unless the file has more than CODES_PREVIEW_CHECKED_ROWS): past that, `complete` is
    False and `codes_to_add` is an upper bound; the import counts everything exactly.
    """

    file_name: str
    rows_read: int = 0
    codes_to_add: int = 0
    duplicates_in_file: int = 0
    already_in_program: int = 0
    invalid_rows: int = 0
    valid_rows: int = 0
    checked_rows: int = 0
    refused: list = field(default_factory=list)  # the first [{"line", "value", "reason"}]
    sample: list = field(default_factory=list)  # the first codes it will add
    header: str | None = None  # the header cell that named the code column, if any
    column: int = 1  # the column (1-based) the codes were read from
    first_row: list = field(default_factory=list)  # without a header: a first row of cells
    usage: str = ""
    file_format: str = ""
    platform: str = ""  # the platform export recognised (codes.parsing.layouts), if any
    skipped: dict = field(default_factory=dict)  # {Skip: rows} of a platform export
    # For the column picker: the first rows of every column (shown), whether the first is a
    # header, and how many columns the first row has (the columns that may be chosen).
    sample_rows: list = field(default_factory=list)
    has_header: bool = False
    width: int = 0
    column_chosen: bool = False
    # The first row names no codes: the manager must choose their column (nothing is counted).
    needs_column: bool = False
    no_column_reason: str = ""
    size: int = 0  # the file's bytes

    @property
    def skipped_phrases(self):
        return skipped_phrases(self.skipped)

    @property
    def skipped_rows(self):
        """[(reason in words, rows)] of each reason that skipped rows."""
        return [(SKIP_REASONS[r], self.skipped[r]) for r in Skip if self.skipped.get(r)]

    @property
    def picker_columns(self):
        """[(index, number, header, checked)] of each column the picker offers (the first
        row's cells)."""
        head = self.sample_rows[0] if self.has_header and self.sample_rows else []
        return [
            (i, i + 1, head[i] if i < len(head) else "", i + 1 == self.column)
            for i in range(self.width)
        ]

    @property
    def picker_rows(self):
        """The first data rows, each cut or padded to the picker's columns."""
        body = self.sample_rows[1:] if self.has_header else self.sample_rows
        return [[row[i] if i < len(row) else "" for i in range(self.width)] for row in body]

    @property
    def complete(self):
        return self.checked_rows == self.valid_rows

    @property
    def refused_count(self):
        return self.invalid_rows + self.duplicates_in_file + self.already_in_program


def upload_preview(
    *, pool: Pool, stream: BinaryIO, file_name: str, column: int | None = None
) -> UploadPreview:
    """Read an uploaded file as a stream and say what importing it would do.

    Memory stays bounded whatever the file: the parser's limits bound what a row can expand
    to, at most CODES_PREVIEW_CHECKED_ROWS codes are held for the duplicate and existing-code
    checks (looked up a few thousand at a time, no query per row), and only the first refused
    rows are kept. `column` is the codes' column the manager chose (0-based). Raises
    parsing.UnreadableFile (parsing.NoCodeColumn when the column must be chosen).
    """
    fmt = file_format(file_name)
    preview = UploadPreview(
        file_name=file_name, usage=pool.program.get_code_usage_display(), file_format=fmt
    )
    check_limit = settings.CODES_PREVIEW_CHECKED_ROWS
    first_line = {}
    refused = []

    def refuse(line, value, reason):
        if len(refused) < PREVIEW_REFUSED_KEPT:
            refused.append({"line": line, "value": value, "reason": reason})

    layout = {}
    for row in read_rows(stream, fmt, layout=layout, column=column):
        preview.rows_read += 1
        if row.code is None:
            preview.invalid_rows += 1
            refuse(row.line, row.value, row.reason)
            continue
        preview.valid_rows += 1
        if preview.checked_rows >= check_limit:
            continue
        preview.checked_rows += 1
        if row.code in first_line:
            preview.duplicates_in_file += 1
            refuse(row.line, row.value, gettext("duplicate within the file"))
        else:
            first_line[row.code] = row.line
    preview.header = layout.get("header")
    preview.column = layout.get("column", 0) + 1
    preview.first_row = layout.get("first_row", [])
    preview.platform = layout.get("platform", "")
    preview.skipped = dict(layout.get("skipped", {}))
    preview.rows_read += sum(preview.skipped.values())
    preview.sample_rows = layout.get("sample_rows", [])
    preview.has_header = layout.get("has_header", False)
    preview.width = layout.get("width", 0)
    preview.column_chosen = layout.get("chosen", False)
    codes = list(first_line)
    existing = set()
    for start in range(0, len(codes), _EXISTING_CHUNK):
        existing.update(
            PromoCode.objects.filter(
                program_id=pool.program_id, code__in=codes[start : start + _EXISTING_CHUNK]
            ).values_list("code", flat=True)
        )
    preview.already_in_program = len(existing)
    for code in sorted(existing, key=first_line.__getitem__)[:PREVIEW_REFUSED_KEPT]:
        line = first_line[code]
        refused.append({"line": line, "value": code, "reason": gettext("already in the program")})
    refused.sort(key=lambda r: r["line"])
    preview.refused = refused[:PREVIEW_REFUSED_KEPT]
    new_codes = (code for code in codes if code not in existing)
    preview.sample = list(itertools.islice(new_codes, PREVIEW_SAMPLE_CODES))
    unchecked = preview.valid_rows - preview.checked_rows
    preview.codes_to_add = len(codes) - len(existing) + unchecked
    return preview


def upload_columns(
    *, pool: Pool, stream: BinaryIO, file_name: str, reason: str = ""
) -> UploadPreview:
    """The columns of a file whose first row names no codes (parsing.NoCodeColumn), for the
    manager to choose the codes' column: the first rows of each, read with the first row as
    its header. Nothing is counted. Raises parsing.UnreadableFile."""
    fmt = file_format(file_name)
    layout = {}
    rows = read_rows(stream, fmt, layout=layout, column=0)
    for _row in itertools.islice(rows, SAMPLE_ROWS):
        pass
    return UploadPreview(
        file_name=file_name,
        usage=pool.program.get_code_usage_display(),
        file_format=fmt,
        sample_rows=layout.get("sample_rows", []),
        has_header=True,
        width=layout.get("width", 0),
        needs_column=True,
        no_column_reason=reason,
        column=0,
    )


def upload_batches_waiting(*, older_than, now=None):
    """Ids of admin-upload batches still waiting for their import task after `older_than`."""
    since = (now or timezone.now()) - older_than
    return list(
        Batch.objects.filter(status=BatchStatus.PENDING, created_at__lt=since)
        .order_by("id")
        .values_list("id", flat=True)
    )


def upload_batches_stalled(*, older_than, now=None):
    """Ids of background uploads still processing whose worker has not been heard of for
    `older_than` (it died: see Batch.attempts)."""
    since = (now or timezone.now()) - older_than
    return list(
        Batch.objects.filter(Batch.stalled(since)).order_by("id").values_list("id", flat=True)
    )
