import threading

import pytest
from django.db import connection

from codes.models import CodeStatus, PromoCode
from codes.services import CodeNotRedeemable, code_redeem, codes_top_up
from participants.services import participant_upsert
from programs.models import CodeUsage
from tests.factories import (
    BatchFactory,
    ParticipantFactory,
    ProgramFactory,
    PromoCodeFactory,
    short_since,
    stock_pool,
)


def stocked_program(codes=10, **program_fields):
    program = ProgramFactory(**program_fields)
    stock_pool(program, codes)
    return program


def held_codes(participant):
    return list(
        PromoCode.objects.filter(holder=participant, status=CodeStatus.ASSIGNED)
        .order_by("assigned_at", "id")
        .values_list("code", flat=True)
    )


@pytest.mark.django_db
def test_upsert_assigns_the_quota_in_file_order_and_again_is_a_no_op():
    program = stocked_program(codes=10, code_usage=CodeUsage.SINGLE, codes_per_advocate=3)
    advocate, created = participant_upsert(program=program, participant_id="a1")
    assert created
    assert held_codes(advocate) == ["C00000", "C00001", "C00002"]
    participant_upsert(program=program, participant_id="a1", email="a1@example.com")
    assert codes_top_up(holder=advocate) == 0
    assert held_codes(advocate) == ["C00000", "C00001", "C00002"]


@pytest.mark.django_db
def test_multi_use_gives_one_code():
    program = stocked_program(codes=5, code_usage=CodeUsage.MULTI, codes_per_advocate=1)
    advocate, _ = participant_upsert(program=program, participant_id="a1")
    assert len(held_codes(advocate)) == 1


@pytest.mark.django_db
def test_empty_pool_marks_the_advocate_short_and_a_new_batch_fills_them():
    program = stocked_program(codes=2, code_usage=CodeUsage.SINGLE, codes_per_advocate=3)
    advocate, _ = participant_upsert(program=program, participant_id="a1")
    advocate.refresh_from_db()
    assert len(held_codes(advocate)) == 2 and short_since(advocate) is not None
    PromoCodeFactory(batch=BatchFactory(pool=program.pools.get()), code="LATE")
    assert codes_top_up(holder=advocate) == 1
    advocate.refresh_from_db()
    assert short_since(advocate) is None


@pytest.mark.django_db
def test_redeeming_a_single_use_code_replaces_it_and_cannot_happen_twice():
    program = stocked_program(codes=10, code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    advocate, _ = participant_upsert(program=program, participant_id="a1")
    first = PromoCode.objects.get(code="C00000")
    code_redeem(code=first, order_id="O-1")
    assert held_codes(advocate) == ["C00001", "C00002"]
    with pytest.raises(CodeNotRedeemable, match="already redeemed"):
        code_redeem(code=first, order_id="O-2")
    with pytest.raises(CodeNotRedeemable, match="held by no advocate"):
        code_redeem(code=PromoCode.objects.get(code="C00009"), order_id="O-3")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_32_threads_never_hand_one_code_to_two_advocates():
    program = stocked_program(codes=300, code_usage=CodeUsage.SINGLE, codes_per_advocate=3)
    advocates = [ParticipantFactory(program=program) for _ in range(128)]
    errors, claimed = [], []

    def work(chunk):
        try:
            for advocate in chunk:
                claimed.append(codes_top_up(holder=advocate))
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(advocates[i::32],)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    held = PromoCode.objects.filter(status=CodeStatus.ASSIGNED)
    # Every claim a thread was told it made is a distinct row: none was overwritten by another
    # thread's claim (which is what handing one code to two advocates would look like).
    assert sum(claimed) == held.count() == 300
    assert max(len(held_codes(a)) for a in advocates) == 3


@pytest.mark.django_db
def test_a_code_left_behind_the_last_claim_is_still_handed_out():
    # The claim starts past the last code this process claimed; a code left available before
    # that point (one another claimer skipped and then let go) is taken when nothing is past it.
    from codes.services import assignment

    program = stocked_program(codes=3, code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    last = PromoCode.objects.filter(program=program).order_by("id").last()
    assignment._claim_hints[program.pk] = (last.batch_id, last.pk)
    try:
        advocate, _ = participant_upsert(program=program, participant_id="a1")
        assert held_codes(advocate) == ["C00000", "C00001"]
        friend_of_nobody, _ = participant_upsert(program=program, participant_id="a2")
        assert held_codes(friend_of_nobody) == ["C00002"]
    finally:
        assignment._claim_hints.pop(program.pk, None)
