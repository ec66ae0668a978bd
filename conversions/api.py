"""Server API: conversions (orders) and their reversal."""

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from foundation.api_docs import AUTH_ERRORS, BODY_ERRORS, error, not_found
from foundation.api_errors import Conflict
from participants.models import RewardStatus
from programs.api import ProgramAPIView
from programs.models import RewardKind

from .models import Conversion, ConversionReason, ConversionStatus, ReviewStatus
from .payload import EVENT_DATE_NOW, item_amount, items_subtotal
from .review import CHECKS
from .services import (
    ConversionConflict,
    conversion_current_body,
    conversion_record,
    conversion_reverse,
)

# impact.com's indexed line fields: ItemSku1, ItemPrice2, … (ItemSubtotal is its other spelling).
ITEM_FIELD = re.compile(r"^Item(Sku|Name|Category|Quantity|Price|SubTotal|Subtotal)(\d+)$")
ITEM_KEYS = {
    "Sku": "sku",
    "Name": "name",
    "Category": "category",
    "Quantity": "quantity",
    "Price": "price",
    "SubTotal": "subtotal",
    "Subtotal": "subtotal",
}
MAX_ITEMS = 1000
MAX_WHOLE_DIGITS = 12  # the amount columns hold 14 digits, 2 of them after the point


class MoneyField(serializers.DecimalField):
    """An amount as a JSON number or a string, rounded half up to the cent (or to the field's
    decimals), with at most 12 digits before the point once rounded: what the amount columns
    hold. Anything larger, rounding included (999999999999.995), is refused naming the field.

    Extra decimals are rounded rather than refused: a shop's tag computing price × quantity in
    floating point sends 59.970000000000006 for 59.97.
    """

    default_error_messages = {
        "max_whole_digits": "Ensure that there are no more than {max_whole_digits} digits "
        "before the decimal point, once rounded to {decimal_places} decimals.",
        "max_string_length": "Enter a number of at most {max_whole_digits} digits before the "
        "decimal point.",
    }

    def __init__(self, *, decimal_places=2, **kwargs):
        super().__init__(
            max_digits=MAX_WHOLE_DIGITS + decimal_places,
            decimal_places=decimal_places,
            rounding=ROUND_HALF_UP,
            **kwargs,
        )

    def fail(self, key, **kwargs):
        if key in ("max_whole_digits", "max_string_length"):
            kwargs.update(max_whole_digits=MAX_WHOLE_DIGITS, decimal_places=self.decimal_places)
        super().fail(key, **kwargs)

    def validate_precision(self, value):
        if value and value.adjusted() + 1 > MAX_WHOLE_DIGITS:
            self.fail("max_whole_digits")
        return value

    def quantize(self, value):
        # Rounding can carry into a 13th whole digit, which the column cannot hold (and which
        # the context's precision refuses with InvalidOperation).
        try:
            rounded = super().quantize(value)
        except InvalidOperation:
            self.fail("max_whole_digits")
        if rounded and rounded.adjusted() + 1 > MAX_WHOLE_DIGITS:
            self.fail("max_whole_digits")
        return rounded

    def largest(self):
        """The largest amount the field keeps, as the schema states it."""
        return Decimal(10) ** MAX_WHOLE_DIGITS - Decimal(10) ** -self.decimal_places


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    """A number or a decimal string, with the bounds the field enforces: at most 12 whole
    digits, and no sign when the field refuses negative amounts."""

    target_class = "conversions.api.MoneyField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        largest = float(field.largest())
        unsigned = field.min_value is not None and field.min_value >= 0
        number = {"type": "number", "maximum": largest}
        number["minimum"] = float(field.min_value) if unsigned else -largest
        sign = "" if unsigned else "-?"
        string = {
            "type": "string",
            "format": "decimal",
            "pattern": rf"^{sign}[0-9]{{1,{MAX_WHOLE_DIGITS}}}(\.[0-9]+)?$",
        }
        return {"oneOf": [number, string]}


