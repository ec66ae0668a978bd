"""Validators for text that reaches places where bytes matter (docs/architecture.md, Resilience).

`validate_single_line`: names that end up in e-mail subjects (a program's, a pool's) may not hold
control characters: a CR or LF there breaks every e-mail header built from it. `is_clean_text`:
identifiers from outside (path segments, token claims) may not hold control characters or lone
surrogates, which the database cannot store or compare.
"""

import re

from django.core.exceptions import ValidationError

# C0 controls (NUL, CR, LF, TAB…), DEL and C1 controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What Unicode text can hold but no database column can: lone surrogates.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def validate_single_line(value):
    """Refuse text holding a control character (CR, LF, NUL, tab or any other C0/C1 one)."""
    if not isinstance(value, str):
        return
    match = _CONTROL.search(value) or _SURROGATE.search(value)
    if match:
        raise ValidationError(
            "Use one line of plain text: %(char)s (a control character) is not allowed.",
            code="control_character",
            params={"char": shown(match.group())},
        )


def is_clean_text(value):
    """Whether text is free of control characters and lone surrogates."""
    return not (_CONTROL.search(value) or _SURROGATE.search(value))


def shown(text):
    """Text made safe to echo in a message or a log line: control characters and lone
    surrogates written as escapes."""
    return _SURROGATE.sub(_escape, _CONTROL.sub(_escape, text))


def _escape(match):
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
