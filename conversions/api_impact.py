"""impact.com-compatible paths, so a brand's existing impact integration changes only its host
and credentials: the same conversions and reversals as the native API, at impact's paths, with
impact's field names and HTTP Basic (program slug : API key as AccountSID : AuthToken).

What maps and what does not is written up in docs/impact.md.
"""

from collections.abc import Mapping

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.negotiation import DefaultContentNegotiation

from foundation.api_docs import (
    AUTH_ERRORS,
    BODY_ERRORS,
    documents_delete_body,
    error,
    not_found,
)
from programs.api import ProgramAPIView

from .api import (
    ATTRIBUTED_EXAMPLE,
    CONVERSION_BODIES,
    ConversionSerializer,
    MoneyField,
    record_response,
    reversal_response,
)

IMPACT_TAG = "impact.com compatible"
NOT_ISSUED_HERE = (
    "ActionId is impact.com's own id for an action, which this service never issued: "
    "identify the order by its OrderId."
)


class AlwaysJSON(DefaultContentNegotiation):
    """Answer JSON whatever Accept says: an impact client asking for XML still gets its order
    recorded (and a readable answer) instead of a 406 that would lose it."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type


class ImpactAPIView(ProgramAPIView):
    content_negotiation_class = AlwaysJSON


class ImpactConversionView(ImpactAPIView):
    @extend_schema(
        operation_id="impact_conversion_record",
        tags=[IMPACT_TAG],
        summary="Report an order at impact.com's path",
        description=(
            "`POST /Advertisers/{AccountSID}/Conversions` as impact.com clients send it, with "
            "the program's slug in place of the AccountSID and HTTP Basic `slug:API key` in "
            "place of `AccountSID:AuthToken`. The same service as "
            "`POST /api/v1/programs/{program}/conversions`: the same outcomes, answers and "
            "idempotency (one OrderId is one order, whichever of the two paths it is posted "
            "to). impact.com fields this product does not use are accepted and ignored. The "
            "answer is always JSON."
        ),
        request=CONVERSION_BODIES,
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
                "A server-side tag's order",
                request_only=True,
                value={
                    "CampaignId": 12345,
                    "EventTypeId": 67890,
                    "ClickId": "Qx1Sd2Vb3Nm4",
                    "EventDate": "2026-11-27T08:00:05+00:00",
                    "OrderId": "ORD-10042",
                    "OrderPromoCode": "friend7kq2",
                    "CustomerId": "cust-2001",
                    "CurrencyCode": "USD",
                    "OrderDiscount": 16,
                    "ItemSku1": "SKU-1",
                    "ItemName1": "Trail shoe",
                    "ItemCategory1": "Shoes",
                    "ItemQuantity1": 2,
                    "ItemPrice1": 40,
                    "IpAddress": "203.0.113.7",
                },
            ),
            OpenApiExample("Attributed", response_only=True, value=ATTRIBUTED_EXAMPLE),
        ],
    )
    def post(self, request, program):
        return record_response(program=self.program, data=request.data)


class ActionReversalSerializer(serializers.Serializer):
    """Which order to reverse, as impact.com's Actions API names it."""

    OrderId = serializers.CharField(
        required=False, max_length=255, help_text="The order to reverse (required, or Oid)."
    )
    Oid = serializers.CharField(
        required=False, max_length=255, help_text="impact.com's older name for OrderId."
    )
    ActionId = serializers.CharField(
        required=False,
        max_length=255,
        help_text="impact.com's own action id: never issued here, so refused without OrderId.",
    )
    ActionTrackerId = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="Accepted and ignored (a program has one kind of event).",
    )
    DispositionCode = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        help_text="Kept as the reversal's reason, e.g. ITEM_RETURNED.",
    )
    Reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        help_text="Kept as the reversal's reason when there is no DispositionCode.",
    )

    def validate(self, data):
        order_id, alias = data.get("OrderId"), data.get("Oid")
        if order_id and alias and order_id != alias:
            raise serializers.ValidationError({"Oid": [_("Oid differs from OrderId; send one.")]})
        data["order_id"] = order_id or alias
        if not data["order_id"]:
            if data.get("ActionId"):
                raise serializers.ValidationError({"ActionId": [NOT_ISSUED_HERE]})
            raise serializers.ValidationError({"OrderId": [_("This field is required.")]})
        data["reason"] = data.get("DispositionCode") or data.get("Reason") or ""
        return data