# What EventDate accepts, as the schema says it: an ISO 8601 time, or NOW in any case.
EVENT_DATE_NOW_PATTERN = r"^\s*[Nn][Oo][Ww]\s*$"


@extend_schema_field(
    {
        # anyOf, not oneOf: a validator that does not assert formats reads NOW as a
        # date-time string too, and oneOf would then refuse it for matching both.
        "anyOf": [
            {"type": "string", "format": "date-time"},
            {"type": "string", "pattern": EVENT_DATE_NOW_PATTERN, "example": "NOW"},
        ]
    }
)
class EventDateField(serializers.DateTimeField):
    """ISO 8601, or impact.com's `NOW` (the time the order is received)."""

    def to_internal_value(self, value):
        if isinstance(value, str) and value.strip().upper() == EVENT_DATE_NOW:
            return EVENT_DATE_NOW
        return super().to_internal_value(value)


class CustomerEmailField(serializers.CharField):
    """An e-mail address, or its SHA-1 or SHA-256 hex digest (impact.com documents both)."""

    def __init__(self, **kwargs):
        super().__init__(max_length=254, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value and not re.fullmatch(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}", value):
            try:
                EmailValidator()(value)
            except DjangoValidationError:
                self.fail("invalid")
        return value

    default_error_messages = {
        "invalid": gettext_lazy("Enter a valid email address, or its SHA-1 or SHA-256 hex digest."),
    }


class ConversionItemSerializer(serializers.Serializer):
    """One order line; the API names its fields ItemSku{n}, ItemName{n}, …"""

    sku = serializers.CharField(required=False, allow_blank=True, max_length=255)
    name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    category = serializers.CharField(required=False, allow_blank=True, max_length=255)
    quantity = serializers.IntegerField(required=False, min_value=0, max_value=2_147_483_647)
    price = MoneyField(required=False, decimal_places=4, min_value=Decimal(0))
    subtotal = MoneyField(required=False, min_value=Decimal(0))


def _items(data):
    """The order lines from the indexed item fields, in index order; (items, errors by the
    field names the client sent)."""
    if not isinstance(data, Mapping):
        return [], {}
    raw, errors = {}, {}
    for key in data:
        match = ITEM_FIELD.match(key) if isinstance(key, str) else None
        if match is None:
            continue
        index = int(match.group(2))
        if not 1 <= index <= MAX_ITEMS:
            errors[key] = [_("Item fields are numbered from 1 to %(max)s.") % {"max": MAX_ITEMS}]
            continue
        value = data[key]
        if value is None or value == "":
            continue  # blank is the same as not sent
        raw.setdefault(index, {})[ITEM_KEYS[match.group(1)]] = (key, value)
    items = []
    for index in sorted(raw):
        fields = raw[index]
        line = ConversionItemSerializer(data={name: value for name, (_, value) in fields.items()})
        if not line.is_valid():
            for name, messages in line.errors.items():
                errors[fields[name][0]] = messages
            continue
        item = {"position": index, **line.validated_data}
        amount = item_amount(item)
        if amount is not None and amount.adjusted() + 1 > MAX_WHOLE_DIGITS:
            key = fields.get("subtotal", fields.get("quantity", fields.get("price")))[0]
            errors[key] = [
                _("The line's amount has more than %(digits)s whole digits.")
                % {"digits": MAX_WHOLE_DIGITS}
            ]
            continue
        items.append(item)
    return items, errors


# impact.com conversion fields this product has no use for: accepted and ignored (not stored).
IGNORED_IMPACT_FIELDS = {
    "CampaignId": "impact.com program id.",
    "ActionTrackerId": "impact.com event type id.",
    "EventTypeId": "impact.com event type id.",
    "EventTypeCode": "impact.com event type code.",
    "ClickId": "impact.com click id: attribution here is by the promo code.",
    "SharedId": "impact.com shared id.",
    "CustomProfileId": "Visitor id.",
    "CustomerCity": "Customer location.",
    "CustomerRegion": "Customer location.",
    "CustomerCountry": "Customer location.",
    "CustomerPostCode": "Customer location.",
    "UserAgent": "The customer's browser (not stored).",
    "PaymentType": "Payment method.",
    "OrderShipping": "Shipping cost.",
    "OrderTax": "Tax.",
    "Amount": "impact.com's post-discount total: OrderSubtotal or the lines are used instead.",
    "Note": "Free text.",
}
ITEM_DESCRIPTIONS = {
    "ItemSku1": ("string", "Line 1's SKU; line n is ItemSku{n}, n from 1 to 1000."),
    "ItemName1": ("string", "Line 1's product name (ItemName{n})."),
    "ItemCategory1": ("string", "Line 1's category (ItemCategory{n})."),
    "ItemQuantity1": ("quantity", "Line 1's quantity (ItemQuantity{n}); 1 when not sent."),
    "ItemPrice1": ("price", "Line 1's unit price (ItemPrice{n}), to 4 decimals; not negative."),
    "ItemSubTotal1": (
        "subtotal",
        "Line 1's amount (ItemSubTotal{n}, or ItemSubtotal{n}); else price × quantity.",
    ),
}


# A whole number, as a JSON number or as the string a form (or a tag) sends: "2".
QUANTITY_SCHEMA = {
    "oneOf": [
        {"type": "integer", "minimum": 0, "maximum": 2_147_483_647},
        {"type": "string", "pattern": r"^[0-9]{1,10}$"},
    ]
}


class ConversionInputSchema(OpenApiSerializerExtension):
    """The indexed item fields and the ignored impact.com fields, which are not serializer
    fields, in the published schema (for the JSON body and its form-encoded twin)."""

    target_class = "conversions.api.ConversionInputSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        item_fields = ConversionItemSerializer().fields
        properties = schema.setdefault("properties", {})
        for name, (kind, description) in ITEM_DESCRIPTIONS.items():
            if kind in ("price", "subtotal"):
                money_schema = auto_schema._map_serializer_field(item_fields[kind], direction)
                properties[name] = {**money_schema, "description": description}
            elif kind == "quantity":
                properties[name] = {**QUANTITY_SCHEMA, "description": description}
            else:
                properties[name] = {"type": kind, "description": description}
        for name, description in IGNORED_IMPACT_FIELDS.items():
            properties[name] = {"description": f"Accepted and ignored. {description}"}
        # OrderId, or impact's older name Oid: one of the two is required, which the
        # description says (an `anyOf` of the two `required` lists would say it too, but
        # makes client generators give up on the model: openapi-python-client types it Any).
        schema.pop("required", None)
        schema["additionalProperties"] = True
        schema["description"] = (
            "An order in impact.com's field names. `OrderId` is required, or its older name "
            "`Oid` in its place (without either the answer is 400 naming OrderId). Order "
            "lines are impact's indexed fields `ItemSku{n}`, `ItemName{n}`, `ItemCategory{n}`, "
            "`ItemQuantity{n}`, `ItemPrice{n}`, `ItemSubTotal{n}` (n from 1): kept with the "
            "order, part of its payload for idempotency, and summed into `OrderSubtotal` when "
            "that is absent. Amounts are numbers or strings. Any other impact.com field "
            "(ClickId, CampaignId, EventTypeId, IpAddress, …) is accepted and ignored."
        )
        return schema


class ConversionInputSerializer(serializers.Serializer):
    """The impact.com conversion field names; JSON or form-encoded.

    Order lines come as impact's indexed fields (ItemSku1, ItemQuantity1, ItemPrice1, …); every
    other field impact.com defines (ClickId, CampaignId, EventTypeId, IpAddress, …) is accepted
    and ignored.
    """

    OrderId = serializers.CharField(max_length=255, required=False)
    Oid = serializers.CharField(
        max_length=255, required=False, help_text="impact.com's older name for OrderId."
    )
    OrderPromoCode = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=255,
        help_text=(
            "The code(s) used at checkout: one, or several separated by commas, semicolons or "
            "spaces (a shop's coupon beside the referral code). The first of the program's "
            "referral codes among them attributes the order; the answer names it (`code_used`) "
            "and the others (`codes_ignored`)."
        ),
    )
    CustomerId = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=255,
        help_text="The friend's participant id.",
    )
    CustomerEmail = CustomerEmailField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text=(
            "The friend's e-mail address, or the SHA-1 or SHA-256 hex digest of it (lower-cased, "
            "trimmed; any case of hex digits) as impact.com clients send it. A digest only "
            "serves the self-referral check."
        ),
    )
    EventDate = EventDateField(
        required=False,
        allow_null=True,
        help_text="ISO 8601, or NOW for the time the order is received.",
    )
    OrderSubtotal = MoneyField(
        required=False,
        allow_null=True,
        min_value=Decimal(0),
        help_text=(
            "A number or a string, rounded to the cent. When absent: the sum of the lines "
            "(ItemSubTotal{n}, else ItemPrice{n} × ItemQuantity{n}), if every line has one."
        ),
    )
    OrderDiscount = MoneyField(
        required=False,
        allow_null=True,
        min_value=Decimal(0),
        help_text="A number or a string, rounded to the cent.",
    )
    CurrencyCode = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, min_length=3, max_length=3
    )
    IpAddress = serializers.IPAddressField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text=(
            "The customer's IP address (IPv4 or IPv6), for the review's same-IP check: kept "
            "hashed, never shown."
        ),
    )
    CustomerStatus = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=40,
        help_text=(
            "impact.com's new or existing customer: `Returning` or `Existing` (any case) flags "
            "the review's existing-customer check; `New` or anything else does not."
        ),
    )
    Currency = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        min_length=3,
        max_length=3,
        help_text="impact.com's other name for CurrencyCode.",
    )

    def to_internal_value(self, data):
        errors = {}
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as invalid:
            values, errors = None, dict(invalid.detail)
        items, item_errors = _items(data)
        errors.update(item_errors)
        if values is not None:
            errors.update(self._aliases(values))
        if values is not None and not errors and values.get("OrderSubtotal") is None:
            subtotal = items_subtotal(items)
            if subtotal is not None and subtotal.adjusted() + 1 > MAX_WHOLE_DIGITS:
                errors["OrderSubtotal"] = [
                    f"The lines add up to more than {MAX_WHOLE_DIGITS} whole digits."
                ]
        if errors:
            raise serializers.ValidationError(errors)
        values["items"] = items
        return values

    @staticmethod
    def _aliases(values):
        """OrderId or Oid, CurrencyCode or Currency: one of each pair, or both alike."""
        errors = {}
        for name, alias in (("OrderId", "Oid"), ("CurrencyCode", "Currency")):
            if values.get(alias) in (None, ""):
                continue
            if values.get(name) in (None, ""):
                values[name] = values[alias]
            elif values[name] != values[alias]:
                errors[alias] = [
                    _("%(alias)s differs from %(name)s; send one of them.")
                    % {"alias": alias, "name": name}
                ]
        if not values.get("OrderId"):
            errors["OrderId"] = [_("This field is required.")]
        return errors

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
            "items": data["items"],
            "ip_address": data.get("IpAddress"),
            "customer_status": data.get("CustomerStatus"),
        }


