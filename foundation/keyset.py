"""Keyset pages for the read API's lists: rows in (created_at, id) order, resumed after the last
row a page showed by an opaque, signed cursor.

Why keyset and not OFFSET: a page costs one index range scan whatever its depth, and rows
added while a client pages through a list land after the cursor (their created_at is later)
instead of shifting the rows under it: no row twice, none missed. The cursor is signed
(django.core.signing, the SECRET_KEY) and names the list it belongs to — the program, the list
and its filters — so a client can neither forge a position nor carry a cursor over to another
program's or another filter's list.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core import signing
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .replica import on_replica

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_SALT = "keyset-cursor"


class InvalidCursor(ValueError):
    """A cursor this server did not issue for this list; the message says so, for the API."""


@dataclass(frozen=True)
class Page:
    rows: list
    next_cursor: str | None


def cursor_encode(*, scope: str, created_at: datetime, pk: int) -> str:
    return signing.dumps([scope, created_at.isoformat(), pk], salt=_SALT)


def cursor_decode(*, scope: str, cursor: str) -> tuple[datetime, int]:
    try:
        list_scope, created_at, pk = signing.loads(cursor, salt=_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidCursor(
            _(
                "Not a cursor this server issued: pass the `next` link of the previous page as "
                "it came."
            )
        ) from None
    if list_scope != scope:
        raise InvalidCursor(
            _(
                "This cursor belongs to another list (another program or other filters): keep "
                "the filters of the page that gave it."
            )
        )
    when = parse_datetime(created_at) if isinstance(created_at, str) else None
    if when is None or not isinstance(pk, int):
        raise InvalidCursor(_("Not a cursor this server issued."))
    return when, pk


def keyset_page(
    rows: QuerySet, *, scope: str, cursor: str | None, limit: int, time_field: str = "created_at"
) -> Page:
    """One page of `rows` (a values() queryset holding `time_field` and `id`), in (time, id)
    order, after `cursor`; with the cursor of the next page when there is one."""
    ordered = rows.order_by(time_field, "id")
    if cursor:
        after_time, after_pk = cursor_decode(scope=scope, cursor=cursor)
        # The redundant `>=` lets the database range-scan the (…, time, id) index.
        ordered = ordered.filter(
            Q(**{f"{time_field}__gte": after_time})
            & (Q(**{f"{time_field}__gt": after_time}) | Q(id__gt=after_pk))
        )
    # The read API's lists tolerate a second's lag: from the replica when there is one
    # (foundation.replica; the primary while it lags or is away).
    found = list(on_replica(ordered)[: limit + 1])
    shown = found[:limit]
    next_cursor = None
    if len(found) > limit:
        last = shown[-1]
        next_cursor = cursor_encode(scope=scope, created_at=last[time_field], pk=last["id"])
    return Page(rows=shown, next_cursor=next_cursor)
