"""Constraints the database itself holds, on SQLite and PostgreSQL alike."""

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from codes.models import CodeStatus, Pool, PoolKind, PromoCode
from tests.factories import BatchFactory, ParticipantFactory, ProgramFactory, PromoCodeFactory

pytestmark = pytest.mark.django_db


def refused(make):
    # PostgreSQL refuses an over-long value with DataError, SQLite via the check constraint.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        make()


def test_a_code_is_unique_per_program_but_not_across_programs():
    code = PromoCodeFactory(code="SPRING-25")
    refused(lambda: PromoCodeFactory(batch=code.batch, code="SPRING-25"))
    other_program_batch = BatchFactory()
    assert PromoCodeFactory(batch=other_program_batch, code="SPRING-25").pk


def test_unique_across_all_pools_of_a_program():
    code = PromoCodeFactory(code="SHARED")
    tank = Pool.objects.create(program=code.program, kind=PoolKind.FUEL_TANK, name="Tank")
    tank_batch = BatchFactory(pool=tank)
    refused(lambda: PromoCodeFactory(batch=tank_batch, code="SHARED"))


@pytest.mark.parametrize("text", ["lower", "WITH SPACE", "Ü-UMLAUT", "A" * 65, "", "A.B"])
def test_only_the_canonical_form_is_stored(text):
    batch = BatchFactory()
    refused(lambda: PromoCodeFactory(batch=batch, code=text))


def test_an_available_code_cannot_have_a_holder_and_a_held_one_must():
    batch = BatchFactory()
    advocate = ParticipantFactory(program=batch.pool.program)
    refused(lambda: PromoCodeFactory(batch=batch, status=CodeStatus.AVAILABLE, holder=advocate))
    refused(lambda: PromoCodeFactory(batch=batch, status=CodeStatus.ASSIGNED, holder=None))
    held = PromoCodeFactory(
        batch=batch, status=CodeStatus.ASSIGNED, holder=advocate, assigned_at=timezone.now()
    )
    assert held.holder == advocate


def test_a_multi_use_code_is_never_redeemed():
    batch = BatchFactory(usage="multi")
    advocate = ParticipantFactory(program=batch.pool.program)
    refused(lambda: PromoCodeFactory(batch=batch, status=CodeStatus.REDEEMED, holder=advocate))


def test_one_referral_pool_per_program_any_number_of_fuel_tanks():
    program = ProgramFactory()
    Pool.objects.create(program=program, kind=PoolKind.REFERRAL, name="Referral")
    refused(lambda: Pool.objects.create(program=program, kind=PoolKind.REFERRAL, name="Second"))
    Pool.objects.create(program=program, kind=PoolKind.FUEL_TANK, name="Tank A")
    Pool.objects.create(program=program, kind=PoolKind.FUEL_TANK, name="Tank B")
    assert program.pools.count() == 3


@pytest.mark.postgres
def test_the_next_available_code_query_uses_the_partial_index():
    batch = BatchFactory()
    PromoCode.objects.bulk_create(
        PromoCode(
            program=batch.pool.program, pool=batch.pool, batch=batch, code=f"C{i}", usage="single"
        )
        for i in range(2000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE codes_promocode")
        cursor.execute("SET enable_seqscan = off")
        # The claim query of codes.services._claim_codes: pool, status and the program's usage.
        query = PromoCode.objects.filter(
            pool=batch.pool, status=CodeStatus.AVAILABLE, usage="single"
        ).order_by("batch_id", "id")[:1]
        plan = query.explain()
        cursor.execute("RESET enable_seqscan")
    assert "promocode_next_available" in plan


@pytest.mark.parametrize("text", ["lower", "", "A B", "A.B", "Ü"])
def test_the_canonical_form_check_itself_refuses_a_bad_code(text):
    # Past the ORM, straight into the table: the database's own rule refuses the code, by name.
    batch = BatchFactory()
    with (
        pytest.raises(IntegrityError, match="promocode_canonical_form"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO codes_promocode (program_id, pool_id, batch_id, code, usage, source,"
            " status, redemption_count, redeemed_order_id, void_reason)"
            " VALUES (%s, %s, %s, %s, 'single', 'pool', 'available', 0, '', '')",
            [batch.pool.program_id, batch.pool_id, batch.pk, text],
        )


def test_the_canonical_form_check_takes_a_code_of_64_characters():
    batch = BatchFactory()
    assert PromoCodeFactory(batch=batch, code="A" * 64).pk