# What a PUT may carry and still be a whole-order reversal.
PUT_FIELDS = {
    "OrderId",
    "Oid",
    "ActionId",
    "ActionTrackerId",
    "DispositionCode",
    "Reason",
    "Amount",
}


class ActionUpdateSerializer(ActionReversalSerializer):
    """impact.com's action update, where it means a reversal: the order's Amount set to 0."""

    Amount = MoneyField(
        required=False, help_text="Must be 0: setting the order's amount to 0 reverses it."
    )

    def to_internal_value(self, data):
        keys = data if isinstance(data, Mapping) else ()
        unsupported = sorted(str(key) for key in keys if str(key) not in PUT_FIELDS)
        if unsupported:
            message = (
                "Only a reversal of the whole order (Amount=0) is supported; item-level and "
                "other modifications are not."
            )
            raise serializers.ValidationError({key: [message] for key in unsupported})
        return super().to_internal_value(data)

    def validate(self, data):
        data = super().validate(data)
        if data.get("Reason", "").strip().upper() == "RESET":
            raise serializers.ValidationError(
                {"Reason": [_("A reversal cannot be undone (RESET is not supported).")]}
            )
        amount = data.get("Amount")
        if amount is None or amount != 0:
            raise serializers.ValidationError(
                {
                    "Amount": [
                        "Send Amount=0 to reverse the order; changing an order's amount is "
                        "not supported."
                    ]
                }
            )
        return data


class ActionReversalFormSerializer(ActionReversalSerializer):
    """The same fields form-encoded (its own schema component: a generated client sends the
    encoding it was given)."""


class ActionUpdateFormSerializer(ActionUpdateSerializer):
    """The same fields form-encoded (its own schema component)."""


METHOD_OVERRIDE = "_method"
OVERRIDABLE_METHODS = ("DELETE", "PUT")


class ActionOverrideSerializer(ActionUpdateSerializer):
    """impact.com's method override: a POST carrying `_method=DELETE` or `_method=PUT` is that
    DELETE or PUT (for clients that cannot send those methods). Documents the body only: the
    view reads `_method` and hands the rest to the DELETE's or the PUT's serializer."""

    Amount = MoneyField(required=False, help_text="With _method=PUT: must be 0.")


ActionOverrideSerializer._declared_fields[METHOD_OVERRIDE] = serializers.ChoiceField(
    choices=OVERRIDABLE_METHODS,
    required=False,
    help_text="DELETE or PUT: the method this POST stands for (or in the query string).",
)


class ActionOverrideFormSerializer(ActionOverrideSerializer):
    """The same fields form-encoded (its own schema component)."""


def _bodies(json_serializer, form_serializer):
    return {
        "application/x-www-form-urlencoded": form_serializer,
        "application/json": json_serializer,
    }


REVERSAL_RESPONSES = {
    200: ConversionSerializer,
    **BODY_ERRORS,
    **AUTH_ERRORS,
    **not_found("order"),
}
REVERSED_EXAMPLE = OpenApiExample(
    "Reversed",
    response_only=True,
    value={
        **ATTRIBUTED_EXAMPLE,
        "status": "reversed",
        "reward": {**ATTRIBUTED_EXAMPLE["reward"], "status": "cancelled"},
        "reversed_at": "2026-11-28T09:00:00+00:00",
        "reversal_reason": "ITEM_RETURNED",
    },
)


