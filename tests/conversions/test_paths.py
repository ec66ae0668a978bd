"""The two paths that record an order (PostgreSQL: the database function conversions_attribute;
everywhere: the Python path) give the same outcome, reason, answer and writes for every way an
order can go, and the database path really is one call; attributed orders of one program do
not wait on each other's locks."""

import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from codes.models import CodeStatus, PoolKind, PromoCode
from conversions.models import Conversion
from conversions.services import conversion_record
from participants.models import Participant, Referral, ReferralStatus, Reward
from participants.services import participant_upsert
from programs.models import CodeUsage, RewardKind
from tests.api_helpers import advocate_with_code, stocked_program
from tests.factories import BatchFactory, PoolFactory, PromoCodeFactory


def _order(order_id="O-1", code="", customer_id="friend-1", email="f@example.com"):
    return {
        "order_id": order_id,
        "promo_code": code,
        "customer_id": customer_id,
        "customer_email": email,
        "order_subtotal": "20.00",
        "currency_code": "EUR",
    }


def _setup(case):
    """A program and the order(s) of `case`: returns (program, [payload, …]); the last
    payload's outcome is the one compared."""
    usage = CodeUsage.MULTI if case == "multi-use, percent, review period" else CodeUsage.SINGLE
    fields = {"reward_kind": RewardKind.CREDIT, "reward_amount": Decimal("15.00")}
    if usage == CodeUsage.MULTI:
        fields = {"reward_kind": RewardKind.PERCENT, "reward_percent": Decimal("12.50")}
        fields["reward_review_days"] = 14
    program = stocked_program(code_usage=usage, codes_per_advocate=2, **fields)
    advocate, code = advocate_with_code(program, email="Adv@Example.com")
    other, other_code = advocate_with_code(program, participant_id="adv-2", email="b@example.com")
    held = code.code.lower()
    if case == "no code":
        return program, [_order()]
    if case == "not a code":
        return program, [_order(code="not a code!")]
    if case == "unknown code":
        return program, [_order(code="NOSUCHCODE")]
    if case == "fuel-tank code":
        tank = PoolFactory(program=program, kind=PoolKind.FUEL_TANK, name="Tank")
        tank_code = PromoCodeFactory(batch=BatchFactory(pool=tank), code="TANKCODE1")
        return program, [_order(code=tank_code.code)]
    if case == "voided":
        PromoCode.objects.filter(pk=code.pk).update(
            status=CodeStatus.VOIDED, voided_at=timezone.now() - timedelta(days=3)
        )
        return program, [_order(code=held)]
    if case in ("expired", "not valid yet"):
        change = {"expires_at": timezone.now() - timedelta(days=2)}
        if case == "not valid yet":
            change = {"valid_from": timezone.now() + timedelta(days=2)}
        PromoCode.objects.filter(pk=code.pk).update(**change)
        return program, [_order(code=held)]
    if case == "held by nobody":
        spare = PromoCode.objects.filter(program=program, status=CodeStatus.AVAILABLE).first()
        return program, [_order(code=spare.code)]
    if case == "already redeemed":
        return program, [_order("O-0", held, "friend-0", ""), _order(code=held)]
    if case in ("blocked advocate", "erased advocate"):
        change = {"is_blocked": True} if case == "blocked advocate" else {}
        if case == "erased advocate":
            change = {"erased_at": timezone.now()}
        Participant.objects.filter(pk=advocate.pk).update(**change)
        return program, [_order(code=held)]
    if case == "self-referral by id":
        return program, [_order(code=held, customer_id=advocate.participant_id)]
    if case == "self-referral by e-mail":
        return program, [_order(code=held, email="adv@example.com")]
    if case == "self-referral: the advocate found by e-mail":
        return program, [_order(code=held, customer_id="", email="b@example.com")]
    if case == "friend found by e-mail":
        Participant.objects.create(program=program, participant_id="known", email="K@example.com")
        return program, [_order(code=held, customer_id="", email="k@example.com")]
    if case == "no customer id, no e-mail":
        return program, [_order(code=held, customer_id="", email="")]
    if case == "repeat order, another advocate's code":
        return program, [_order("O-0", other_code.code), _order(code=held)]
    if case == "pending referral to another advocate":
        friend = Participant.objects.create(program=program, participant_id="friend-1")
        Referral.objects.create(program=program, advocate=other, friend=friend)
        return program, [_order(code=held)]
    return program, [_order(code=held)]  # "attributed", "multi-use, percent, review period"


