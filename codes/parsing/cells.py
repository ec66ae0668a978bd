"""A cell as a code, or why not: the row read, the refused value as it is shown."""

import datetime
import math
import re
from typing import NamedTuple

from django.utils.translation import gettext_noop as N_

from foundation.wording import said_later

from ..rules import InvalidCode, canonical_code

SHOWN_VALUE_CHARS = 100
SHOWN_NUMBER_CHARS = 20


class Row(NamedTuple):
    """One non-blank data row: its line number, the cell (escaped and cut when refused), and its
    canonical code or why not."""

    line: int
    value: object
    code: str | None
    reason: str = ""
    # The code's own expiry, from a column named in EXPIRY_HEADER_NAMES (aware, UTC).
    expires_at: datetime.datetime | None = None


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
        return Row(line, shown_value(value), None, exc.args[0])


def _not_text(value):
    if isinstance(value, bool):
        return said_later(N_("a true/false cell, not text"))
    if isinstance(value, int | float):
        return said_later(
            N_("a number cell (%(value)s), not text: format the column as text"),
            value=_number_shown(value),
        )
    if isinstance(value, datetime.date | datetime.time):
        return said_later(
            N_("a date cell (%(value)s), not text: format the column as text"),
            value=value.isoformat(),
        )
    if isinstance(value, _NotText):
        return value.reason
    return said_later(N_("not text (%(type)s)"), type=type(value).__name__)


def _number_shown(value):
    if isinstance(value, int) and abs(value) >= 10**15:
        digits = str(abs(value)) if value.bit_length() < 14_000 else "many digits"
        return ("-" if value < 0 else "") + (digits[:SHOWN_NUMBER_CHARS] + "…")
    return f"{value:g}"


class _NotText:
    """A cell that is neither text nor a number or date: an error cell, a JSON object without a
    code key, a nested list…"""

    def __init__(self, shown, reason, **params):
        self.shown = shown
        self.reason = said_later(reason, **params)  # marked with gettext_noop by the caller

    def __str__(self):
        return self.shown


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def expiry_moment(cell) -> datetime.datetime | None:
    """An expiry cell as an aware time: a spreadsheet's date or date-and-time cell, or ISO 8601
    text (`2026-12-31`, `2026-12-31T18:00`, `2026-12-31 18:00+08:00`). A date alone means the
    end of that day: the code works through it and expires at the next midnight, UTC (a
    spreadsheet's date-and-time cell at midnight is such a date). A time without a zone is
    UTC. Blank: None. Anything else raises ValueError naming the value."""
    if _blank(cell):
        return None
    value = cell
    if (
        isinstance(value, datetime.datetime)
        and value.tzinfo is None
        and value.time() == (datetime.time.min)
    ):
        value = value.date()  # a spreadsheet's date cell: a day, read as a midnight
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.date.fromisoformat(text)
        except ValueError:
            try:
                value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    said_later(
                        N_(
                            "expiry %(value)s is not a date: write it as 2026-12-31 "
                            "or 2026-12-31T18:00 (ISO 8601), or use a date cell"
                        ),
                        value=repr(shown_value(cell)),
                    )
                ) from None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC)
    if isinstance(value, datetime.date):
        day = datetime.datetime.combine(value, datetime.time.min, tzinfo=datetime.UTC)
        return day + datetime.timedelta(days=1)
    raise ValueError(
        said_later(
            N_("expiry %(value)s is not a date: use a date cell or ISO 8601"),
            value=repr(shown_value(cell)),
        )
    )
