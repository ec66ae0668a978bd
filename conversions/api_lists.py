"""Server API: the program's orders as a list (GET …/conversions), beside their recording."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers

from foundation.api_docs import AUTH_ERRORS, error
from foundation.api_pages import (
    PageQuerySerializer,
    page_of,
    page_query,
    page_response,
    page_serializer,
)
from participants.serializers import api_cents, api_time

from .api import ATTRIBUTED_EXAMPLE, ConversionSerializer, ConversionView
from .models import ConversionStatus
from .selectors import conversions_page


class ConversionItemSerializer(ConversionSerializer):
    """An order as the list shows it: the answer its POST got, as it stands now, and what was
    sent with it."""

    promo_code = serializers.CharField(
        allow_null=True, help_text="OrderPromoCode as sent, in canonical case."
    )
    customer_id = serializers.CharField(allow_null=True)
    event_date = serializers.DateTimeField(allow_null=True)
    order_subtotal = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    order_discount = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    currency_code = serializers.CharField(allow_null=True)
    received_at = serializers.DateTimeField(help_text="When this service recorded the order.")


def conversion_item_body(item: dict) -> dict:
    """What ConversionItemSerializer(item).data answers, without building the serializer (the
    answer's own fields come as the POST wrote them)."""
    return {
        **item,
        "reward": None if item["reward"] is None else reward_body(item["reward"]),
        "event_date": api_time(item["event_date"]),
        "order_subtotal": api_cents(item["order_subtotal"]),
        "order_discount": api_cents(item["order_discount"]),
        "received_at": api_time(item["received_at"]),
    }


def reward_body(reward: dict) -> dict:
    return {
        **reward,
        "amount": api_cents(reward["amount"]),
        "percent": api_cents(reward["percent"]),
    }


class ConversionPageQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(
        choices=ConversionStatus.choices, required=False, help_text="Only orders with this outcome."
    )


class ConversionsView(ConversionView):
    """POST records an order (ConversionView); GET lists them."""

    @extend_schema(
        operation_id="conversion_list",
        summary="The program's orders, page by page",
        description=(
            "Oldest first (by when this service received them), in pages of `limit`, each "
            "with the `next` page's link (null on the last); filtered by outcome (`status`) "
            "and `since`. Orders arriving while a client pages through come on later pages: "
            "none is listed twice, none is skipped."
        ),
        parameters=[ConversionPageQuerySerializer],
        responses={
            200: page_serializer("ConversionPage", ConversionItemSerializer),
            400: error(
                "A filter, the limit or the cursor is not valid.",
                "invalid",
                "Invalid fields: status",
                {"status": ['"won" is not a valid choice.']},
            ),
            **AUTH_ERRORS,
        },
        examples=[
            OpenApiExample(
                "Orders",
                response_only=True,
                value={
                    "results": [
                        {
                            **ATTRIBUTED_EXAMPLE,
                            "promo_code": "FRIEND7KQ2",
                            "customer_id": "cust-2001",
                            "event_date": "2026-11-26T10:00:00Z",
                            "order_subtotal": "80.00",
                            "order_discount": "16.00",
                            "currency_code": "USD",
                            "received_at": "2026-11-26T10:00:01Z",
                        }
                    ],
                    "next": None,
                },
            )
        ],
    )
    def get(self, request, program):
        query = page_query(ConversionPageQuerySerializer, request)
        page = page_of(conversions_page, program=self.program, **query)
        return page_response(request, page, conversion_item_body)
