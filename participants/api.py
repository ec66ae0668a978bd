"""Server API: participants (upsert with the code that referred them, and read)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from foundation.api_docs import AUTH_ERRORS, BODY_ERRORS, PATH_ERRORS, not_found
from programs.api import ProgramAPIView

from .models import ERASED_ID_PREFIX, ReferralStatus, is_reserved_participant_id
from .selectors import participant_detail, participant_get
from .serializers import ReferralCodeSerializer, RewardCodeSerializer
from .services import (
    ParticipantNotFound,
    ReferralRefused,
    participant_erase,
    participant_upsert_referred,
)

PARTICIPANT_ID_MAX = 255


class ParticipantUpsertSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    first_name = serializers.CharField(
        required=False, allow_blank=True, max_length=150, trim_whitespace=True
    )
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    account_id = serializers.CharField(required=False, allow_blank=True, max_length=255)
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
    is_advocate = serializers.BooleanField()
    is_blocked = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    referral_codes = ReferralCodeSerializer(many=True)
    reward_codes = RewardCodeSerializer(many=True)
    referred_by = ReferredBySerializer(allow_null=True)


PARTICIPANT_EXAMPLE = {
    "participant_id": "cust-1042",
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "account_id": "acct-77",
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
                    "referred_by_code": "pals3xw9z",
                },
                request_only=True,
            ),
            OpenApiExample("Participant", value=PARTICIPANT_EXAMPLE, response_only=True),
        ],
    )
    def put(self, request, program, participant_id):
        if len(participant_id) > PARTICIPANT_ID_MAX:
            raise ValidationError({"participant_id": [f"At most {PARTICIPANT_ID_MAX} characters."]})
        if is_reserved_participant_id(participant_id):
            raise ValidationError(
                {
                    "participant_id": [
                        f"Ids starting with {ERASED_ID_PREFIX!r} are reserved for erased "
                        "participants."
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
            raise NotFound(f"No participant {participant_id!r} in this program.")
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
                f"No participant {participant_id!r} in this program (never created, or "
                "already erased)."
            ) from None
        return Response(status=status.HTTP_204_NO_CONTENT)
