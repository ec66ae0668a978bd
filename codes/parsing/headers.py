"""The header rule: which row heads the file, which column holds the codes, and (for a platform
export, codes.parsing.layouts) which rows are skipped."""

import itertools
import re

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..rules import HEADER_NAMES
from .cells import _blank, _classify, shown_value
from .layouts import PLATFORM_KEYS, recognise
from .limits import UnreadableFile

_SEPARATORS = re.compile(r"[\s_-]+")
# The rank of each header key: the lowest present names the code column (rules.HEADER_NAMES).
_HEADER_RANKS: dict[str, int] = {}
for _rank, _name in enumerate(HEADER_NAMES):
    _HEADER_RANKS.setdefault(_SEPARATORS.sub("", _name), _rank)
_HEADER_KEYS = frozenset(_HEADER_RANKS)
# Header cells that name a column of each code's own expiry (beside a code column).
EXPIRY_HEADER_NAMES = ("expires_at", "expires", "valid until", "end date")
_EXPIRY_KEYS = frozenset(_SEPARATORS.sub("", name) for name in EXPIRY_HEADER_NAMES)
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
# Words that head a column but never the codes: a first row whose cell in the column read is one
# of these (or is no code at all) is a header that names no code column.
_HEADER_WORD_KEYS = (
    _OTHER_HEADER_KEYS
    | _EXPIRY_KEYS
    | PLATFORM_KEYS
    | frozenset(
        _SEPARATORS.sub("", name)
        for name in (
            "title",
            "description",
            "status",
            "id",
            "value",
            "amount",
            "type",
            "note",
            "notes",
            "comment",
            "comments",
            "date",
            "created",
            "created at",
            "active",
            "discount type",
            "usage",
            "campaign",
            "category",
        )
    )
)
# Rows of every column kept for the preview's column picker (the header row, then data rows).
SAMPLE_ROWS = 5


class NoCodeColumn(UnreadableFile):
    """The first row is a header and none of its cells names the codes: the codes' column must
    be chosen (`columns`: the first row's cells as shown). `person_data`: it is plainly the
    header of another kind of file (`name,email`)."""

    def __init__(self, message, *, columns, person_data=False):
        super().__init__(message)
        self.columns = columns
        self.person_data = person_data


def header_key(cell) -> str | None:
    """A header cell compared without case, spaces, `_` or `-`; None for a non-text cell."""
    if not isinstance(cell, str):
        return None
    return _SEPARATORS.sub("", cell.strip().casefold())


def names_code_column(cell) -> bool:
    return header_key(cell) in _HEADER_KEYS


def _shown_cells(cells):
    return [str(shown_value(c)).strip() if not _blank(c) else "" for c in cells]


def _listed(columns):
    return ", ".join(f"{n} “{label}”" for n, label in enumerate(columns, 1))


def _chosen_column(column, cells, *, header):
    """The 0-based index of a chosen column: an int (0-based) or a header cell's name."""
    shown = _shown_cells(cells)
    if isinstance(column, str):
        if not header:
            raise UnreadableFile(
                _(
                    "No column named “%(column)s”: without a header row, choose the column by "
                    "its number (1 is the first; the first row is %(columns)s)."
                )
                % {"column": column, "columns": _listed(shown)}
            )
        wanted = header_key(column)
        for i, cell in enumerate(cells):
            if header_key(cell) == wanted:
                return i
        raise UnreadableFile(
            _("No column named “%(column)s”: the columns are %(columns)s.")
            % {"column": column, "columns": _listed(shown)}
        )
    if not 0 <= column < len(cells):
        raise UnreadableFile(
            ngettext(
                "No column %(column)s: the file has %(count)s column (%(columns)s).",
                "No column %(column)s: the file has %(count)s columns (%(columns)s).",
                len(cells),
            )
            % {"column": column + 1, "count": len(cells), "columns": _listed(shown)}
        )
    return column


def _is_header(cells, column, following):
    """A first row naming no codes is a header when one of its cells is a word that heads
    columns (`Title`, `Status`…), or its cell in `column` is no code: blank beside other cells,
    or not valid as a code while the next row's cell is (`Codes for May` above `MAY10`; a file
    of bad codes alone is read, each refused)."""
    if any(header_key(c) in _HEADER_WORD_KEYS for c in cells):
        return True
    cell = cells[column] if column < len(cells) else None
    if _blank(cell):
        return any(not _blank(c) for c in cells)
    if _classify(0, cell).code is not None:
        return False
    below = following[column] if following is not None and column < len(following) else None
    return below is not None and _classify(0, below).code is not None


