"""Fuel tanks from the command line and the admin: create_pool, set_reward, uploads into a
tank, and a tank's own low-stock alerts."""

from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse

from codes.models import AlertKind, Pool, PoolKind, PromoCode, StockAlert
from codes.services import pool_stock_check, tank_code_claim
from programs.models import Program, RewardKind
from tests.factories import ParticipantFactory, ProgramFactory, tank_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    return ProgramFactory(slug="shop")


def test_create_pool_and_set_reward_make_a_paying_tank(program, capsys, tmp_path):
    call_command(
        "create_pool", "--program", "shop", "--fuel-tank", "Gift cards",
        "--low-stock-threshold", "5", "--notify", "ops@example.com",
    )  # fmt: skip
    assert "Created fuel tank 'Gift cards' in shop" in capsys.readouterr().out
    tank = Pool.objects.get(program=program, name="Gift cards")
    assert tank.kind == PoolKind.FUEL_TANK and tank.low_stock_threshold == 5
    assert tank.recipient_list == ["ops@example.com"] and not tank.pays_rewards

    codes = tmp_path / "gifts.csv"
    codes.write_text("code\ngift-1\ngift-2\n")
    call_command("import_codes", "--program", "shop", "--pool", "Gift cards", str(codes))
    assert PromoCode.objects.filter(pool=tank).count() == 2

    call_command(
        "set_reward", "--program", "shop", "--fuel-tank", "Gift cards", "--review-days", "3"
    )
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith(
            "shop: advocates earn a code from the fuel tank 'Gift cards' per converted referral, "
            "after a 3-day review period."
        )
    )
    tank.refresh_from_db()
    program.refresh_from_db()
    assert tank.pays_rewards and program.reward_kind == RewardKind.FUEL_TANK
    assert program.reward_review_days == 3

    call_command("set_reward", "--program", "shop", "--credit", "7.5", "eur")
    program.refresh_from_db()
    assert (program.reward_kind, program.reward_amount, program.reward_currency) == (
        RewardKind.CREDIT,
        Decimal("7.50"),
        "EUR",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create_pool", "--program", "nope", "--fuel-tank", "T"], "No program with slug"),
        (["create_pool", "--program", "shop", "--fuel-tank", "Referral codes"], "already has"),
        (["create_pool", "--program", "shop", "--fuel-tank", "Bad\r\nname"], "control character"),
        (
            ["create_pool", "--program", "shop", "--fuel-tank", "T", "--notify", "x@"],
            "Not an e-mail",
        ),
        (["set_reward", "--program", "shop", "--fuel-tank", "Nope"], "has no fuel tank 'Nope'"),
        (["set_reward", "--program", "shop", "--percent", "120"], "0 to 100"),
        (["set_reward", "--program", "shop", "--percent", "lots"], "is not a number"),
        (["set_reward", "--program", "shop", "--credit", "5", "EURO"], "three-letter currency"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(program, args, message):
    from codes.services import pool_get_or_create_referral

    pool_get_or_create_referral(program=program)
    before = Program.objects.get(pk=program.pk).reward_kind
    with pytest.raises(CommandError, match=message):
        call_command(*args)
    assert Pool.objects.filter(program=program).count() == 1
    assert Program.objects.get(pk=program.pk).reward_kind == before


def test_a_tank_has_its_own_low_stock_alert(program, django_capture_on_commit_callbacks):
    call_command(
        "create_pool", "--program", "shop", "--fuel-tank", "Gifts",
        "--low-stock-threshold", "2", "--notify", "ops@example.com",
    )  # fmt: skip
    call_command("set_reward", "--program", "shop", "--fuel-tank", "Gifts")
    tank = Pool.objects.get(name="Gifts")
    tank_add(tank, 3)
    program.refresh_from_db()
    advocate = ParticipantFactory(program=program)
    with django_capture_on_commit_callbacks(execute=True):
        assert tank_code_claim(program=program, holder_id=advocate.pk) is not None
    alert = StockAlert.objects.get(pool=tank)
    assert alert.kind == AlertKind.LOW and alert.available == 2
    assert len(mail.outbox) == 1 and "Gifts" in mail.outbox[0].subject
    assert pool_stock_check(pool_id=tank.pk) == []  # one e-mail per crossing


def test_the_admin_adds_a_fuel_tank_and_makes_it_pay(program, admin_client):
    response = admin_client.post(
        reverse("admin:codes_pool_add"),
        {
            "program": program.pk,
            "kind": PoolKind.FUEL_TANK,
            "name": "Vouchers",
            "low_stock_threshold": "10",
            "low_stock_recipients": "a@example.com, b@example.com",
            "pays_rewards": "on",
        },
    )
    assert response.status_code == 302
    tank = Pool.objects.get(name="Vouchers")
    assert tank.pays_rewards and tank.recipient_list == ["a@example.com", "b@example.com"]
    refused = admin_client.post(
        reverse("admin:codes_pool_add"),
        {
            "program": program.pk,
            "kind": PoolKind.FUEL_TANK,
            "name": "X",
            "low_stock_recipients": "nope",
        },
    )
    assert "Not an e-mail address: nope" in refused.content.decode()
    page = admin_client.get(reverse("admin:programs_program_change", args=[program.pk]))
    assert "Vouchers" in page.content.decode() and "Pays the rewards" in page.content.decode()
