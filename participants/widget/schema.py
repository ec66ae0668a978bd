"""OpenAPI description of the widget API (drf-spectacular): its answers and its token."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers

from ..serializers import ReferralCodeSerializer, RewardCodeSerializer


class ReferralsSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    converted = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class CreditSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.CharField()


class RewardsSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    waiting = serializers.IntegerField()
    pending = serializers.IntegerField()
    available = serializers.IntegerField()
    paid = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    credit = CreditSerializer(many=True)


class WidgetParticipantSerializer(serializers.Serializer):
    participant_id = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()


class WidgetProgramSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class WidgetMeSerializer(serializers.Serializer):
    participant = WidgetParticipantSerializer()
    program = WidgetProgramSerializer()
    friend_offer_text = serializers.CharField()
    referral_codes = ReferralCodeSerializer(many=True)
    reward_codes = RewardCodeSerializer(many=True)
    referrals = ReferralsSummarySerializer()
    rewards = RewardsSummarySerializer()


class CodeCopySerializer(serializers.Serializer):
    code = serializers.CharField()
    copied_before = serializers.BooleanField()
    first_copied_at = serializers.DateTimeField()


class ParticipantTokenScheme(OpenApiAuthenticationExtension):
    target_class = "participants.widget.api.ParticipantTokenAuthentication"
    name = "participantToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A participant token: a JWT signed HS256 with the program's widget "
            "secret; claims sub (participant id), program (slug), exp, and optionally email, "
            "first_name, last_name, referred_by_code.",
        }
