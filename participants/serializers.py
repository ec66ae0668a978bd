"""Serializers both APIs answer with (the server API's participant, the widget's /me): one
definition of a referral code and of a reward code, used for the responses and the schema."""

from rest_framework import serializers

from codes.models import CodeStatus
from programs.models import CodeUsage, RewardKind

from .models import ReferralStatus, RewardStatus


class ReferralCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    usage = serializers.ChoiceField(choices=CodeUsage.choices)
    status = serializers.ChoiceField(choices=CodeStatus.choices)
    assigned_at = serializers.DateTimeField(allow_null=True)
    copied_before = serializers.BooleanField(
        help_text="The advocate copied this code before (the widget warns them)."
    )
    first_copied_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the code stops working (null: it does not expire); "
        'the widget shows it as "Valid until …".',
    )


class RewardCodeSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The fuel-tank code the advocate earned.")
    reward_id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=[
            (RewardStatus.AVAILABLE.value, RewardStatus.AVAILABLE.label),
            (RewardStatus.PAID.value, RewardStatus.PAID.label),
        ],
        help_text="The reward's status; only available and paid rewards show their code.",
    )
    earned_at = serializers.DateTimeField()
    available_at = serializers.DateTimeField(allow_null=True)
    copied_before = serializers.BooleanField()
    first_copied_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the code stops working (null: it does not expire).",
    )


class RewardItemSerializer(serializers.Serializer):
    """A reward as the server API shows it: in a participant's `rewards`, the rewards list and
    the answer of marking one paid. The same fields as the widget's reward codes where they
    meet (`code`, `status`, `earned_at`, `available_at`)."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=RewardKind.choices)
    status = serializers.ChoiceField(choices=RewardStatus.choices)
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text="A credit's amount."
    )
    currency = serializers.CharField(allow_null=True, help_text="A credit's currency.")
    percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, allow_null=True, help_text="A percent discount."
    )
    code = serializers.CharField(
        allow_null=True,
        help_text="A fuel-tank reward's code, once revealed (the reward became available); "
        "null while it is reserved or for other kinds.",
    )
    advocate_id = serializers.CharField(help_text="The advocate's participant id.")
    friend_id = serializers.CharField(help_text="The referred friend's participant id.")
    order_id = serializers.CharField(allow_null=True, help_text="The order that earned it.")
    referral_id = serializers.IntegerField()
    earned_at = serializers.DateTimeField()
    available_at = serializers.DateTimeField(
        allow_null=True, help_text="When its review period ends (or ended)."
    )
    paid_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    needs_review = serializers.BooleanField(
        help_text="Set when the order was reversed after the reward was paid or its code shown."
    )


class ReferralItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ReferralStatus.choices)
    advocate_id = serializers.CharField(help_text="The advocate's participant id.")
    friend_id = serializers.CharField(help_text="The referred friend's participant id.")
    code = serializers.CharField(allow_null=True, help_text="The code that referred the friend.")
    order_id = serializers.CharField(allow_null=True, help_text="The order that converted it.")
    referred_at = serializers.DateTimeField()
    converted_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)


# The read API's pages answer the two items above written directly: building the serializer
# for every row of a 100-row page cost more than the page's query. tests/participants/
# test_read_api.py holds each writer equal to its serializer.
_DATETIME = serializers.DateTimeField()


def api_time(value):
    """A time as DRF's DateTimeField answers it (UTC, ISO 8601 with Z)."""
    return None if value is None else _DATETIME.to_representation(value)


def api_cents(value):
    """A decimal with two places as DRF's DecimalField(decimal_places=2) answers it."""
    return None if value is None else f"{value:.2f}"


def reward_item_body(item: dict) -> dict:
    """What RewardItemSerializer(item).data answers, without building the serializer."""
    return {
        **item,
        "amount": api_cents(item["amount"]),
        "percent": api_cents(item["percent"]),
        "earned_at": api_time(item["earned_at"]),
        "available_at": api_time(item["available_at"]),
        "paid_at": api_time(item["paid_at"]),
        "cancelled_at": api_time(item["cancelled_at"]),
    }


def referral_item_body(item: dict) -> dict:
    """What ReferralItemSerializer(item).data answers, without building the serializer."""
    return {
        **item,
        "referred_at": api_time(item["referred_at"]),
        "converted_at": api_time(item["converted_at"]),
        "cancelled_at": api_time(item["cancelled_at"]),
    }
