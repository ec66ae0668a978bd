"""Small things every console page gets right: a manager sees who uploaded a batch or voided a
code as a name (the user pages are superusers' and would answer 403), a superuser as a link; an
empty new pool is not "out of codes"; a pool naming no recipients records its alerts as "no
recipients", never counted as unsent."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse

from codes.models import PromoCode, StockAlert
from codes.services import (
    codes_void,
    pool_create_fuel_tank,
    pool_get_or_create_referral,
    pool_stock_check,
)
from ops.business_metrics import alerts_by_pool
from tests.factories import BatchFactory, ProgramFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    program = ProgramFactory(slug="shop", low_stock_threshold=5)
    pool = pool_get_or_create_referral(program=program)
    uploader = UserFactory(username="uploader")
    batch = BatchFactory(pool=pool, created_by=uploader, file_name="spring.csv", codes_added=3)
    PromoCode.objects.bulk_create(
        PromoCode(program=program, pool=pool, batch=batch, code=f"S{i}", usage="single")
        for i in range(3)
    )
    codes_void(program=program, codes=["S0"], by=uploader)
    return program


def user_link(username):
    return f'class="text-link">{username}</a>'


def test_a_manager_sees_who_uploaded_and_voided_as_names_a_superuser_as_links(program, client):
    manager = UserFactory(username="pm")
    manager.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_batch", "view_promocode"])
    )
    program.managers.add(manager)
    batch = program.pools.get().batches.get()
    code = PromoCode.objects.get(code="S0")
    pages = [
        reverse("admin:codes_batch_change", args=[batch.pk]),
        reverse("admin:codes_promocode_change", args=[code.pk]),
    ]
    client.force_login(manager)
    for page in pages:
        text = client.get(page).text
        assert "uploader" in text, page
        assert user_link("uploader") not in text and "/admin/auth/user/" not in text, page
    client.force_login(UserFactory(username="root", is_superuser=True))
    for page in pages:
        assert user_link("uploader") in client.get(page).text, page


def test_a_new_empty_fuel_tank_sends_no_out_of_codes(program, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tank = pool_create_fuel_tank(
            program=program, name="Gifts", low_stock_threshold=10, recipients="a@x.com"
        )
        assert pool_stock_check(pool_id=tank.pk) == []
    assert not StockAlert.objects.filter(pool=tank).exists()
    assert mail.outbox == []


def test_alerts_of_a_pool_without_recipients_are_no_recipients_not_unsent(program, client):
    pool = program.pools.get()
    [alert] = pool_stock_check(pool_id=pool.pk)  # 2 left, threshold 5, nobody to e-mail
    assert alert.recipients == "" and alert.delivery == "no recipients"
    assert alerts_by_pool()[pool.pk]["unsent"] == 0
    client.force_login(UserFactory(username="root", is_superuser=True))
    stock = client.get(reverse("admin:codes_program_stock", args=[program.pk])).text
    assert "no recipients: add them in the settings" in stock
    assert "not sent" not in stock