def _table_cells(rows, limits, layout, *, column=None, no_header=False):
    """Apply the header rule to (line, cells) rows; yield (line, code cell) of each data row.

    `column` (a 0-based index or a header cell's name) chooses the codes' column; `no_header`
    reads the first row as data. Counts non-blank rows against the rows limit and checks every
    cell's length. Fills `layout` (see read_rows).
    """
    rows = iter(rows)
    counted = 0
    first = None
    for line, cells in rows:
        if not all(_blank(c) for c in cells):
            first = line, cells
            break
    if first is None:
        return
    line, cells = first
    _check_cells(line, cells, limits)
    sample = layout.setdefault("sample_rows", [_shown_cells(cells)])
    layout["width"] = len(cells)
    # The next non-blank rows, read ahead for the preview's sample (and the header rule), then
    # put back: the rows after them are read as they come.
    ahead = []
    for item in rows:
        if not all(_blank(c) for c in item[1]):
            ahead.append(item)
            sample.append(_shown_cells(item[1][:64]))
            if len(sample) >= SAMPLE_ROWS:
                break
    following = ahead[0][1] if ahead else None
    rows = itertools.chain(ahead, rows)
    keys = [header_key(c) for c in cells]
    platform = None if no_header else recognise(keys)
    ranked = [(_HEADER_RANKS[k], i) for i, k in enumerate(keys) if k in _HEADER_RANKS]
    named = min(ranked)[1] if ranked else None
    if column is not None:
        is_header = not no_header and (
            isinstance(column, str)
            or named is not None
            or platform is not None
            or _is_header(cells, _chosen_column(column, cells, header=False), following)
        )
        code_column = _chosen_column(column, cells, header=is_header)
    elif no_header:
        is_header, code_column = False, 0
    elif platform is not None:
        is_header, code_column = True, platform.code
    elif named is not None:
        is_header, code_column = True, named
    else:
        is_header, code_column = _no_code_column(cells, following), 0
    layout["chosen"] = column is not None
    layout["has_header"] = is_header
    layout["column"] = code_column
    if is_header:
        layout["header"] = str(shown_value(cells[code_column])).strip() or None
        if platform is not None:
            layout["platform"] = platform.platform.name
            layout["skipped"] = {}
            expiry = platform.expiry
            layout["expiry_reader"] = platform.platform.read_expiry
        else:
            expiry = next((i for i, k in enumerate(keys) if k in _EXPIRY_KEYS), None)
        if expiry is not None:
            layout.update(expiry_header=str(cells[expiry]).strip(), expiry_column=expiry)
    else:
        layout["header"] = None
        filled = [c for c in cells if not _blank(c)]
        layout["first_row"] = _shown_cells(filled) if len(filled) > 1 else []
        if code_column < len(cells) and not _blank(cells[code_column]):
            counted += 1
            yield line, cells[code_column]
    max_rows = limits.rows
    expiry = layout.get("expiry_column")
    if platform is not None:
        skipped = layout["skipped"]
        skip = platform.skip
        for line, cells in rows:
            if code_column < len(cells) and not _blank(cells[code_column]):
                counted += 1
                if counted > max_rows:
                    raise limits.too_many_rows()
                _check_cells(line, cells, limits)
                reason = skip(cells)
                if reason is not None:
                    skipped[reason] = skipped.get(reason, 0) + 1
                    continue
                if expiry is not None:
                    layout["expiry_cell"] = cells[expiry] if expiry < len(cells) else None
                yield line, cells[code_column]
        return
    for line, cells in rows:
        if code_column < len(cells) and not _blank(cells[code_column]):
            counted += 1
            if counted > max_rows:
                raise limits.too_many_rows()
            _check_cells(line, cells, limits)
            if expiry is not None:
                # Read by read_rows as it takes this row (the generator waits meanwhile).
                layout["expiry_cell"] = cells[expiry] if expiry < len(cells) else None
            yield line, cells[code_column]


def _no_code_column(cells, following):
    """Whether a first row naming no code column is a header (NoCodeColumn: the codes' column
    must be chosen) or data (False: read from column 1)."""
    filled = [c for c in cells if not _blank(c)]
    shown = ", ".join(str(shown_value(c)).strip() for c in filled[:6])
    names = ", ".join(HEADER_NAMES)
    if len(filled) > 1 and any(header_key(c) in _OTHER_HEADER_KEYS for c in filled):
        raise NoCodeColumn(
            _(
                "No code column: the first row (%(row)s) is a header, and none of its cells "
                "names the codes (%(names)s). Is this the right file? If it holds codes, head "
                "their column “code”."
            )
            % {"row": shown, "names": names},
            columns=_shown_cells(cells),
            person_data=True,
        )
    if _is_header(cells, 0, following):
        raise NoCodeColumn(
            _(
                "No code column: the first row (%(row)s) is not a code, and none of its cells "
                "names the codes (%(names)s)."
            )
            % {"row": shown, "names": names},
            columns=_shown_cells(cells),
        )
    return False


def _check_cells(line, cells, limits):
    longest = limits.cell_chars
    for cell in cells:
        if type(cell) is str and len(cell) > longest:
            raise limits.cell_too_long(line)
