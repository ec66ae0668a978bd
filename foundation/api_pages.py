"""The read API's lists: their query (`cursor`, `limit`, `status`, `since`), their answer
(`results` and a `next` link) and its schema. Pages themselves come from foundation.keyset."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from .keyset import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, InvalidCursor, Page


class PageQuerySerializer(serializers.Serializer):
    """What every list reads from its query string; a list adds its `status` choices."""

    cursor = serializers.CharField(
        required=False,
        max_length=1000,
        help_text="Where the page starts: the `cursor` of the previous page's `next` link, as "
        "it came. Absent: the first page.",
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        default=DEFAULT_PAGE_SIZE,
        help_text=f"Rows per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
    )
    since = serializers.DateTimeField(
        required=False, help_text="Only rows created at or after this time (ISO 8601)."
    )


def page_query(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def page_of(select, **arguments) -> Page:
    """Call a list selector; a cursor it refuses is a 400 naming `cursor`."""
    try:
        return select(**arguments)
    except InvalidCursor as invalid:
        raise ValidationError({"cursor": [str(invalid)]}) from None


def page_response(request, page: Page, item_body) -> Response:
    """The page's answer: each row written by `item_body` (what the list's item serializer
    answers, written directly: see participants.serializers), and the `next` link."""
    next_link = None
    if page.next_cursor is not None:
        query = request.query_params.copy()
        query["cursor"] = page.next_cursor
        next_link = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return Response({"results": [item_body(row) for row in page.rows], "next": next_link})


def page_serializer(name, item_serializer):
    """The schema of one page of a list: `results`, and `next` (null on the last page)."""
    return inline_serializer(
        name=name,
        fields={
            "results": item_serializer(many=True),
            "next": serializers.URLField(
                allow_null=True,
                help_text="The next page's URL (same filters, its cursor); null on the last page.",
            ),
        },
    )
