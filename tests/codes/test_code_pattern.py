""" "Add referral code" makes a code in the pool's own pattern: the pattern set on the pool, else
its generated batches' prefix and length, else what its uploaded codes share; and the console
reminds the manager that the shop must accept it."""

import html
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from codes.models import PromoCode
from codes.services import batch_generate, pool_get_or_create_referral
from codes.services.generation import GENERATED_ALPHABET
from participants.services import participant_code_add, participant_upsert
from programs.models import CodeUsage
from tests.factories import BatchFactory, ProgramFactory

pytestmark = pytest.mark.django_db

RANDOM = f"[{GENERATED_ALPHABET}]"


@pytest.fixture
def program():
    return ProgramFactory(slug="demo", code_usage=CodeUsage.SINGLE, codes_per_advocate=1)


def uploaded(pool, codes):
    batch = BatchFactory(pool=pool, codes_added=len(codes))
    PromoCode.objects.bulk_create(
        PromoCode(program=pool.program, pool=pool, batch=batch, code=code, usage="single")
        for code in codes
    )


def test_a_code_added_by_hand_follows_the_generated_batches(program):
    pool = pool_get_or_create_referral(program=program)
    batch_generate(pool=pool, count=5, prefix="DEMO-", length=8)
    alice, _ = participant_upsert(program=program, participant_id="alice")
    code = participant_code_add(participant=alice)
    assert re.fullmatch(rf"DEMO-{RANDOM}{{8}}", code.code), code.code


def test_a_code_added_by_hand_looks_like_the_uploaded_codes(program):
    pool = pool_get_or_create_referral(program=program)
    uploaded(pool, ["SPRING-AB12CD", "SPRING-QX77LM", "SPRING-ZZ10AA"])
    alice, _ = participant_upsert(program=program, participant_id="alice")
    code = participant_code_add(participant=alice)
    assert re.fullmatch(rf"SPRING-{RANDOM}{{6}}", code.code), code.code


def test_the_pools_own_pattern_wins(program):
    pool = pool_get_or_create_referral(program=program)
    batch_generate(pool=pool, count=2, prefix="DEMO-", length=8)
    pool.code_pattern = "VIP_??????"
    pool.full_clean()
    pool.save()
    alice, _ = participant_upsert(program=program, participant_id="alice")
    assert re.fullmatch(rf"VIP_{RANDOM}{{6}}", participant_code_add(participant=alice).code)


@pytest.mark.parametrize("pattern", ["DEMO-", "DEMO-???", "demo-????", "DE MO-????", "??-????"])
def test_a_pattern_that_is_not_a_prefix_then_four_or_more_marks_is_refused(program, pattern):
    pool = pool_get_or_create_referral(program=program)
    pool.code_pattern = pattern
    with pytest.raises(ValidationError) as refused:
        pool.full_clean()
    assert "one ? per random character" in str(refused.value)


def test_the_console_shows_the_pattern_and_reminds_the_shop_must_accept_it(
    program, client, django_user_model
):
    client.force_login(django_user_model.objects.create_superuser("root", "r@x.com", "pw"))
    pool = pool_get_or_create_referral(program=program)
    batch_generate(pool=pool, count=3, prefix="DEMO-", length=8)
    alice, _ = participant_upsert(program=program, participant_id="alice")
    add = reverse("admin:participants_participant_add_referral_code", args=[alice.pk])
    page = client.get(add).text
    assert "like DEMO-????????" in page
    assert "The shop must accept the code too" in page
    done = client.post(add, {"_confirmed": "yes"}, follow=True).text
    code = PromoCode.objects.get(holder=alice, source="manual").code
    assert code.startswith("DEMO-")
    assert f"Add {code} to your shop's discount codes too" in html.unescape(done)
