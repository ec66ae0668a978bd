"""The two one-way switches: neither a service call nor an admin POST can undo them."""

import pytest
from django.core.exceptions import ValidationError

from programs.models import CodeUsage, Program
from programs.services import IrreversibleChangeError, program_create, program_update
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db


def promo(program, **overrides):
    values = {
        "promo_codes_enabled": program.promo_codes_enabled,
        "code_usage": program.code_usage,
        "codes_per_advocate": program.codes_per_advocate,
        "low_stock_threshold": program.low_stock_threshold,
        "low_stock_recipients": program.low_stock_recipients,
    }
    return {**values, **overrides}


def test_turning_promo_codes_off_is_refused_by_the_service():
    program = ProgramFactory(promo_codes_enabled=True, code_usage=CodeUsage.MULTI)
    with pytest.raises(IrreversibleChangeError) as refused:
        program_update(program=program, **promo(program, promo_codes_enabled=False))
    assert "cannot be turned off" in str(refused.value)
    program.refresh_from_db()
    assert program.promo_codes_enabled is True


def test_going_back_to_multi_use_is_refused_by_the_service():
    program = ProgramFactory(code_usage=CodeUsage.SINGLE)
    with pytest.raises(IrreversibleChangeError):
        program_update(program=program, code_usage=CodeUsage.MULTI)
    program.refresh_from_db()
    assert program.code_usage == CodeUsage.SINGLE


def test_a_stale_in_memory_program_cannot_undo_the_switch():
    program = ProgramFactory(promo_codes_enabled=False, code_usage=CodeUsage.MULTI)
    stale = Program.objects.get(pk=program.pk)
    program_update(program=program, promo_codes_enabled=True, code_usage=CodeUsage.SINGLE)
    # `stale` still believes the feature is off and multi-use: the stored row decides.
    with pytest.raises(IrreversibleChangeError):
        program_update(program=stale, promo_codes_enabled=False)
    with pytest.raises(IrreversibleChangeError):
        program_update(program=stale, promo_codes_enabled=True, code_usage=CodeUsage.MULTI)
    stale.refresh_from_db()
    assert (stale.promo_codes_enabled, stale.code_usage) == (True, CodeUsage.SINGLE)


def test_the_forward_switches_and_other_settings_save():
    program = ProgramFactory(promo_codes_enabled=False, code_usage=CodeUsage.MULTI)
    program_update(
        program=program,
        promo_codes_enabled=True,
        code_usage=CodeUsage.SINGLE,
        codes_per_advocate=5,
        low_stock_threshold=7,
        low_stock_recipients="ops@example.com\nstock@example.com",
    )
    program.refresh_from_db()
    assert program.promo_codes_enabled and program.is_single_use
    assert program.code_quota == 5
    assert program.recipient_list == ["ops@example.com", "stock@example.com"]


def test_enabling_creates_the_referral_pool():
    program = ProgramFactory(promo_codes_enabled=False)
    assert not program.pools.exists()
    program_update(program=program, promo_codes_enabled=True)
    assert program.pools.get().kind == "referral"


@pytest.mark.parametrize("per_advocate", [0, 26])
def test_codes_per_advocate_outside_1_to_25_is_refused(per_advocate):
    program = ProgramFactory(codes_per_advocate=3)
    with pytest.raises(ValidationError) as refused:
        program_update(program=program, codes_per_advocate=per_advocate)
    assert "codes_per_advocate" in refused.value.message_dict
    program.refresh_from_db()
    assert program.codes_per_advocate == 3


def test_bad_recipient_address_is_named():
    with pytest.raises(ValidationError) as refused:
        program_create(slug="x", name="X", low_stock_recipients="ok@example.com, not-an-address")
    assert "not-an-address" in str(refused.value)
    assert not Program.objects.filter(slug="x").exists()
