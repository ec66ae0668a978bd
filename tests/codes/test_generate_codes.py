"""generate_codes over batch_generate: random codes, no look-alikes, impossible counts refused."""

import pytest
from django.core.management import CommandError, call_command

from codes.models import Batch, BatchSource, PromoCode
from codes.services import GENERATED_ALPHABET, pool_get_or_create_referral
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    program = ProgramFactory(slug="shop")
    pool_get_or_create_referral(program=program)
    return program


def test_generates_codes_into_the_referral_pool(program, capsys):
    call_command("generate_codes", "--program", "shop", "--count", "200", "--prefix", "vip-")
    assert "200 codes generated" in capsys.readouterr().out
    batch = Batch.objects.get(source=BatchSource.GENERATED)
    codes = list(batch.codes.values_list("code", flat=True))
    assert len(set(codes)) == 200
    for code in codes:
        assert code.startswith("VIP-") and len(code) == 14
        assert set(code[4:]) <= set(GENERATED_ALPHABET)
        assert not set(code[4:]) & set("IO01")
    assert batch.codes_added == 200 and batch.usage == program.code_usage


def test_length_option(program):
    call_command("generate_codes", "--program", "shop", "--count", "3", "--length", "16")
    assert {len(c) for c in PromoCode.objects.values_list("code", flat=True)} == {16}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "0"], "at least 1"),
        (["--count", "600000", "--length", "4"], "do not fit"),
        (["--count", "1", "--prefix", "bad prefix!"], "prefix"),
        (["--count", "1", "--length", "3"], "at least 4"),
        (["--count", "1", "--prefix", "x" * 60, "--length", "10"], "at most 64"),
    ],
)
def test_refuses_impossible_requests(program, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate_codes", "--program", "shop", *args)
    assert not PromoCode.objects.exists()


def test_unknown_program_and_promo_codes_off():
    ProgramFactory(slug="off", promo_codes_enabled=False)
    with pytest.raises(CommandError, match="No program with slug"):
        call_command("generate_codes", "--program", "nope", "--count", "1")
    with pytest.raises(CommandError, match="off"):
        call_command("generate_codes", "--program", "off", "--count", "1")


def test_a_clash_is_resolved_by_insert_and_retry(program, monkeypatch):
    from codes.services import generation

    draws = iter(["AAAAAAAAAA", "AAAAAAAAAA", "BBBBBBBBBB", "CCCCCCCCCC"])
    monkeypatch.setattr(generation, "_random_code", lambda prefix, length: next(draws))
    call_command("generate_codes", "--program", "shop", "--count", "1")
    call_command("generate_codes", "--program", "shop", "--count", "1")
    assert sorted(PromoCode.objects.values_list("code", flat=True)) == ["AAAAAAAAAA", "BBBBBBBBBB"]
