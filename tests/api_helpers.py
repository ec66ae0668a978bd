"""Helpers for the server-API tests: a stocked program, a client with its API key."""

from rest_framework.test import APIClient

from codes.models import PromoCode
from participants.services import participant_upsert
from programs.services import api_key_create
from tests.factories import ProgramFactory, stock_pool

# Each item of `referral_codes` in the server API and the widget API (docs/architecture.md).
REFERRAL_CODE_FIELDS = {
    "code",
    "usage",
    "status",
    "assigned_at",
    "copied_before",
    "first_copied_at",
    "expires_at",
}


def stocked_program(codes=20, **fields):
    program = ProgramFactory(**fields)
    stock_pool(program, codes, prefix="R")
    return program


def client_for(program, **key_fields):
    _, raw_key = api_key_create(program=program, name="test", **key_fields)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def advocate_with_code(program, participant_id="adv-1", email="adv@example.com"):
    """An upserted advocate and the first code they hold."""
    advocate, _ = participant_upsert(program=program, participant_id=participant_id, email=email)
    code = PromoCode.objects.filter(holder=advocate).order_by("assigned_at", "id").first()
    return advocate, code


def url(program, rest):
    return f"/api/v1/programs/{program.slug}/{rest}"


# Each item of `reward_codes` in the server API and the widget API (docs/architecture.md).
REWARD_CODE_FIELDS = {
    "code",
    "reward_id",
    "status",
    "earned_at",
    "available_at",
    "copied_before",
    "first_copied_at",
    "expires_at",
}
