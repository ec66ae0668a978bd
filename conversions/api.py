"""Server API: conversions (orders) and their reversal."""

from decimal import Decimal

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from config.api_docs import AUTH_ERRORS, BODY_ERRORS, error, not_found
from config.api_errors import Conflict
from participants.models import RewardStatus
from programs.api import ProgramAPIView
from programs.models import RewardKind

from .models import Conversion, ConversionStatus
from .services import (
    ConversionConflict,
    conversion_current_body,
    conversion_record,
    conversion_reverse,
)


class ConversionInputSerializer(serializers.Serializer):
    """The impact.com conversion field names; JSON or form-encoded."""

    OrderId = serializers.CharField(max_length=255)
    OrderPromoCode = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=255
    )
    CustomerId = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=255,
        help_text="The friend's participant id.",
    )
    CustomerEmail = serializers.EmailField(
        required=False, allow_blank=True, allow_null=True, max_length=254
    )
    EventDate = serializers.DateTimeField(required=False, allow_null=True)
    OrderSubtotal = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True, min_value=Decimal(0)
    )
    OrderDiscount = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True, min_value=Decimal(0)
    )
    CurrencyCode = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, min_length=3, max_length=3
    )

    def to_payload(self):
        data = self.validated_data
        return {
            "order_id": data["OrderId"],
            "promo_code": data.get("OrderPromoCode"),
            "customer_id": data.get("CustomerId"),
            "customer_email": data.get("CustomerEmail"),
            "event_date": data.get("EventDate"),
            "order_subtotal": data.get("OrderSubtotal"),
            "order_discount": data.get("OrderDiscount"),
            "currency_code": data.get("CurrencyCode"),
        }


class RewardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=RewardKind.choices)
    status = serializers.ChoiceField(choices=RewardStatus.choices)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField(allow_null=True)
    percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    available_at = serializers.DateTimeField(allow_null=True)
    needs_review = serializers.BooleanField()


class ConversionSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    status = serializers.ChoiceField(choices=ConversionStatus.choices)
    reason = serializers.CharField()
    advocate_id = serializers.CharField(allow_null=True)
    referral_id = serializers.IntegerField(allow_null=True)
    reward = RewardSerializer(allow_null=True)
    reversed_at = serializers.DateTimeField(
        allow_null=True, help_text="Set once the order is reversed."
    )
    reversal_reason = serializers.CharField(allow_null=True)


class ReversalInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


ATTRIBUTED_EXAMPLE = {
    "order_id": "ORD-10042",
    "status": "attributed",
    "reason": "Attributed to the advocate holding the code.",
    "advocate_id": "cust-1042",
    "referral_id": 17,
    "reward": {
        "id": 9,
        "kind": "credit",
        "status": "pending",
        "amount": "10.00",
        "currency": "USD",
        "percent": None,
        "available_at": "2026-12-10T10:00:00+00:00",
        "needs_review": False,
    },
    "reversed_at": None,
    "reversal_reason": None,
}


class ConversionView(ProgramAPIView):
    @extend_schema(
        operation_id="conversion_record",
        summary="Report an order",
        description=(
            "Records the order with its outcome: `attributed` (the referral code's advocate "
            "is rewarded), `unattributed` (no code, or not one of the program's referral "
            "codes) or `rejected` (a referral code that cannot attribute: already redeemed, "
            "held by nobody, self-referral, blocked advocate). 201 when recorded; 200 with "
            "the first answer when the same order is sent again; 409 when the OrderId was "
            "recorded with a different payload."
        ),
        request={
            "application/json": ConversionInputSerializer,
            "application/x-www-form-urlencoded": ConversionInputSerializer,
        },
        responses={
            201: ConversionSerializer,
            200: ConversionSerializer,
            **BODY_ERRORS,
            **AUTH_ERRORS,
            409: error(
                "The OrderId was recorded with a different payload.",
                "conflict",
                "Order 'ORD-10042' was already recorded with a different payload.",
            ),
        },
        examples=[
            OpenApiExample(
                "Order with a referral code",
                request_only=True,
                value={
                    "OrderId": "ORD-10042",
                    "OrderPromoCode": "friend7kq2",
                    "CustomerId": "cust-2001",
                    "CustomerEmail": "grace@example.com",
                    "EventDate": "2026-11-26T10:00:00Z",
                    "OrderSubtotal": "80.00",
                    "OrderDiscount": "16.00",
                    "CurrencyCode": "USD",
                },
            ),
            OpenApiExample("Attributed", response_only=True, value=ATTRIBUTED_EXAMPLE),
            OpenApiExample(
                "Rejected",
                response_only=True,
                value={
                    **ATTRIBUTED_EXAMPLE,
                    "status": "rejected",
                    "reason": "The single-use code was already redeemed.",
                    "referral_id": None,
                    "reward": None,
                },
            ),
        ],
    )
    def post(self, request, program):
        serializer = ConversionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            conversion, created = conversion_record(
                program=self.program, payload=serializer.to_payload()
            )
        except ConversionConflict as conflict:
            raise Conflict(str(conflict)) from None
        return Response(
            conversion.response,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ReversalView(ProgramAPIView):
    @extend_schema(
        operation_id="conversion_reverse",
        summary="Reverse a refunded or cancelled order",
        description=(
            "Cancels the order's referral and its reward (a paid reward stays paid and is "
            "flagged `needs_review`). The code stays redeemed. Answers the conversion with "
            "its reward as it now stands and `reversed_at` set; reversing again answers the "
            "same."
        ),
        request=ReversalInputSerializer,
        responses={
            200: ConversionSerializer,
            **BODY_ERRORS,
            **AUTH_ERRORS,
            **not_found("order"),
        },
        examples=[
            OpenApiExample("Reason", request_only=True, value={"reason": "Refunded"}),
            OpenApiExample(
                "Reversed",
                response_only=True,
                value={
                    **ATTRIBUTED_EXAMPLE,
                    "reward": {**ATTRIBUTED_EXAMPLE["reward"], "status": "cancelled"},
                    "reversed_at": "2026-11-28T09:00:00+00:00",
                    "reversal_reason": "Refunded",
                },
            ),
        ],
    )
    def post(self, request, program, order_id):
        serializer = ReversalInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversion = Conversion.objects.filter(program=self.program, order_id=order_id).first()
        if conversion is None:
            raise NotFound(f"No order {order_id!r} in this program.")
        conversion = conversion_reverse(
            conversion=conversion, reason=serializer.validated_data.get("reason", "")
        )
        return Response(conversion_current_body(conversion))
