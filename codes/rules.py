"""What a valid code is, and its canonical form (DESIGN §2 Codes)."""

import re

from .models import CODE_MAX_LENGTH

_ALLOWED = re.compile(r"[A-Za-z0-9_-]+")
# A reason names at most this many of the characters at fault.
_BAD_SHOWN = 10


class InvalidCode(ValueError):
    """A code that breaks the rules; the message says why, for a person."""


def canonical_code(raw):
    """Strip surrounding whitespace and upper-case; raise InvalidCode naming the problem."""
    if not isinstance(raw, str):
        raise InvalidCode(f"not text ({type(raw).__name__})")
    text = raw.strip()
    if not text:
        raise InvalidCode("blank")
    if len(text) > CODE_MAX_LENGTH:
        raise InvalidCode(f"too long ({len(text)} characters, at most {CODE_MAX_LENGTH})")
    if not _ALLOWED.fullmatch(text):
        bad = sorted({ch for ch in text if not _ALLOWED.fullmatch(ch)})
        shown = ", ".join(repr(ch) for ch in bad[:_BAD_SHOWN])
        if len(bad) > _BAD_SHOWN:
            shown += f" and {len(bad) - _BAD_SHOWN} more"
        raise InvalidCode(f"invalid characters {shown} (only A–Z, a–z, 0–9, - and _)")
    return text.upper()
