"""Blocking an advocate (docs/architecture.md, Voiding and blocking): with confirmation, offering
to void
the codes they hold; a blocked advocate's orders do not attribute and they get no codes."""

import pytest
from django.urls import reverse

from codes.models import CodeShortfall, CodeStatus, PromoCode
from codes.services import codes_top_up_short
from participants.models import Participant
from participants.services import participant_block, participant_unblock, participant_upsert
from programs.models import CodeUsage
from tests.api_helpers import client_for, url
from tests.factories import ProgramFactory, stock_pool

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    program = ProgramFactory(slug="shop", code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    stock_pool(program, 5)
    return program


def held(participant):
    return sorted(PromoCode.objects.held_by(participant).values_list("code", flat=True))


def test_blocking_stops_attribution_and_can_void_the_held_codes(program):
    alice, _ = participant_upsert(program=program, participant_id="alice")
    result = participant_block(participant=alice, void_codes=True, reason="fraud")
    assert result.newly_blocked and result.voided.voided == 2
    assert held(alice) == []  # voided, and no replacement for a blocked advocate
    voided = PromoCode.objects.get(code="C00000")
    assert voided.status == CodeStatus.VOIDED and voided.void_reason == "fraud"
    response = client_for(program).post(
        url(program, "conversions"), {"OrderId": "O-1", "OrderPromoCode": "C00000"}
    )
    assert response.json()["status"] == "rejected"
    assert participant_upsert(program=program, participant_id="alice")[0].is_blocked
    assert held(alice) == []


def test_a_blocked_advocate_keeps_unvoided_codes_that_no_longer_attribute(program):
    alice, _ = participant_upsert(program=program, participant_id="alice")
    participant_block(participant=alice)
    assert held(alice) == ["C00000", "C00001"]
    response = client_for(program).post(
        url(program, "conversions"), {"OrderId": "O-1", "OrderPromoCode": "C00001"}
    )
    assert response.json()["status"] == "rejected"
    assert response.json()["reason"] == "The advocate is blocked."


def test_a_blocked_advocate_leaves_the_queue_and_unblocking_tops_them_up(program):
    advocates = [participant_upsert(program=program, participant_id=f"a{i}")[0] for i in range(3)]
    assert [len(held(a)) for a in advocates] == [2, 2, 1]
    assert CodeShortfall.objects.filter(holder=advocates[2]).exists()
    participant_block(participant=advocates[2])
    assert not CodeShortfall.objects.filter(holder=advocates[2]).exists()
    stock_pool(program, 3, prefix="N")
    assert codes_top_up_short(program=program).codes_assigned == 0  # nobody else is short
    assert participant_unblock(participant=advocates[2]) == 1
    assert len(held(advocates[2])) == 2


def test_the_admin_asks_then_blocks_and_voids(program, admin_client):
    alice, _ = participant_upsert(program=program, participant_id="alice")
    changelist = reverse("admin:participants_participant_changelist")
    page = admin_client.post(
        changelist, {"action": "block_advocates", "_selected_action": [alice.pk]}
    )
    text = page.content.decode()
    assert "They hold 2 referral codes now." in text
    assert "Also void the referral codes they hold" in text
    assert not Participant.objects.get(pk=alice.pk).is_blocked
    done = admin_client.post(
        changelist,
        {
            "action": "block_advocates",
            "_selected_action": [alice.pk],
            "_confirmed": "yes",
            "void_codes": "on",
        },
        follow=True,
    )
    assert "Blocked 1 advocate:" in done.content.decode()
    assert "Voided 2 codes they held." in done.content.decode()
    assert Participant.objects.get(pk=alice.pk).is_blocked
    assert PromoCode.objects.voided().count() == 2
    admin_client.post(changelist, {"action": "unblock_advocates", "_selected_action": [alice.pk]})
    assert not Participant.objects.get(pk=alice.pk).is_blocked
    assert len(held(alice)) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("void_codes", [True, False])
def test_blocking_while_orders_of_the_advocate_arrive_never_deadlocks(void_codes):
    """Orders lock a code, then the holder; the block must take its locks in the same order."""
    import threading

    from django.db import connection

    from conversions.services import conversion_record

    program = ProgramFactory(slug="race", code_usage=CodeUsage.SINGLE, codes_per_advocate=3)
    stock_pool(program, 40)
    alice, _ = participant_upsert(program=program, participant_id="alice")
    codes = list(PromoCode.objects.held_by(alice).values_list("code", flat=True))
    barrier = threading.Barrier(len(codes) + 1)
    errors = []

    def order(i):
        try:
            barrier.wait(timeout=30)
            conversion_record(
                program=program,
                payload={"order_id": f"O-{i}", "promo_code": codes[i], "customer_id": f"f{i}"},
            )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    def block():
        try:
            barrier.wait(timeout=30)
            participant_block(participant=alice, void_codes=void_codes)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=order, args=(i,)) for i in range(len(codes))]
    threads.append(threading.Thread(target=block))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Participant.objects.get(pk=alice.pk).is_blocked
