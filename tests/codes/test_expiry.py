"""Code expiry: an expired or not-yet-valid code is never handed out, counts toward no quota,
attributes no order; an advocate whose code expires gets a fresh one; batches carry their
validity from the commands."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from codes.models import Batch, CodeStatus, PromoCode
from codes.services import codes_expired_announce, codes_top_up
from codes.tasks import top_up_expired_holders
from programs.models import CodeUsage
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url
from tests.codes.test_concurrency import run_threads
from tests.factories import ParticipantFactory, ProgramFactory, stock_pool


def order(code, order_id="O-1"):
    return {"OrderId": order_id, "OrderPromoCode": code, "CustomerId": "friend-1"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "reason_code", "words"),
    [
        ({"expires_at": -1}, "code_expired", "expired on"),
        ({"valid_from": +1}, "code_not_yet_valid", "not valid yet until"),
    ],
)
def test_an_order_with_an_expired_or_not_yet_valid_code_is_unattributed(change, reason_code, words):
    program = stocked_program(code_usage=CodeUsage.SINGLE)
    _, code = advocate_with_code(program)
    when = {name: timezone.now() + timedelta(days=days) for name, days in change.items()}
    PromoCode.objects.filter(pk=code.pk).update(**when)
    response = client_for(program).post(url(program, "conversions"), order(code.code))
    assert response.status_code == 201
    data = response.json()
    assert (data["status"], data["reason_code"]) == ("unattributed", reason_code)
    assert words in data["reason"] and data["reward"] is None
    code.refresh_from_db()
    assert code.status == CodeStatus.ASSIGNED and code.redemption_count == 0


@pytest.mark.django_db
def test_expired_and_not_yet_valid_codes_are_never_handed_out():
    program = ProgramFactory(
        promo_codes_enabled=True, code_usage=CodeUsage.SINGLE, codes_per_advocate=1
    )
    stock_pool(program, 6)
    now = timezone.now()
    codes = PromoCode.objects.order_by("code")
    PromoCode.objects.filter(pk__in=list(codes.values_list("pk", flat=True)[:2])).update(
        expires_at=now - timedelta(minutes=1)
    )
    PromoCode.objects.filter(pk__in=list(codes.values_list("pk", flat=True)[2:4])).update(
        valid_from=now + timedelta(days=1)
    )
    first, second = ParticipantFactory(program=program), ParticipantFactory(program=program)
    assert codes_top_up(holder=first) == 1
    assert codes_top_up(holder=second) == 1
    third = ParticipantFactory(program=program)
    assert codes_top_up(holder=third) == 0  # the other four are not usable now
    held = set(PromoCode.objects.filter(holder__isnull=False).values_list("code", flat=True))
    assert held == {"C00004", "C00005"}


@pytest.mark.django_db
def test_an_advocate_whose_code_expires_gets_a_fresh_one_from_the_periodic_task():
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    advocate, code = advocate_with_code(program)
    other, _ = advocate_with_code(program, "adv-2", "b@example.com")
    assert PromoCode.objects.held_by(advocate).count() == 2
    PromoCode.objects.filter(pk=code.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    assert PromoCode.objects.held_by(advocate).count() == 1  # an expired code is not held
    assert top_up_expired_holders() == 1
    held = PromoCode.objects.held_by(advocate)
    assert held.count() == 2 and code.code not in {c.code for c in held}
    assert PromoCode.objects.held_by(other).count() == 2  # untouched
    assert top_up_expired_holders() == 0  # at quota: re-running gives nothing


@pytest.mark.django_db
def test_commands_give_a_batch_its_validity_and_refuse_a_bad_date(tmp_path):
    program = ProgramFactory(promo_codes_enabled=True)
    file = tmp_path / "codes.csv"
    file.write_text("code\nAAA1\nAAA2\n")
    out = io.StringIO()
    call_command(
        "import_codes",
        "--program",
        program.slug,
        "--valid-from",
        "2027-01-01",
        "--expires-at",
        "2027-12-31",
        str(file),
        stdout=out,
    )
    batch = Batch.objects.get()
    assert f"{batch.valid_from:%Y-%m-%d %H:%M}" == "2027-01-01 00:00"
    # A bare expiry date includes that day: the codes stop at the next midnight.
    assert f"{batch.expires_at:%Y-%m-%d %H:%M}" == "2028-01-01 00:00"
    assert set(PromoCode.objects.values_list("valid_from", "expires_at")) == {
        (batch.valid_from, batch.expires_at)
    }
    call_command(
        "generate_codes",
        "--program",
        program.slug,
        "--count",
        "3",
        "--expires-at",
        "2027-06-30",
        stdout=out,
    )
    generated = PromoCode.objects.exclude(batch=batch)
    assert generated.count() == 3 and generated.filter(expires_at__isnull=False).count() == 3
    with pytest.raises(CommandError, match="--expires-at: '31/12/2027' is not a date"):
        call_command(
            "import_codes", "--program", program.slug, "--expires-at", "31/12/2027", str(file)
        )
    with pytest.raises(CommandError, match=r"expire .* before they become valid"):
        call_command(
            "generate_codes",
            "--program",
            program.slug,
            "--count",
            "1",
            "--valid-from",
            "2027-02-01",
            "--expires-at",
            "2027-01-01",
        )
    assert PromoCode.objects.count() == 5  # the refused commands wrote nothing


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_expired_code_is_not_claimed_by_32_concurrent_top_ups():
    program = ProgramFactory(
        promo_codes_enabled=True, code_usage=CodeUsage.SINGLE, codes_per_advocate=1
    )
    stock_pool(program, 40, prefix="K")
    expired = list(PromoCode.objects.order_by("code").values_list("pk", flat=True)[:8])
    PromoCode.objects.filter(pk__in=expired).update(expires_at=timezone.now())
    advocates = [ParticipantFactory(program=program) for _ in range(40)]

    def work(chunk):
        for advocate in chunk:
            codes_top_up(holder=advocate)

    errors = run_threads(32, work, lambda i: (advocates[i::32],))
    assert errors == []
    assert not PromoCode.objects.filter(pk__in=expired, holder__isnull=False).exists()
    assert PromoCode.objects.filter(holder__isnull=False).count() == 32


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_workers_announcing_expired_codes_at_once_write_each_event_once():
    from webhooks.models import Delivery
    from webhooks.services import endpoint_create

    program = ProgramFactory(promo_codes_enabled=True)
    stock_pool(program, 2000, prefix="K")
    PromoCode.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    endpoints = [
        endpoint_create(program=program, url=f"http://127.0.0.1:9/{n}", allow_private=True)
        for n in range(2)
    ]
    told = []

    def work():
        # Small chunks, so the four workers meet on the same codes many times over.
        told.append(codes_expired_announce(chunk_size=25, max_chunks=1000).announced)

    errors = run_threads(4, work, lambda i: ())
    assert errors == []
    assert sum(told) == 2000
    assert len([n for n in told if n]) > 1  # the workers shared the codes
    for endpoint in endpoints:
        rows = Delivery.objects.filter(endpoint=endpoint, event_type="code.expired")
        code_ids = [
            json.loads(payload)["data"]["code_id"]
            for payload in rows.values_list("payload", flat=True)
        ]
        assert len(code_ids) == len(set(code_ids)) == 2000
    assert not PromoCode.objects.filter(expired_notified_at__isnull=True).exists()
    assert codes_expired_announce().announced == 0


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_claim_walks_only_the_codes_still_to_announce():
    """A million codes announced earlier are never walked again: the claim reads the partial
    index that only the codes still to announce are in."""
    from django.db import connection, transaction

    from codes.services.expiry import claim_query

    program = ProgramFactory(promo_codes_enabled=True)
    stock_pool(program, 3000, prefix="K")
    past = timezone.now() - timedelta(days=1)
    announced = PromoCode.objects.order_by("pk").values("pk")[:2980]
    PromoCode.objects.filter(pk__in=announced).update(expires_at=past, expired_notified_at=past)
    PromoCode.objects.filter(expired_notified_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {PromoCode._meta.db_table}")
    with transaction.atomic():
        plan = claim_query(chunk_size=1000).explain()
    assert "promocode_expiry_unannounced" in plan, plan
    assert codes_expired_announce().announced == 20
