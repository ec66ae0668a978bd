"""The header rule: which row heads the file and which column holds the codes."""

import re

from .cells import _blank, shown_value
from .limits import UnreadableFile

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


def header_key(cell) -> str | None:
    """A header cell compared without case, spaces, `_` or `-`; None for a non-text cell."""
    if not isinstance(cell, str):
        return None
    return _SEPARATORS.sub("", cell.strip().casefold())


def names_code_column(cell) -> bool:
    return header_key(cell) in _HEADER_KEYS


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
            expiry = [i for i, c in enumerate(cells) if header_key(c) in _EXPIRY_KEYS]
            if expiry:
                layout.update(expiry_header=cells[expiry[0]].strip(), expiry_column=expiry[0])
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
    expiry = layout.get("expiry_column")
    for line, cells in rows:
        if column < len(cells) and not _blank(cells[column]):
            counted += 1
            if counted > max_rows:
                raise limits.too_many_rows()
            _check_cells(line, cells, limits)
            if expiry is not None:
                # Read by read_rows as it takes this row (the generator waits meanwhile).
                layout["expiry_cell"] = cells[expiry] if expiry < len(cells) else None
            yield line, cells[column]


def _check_cells(line, cells, limits):
    longest = limits.cell_chars
    for cell in cells:
        if type(cell) is str and len(cell) > longest:
            raise limits.cell_too_long(line)
