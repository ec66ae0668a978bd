"""The stock page of a program, the dashboard on the admin index, and their links."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from codes import selectors
from codes.models import AlertKind, CodeSource, CodeStatus, PromoCode, StockAlert
from tests.factories import (
    ParticipantFactory,
    ProgramFactory,
    UserFactory,
    fuel_tank,
    queue_short,
    stock_pool,
)

pytestmark = pytest.mark.django_db

MANAGER_PERMISSIONS = [
    "view_program",
    "change_program",
    "view_pool",
    "view_batch",
    "add_batch",
    "view_promocode",
    "view_stockalert",
]


def manager_of(*programs, permissions=MANAGER_PERMISSIONS):
    user = UserFactory()
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    for program in programs:
        program.managers.add(user)
    return user


def hand_out(pool, count, holder, *, days_ago=0, status=CodeStatus.ASSIGNED):
    """Mark `count` available codes of the pool as handed to `holder` `days_ago` days ago."""
    ids = list(
        PromoCode.objects.filter(pool=pool, status=CodeStatus.AVAILABLE)
        .order_by("id")
        .values_list("id", flat=True)[:count]
    )
    PromoCode.objects.filter(id__in=ids).update(
        status=status, holder=holder, assigned_at=timezone.now() - timedelta(days=days_ago)
    )


def stock_url(program):
    return reverse("admin:codes_program_stock", args=[program.pk])


@pytest.fixture
def shop():
    program = ProgramFactory(name="Shoe Shop", slug="shoes", low_stock_threshold=5)
    pool = stock_pool(program, 40)
    alice = ParticipantFactory(program=program, participant_id="alice")
    hand_out(pool, 7, alice, days_ago=1)  # 7 in the last 7 days: one a day
    hand_out(pool, 3, alice, days_ago=20)
    hand_out(pool, 2, alice, days_ago=2, status=CodeStatus.REDEEMED)
    voided = PromoCode.objects.filter(pool=pool, status=CodeStatus.AVAILABLE).order_by("-id")[:1]
    PromoCode.objects.filter(id__in=voided.values("id")).update(
        status=CodeStatus.VOIDED, voided_at=timezone.now()
    )
    tank = fuel_tank(program, 0, name="Thank-you codes")  # an empty tank
    for _ in range(3):
        queue_short(ParticipantFactory(program=program), timezone.now())
    StockAlert.objects.create(pool=tank, kind=AlertKind.EMPTY, available=0, threshold=0)
    return program


def test_the_stock_page_shows_each_pool_with_its_counts_forecast_and_upload_button(client, shop):
    client.force_login(manager_of(shop))
    response = client.get(stock_url(shop))
    assert response.status_code == 200
    page = response.context["page"]
    referral, tank = page.pools
    # 40 codes: 10 assigned, 2 redeemed, 1 voided, 27 available.
    assert (referral.available, referral.assigned, referral.redeemed, referral.voided) == (
        27,
        10,
        2,
        1,
    )
    assert referral.used_last_7_days == 9  # 7 yesterday + 2 (redeemed since) two days ago
    assert referral.days_left == selectors.forecast_days_left(available=27, used=9)
    assert tank.available == 0 and tank.days_left is None
    html = response.content.decode()
    assert "Referral codes" in html and "Thank-you codes" in html
    assert f"{reverse('admin:codes_batch_upload')}?pool={referral.pool.pk}" in html
    assert f"{reverse('admin:codes_batch_upload')}?pool={tank.pool.pk}" in html
    assert "<strong>about 3 weeks</strong>" in html  # 27 left at 9 a week
    assert "Empty." in html  # the tank: no forecast, no "0.0 days"
    assert "0.0 days" not in html
    assert "3</strong> advocates hold fewer codes" in html
    assert "Out of stock" in html  # the tank's alert, among the recent ones
    assert response.context["batches_table"]["rows"]  # the recent batches


def test_the_chart_has_one_line_per_pool_with_use_per_day_over_30_days(client, shop):
    client.force_login(manager_of(shop))
    chart = json.loads(client.get(stock_url(shop)).context["chart_data"])
    assert len(chart["labels"]) == 30
    referral, tank = chart["datasets"]
    assert (referral["label"], tank["label"]) == ("Referral codes", "Thank-you codes")
    assert referral["data"][-2] == 7 and referral["data"][-3] == 2 and referral["data"][-21] == 3
    assert sum(referral["data"]) == 12 and sum(tank["data"]) == 0


def test_manual_codes_are_not_use_of_the_stock(shop):
    pool = shop.pools.get(kind="referral")
    PromoCode.objects.filter(pool=pool, status=CodeStatus.ASSIGNED).update(source=CodeSource.MANUAL)
    _, per_pool = selectors.pools_use_per_day(pools=[pool])
    assert sum(per_pool[pool.pk]) == 2  # only the redeemed ones stay "from the pool"


def test_counts_stop_at_the_cap_and_say_so(client, shop, monkeypatch):
    monkeypatch.setattr(selectors.stock, "STOCK_COUNT_CAP", 5)
    monkeypatch.setattr(selectors.pool_available_capped, "__kwdefaults__", {"cap": 5})
    page = selectors.program_stock_page(program=shop)
    referral = page.pools[0]
    assert referral.available.shown == "5+" and referral.available.at_least
    assert referral.redeemed.shown == "2" and not referral.redeemed.at_least
    assert not referral.is_low  # "at least 5" is not known to be low


def test_a_manager_gets_404_for_another_program(client, shop):
    other = ProgramFactory(name="Hats")
    stock_pool(other, 3, prefix="H")
    client.force_login(manager_of(shop))
    assert client.get(stock_url(other)).status_code == 404
    assert client.get(stock_url(shop)).status_code == 200


def test_the_stock_page_needs_the_view_permission(client, shop):
    client.force_login(manager_of(shop, permissions=["view_program"]))
    assert client.get(stock_url(shop)).status_code == 403


def test_the_admin_index_shows_a_card_per_managed_program(client, shop):
    other = ProgramFactory(name="Hats")
    stock_pool(other, 3, prefix="H")
    off = ProgramFactory(name="Gloves", promo_codes_enabled=False)
    client.force_login(manager_of(shop, off))
    response = client.get(reverse("admin:index"))
    html = response.content.decode()
    assert 'id="stock-dashboard"' in html
    assert stock_url(shop) in html and stock_url(other) not in html and "Hats" not in html
    rows = {item["row"].program.name: item["row"] for item in response.context["stock_dashboard"]}
    assert rows["Shoe Shop"].available == 27 and rows["Shoe Shop"].short_advocates == 3
    assert rows["Gloves"].available is None
    assert "Referral promo codes are off" in html


def test_the_program_page_links_to_its_stock_page_and_upload(client, shop):
    client.force_login(manager_of(shop))
    change = reverse("admin:programs_program_change", args=[shop.pk])
    html = client.get(change).content.decode()
    assert stock_url(shop) in html
    assert reverse("admin:programs_program_upload_codes", args=[shop.pk]) in html
    referral = shop.pools.get(kind="referral")
    # unfold's detail actions: the buttons lead to the stock page and the preselected upload.
    stock = client.get(reverse("admin:programs_program_stock_page", args=[shop.pk]))
    assert stock.status_code == 302 and stock["Location"] == stock_url(shop)
    upload = client.get(reverse("admin:programs_program_upload_codes", args=[shop.pk]))
    assert upload["Location"] == f"{reverse('admin:codes_batch_upload')}?pool={referral.pk}"
    form = client.get(upload["Location"]).context["form"]
    assert str(form["pool"].value()) == str(referral.pk)


def test_the_dashboard_counts_past_the_threshold_only(shop, monkeypatch):
    monkeypatch.setattr(selectors.stock_page, "DASHBOARD_COUNT_CAP", 4)
    [row] = selectors.programs_dashboard(programs=type(shop).objects.filter(pk=shop.pk))
    # Threshold 5: counting to 6 tells "not low" without counting all 27.
    assert row.available.shown == "6+" and not row.is_low


def test_no_upload_buttons_without_the_upload_permission(client, shop):
    viewer = [p for p in MANAGER_PERMISSIONS if p != "add_batch"]
    client.force_login(manager_of(shop, permissions=viewer))
    html = client.get(stock_url(shop)).content.decode()
    assert reverse("admin:codes_batch_upload") not in html
    assert "Referral codes" in html  # the page itself is there


def test_the_stock_page_says_how_many_available_codes_expire_in_14_days(client, shop):
    now = timezone.now()
    available = PromoCode.objects.filter(pool__program=shop, status=CodeStatus.AVAILABLE)
    ids = list(available.order_by("id").values_list("id", flat=True)[:4])
    PromoCode.objects.filter(id__in=ids[:3]).update(expires_at=now + timedelta(days=5))
    PromoCode.objects.filter(id=ids[3]).update(expires_at=now - timedelta(days=1))
    client.force_login(manager_of(shop))
    html = client.get(stock_url(shop)).content.decode()
    assert "3 available codes expire in the next 14 days." in html
    assert "1 code expired before it was handed out." in html
