from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from codes.models import PromoCode
from codes.selectors import pool_stock
from codes.services import code_redeem
from programs.models import CodeUsage
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url
from tests.factories import BatchFactory, PoolFactory, PromoCodeFactory


@pytest.mark.django_db
def test_stock_lists_each_pool_with_counts_threshold_and_forecast():
    program = stocked_program(
        codes=20, code_usage=CodeUsage.SINGLE, codes_per_advocate=2, low_stock_threshold=5
    )
    _, code = advocate_with_code(program)  # 2 assigned
    code_redeem(code=code, order_id="O-1")  # 1 redeemed, 1 replacement: 3 taken in all
    tank = PoolFactory(program=program, kind="fuel_tank", name="Tank", low_stock_threshold=2)
    PromoCodeFactory(batch=BatchFactory(pool=tank), code="TANK1")

    response = client_for(program).get(url(program, "stock"))
    assert response.status_code == 200
    pools = {p["pool"]: p for p in response.json()["pools"]}
    referral = pools["Referral codes"]
    assert referral["kind"] == "referral"
    assert (referral["available"], referral["assigned"], referral["redeemed"]) == (17, 2, 1)
    assert referral["threshold"] == 5
    assert referral["used_last_7_days"] == 3
    assert Decimal(referral["per_day"]) == Decimal("0.43")
    assert Decimal(referral["days_left"]) == Decimal("39.7")  # 17 / (3 / 7)
    assert pools["Tank"]["available"] == 1 and pools["Tank"]["threshold"] == 2
    assert pools["Tank"]["days_left"] is None  # no recent use: no forecast


@pytest.mark.django_db
def test_codes_assigned_before_the_window_do_not_count_as_recent_use():
    program = stocked_program(codes=10)
    advocate_with_code(program)
    PromoCode.objects.exclude(assigned_at=None).update(
        assigned_at=timezone.now() - timedelta(days=8)
    )
    stock = pool_stock(pool=program.pools.get())
    assert stock.used_last_7_days == 0 and stock.days_left is None


@pytest.mark.django_db
def test_stock_of_another_program_is_forbidden():
    program, other = stocked_program(), stocked_program()
    assert client_for(program).get(url(other, "stock")).status_code == 403


@pytest.mark.django_db
def test_stock_counts_voided_codes_apart(capsys):
    from django.core.management import call_command

    from codes.services import codes_void

    program = stocked_program(codes=10, slug="voids", low_stock_threshold=1)
    advocate_with_code(program)  # 3 assigned (R00000-R00002)
    codes_void(program=program, codes=["R00005", "R00006"])
    referral = client_for(program).get(url(program, "stock")).json()["pools"][0]
    assert (referral["available"], referral["assigned"], referral["voided"]) == (5, 3, 2)
    call_command("check_code_stock", "--program", "voids")
    assert "5 available (threshold 1), 3 assigned, 0 redeemed, 2 voided" in capsys.readouterr().out


@pytest.mark.django_db
def test_counts_past_the_cap_stop_there_and_say_so(monkeypatch):
    """Counting a pool of ten million codes on each request would take seconds: each count
    stops at the stock page's cap, and `at_least` names those that reached it."""
    from codes import selectors

    program = stocked_program(codes=12, code_usage=CodeUsage.SINGLE, codes_per_advocate=3)
    advocate_with_code(program)  # 3 assigned, 9 available
    monkeypatch.setattr(selectors.stock, "STOCK_COUNT_CAP", 5)
    [pool] = client_for(program).get(url(program, "stock")).json()["pools"]
    assert (pool["available"], pool["assigned"], pool["redeemed"]) == (5, 3, 0)
    assert pool["at_least"] == ["available"]
    monkeypatch.setattr(selectors.stock, "STOCK_COUNT_CAP", 100)
    [pool] = client_for(program).get(url(program, "stock")).json()["pools"]
    assert (pool["available"], pool["at_least"]) == (9, [])


@pytest.mark.django_db
def test_stock_knows_expired_and_soon_expiring_codes(capsys):
    from django.core.management import call_command

    program = stocked_program(codes=10, slug="dated", low_stock_threshold=1)
    now = timezone.now()
    PromoCode.objects.filter(code__in=["R00000", "R00001"]).update(
        expires_at=now - timedelta(days=1)
    )
    PromoCode.objects.filter(code__in=["R00002", "R00003", "R00004"]).update(
        expires_at=now + timedelta(days=10)
    )
    PromoCode.objects.filter(code="R00005").update(expires_at=now + timedelta(days=20))
    referral = client_for(program).get(url(program, "stock")).json()["pools"][0]
    assert (referral["available"], referral["expired"], referral["expiring_soon"]) == (8, 2, 3)
    stock = pool_stock(pool=program.pools.get())
    assert (stock.available, stock.expired, stock.expiring_soon) == (8, 2, 3)
    call_command("check_code_stock", "--program", "dated")
    out = capsys.readouterr().out
    assert "8 available (threshold 1)" in out
    assert "expiry: 2 expired before they were handed out, 3 available expire within 14 days" in out
