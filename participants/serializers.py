"""Serializers both APIs answer with (the server API's participant, the widget's /me): one
definition of a referral code and of a reward code, used for the responses and the schema."""

from rest_framework import serializers

from codes.models import CodeStatus
from programs.models import CodeUsage

from .models import RewardStatus


class ReferralCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    usage = serializers.ChoiceField(choices=CodeUsage.choices)
    status = serializers.ChoiceField(choices=CodeStatus.choices)
    assigned_at = serializers.DateTimeField(allow_null=True)
    copied_before = serializers.BooleanField(
        help_text="The advocate copied this code before (the widget warns them)."
    )
    first_copied_at = serializers.DateTimeField(allow_null=True)


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