class ImpactActionsView(ImpactAPIView):
    """impact.com's Actions: DELETE reverses an order, PUT with Amount=0 too, and a POST with
    `_method=DELETE` or `_method=PUT` is either. Nothing reads actions here: GET answers 405."""

    @extend_schema(
        operation_id="impact_action_reverse",
        tags=[IMPACT_TAG],
        summary="Reverse an order at impact.com's path",
        description=(
            "impact.com's `DELETE /Advertisers/{AccountSID}/Actions`, identified by OrderId: "
            "the same reversal as `POST /api/v1/programs/{program}/conversions/{order_id}/"
            "reversal` (the referral and reward are cancelled, a paid reward stays paid and is "
            "flagged, the code stays redeemed). Fields in a form-encoded or JSON body, as "
            "impact's examples send them, or in the query string when there is no body. "
            "Reversing again answers the same; an unknown order is 404; an ActionId alone is "
            "400."
        ),
        parameters=[
            OpenApiParameter(name, str, OpenApiParameter.QUERY, description=field.help_text)
            for name, field in ActionReversalSerializer().fields.items()
        ],
        request=_bodies(ActionReversalSerializer, ActionReversalFormSerializer),
        responses=REVERSAL_RESPONSES,
        examples=[
            OpenApiExample(
                "Reversal",
                request_only=True,
                value={"OrderId": "ORD-10042", "DispositionCode": "ITEM_RETURNED"},
            ),
            REVERSED_EXAMPLE,
        ],
    )
    @documents_delete_body
    def delete(self, request, program):
        return self._delete(request.data or request.query_params)

    @extend_schema(
        operation_id="impact_action_update",
        tags=[IMPACT_TAG],
        summary="Reverse an order by setting its amount to 0 (impact.com's action update)",
        description=(
            "impact.com's `PUT /Advertisers/{AccountSID}/Actions` where it is a reversal: "
            "`OrderId` with `Amount=0` reverses the whole order, as the DELETE does. Other "
            "modifications (a new amount, item-level Sku/Quantity changes, RESET) do not map "
            "to this product and are refused with 400 naming the field."
        ),
        request=_bodies(ActionUpdateSerializer, ActionUpdateFormSerializer),
        responses=REVERSAL_RESPONSES,
        examples=[
            OpenApiExample(
                "Whole-order reversal",
                request_only=True,
                value={"OrderId": "ORD-10042", "Amount": 0, "Reason": "ITEM_RETURNED"},
            ),
            REVERSED_EXAMPLE,
        ],
    )
    def put(self, request, program):
        return self._put(request.data)

    @extend_schema(
        operation_id="impact_action_override",
        tags=[IMPACT_TAG],
        summary="DELETE or PUT an action through a POST (impact.com's `_method` override)",
        description=(
            "For clients that cannot send DELETE or PUT, as impact.com allows: a POST with "
            "`_method=DELETE` (in the body or the query string) is the DELETE above, with "
            "`_method=PUT` the PUT above (`Amount=0`), with the same fields and answers. "
            "Without `_method`, or with another value, 400 naming `_method`."
        ),
        parameters=[
            OpenApiParameter(
                METHOD_OVERRIDE,
                str,
                OpenApiParameter.QUERY,
                enum=OVERRIDABLE_METHODS,
                description="The method this POST stands for, when the body does not say.",
            )
        ],
        request=_bodies(ActionOverrideSerializer, ActionOverrideFormSerializer),
        responses=REVERSAL_RESPONSES,
        examples=[
            OpenApiExample(
                "Reversal through POST",
                request_only=True,
                value={
                    "_method": "DELETE",
                    "OrderId": "ORD-10042",
                    "DispositionCode": "ITEM_RETURNED",
                },
            ),
            REVERSED_EXAMPLE,
        ],
    )
    def post(self, request, program):
        body, body_method = _without_override(request.data)
        query, query_method = _without_override(request.query_params)
        if body_method and query_method and body_method != query_method:
            raise serializers.ValidationError(
                {METHOD_OVERRIDE: ["The body and the query string name different methods."]}
            )
        method = (body_method or query_method or "").strip().upper()
        if method == "DELETE":
            return self._delete(body or query)
        if method == "PUT":
            return self._put(body)
        raise serializers.ValidationError(
            {
                METHOD_OVERRIDE: [
                    "A POST to /Actions stands for a DELETE or a PUT: send _method=DELETE "
                    "(reverse the order) or _method=PUT (with Amount=0)."
                ]
            }
        )

    def http_method_not_allowed(self, request, *args, **kwargs):
        if METHOD_OVERRIDE in request.query_params:
            raise MethodNotAllowed(
                request.method,
                detail=f"Send _method with a POST, not a {request.method}: a "
                f"{request.method} changes nothing here.",
            )
        return super().http_method_not_allowed(request, *args, **kwargs)

    def _delete(self, data):
        serializer = ActionReversalSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return self._reverse(serializer.validated_data)

    def _put(self, data):
        serializer = ActionUpdateSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return self._reverse(serializer.validated_data)

    def _reverse(self, data):
        return reversal_response(
            program=self.program, order_id=data["order_id"], reason=data["reason"]
        )


def _without_override(data):
    """(the fields without `_method`, the `_method` sent or None). A body that is not an object
    is handed on as it is, for the serializer to refuse."""
    if not isinstance(data, Mapping):
        return data, None
    method = data.get(METHOD_OVERRIDE)
    fields = {key: value for key, value in data.items() if key != METHOD_OVERRIDE}
    return fields, method if isinstance(method, str) else None
