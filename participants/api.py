"""Server API: participants (upsert with the code that referred them, and read)."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from foundation.api_docs import AUTH_ERRORS, BODY_ERRORS, PATH_ERRORS, error, not_found
from foundation.api_errors import Conflict
from foundation.api_pages import (
    PageQuerySerializer,
    page_of,
    page_query,
    page_response,
    page_serializer,
)
from programs.api import ProgramAPIView

from .models import (
    ERASED_ID_PREFIX,
    LOCALE_MAX_LENGTH,
    ReferralStatus,
    Reward,
    RewardStatus,
    is_locale_tag,
    is_reserved_participant_id,
)
from .selectors import (
    participant_detail,
    participant_get,
    referrals_page,
    reward_get,
    rewards_page,
)
from .serializers import (
    ReferralCodeSerializer,
    ReferralItemSerializer,
    RewardCodeSerializer,
    RewardItemSerializer,
    referral_item_body,
    reward_item_body,
)
from .services import (
    ParticipantNotFound,
    ReferralRefused,
    participant_erase,
    participant_upsert_referred,
    rewards_mark_paid,
)

PARTICIPANT_ID_MAX = 255


class ParticipantUpsertSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    first_name = serializers.CharField(
        required=False, allow_blank=True, max_length=150, trim_whitespace=True
    )
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    account_id = serializers.CharField(required=False, allow_blank=True, max_length=255)
    locale = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=LOCALE_MAX_LENGTH,
        help_text="The participant's language, a BCP 47 tag (`zh-Hans`, `en-US`): the widget "
        "speaks it when it is offered, else falls back (`?lang=`, the browser, the program's "
        "default).",
    )

    def validate_locale(self, value):
        if value and not is_locale_tag(value):
            raise ValidationError(
                _(
                    "%(value)r is not a language tag: letters, then parts joined by '-' "
                    "(e.g. zh-Hans, en-US)."
                )
                % {"value": value}
            )
        return value

    referred_by_code = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=255,
        help_text="The referral code that brought this participant (links them to its advocate).",
    )


class ReferredBySerializer(serializers.Serializer):
    participant_id = serializers.CharField(help_text="The advocate's participant id.")
    code = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=ReferralStatus.choices)
    referred_at = serializers.DateTimeField()


class ParticipantSerializer(serializers.Serializer):
    participant_id = serializers.CharField()
    email = serializers.EmailField(allow_blank=True, max_length=254)
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    account_id = serializers.CharField(allow_blank=True)
    locale = serializers.CharField(allow_blank=True)
    is_advocate = serializers.BooleanField()
    is_blocked = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    referral_codes = ReferralCodeSerializer(many=True)
    reward_codes = RewardCodeSerializer(many=True)
    rewards = RewardItemSerializer(
        many=True,
        help_text="What the participant earned as an advocate, newest first: the latest 100 "
        "(GET …/rewards?participant_id= pages through all of them).",
    )
    referred_by = ReferredBySerializer(allow_null=True)


PARTICIPANT_EXAMPLE = {
    "participant_id": "cust-1042",
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "account_id": "acct-77",
    "locale": "zh-Hans",
    "is_advocate": True,
    "is_blocked": False,
    "created_at": "2026-11-26T10:00:00Z",
    "updated_at": "2026-11-26T10:00:00Z",
    "referral_codes": [
        {
            "code": "FRIEND7KQ2",
            "usage": "single",
            "status": "assigned",
            "assigned_at": "2026-11-26T10:00:00Z",
            "copied_before": False,
            "first_copied_at": None,
        }
    ],
    "reward_codes": [
        {
            "code": "THANKS-4KD9",
            "reward_id": 9,
            "status": "available",
            "earned_at": "2026-11-20T10:00:00Z",
            "available_at": "2026-11-26T10:00:00Z",
            "copied_before": False,
            "first_copied_at": None,
        }
    ],
    "rewards": [
        {
            "id": 9,
            "kind": "credit",
            "status": "available",
            "amount": "10.00",
            "currency": "USD",
            "percent": None,
            "code": None,
            "advocate_id": "cust-1042",
            "friend_id": "cust-2001",
            "order_id": "ORD-10042",
            "referral_id": 17,
            "earned_at": "2026-11-20T10:00:00Z",
            "available_at": "2026-11-26T10:00:00Z",
            "paid_at": None,
            "cancelled_at": None,
            "needs_review": False,
        }
    ],
    "referred_by": {
        "participant_id": "cust-0007",
        "code": "PALS3XW9Z",
        "status": "pending",
        "referred_at": "2026-11-26T10:00:00Z",
    },
}


class ParticipantView(ProgramAPIView):
    @extend_schema(
        operation_id="participant_upsert",
        summary="Create or update a participant",
        description=(
            "Upserts the participant by the brand's id, brings them to their code quota and, "
            "with `referred_by_code`, links them to that code's advocate as a pending referral "
            "(a participant already referred keeps the first referral). 201 when created, 200 "
            "when updated."
        ),
        request=ParticipantUpsertSerializer,
        responses={
            200: ParticipantSerializer,
            201: ParticipantSerializer,
            **BODY_ERRORS,
            **AUTH_ERRORS,
        },
        examples=[
            OpenApiExample(
                "Upsert",
                value={
                    "email": "ada@example.com",
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "account_id": "acct-77",
                    "locale": "zh-Hans",
                    "referred_by_code": "pals3xw9z",
                },
                request_only=True,
            ),
            OpenApiExample("Participant", value=PARTICIPANT_EXAMPLE, response_only=True),
        ],
    )
    def put(self, request, program, participant_id):
        if len(participant_id) > PARTICIPANT_ID_MAX:
            raise ValidationError(
                {"participant_id": [_("At most %(max)s characters.") % {"max": PARTICIPANT_ID_MAX}]}
            )
        if is_reserved_participant_id(participant_id):
            raise ValidationError(
                {
                    "participant_id": [
                        _("Ids starting with %(prefix)r are reserved for erased participants.")
                        % {"prefix": ERASED_ID_PREFIX}
                    ]
                }
            )
        serializer = ParticipantUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            participant, created = participant_upsert_referred(
                program=self.program,
                participant_id=participant_id,
                referred_by_code=data.pop("referred_by_code", None),
                **data,
            )
        except ReferralRefused as refused:
            raise ValidationError({refused.field: [str(refused)]}) from None
        return Response(
            ParticipantSerializer(participant_detail(participant=participant)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="participant_get",
        summary="Read a participant",
        responses={
            200: ParticipantSerializer,
            **PATH_ERRORS,
            **AUTH_ERRORS,
            **not_found("participant"),
        },
        examples=[OpenApiExample("Participant", value=PARTICIPANT_EXAMPLE, response_only=True)],
    )
    def get(self, request, program, participant_id):
        participant = participant_get(program=self.program, participant_id=participant_id)
        if participant is None:
            raise NotFound(_("No participant %(id)r in this program.") % {"id": participant_id})
        return Response(ParticipantSerializer(participant_detail(participant=participant)).data)

    @extend_schema(
        operation_id="participant_erase",
        summary="Erase a participant (privacy request)",
        description=(
            "Erases the participant's personal data: e-mail, names and account id are blanked "
            "and the participant id is replaced by an opaque tombstone; the referral codes they "
            "hold are voided; the orders they placed lose the customer's e-mail (an address or "
            "its SHA-1 digest) and id. Their referrals, rewards and redeemed codes are kept "
            "(linked to the tombstone) for the brand's books. Afterwards the old id answers "
            "404, here and on GET; erasing again is 404 too. A later PUT with the same id "
            "creates a new, unrelated participant. Recorded in the audit trail under the API "
            "key's name, without the erased values."
        ),
        request=None,
        responses={204: None, **PATH_ERRORS, **AUTH_ERRORS, **not_found("participant")},
    )
    def delete(self, request, program, participant_id):
        try:
            participant_erase(program=self.program, participant_id=participant_id)
        except ParticipantNotFound:
            raise NotFound(
                _("No participant %(id)r in this program (never created, or already erased).")
                % {"id": participant_id}
            ) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


# The read API: lists a shop backend pages through (foundation.api_pages), and marking a
# credit it paid out.
REWARD_EXAMPLE = PARTICIPANT_EXAMPLE["rewards"][0]
PAGE_ERRORS = {
    400: error(
        "A filter, the limit or the cursor is not valid.",
        "invalid",
        "Invalid fields: cursor",
        {"cursor": ["Not a cursor this server issued: pass the `next` link of the previous page."]},
    ),
    **AUTH_ERRORS,
}


class RewardPageQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(
        choices=RewardStatus.choices,
        required=False,
        help_text="Only rewards in this state (`available`: earned and due to be paid).",
    )
    participant_id = serializers.CharField(
        required=False, max_length=255, help_text="Only this advocate's rewards."
    )


class ReferralPageQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(
        choices=ReferralStatus.choices, required=False, help_text="Only referrals in this state."
    )
    participant_id = serializers.CharField(
        required=False, max_length=255, help_text="Only this advocate's referrals."
    )


class RewardsView(ProgramAPIView):
    @extend_schema(
        operation_id="reward_list",
        summary="The program's rewards, page by page",
        description=(
            "Oldest first, in pages of `limit`, each with the `next` page's link (null on the "
            "last). `status=available` lists what is due to be paid out. Rows earned while a "
            "client pages through come on later pages: no reward is listed twice, none is "
            "skipped. The cursor is opaque and bound to the program and the filters."
        ),
        parameters=[RewardPageQuerySerializer],
        responses={200: page_serializer("RewardPage", RewardItemSerializer), **PAGE_ERRORS},
        examples=[
            OpenApiExample(
                "Rewards",
                response_only=True,
                value={
                    "results": [REWARD_EXAMPLE],
                    "next": "https://referrals.example.com/api/v1/programs/acme/rewards"
                    "?status=available&cursor=WyJyZXdhcmRzIi…",
                },
            )
        ],
    )
    def get(self, request, program):
        query = page_query(RewardPageQuerySerializer, request)
        page = page_of(rewards_page, program=self.program, **query)
        return page_response(request, page, reward_item_body)


class ReferralsView(ProgramAPIView):
    @extend_schema(
        operation_id="referral_list",
        summary="The program's referrals, page by page",
        description=(
            "Oldest first, in pages of `limit`, each with the `next` page's link (null on the "
            "last); filtered by `status`, `since` (referred at or after) and `participant_id` "
            "(the advocate)."
        ),
        parameters=[ReferralPageQuerySerializer],
        responses={
            200: page_serializer("ReferralPage", ReferralItemSerializer),
            **PAGE_ERRORS,
        },
        examples=[
            OpenApiExample(
                "Referrals",
                response_only=True,
                value={
                    "results": [
                        {
                            "id": 17,
                            "status": "converted",
                            "advocate_id": "cust-1042",
                            "friend_id": "cust-2001",
                            "code": "FRIEND7KQ2",
                            "order_id": "ORD-10042",
                            "referred_at": "2026-11-20T09:58:00Z",
                            "converted_at": "2026-11-20T10:00:00Z",
                            "cancelled_at": None,
                        }
                    ],
                    "next": None,
                },
            )
        ],
    )
    def get(self, request, program):
        query = page_query(ReferralPageQuerySerializer, request)
        page = page_of(referrals_page, program=self.program, **query)
        return page_response(request, page, referral_item_body)


class RewardPaidView(ProgramAPIView):
    @extend_schema(
        operation_id="reward_mark_paid",
        summary="Record that the shop paid a reward out",
        description=(
            "Moves an available reward to `paid` through the reward rules (the console's "
            '"Mark paid" does the same, and the audit trail records it under the API key). '
            "Idempotent: a reward already paid answers 200 as it stands. A reward that is not "
            "available (waiting, pending its review period, cancelled) is 409 and stays as it "
            "was."
        ),
        request=None,
        responses={
            200: RewardItemSerializer,
            **AUTH_ERRORS,
            **not_found("reward"),
            409: error(
                "The reward is not available to be paid.",
                "conflict",
                "Reward 9 is pending review period: it cannot become paid.",
            ),
        },
        examples=[
            OpenApiExample(
                "Paid",
                response_only=True,
                value={**REWARD_EXAMPLE, "status": "paid", "paid_at": "2026-11-27T08:00:00Z"},
            )
        ],
    )
    def post(self, request, program, reward_id):
        rewards = Reward.objects.filter(program=self.program, pk=reward_id)
        if not rewards.exists():
            raise NotFound(_("No reward %(id)s in this program.") % {"id": reward_id})
        result = rewards_mark_paid(rewards=rewards)
        reward = reward_get(program=self.program, reward_id=reward_id)
        if not result.paid and reward["status"] != RewardStatus.PAID:
            raise Conflict(" ".join(result.refused))
        return Response(reward_item_body(reward))
