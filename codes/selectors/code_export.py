"""The rows of a codes export (the export_codes command and the code manager's download)."""

from collections.abc import Iterator
from datetime import UTC

from django.db.models import Case, QuerySet, Value, When

from foundation.replica import on_replica
from programs.models import Program

from ..models import (
    CodeState,
    PromoCode,
)

EXPORT_PAGE_ROWS = 2000


# A code of a fuel tank is a "reward" code, any other a "referral" code.
CODE_TYPE = Case(When(CodeState.IN_FUEL_TANK, then=Value("reward")), default=Value("referral"))


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
    ("type", "code_type"),
    ("expires", "expires_at"),
]


# The console's export of a filtered list: the same columns, then the program and the friend
# whose order used the code, so a sheet mixing programs still reads on its own.
CONSOLE_EXPORT_COLUMNS = [
    *EXPORT_COLUMNS,
    ("friend id", "redeemed_by__participant_id"),
    ("program", "program__slug"),
]


def codes_export_rows(
    *,
    queryset: QuerySet[PromoCode] | None = None,
    program: Program | None = None,
    columns: list[tuple[str, str]] = EXPORT_COLUMNS,
    readable_times: bool = False,
) -> Iterator[list[str]]:
    """The export rows (docs/architecture.md, Exports) of `queryset`, or of all of `program`'s
    codes.

    Read from the replica when there is one (an export tolerates a second's lag), in pages of
    EXPORT_PAGE_ROWS codes by id (keyset pagination: each page an index range of its own, so
    memory stays flat whatever the size, and no cursor is held open between pages, which a
    transaction pooler would not keep). Every value comes out as text ("" for none). Times
    are ISO 8601, or with `readable_times` like "2026-11-27 08:00 UTC" (for people).
    """
    if queryset is None:
        queryset = PromoCode.objects.filter(program=program)
    rows = on_replica(
        queryset.annotate(code_type=CODE_TYPE)
        .order_by("id")
        .values_list("id", *(lookup for _, lookup in columns))
    )
    after = None
    while True:
        page = list((rows if after is None else rows.filter(id__gt=after))[:EXPORT_PAGE_ROWS])
        for row in page:
            yield [_text(value, readable_times) for value in row[1:]]
        if len(page) < EXPORT_PAGE_ROWS:
            return
        after = page[-1][0]


def readable_time(value) -> str:
    """A time as people read it in a list or a sheet: "2026-11-27 08:00 UTC"."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _text(value, readable_times=False):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return readable_time(value) if readable_times else value.isoformat()
    return str(value)
