"""Removing erased personal values from free text: a privacy request's erasure rewrites what
people typed about the person (a void or block reason, an admin change message, an order line's
name) with the values cut out, the rest of the sentence kept."""

import re

ERASED = "[erased]"
# Shorter values (a two-letter first name) would cut words that merely contain them.
MIN_LENGTH = 3


def needles(values) -> list[str]:
    """The values worth searching for: distinct, long enough, longest first (so that an address
    goes before a name inside it)."""
    kept = {value.strip() for value in values if value and len(value.strip()) >= MIN_LENGTH}
    return sorted(kept, key=lambda value: (-len(value), value))


def pattern(values) -> re.Pattern | None:
    """One case-insensitive pattern matching any of `values`, or None when none is searchable."""
    found = needles(values)
    if not found:
        return None
    return re.compile("|".join(re.escape(value) for value in found), re.IGNORECASE)


def redact(value, compiled: re.Pattern | None):
    """`value` (text, or lists and dicts of text, as JSON columns hold them) with every match of
    `compiled` replaced by [erased]."""
    if compiled is None:
        return value
    if isinstance(value, str):
        return compiled.sub(ERASED, value)
    if isinstance(value, list):
        return [redact(item, compiled) for item in value]
    if isinstance(value, dict):
        return {key: redact(item, compiled) for key, item in value.items()}
    return value
