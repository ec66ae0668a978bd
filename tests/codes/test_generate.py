import pytest

from codes.models import PromoCode
from codes.services import (
    GENERATED_ALPHABET,
    CodeSpaceTooSmall,
    PromoCodesOff,
    batch_generate,
    pool_get_or_create_referral,
)
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db


def test_generated_codes_use_the_readable_alphabet_and_prefix():
    program = ProgramFactory()
    batch = batch_generate(
        pool=pool_get_or_create_referral(program=program), count=200, prefix="spring-"
    )
    codes = list(PromoCode.objects.filter(batch=batch).values_list("code", flat=True))
    assert batch.codes_added == len(codes) == len(set(codes)) == 200
    for code in codes:
        assert code.startswith("SPRING-") and len(code) == len("SPRING-") + 10
        random_part = code[len("SPRING-") :]
        assert set(random_part) <= set(GENERATED_ALPHABET)
        assert not set(random_part) & set("IO01")


def test_a_count_the_pattern_cannot_hold_is_refused():
    program = ProgramFactory()
    pool = pool_get_or_create_referral(program=program)
    with pytest.raises(CodeSpaceTooSmall, match="do not fit"):
        batch_generate(pool=pool, count=600_000, length=4)  # 32**4 = 1,048,576 codes
    assert not PromoCode.objects.exists() and not pool.batches.exists()


def test_generation_refused_when_promo_codes_are_off():
    program = ProgramFactory(promo_codes_enabled=False)
    pool = pool_get_or_create_referral(program=program)
    with pytest.raises(PromoCodesOff):
        batch_generate(pool=pool, count=5)


@pytest.mark.parametrize("prefix", ["-spring", "_x", "sp ring", "é"])
def test_a_prefix_that_would_not_begin_a_code_well_is_refused(prefix):
    program = ProgramFactory()
    pool = pool_get_or_create_referral(program=program)
    with pytest.raises(ValueError, match="begins with a letter or digit"):
        batch_generate(pool=pool, count=5, prefix=prefix)
    assert not PromoCode.objects.exists() and not pool.batches.exists()
