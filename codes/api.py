"""Server API: one code's status and owner, and the program's stock."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from foundation.api_docs import AUTH_ERRORS, PATH_ERRORS, not_found
from programs.api import ProgramAPIView
from programs.models import CodeUsage

from .models import CodeSource, CodeStatus, Pool, PoolKind
from .rules import InvalidCode, canonical_code
from .selectors import STOCK_COUNT_CAP, code_lookup_row, pool_stock_capped


class CodeOwnerSerializer(serializers.Serializer):
    participant_id = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)


class CodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    usage = serializers.ChoiceField(choices=CodeUsage.choices)
    status = serializers.ChoiceField(choices=CodeStatus.choices)
    pool = serializers.CharField()
    pool_kind = serializers.ChoiceField(choices=PoolKind.choices)
    source = serializers.ChoiceField(choices=CodeSource.choices)
    owner = CodeOwnerSerializer(allow_null=True, help_text="The advocate holding the code.")
    assigned_at = serializers.DateTimeField(allow_null=True)
    first_copied_at = serializers.DateTimeField(allow_null=True)
    redeemed_at = serializers.DateTimeField(allow_null=True)
    redemption_count = serializers.IntegerField()
    redeemed_order_id = serializers.CharField(allow_blank=True)


class PoolStockSerializer(serializers.Serializer):
    pool = serializers.CharField(source="pool.name")
    kind = serializers.ChoiceField(source="pool.kind", choices=PoolKind.choices)
    available = serializers.IntegerField()
    assigned = serializers.IntegerField()
    redeemed = serializers.IntegerField()
    voided = serializers.IntegerField(help_text="Codes taken out of use for good.")
    threshold = serializers.IntegerField()
    used_last_7_days = serializers.IntegerField(help_text="Codes assigned in the last 7 days.")
    per_day = serializers.DecimalField(max_digits=12, decimal_places=2)
    days_left = serializers.DecimalField(
        max_digits=12,
        decimal_places=1,
        allow_null=True,
        help_text="Days until the pool runs out at the last 7 days' rate; null when it is empty "
        "or nothing was used in those 7 days (no forecast); a lower bound when `available` "
        "is in `at_least`.",
    )
    expired = serializers.IntegerField(
        help_text="Codes never handed out that are past their expiry (not in `available`)."
    )
    expiring_soon = serializers.IntegerField(
        help_text="Available codes that expire within the next 14 days."
    )
    at_least = serializers.ListField(
        child=serializers.ChoiceField(
            choices=["available", "assigned", "redeemed", "voided", "expired", "expiring_soon"]
        ),
        help_text=f"The counts that stopped at {STOCK_COUNT_CAP:,}, as the stock page counts: "
        "the true figure is that or more. Empty when every count is exact.",
    )


class StockSerializer(serializers.Serializer):
    pools = PoolStockSerializer(many=True)


class CodeView(ProgramAPIView):
    @extend_schema(
        operation_id="code_get",
        summary="A code's status and owner",
        description="Codes are matched in any case.",
        responses={200: CodeSerializer, **PATH_ERRORS, **AUTH_ERRORS, **not_found("code")},
        examples=[
            OpenApiExample(
                "Code",
                response_only=True,
                value={
                    "code": "FRIEND7KQ2",
                    "usage": "single",
                    "status": "assigned",
                    "pool": "Referral codes",
                    "pool_kind": "referral",
                    "source": "pool",
                    "owner": {"participant_id": "cust-1042", "email": "ada@example.com"},
                    "assigned_at": "2026-11-26T10:00:00Z",
                    "first_copied_at": None,
                    "redeemed_at": None,
                    "redemption_count": 0,
                    "redeemed_order_id": "",
                },
            )
        ],
    )
    def get(self, request, program, code):
        try:
            canonical = canonical_code(code)
        except InvalidCode:
            canonical = None
        row = code_lookup_row(program_id=self.program.pk, code=canonical) if canonical else None
        if row is None:
            raise NotFound(f"No code {code!r} in this program.")
        return Response(_code_body(row))


# CodeSerializer documents the answer; building one per request cost more than the lookup, so
# the body is written here with the same representation (DRF's own for the dates).
_DATETIME = serializers.DateTimeField()


def _code_body(row):
    (
        code,
        usage,
        status,
        pool_name,
        pool_kind,
        source,
        holder_id,
        holder_email,
        assigned_at,
        first_copied_at,
        redeemed_at,
        redemption_count,
        redeemed_order_id,
    ) = row
    return {
        "code": code,
        "usage": usage,
        "status": status,
        "pool": pool_name,
        "pool_kind": pool_kind,
        "source": source,
        "owner": None
        if holder_id is None
        else {"participant_id": holder_id, "email": holder_email},
        "assigned_at": _DATETIME.to_representation(assigned_at),
        "first_copied_at": _DATETIME.to_representation(first_copied_at),
        "redeemed_at": _DATETIME.to_representation(redeemed_at),
        "redemption_count": redemption_count,
        "redeemed_order_id": redeemed_order_id,
    }


class StockView(ProgramAPIView):
    @extend_schema(
        operation_id="stock_get",
        summary="The program's pools with counts, threshold and forecast",
        responses={200: StockSerializer, **AUTH_ERRORS},
        examples=[
            OpenApiExample(
                "Stock",
                response_only=True,
                value={
                    "pools": [
                        {
                            "pool": "Referral codes",
                            "kind": "referral",
                            "available": 9400,
                            "assigned": 550,
                            "redeemed": 50,
                            "voided": 0,
                            "threshold": 100,
                            "used_last_7_days": 700,
                            "per_day": "100.00",
                            "days_left": "94.0",
                            "at_least": [],
                        }
                    ]
                },
            )
        ],
    )
    def get(self, request, program):
        pools = Pool.objects.filter(program=self.program).select_related("program")
        return Response(StockSerializer({"pools": [pool_stock_capped(pool=p) for p in pools]}).data)