CASES = [
    "no code",
    "not a code",
    "unknown code",
    "fuel-tank code",
    "voided",
    "expired",
    "not valid yet",
    "held by nobody",
    "already redeemed",
    "blocked advocate",
    "erased advocate",
    "self-referral by id",
    "self-referral by e-mail",
    "self-referral: the advocate found by e-mail",
    "friend found by e-mail",
    "no customer id, no e-mail",
    "repeat order, another advocate's code",
    "pending referral to another advocate",
    "attributed",
    "multi-use, percent, review period",
]


def _recorded(case, settings, *, database):
    settings.CONVERSIONS_FAST_PATH = database
    program, payloads = _setup(case)
    with CaptureQueriesContext(connection) as queries:
        for payload in payloads:
            conversion, created = conversion_record(program=program, payload=payload)
    assert created
    conversion = Conversion.objects.get(pk=conversion.pk)
    code = conversion.code
    referral = conversion.referral
    reward = conversion.reward
    answer = dict(conversion.response)
    answer["referral_id"] = answer["referral_id"] is not None
    if answer["reward"]:
        answer["reward"] = {k: v for k, v in answer["reward"].items() if k != "id"}
        answer["reward"]["available_at"] = bool(answer["reward"]["available_at"])
    advocate = Participant.objects.filter(participant_id="adv-1", program=program).get()
    return {
        "status": conversion.status,
        "reason": conversion.reason,
        "reason_code": conversion.reason_code,
        "answer": answer,
        "code": code and (code.code, code.status, code.redemption_count, code.redeemed_order_id),
        "advocate": conversion.advocate and conversion.advocate.participant_id,
        "friend": conversion.friend and (conversion.friend.participant_id, conversion.friend.email),
        "referral": referral
        and (referral.status, referral.advocate.participant_id, referral.order_id),
        "reward": reward and (reward.kind, reward.status, reward.amount, reward.percent),
        "advocate holds": PromoCode.objects.held_by(advocate).count(),
        "participants": Participant.objects.filter(program=program).count(),
        "rewards": Reward.objects.filter(program=program).count(),
        "function called": any("conversions_attribute" in q["sql"] for q in queries),
    }


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.both_conversion_paths
@pytest.mark.parametrize("case", CASES)
def test_both_paths_record_every_kind_of_order_alike(case, settings):
    in_database = _recorded(case, settings, database=True)
    in_python = _recorded(case, settings, database=False)
    assert in_database.pop("function called") is True
    assert in_python.pop("function called") is False
    assert in_database == in_python


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.both_conversion_paths
def test_a_fuel_tank_program_and_a_hashed_email_are_recorded_by_the_python_path(settings):
    from tests.factories import fuel_tank

    settings.CONVERSIONS_FAST_PATH = True
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    fuel_tank(program, 3)
    _, code = advocate_with_code(program)
    conversion, _ = conversion_record(program=program, payload=_order(code=code.code))
    assert conversion.status == "attributed" and conversion.reward.code is not None
    hashed = "a" * 40
    other = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    _, code = advocate_with_code(other)
    with CaptureQueriesContext(connection) as queries:
        conversion_record(program=other, payload=_order(code=code.code, email=hashed))
    assert not any("conversions_attribute" in q["sql"] for q in queries)
    assert Conversion.objects.get(program=other).customer_email == hashed


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.both_conversion_paths
def test_an_attributed_order_costs_a_handful_of_statements_on_the_database_path(settings):
    """The database path: the function, the outcome's UPDATE and the replacement top-up."""
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    _, code = advocate_with_code(program)
    settings.CONVERSIONS_FAST_PATH = True
    with CaptureQueriesContext(connection) as queries:
        conversion_record(program=program, payload=_order(code=code.code))
    statements = [q["sql"] for q in queries]
    # Beside the codes app's top-up (the replacement code): the function and one UPDATE of the
    # outcome's columns, nothing before, no savepoint of its own, no re-read of a locked row.
    codes_app = r'SAVEPOINT|pg_advisory|codes_top_up|(FROM|UPDATE|INTO) "codes_'
    own = [s for s in statements if not re.search(codes_app, s)]
    # No webhook endpoint: the function said nobody listens, so the events read nothing.
    assert not any("webhooks_endpoint" in s for s in statements), statements
    assert len(own) == 2, statements
    assert own[0].startswith("SELECT * FROM conversions_attribute(")
    assert own[1].startswith('UPDATE "conversions_conversion" SET "status" =')
    assert '"order_id" =' not in own[1] and '"payload_digest" =' not in own[1]
    assert sum(s.startswith("SAVEPOINT") for s in statements) <= 2  # the test's and the top-up's


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_attributed_orders_of_one_program_do_not_wait_on_each_other(conversion_path):
    """An order's transaction holds its code, its friend and the advocate's replacement: not
    the program row (a lock on it would make every order of the program wait for this one)."""
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=1)
    _, first_code = advocate_with_code(program)
    _, second_code = advocate_with_code(program, participant_id="adv-2", email="b@example.com")
    participant_upsert(program=program, participant_id="friend-2")  # a known friend: locked
    second_done = threading.Event()
    errors = []

    def program_row_probe(program_id):
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(
                    "SELECT id FROM programs_program WHERE id = %s FOR NO KEY UPDATE NOWAIT",
                    [program_id],
                )
                cursor.execute("ROLLBACK")
        except Exception as error:  # surfaced below: "could not obtain lock"
            errors.append(error)
        finally:
            connections["default"].close()

    def second_order():
        try:
            conversion, _ = conversion_record(
                program=program, payload=_order("O-2", second_code.code, "friend-2", "")
            )
            assert conversion.status == "attributed"
            second_done.set()
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connections["default"].close()

    from django.db import transaction

    with transaction.atomic():
        first, _ = conversion_record(program=program, payload=_order(code=first_code.code))
        assert first.status == "attributed"
        # Another connection can take the program row's strongest lock short of a key change.
        probe = threading.Thread(target=program_row_probe, args=(program.pk,))
        probe.start()
        probe.join(timeout=30)
        # While the first order's transaction is open, a second order of the program completes.
        thread = threading.Thread(target=second_order)
        thread.start()
        finished = second_done.wait(timeout=20)
    thread.join(timeout=30)
    assert errors == []
    assert finished, "the second order waited for the first order's transaction"
    assert Conversion.objects.filter(program=program, status="attributed").count() == 2
    assert Referral.objects.filter(status=ReferralStatus.CONVERTED).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_installed_attribution_function_is_the_one_generated_from_the_rules():
    """The database runs the text conversions.sql generates today (installed after migrate),
    and no migration carries a copy of it."""
    from pathlib import Path

    import conversions
    from conversions.sql import ATTRIBUTE_FUNCTION, attribute_function_sql

    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [ATTRIBUTE_FUNCTION])
        (installed,) = cursor.fetchone()
    generated = attribute_function_sql()
    assert installed.strip() in generated
    assert "'code_voided'" in installed and "'advocate_blocked'" in installed
    migrations = Path(conversions.__file__).parent / "migrations"
    for migration in migrations.glob("*.py"):
        assert "FOR UPDATE OF c" not in migration.read_text(), migration.name
