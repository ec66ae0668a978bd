import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from codes.services import codes_top_up, pool_get_or_create_referral
from participants.widget.tokens import widget_token_encode
from tests.factories import BatchFactory, ParticipantFactory, ProgramFactory, PromoCodeFactory


@pytest.fixture(autouse=True)
def _fresh_rate_counts():
    # Rate-limit counters live in the cache (Redis DB of this test run when REDIS_URL is set);
    # ids repeat across tests and runs, so every test starts from zero.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


def stock(program, count, prefix="W"):
    """`count` available codes in the program's referral pool, in file order."""
    pool = pool_get_or_create_referral(program=program)
    batch = BatchFactory(pool=pool)
    return [PromoCodeFactory(batch=batch, code=f"{prefix}{i:04d}") for i in range(count)]


def token_for(program, participant_id, **claims):
    return widget_token_encode(program=program, participant_id=participant_id, **claims)


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def program(db):
    program = ProgramFactory(slug="shoes", codes_per_advocate=3)
    stock(program, 10)
    return program


@pytest.fixture
def advocate(program):
    advocate = ParticipantFactory(program=program, participant_id="alice")
    codes_top_up(holder=advocate)
    return advocate
