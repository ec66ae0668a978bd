"""OpenAPI description of the widget API (drf-spectacular): its answers and its token."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers

from programs.models import WidgetComponentKind

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
    components = serializers.ListField(
        child=serializers.ChoiceField(choices=WidgetComponentKind.choices),
        help_text="What the program's widgets show (the components any of its widgets holds). "
        "Without `referral_promo_code`, `referral_codes` is empty and the widget shows no code.",
    )
    referral_codes = ReferralCodeSerializer(many=True)
    reward_codes = RewardCodeSerializer(many=True)
    referrals = ReferralsSummarySerializer()
    rewards = RewardsSummarySerializer()
    language = serializers.CharField(
        help_text="The offered language the widget speaks to this advocate (e.g. `zh-hans`): "
        "their `locale`, else `?lang=`, else Accept-Language, else the program's default. "
        "The widget loads its texts for it from `/widget/i18n/{language}.json`."
    )


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
            "first_name, last_name, referred_by_code, locale.",
        }


# WidgetMeSerializer documents GET /me; building it per request cost about as much as a query,
# so the answer is written here with the same representation (DRF's own for the dates).
# tests/widget hold the two equal.
_DATETIME = serializers.DateTimeField()


def _text(value):
    return None if value is None else str(value)


def _when(value):
    return None if value is None else _DATETIME.to_representation(value)


def _counts(summary, names):
    return {name: None if summary[name] is None else int(summary[name]) for name in names}


_REFERRAL_COUNTS = tuple(ReferralsSummarySerializer().fields)
_REWARD_COUNTS = tuple(name for name in RewardsSummarySerializer().fields if name != "credit")


def widget_me_body(state: dict) -> dict:
    """What WidgetMeSerializer(state).data answers, without building the serializer."""
    participant, program = state["participant"], state["program"]
    rewards = state["rewards"]
    return {
        "participant": {
            name: _text(participant[name]) for name in ("participant_id", "first_name", "last_name")
        },
        "program": {"slug": _text(program["slug"]), "name": _text(program["name"])},
        "friend_offer_text": _text(state["friend_offer_text"]),
        "components": list(state["components"]),
        "referral_codes": [
            {
                "code": _text(code["code"]),
                "usage": code["usage"],
                "status": code["status"],
                "assigned_at": _when(code["assigned_at"]),
                "copied_before": bool(code["copied_before"]),
                "first_copied_at": _when(code["first_copied_at"]),
                "expires_at": _when(code["expires_at"]),
            }
            for code in state["referral_codes"]
        ],
        "reward_codes": [
            {
                "code": _text(code["code"]),
                "reward_id": int(code["reward_id"]),
                "status": code["status"],
                "earned_at": _when(code["earned_at"]),
                "available_at": _when(code["available_at"]),
                "copied_before": bool(code["copied_before"]),
                "first_copied_at": _when(code["first_copied_at"]),
                "expires_at": _when(code["expires_at"]),
            }
            for code in state["reward_codes"]
        ],
        "referrals": _counts(state["referrals"], _REFERRAL_COUNTS),
        "rewards": {
            **_counts(rewards, _REWARD_COUNTS),
            "credit": [
                {"currency": _text(credit["currency"]), "amount": _text(credit["amount"])}
                for credit in rewards["credit"]
            ],
        },
        "language": state["language"],
    }