class ConversionFormInputSerializer(ConversionInputSerializer):
    """The same order form-encoded. Its own schema component, so that a client generated from
    the schema can tell the two encodings apart and sends the one it was given."""


CONVERSION_BODIES = {
    "application/json": ConversionInputSerializer,
    "application/x-www-form-urlencoded": ConversionFormInputSerializer,
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
    reason_code = serializers.CharField(
        allow_null=True,
        required=False,
        help_text=(
            "Why the reward was withheld: `reward_cap_month`, `reward_cap_total` or "
            "`reward_cap_program_day` (status `capped`), `review_denied` (cancelled by the "
            "review); null otherwise."
        ),
    )


class ReviewSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=ReviewStatus.choices,
        help_text=(
            "approved: the reward follows the usual review period; held: it waits in "
            "`pending_review` for a manager; denied: it is cancelled. The attribution stands."
        ),
    )
    score = serializers.IntegerField(min_value=0, max_value=100)
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=[check.code for check in CHECKS]),
        help_text="The checks that applied (README, Reviewing referrals).",
    )


class ConversionSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    status = serializers.ChoiceField(choices=ConversionStatus.choices)
    reason = serializers.CharField(help_text="Why the order got its outcome, in words.")
    reason_code = serializers.ChoiceField(
        choices=ConversionReason.choices,
        allow_null=True,
        help_text=(
            "Why the order got its outcome, as a stable code (the `reason` is its sentence); "
            "null for orders recorded before reason codes existed."
        ),
    )
    advocate_id = serializers.CharField(allow_null=True)
    referral_id = serializers.IntegerField(allow_null=True)
    reward = RewardSerializer(allow_null=True)
    reversed_at = serializers.DateTimeField(
        allow_null=True, help_text="Set once the order is reversed."
    )
    reversal_reason = serializers.CharField(allow_null=True)
    code_used = serializers.CharField(
        allow_null=True,
        required=False,
        help_text=(
            "The program's referral code the order was judged by (of several codes in "
            "OrderPromoCode, the first one of the program's referral codes); null when none "
            "is one."
        ),
    )
    codes_ignored = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=(
            "The other codes in OrderPromoCode (a shop's own coupon, a second advocate's "
            "code): kept with the order, not used for the referral."
        ),
    )
    review = ReviewSerializer(
        allow_null=True,
        required=False,
        help_text=(
            "The program's review of a referral that rewards (its policy not off); null otherwise."
        ),
    )


class ReversalInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


ATTRIBUTED_EXAMPLE = {
    "order_id": "ORD-10042",
    "status": "attributed",
    "reason": "Attributed to the advocate holding the code.",
    "reason_code": "attributed",
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
    "code_used": "FRIEND7KQ2",
    "codes_ignored": ["WELCOME10"],
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
                    "reason_code": "code_already_redeemed",
                    "referral_id": None,
                    "reward": None,
                },
            ),
        ],
    )
    def post(self, request, program):
        return record_response(program=self.program, data=request.data)


def record_response(*, program, data):
    """Validate an order, record it, and answer: 201 the first time, 200 with the first
    answer on a replay, 409 for the same OrderId with another payload."""
    serializer = ConversionInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    try:
        conversion, created = conversion_record(program=program, payload=serializer.to_payload())
    except ConversionConflict as conflict:
        raise Conflict(str(conflict)) from None
    # An answer stored before reason codes existed is replayed with a null one.
    body = {"reason_code": None, **conversion.response}
    if created and getattr(conversion, "reason_read", None):
        body["reason"] = conversion.reason_read  # the refusal in the request's language
    return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def reversal_response(*, program, order_id, reason):
    """Reverse the program's order and answer it as it now stands (404 for an unknown one)."""
    conversion = Conversion.objects.filter(program=program, order_id=order_id).first()
    if conversion is None:
        raise NotFound(_("No order %(id)r in this program.") % {"id": order_id})
    conversion = conversion_reverse(conversion=conversion, reason=reason)
    return Response(conversion_current_body(conversion))


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
        return reversal_response(
            program=self.program,
            order_id=order_id,
            reason=serializer.validated_data.get("reason", ""),
        )
