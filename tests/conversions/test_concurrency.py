"""Concurrent conversions on real PostgreSQL: threads with their own connections."""

import base64
import json
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from codes.models import CodeStatus, PromoCode
from conversions.models import Conversion, ConversionStatus
from participants.models import Referral, Reward
from programs.models import CodeUsage
from programs.services import api_key_create
from tests.api_helpers import advocate_with_code, stocked_program, url


def run_in_threads(count, post):
    """Start `count` threads together; each posts once; return their (status, body)s."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def work(i):
        try:
            barrier.wait(timeout=30)
            response = post(i)
            results.append((response.status_code, response.json()))
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == count
    return results


def keyed_client(program):
    _, raw_key = api_key_create(program=program, name="concurrency")

    def client():
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        return c

    return client


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_50_concurrent_posts_of_one_order_make_one_reward_and_one_answer():
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    _, code = advocate_with_code(program)
    client = keyed_client(program)
    body = {"OrderId": "RACE-1", "OrderPromoCode": code.code, "CustomerId": "friend-1"}

    results = run_in_threads(50, lambda i: client().post(url(program, "conversions"), body))

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 49 + [201]
    first = next(body for status, body in results if status == 201)
    assert all(body == first for _, body in results)
    assert results[0][1]["status"] == "attributed"
    assert Conversion.objects.count() == 1
    assert Reward.objects.count() == 1 and Referral.objects.count() == 1
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED and code.redemption_count == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_20_orders_racing_for_one_single_use_code_attribute_exactly_once():
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=1)
    _, code = advocate_with_code(program)
    client = keyed_client(program)

    def post(i):
        body = {"OrderId": f"ORD-{i}", "OrderPromoCode": code.code, "CustomerId": f"f-{i}"}
        return client().post(url(program, "conversions"), body)

    results = run_in_threads(20, post)

    assert sorted(s for s, _ in results) == [201] * 20
    outcomes = sorted(body["status"] for _, body in results)
    assert outcomes == ["attributed"] + ["rejected"] * 19
    assert all("already redeemed" in b["reason"] for _, b in results if b["status"] == "rejected")
    assert Conversion.objects.filter(status=ConversionStatus.ATTRIBUTED).count() == 1
    assert Reward.objects.count() == 1
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED
    # The advocate got exactly one replacement.
    assert PromoCode.objects.filter(holder=code.holder, status=CodeStatus.ASSIGNED).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_order_raced_through_both_paths_is_one_conversion_with_its_lines_once():
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    _, code = advocate_with_code(program)
    _, raw_key = api_key_create(program=program, name="impact")
    basic = base64.b64encode(f"{program.slug}:{raw_key}".encode()).decode()
    body = json.dumps(
        {
            "OrderId": "RACE-2",
            "OrderPromoCode": code.code.lower(),
            "CustomerId": "friend-1",
            "ItemSku1": "A",
            "ItemQuantity1": 2,
            "ItemPrice1": 9.95,
            "ItemSku2": "B",
            "ItemSubTotal2": "5",
            "ClickId": "abc",
        }
    )

    def post(i):
        client = APIClient()
        if i % 2:
            client.credentials(HTTP_AUTHORIZATION=f"Basic {basic}")
            path = f"/Advertisers/{program.slug}/Conversions"
        else:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
            path = url(program, "conversions")
        return client.generic("POST", path, body, content_type="application/json")

    results = run_in_threads(20, post)

    assert sorted(status for status, _ in results) == [200] * 19 + [201]
    assert len({json.dumps(body, sort_keys=True) for _, body in results}) == 1
    conversion = Conversion.objects.get()
    assert conversion.status == ConversionStatus.ATTRIBUTED
    assert list(conversion.items.values_list("sku", flat=True)) == ["A", "B"]
    assert str(conversion.order_subtotal) == "24.90"
    assert Reward.objects.count() == 1
