import factory
from django.contrib.auth import get_user_model

from codes.models import Batch, BatchSource, BatchStatus, CodeShortfall, Pool, PoolKind, PromoCode
from participants.models import Participant
from programs.models import CodeUsage, Program


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"manager{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.django.Password("correct-horse-battery")


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    slug = factory.Sequence(lambda n: f"program-{n}")
    name = factory.LazyAttribute(lambda p: p.slug.replace("-", " ").title())
    promo_codes_enabled = True
    code_usage = CodeUsage.SINGLE
    codes_per_advocate = 3


class PoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pool

    program = factory.SubFactory(ProgramFactory)
    kind = PoolKind.REFERRAL
    name = factory.Sequence(lambda n: f"Pool {n}")


class BatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Batch

    pool = factory.SubFactory(PoolFactory)
    source = BatchSource.IMPORT
    usage = factory.LazyAttribute(lambda b: b.pool.program.code_usage)
    status = BatchStatus.COMPLETED


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    program = factory.SubFactory(ProgramFactory)
    participant_id = factory.Sequence(lambda n: f"participant-{n}")
    email = factory.LazyAttribute(lambda p: f"{p.participant_id}@example.com")
    is_advocate = True


class PromoCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PromoCode

    batch = factory.SubFactory(BatchFactory)
    pool = factory.LazyAttribute(lambda c: c.batch.pool)
    program = factory.LazyAttribute(lambda c: c.pool.program)
    code = factory.Sequence(lambda n: f"CODE{n:06d}")
    usage = factory.LazyAttribute(lambda c: c.batch.usage)


def stock_pool(program, count, prefix="C", digits=5):
    """The program's referral pool with one batch of `count` codes PREFIX00000, PREFIX00001, …"""
    from codes.services import pool_get_or_create_referral

    pool = pool_get_or_create_referral(program=program)
    batch = BatchFactory(pool=pool)
    PromoCode.objects.bulk_create(
        PromoCode(
            program=program,
            pool=pool,
            batch=batch,
            code=f"{prefix}{i:0{digits}d}",
            usage=batch.usage,
        )
        for i in range(count)
    )
    return pool


def short_since(participant):
    """When the advocate joined the codes app's queue of the short (None: not short)."""
    entry = CodeShortfall.objects.filter(holder_id=participant.pk).first()
    return entry.since if entry else None


def queue_short(participant, since):
    """Put an advocate in the queue of the short, as if they fell short at `since`."""
    CodeShortfall.objects.create(holder=participant, program_id=participant.program_id, since=since)


def fuel_tank(program, count, prefix="TANK", name="Thank-you codes", review_days=0, start=0):
    """A fuel tank of `count` codes PREFIX00000, … that pays the program's rewards."""
    from codes.services import pool_create_fuel_tank, program_reward_rule_set
    from programs.models import RewardKind

    tank = Pool.objects.filter(program=program, name=name).first()
    if tank is None:
        tank = pool_create_fuel_tank(program=program, name=name)
        program_reward_rule_set(
            program=program, kind=RewardKind.FUEL_TANK, tank=tank, review_days=review_days
        )
        program.refresh_from_db()
    tank_add(tank, count, prefix=prefix, start=start)
    tank.refresh_from_db()
    return tank


def tank_add(tank, count, prefix="TANK", start=0):
    """One more batch of `count` codes in a fuel tank (no on-commit work: call
    pool_batch_landed to set off what a landed batch does)."""
    batch = BatchFactory(pool=tank)
    PromoCode.objects.bulk_create(
        PromoCode(
            program_id=tank.program_id,
            pool=tank,
            batch=batch,
            code=f"{prefix}{start + i:05d}",
            usage=batch.usage,
        )
        for i in range(count)
    )
    return batch
