"""impact.com-compatible paths, so a brand's existing impact integration changes only its host
and credentials: the same conversions and reversals as the native API, at impact's paths, with
impact's field names and HTTP Basic (program slug : API key as AccountSID : AuthToken).

What maps and what does not is written up in docs/impact.md.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation

from config.api_docs import AUTH_ERRORS, BODY_ERRORS, error, not_found
from programs.api import ProgramAPIView

from .api import (
    ATTRIBUTED_EXAMPLE,
    ConversionInputSerializer,
    ConversionSerializer,
    record_response,
)

IMPACT_TAG = "impact.com compatible"


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
        request={
            "application/json": ConversionInputSerializer,
            "application/x-www-form-urlencoded": ConversionInputSerializer,
        },
        responses={
            201: ConversionSerializer,
            200: ConversionSerializer,
            **BODY_ERRORS,
            **AUTH_ERRORS,
            **not_found("program"),
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
