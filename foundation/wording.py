"""Counts in sentences a person reads (admin messages, command output): "1 code", "3 codes"."""


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """`number` with its noun in the right number, thousands separated: counted(2, "code") is
    "2 codes"; give `plural` where adding "s" is wrong (counted(1, "entry", "entries"))."""
    noun = singular if number == 1 else (plural or f"{singular}s")
    return f"{number:,} {noun}"
