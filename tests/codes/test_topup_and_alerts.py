"""Top-up runs, manual codes and low-stock alerts (docs/architecture.md, Assignment, Low stock).

These run on SQLite and PostgreSQL alike; on-commit work (alert checks, Celery tasks, eager here)
runs through django_capture_on_commit_callbacks(execute=True).
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from codes import selectors
from codes.models import (
    AlertKind,
    CodeShortfall,
    CodeSource,
    CodeStatus,
    Pool,
    PromoCode,
    StockAlert,
)
from codes.services import (
    GENERATED_ALPHABET,
    CannotAddCode,
    code_redeem,
    codes_top_up,
    pool_batch_landed,
    pool_get_or_create_referral,
    pool_stock_check,
)
from participants.models import Participant
from participants.services import participant_code_add, participant_upsert
from programs.models import CodeUsage
from programs.services import program_update
from tests.factories import (
    BatchFactory,
    ParticipantFactory,
    ProgramFactory,
    UserFactory,
    queue_short,
    short_since,
)

pytestmark = pytest.mark.django_db


def add_batch(program, count, start=0, usage=None):
    pool = pool_get_or_create_referral(program=program)
    batch = BatchFactory(pool=pool, usage=usage or program.code_usage)
    PromoCode.objects.bulk_create(
        PromoCode(
            program=program, pool=pool, batch=batch, code=f"C{start + i:05d}", usage=batch.usage
        )
        for i in range(count)
    )
    return pool


def held(participant, usage=None):
    codes = PromoCode.objects.filter(holder=participant, status=CodeStatus.ASSIGNED)
    if usage:
        codes = codes.filter(usage=usage)
    return list(codes.order_by("assigned_at", "id").values_list("code", flat=True))


# --- Low-stock alerts -------------------------------------------------------------------------


@pytest.fixture
def upsert(django_capture_on_commit_callbacks):
    """participant_upsert, then its on-commit work (the stock check, the e-mail task)."""

    def run(program, participant_id):
        with django_capture_on_commit_callbacks(execute=True):
            return participant_upsert(program=program, participant_id=participant_id)[0]

    return run


def alert_program(**fields):
    defaults = {
        "code_usage": CodeUsage.SINGLE,
        "codes_per_advocate": 1,
        "low_stock_threshold": 3,
        "low_stock_recipients": "ops@example.com, buyer@example.com",
    }
    return ProgramFactory(**{**defaults, **fields})


def test_the_low_stock_email_speaks_the_programs_alert_language(upsert):
    program = alert_program(name="春季好友", alert_language="zh-hans")
    add_batch(program, 4)
    upsert(program, "a0")  # 3 left: the crossing
    assert len(mail.outbox) == 1
    low = mail.outbox[0]
    assert low.subject == "[春季好友] 库存不足：Referral codes 仅剩 3 个优惠码"
    lines = low.body.splitlines()
    assert lines[0] == "计划“春季好友”的码池“Referral codes”仅剩 3 个可用优惠码。"
    # The values line up in one column, each Chinese character two columns wide.
    assert "码池：        Referral codes" in lines
    assert "剩余优惠码：  3" in lines
    assert "低库存阈值：  3" in lines
    assert "近 7 天发出： 1" in lines
    assert "预计：        按此速度将在约 3 周后用完。" in lines
    assert "缺少优惠码的推荐人：0" in lines
    assert any(line.startswith("将优惠码上传到 Referral codes：http://") for line in lines)
    # Nothing English but the pool's name (the manager's), the slug and the links.
    text = re.sub(r"https?://\S+", "", low.subject + low.body).replace(program.slug, "")
    assert set(re.findall(r"[A-Za-z]{2,}", text)) == {"Referral", "codes"}
    # The English e-mail of another program is unchanged by it.
    english_program = alert_program(name="Autumn")
    add_batch(english_program, 4)
    upsert(english_program, "b0")
    assert mail.outbox[1].subject == "[Autumn] Low stock: 3 codes left in Referral codes"


def test_one_email_per_crossing_and_a_second_when_empty(upsert):
    program = alert_program(name="Spring Friends")
    add_batch(program, 6)
    upsert(program, "a0")
    upsert(program, "a1")
    assert mail.outbox == [] and StockAlert.objects.count() == 0  # 4 left, above 3

    upsert(program, "a2")  # 3 left: crossing
    upsert(program, "a3")  # 2 left: same crossing
    upsert(program, "a4")  # 1 left
    assert len(mail.outbox) == 1
    low = mail.outbox[0]
    assert low.to == ["ops@example.com", "buyer@example.com"]
    assert "Spring Friends" in low.subject and "3 codes left" in low.subject
    assert "Pool:                Referral codes\n" in low.body  # the pool, named once
    assert "(Referral codes)" not in low.body
    assert "Codes left:          3" in low.body
    assert "Low-stock threshold: 3" in low.body
    assert "Handed out, 7 days:  3" in low.body
    assert "runs out in about 7 days" in low.body  # 3 left at 3 a week
    assert "Advocates short of codes: 0" in low.body
    pool = Pool.objects.get(program=program)
    # The links use SITE_URL: the upload form with this pool chosen, and the stock page.
    upload = f"http://127.0.0.1:8000/admin/codes/batch/upload/?pool={pool.pk}"
    assert f"Upload codes into Referral codes: {upload}\n" in low.body
    assert f"http://127.0.0.1:8000/admin/codes/pool/stock/{program.pk}/" in low.body
    alert = StockAlert.objects.get()
    assert (alert.kind, alert.available, alert.threshold) == (AlertKind.LOW, 3, 3)
    assert alert.sent_at is not None and alert.used_last_7_days == 3
    assert alert.days_left == Decimal("7.0")

    upsert(program, "a5")  # 0 left: empty
    upsert(program, "a6")  # nothing to claim
    assert len(mail.outbox) == 2
    empty = mail.outbox[1]
    assert "empty" in empty.subject
    assert "Forecast:            none: the pool is empty." in empty.body
    assert "0.0 days" not in empty.body
    assert "Advocates short of codes: 0" in empty.body  # sent as a5 took the last code
    assert list(StockAlert.objects.order_by("id").values_list("kind", "available")) == [
        (AlertKind.LOW, 3),
        (AlertKind.EMPTY, 0),
    ]


def test_alerts_rearm_when_a_batch_lifts_stock_above_the_threshold(
    django_capture_on_commit_callbacks, upsert
):
    program = alert_program()
    add_batch(program, 4)
    for i in range(4):
        upsert(program, f"a{i}")
    assert [a.kind for a in StockAlert.objects.order_by("id")] == ["low", "empty"]
    pool = Pool.objects.get(program=program)
    assert not pool.low_alert_armed and not pool.empty_alert_armed

    with django_capture_on_commit_callbacks(execute=True):
        add_batch(program, 5, start=100)
        pool_batch_landed(pool_id=pool.pk)
    pool.refresh_from_db()
    assert pool.low_alert_armed and pool.empty_alert_armed
    # All four got their code, nobody was short: the new stock stays at 5.
    assert selectors.pool_available_count(pool=pool) == 5
    upsert(program, "b0")
    upsert(program, "b1")  # 3 left: a new crossing
    assert [a.kind for a in StockAlert.objects.order_by("id")] == ["low", "empty", "low"]
    assert len(mail.outbox) == 3


def test_emptying_from_above_the_threshold_in_one_step_sends_only_the_empty_email(
    django_capture_on_commit_callbacks,
):
    program = alert_program(codes_per_advocate=5, low_stock_threshold=2)
    add_batch(program, 5)
    with django_capture_on_commit_callbacks(execute=True):
        participant_upsert(program=program, participant_id="a0")
    assert list(StockAlert.objects.values_list("kind", flat=True)) == [AlertKind.EMPTY]
    assert len(mail.outbox) == 1


def test_check_is_silent_above_threshold_and_alert_without_recipients_is_kept_unsent(
    django_capture_on_commit_callbacks,
):
    program = alert_program(low_stock_recipients="", low_stock_threshold=5)
    pool = add_batch(program, 6)
    assert pool_stock_check(pool_id=pool.pk) == []
    PromoCode.objects.filter(code="C00000").delete()  # stock falls by a path with no hook
    with django_capture_on_commit_callbacks(execute=True):
        alerts = pool_stock_check(pool_id=pool.pk)
    assert [a.kind for a in alerts] == [AlertKind.LOW]
    assert mail.outbox == []
    assert StockAlert.objects.get().sent_at is None


def test_fuel_tank_uses_its_own_threshold_and_recipients(django_capture_on_commit_callbacks):
    program = alert_program(low_stock_threshold=100, low_stock_recipients="program@example.com")
    tank = Pool.objects.create(
        program=program,
        kind="fuel_tank",
        name="Rewards",
        low_stock_threshold=2,
        low_stock_recipients="tank@example.com",
    )
    batch = BatchFactory(pool=tank)
    PromoCode.objects.bulk_create(
        PromoCode(program=program, pool=tank, batch=batch, code=f"F{i}", usage=batch.usage)
        for i in range(2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        pool_stock_check(pool_id=tank.pk)
    assert [m.to for m in mail.outbox] == [["tank@example.com"]]
    assert "Pool:                Rewards (fuel tank of reward codes)\n" in mail.outbox[0].body
    assert "Advocates short of codes:" not in mail.outbox[0].body  # a referral-pool matter
    assert StockAlert.objects.get().threshold == 2


def test_referral_pool_counts_only_codes_of_the_current_usage():
    program = ProgramFactory(code_usage=CodeUsage.MULTI)
    pool = add_batch(program, 4)
    program = program_update(program=program, code_usage=CodeUsage.SINGLE)
    add_batch(program, 2, start=100)
    pool.refresh_from_db()
    stock = selectors.pool_stock(pool=pool)
    assert stock.available == 2  # the 4 multi-use codes left can never be handed out again
    assert selectors.pool_available_at_most(pool=pool, limit=1) == 2


def test_forecast():
    assert selectors.forecast_days_left(available=10, used=7) == Decimal("10.0")
    assert selectors.forecast_days_left(available=10, used=0) is None
    assert selectors.forecast_days_left(available=0, used=0) is None  # empty: no forecast
    assert selectors.forecast_days_left(available=0, used=5) is None


def test_check_code_stock_command_prints_pools_and_triggers_due_alerts(
    django_capture_on_commit_callbacks, capsys
):
    program = alert_program(slug="spring", low_stock_threshold=10)
    add_batch(program, 4)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("check_code_stock", "--program", "spring")
    out = capsys.readouterr().out
    assert "spring · Referral codes: 4 available (threshold 10)" in out
    assert "no recent use" in out and "LOW" in out
    assert out.strip().splitlines()[-1] == "Checked 1 pool; 1 alert raised."
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        call_command("check_code_stock")
    assert capsys.readouterr().out.strip().endswith("0 alerts raised.")
    assert len(mail.outbox) == 1
    with pytest.raises(CommandError, match="No program"):
        call_command("check_code_stock", "--program", "nope")


# --- Top-up after a batch lands ---------------------------------------------------------------


def short_advocates(program, order):
    """Advocates with no codes, fallen short in the given order (participant ids)."""
    now = timezone.now()
    for rank, pid in enumerate(order):
        advocate = ParticipantFactory(program=program, participant_id=pid)
        queue_short(advocate, now + timedelta(seconds=rank))


def test_batch_landing_tops_up_in_the_order_advocates_fell_short(
    django_capture_on_commit_callbacks,
):
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    short_advocates(program, ["c", "a", "b"])
    with django_capture_on_commit_callbacks(execute=True):
        pool = add_batch(program, 3)
        pool_batch_landed(pool_id=pool.pk)
    by_id = {p.participant_id: p for p in Participant.objects.filter(program=program)}
    assert held(by_id["c"]) == ["C00000", "C00001"]
    assert held(by_id["a"]) == ["C00002"]
    assert held(by_id["b"]) == []
    assert short_since(by_id["c"]) is None
    assert short_since(by_id["a"]) is not None  # still short, keeps its place
    assert short_since(by_id["a"]) < short_since(by_id["b"])


def test_assign_codes_command_tops_up_short_advocates_and_is_safe_to_rerun(capsys):
    program = ProgramFactory(slug="autumn", code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    short_advocates(program, [f"p{i}" for i in range(5)])
    add_batch(program, 20)
    call_command("assign_codes", "--program", "autumn")
    out = capsys.readouterr().out
    assert "autumn: 5 advocates short looked at, 10 codes assigned" in out
    assert out.strip().splitlines()[-1] == "Assigned 10 codes to 5 advocates."
    assert not CodeShortfall.objects.exists()
    call_command("assign_codes")
    assert capsys.readouterr().out.strip() == "Assigned 0 codes to 0 advocates."
    with pytest.raises(CommandError, match="No program"):
        call_command("assign_codes", "--program", "nope")


def test_assign_codes_stops_when_the_pool_is_empty(capsys):
    program = ProgramFactory(slug="tiny", code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    short_advocates(program, [f"p{i}" for i in range(4)])
    add_batch(program, 3)
    call_command("assign_codes", "--program", "tiny")
    out = capsys.readouterr().out
    assert "Assigned 3 codes to 2 advocates. Pool empty, advocates still short in: tiny." in out
    # p2 and p3 were never looked at: the run stopped at p1.
    assert "2 advocates short looked at" in out
    assert CodeShortfall.objects.count() == 3


def test_redeeming_marks_short_when_no_replacement_and_a_batch_fills_it(
    django_capture_on_commit_callbacks,
):
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    add_batch(program, 2)
    advocate, _ = participant_upsert(program=program, participant_id="a")
    code_redeem(code=PromoCode.objects.get(code="C00000"), order_id="O-1")
    advocate.refresh_from_db()
    assert held(advocate) == ["C00001"] and short_since(advocate) is not None
    with django_capture_on_commit_callbacks(execute=True):
        pool = add_batch(program, 1, start=50)
        pool_batch_landed(pool_id=pool.pk)
    assert held(advocate) == ["C00001", "C00050"]


# --- Switch to single-use ---------------------------------------------------------------------


def test_switch_to_single_use_keeps_the_multi_use_code_and_tops_up_to_quota(
    django_capture_on_commit_callbacks,
):
    program = ProgramFactory(code_usage=CodeUsage.MULTI, codes_per_advocate=1)
    add_batch(program, 3)
    advocates = [participant_upsert(program=program, participant_id=f"a{i}")[0] for i in range(3)]
    assert [len(held(a)) for a in advocates] == [1, 1, 1]
    with django_capture_on_commit_callbacks(execute=True):
        program = program_update(program=program, code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    # No single-use codes yet: everyone keeps the multi-use code and is marked short.
    assert CodeShortfall.objects.count() == 3
    with django_capture_on_commit_callbacks(execute=True):
        pool = add_batch(program, 10, start=100)
        pool_batch_landed(pool_id=pool.pk)
    for advocate in advocates:
        assert len(held(advocate, usage=CodeUsage.MULTI)) == 1
        assert len(held(advocate, usage=CodeUsage.SINGLE)) == 2
    assert codes_top_up(holder=advocates[0]) == 0


def test_switch_to_single_use_tops_up_from_stock_on_commit(django_capture_on_commit_callbacks):
    program = ProgramFactory(code_usage=CodeUsage.MULTI, codes_per_advocate=1)
    add_batch(program, 2)
    advocates = [participant_upsert(program=program, participant_id=f"a{i}")[0] for i in range(2)]
    # Single-use codes already in the pool (e.g. uploaded right after the switch, before the
    # task ran): the task over all advocates hands them out.
    add_batch(program, 6, start=100, usage=CodeUsage.SINGLE)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        program_update(program=program, code_usage=CodeUsage.SINGLE, codes_per_advocate=3)
    assert callbacks  # enqueued on commit, not run inside the save
    assert [held(a, usage=CodeUsage.SINGLE) for a in advocates] == [
        ["C00100", "C00101", "C00102"],
        ["C00103", "C00104", "C00105"],
    ]
    assert all(len(held(a, usage=CodeUsage.MULTI)) == 1 for a in advocates)


# --- Manual codes -----------------------------------------------------------------------------


def test_code_add_manual_counts_towards_quota_and_may_exceed_it():
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    add_batch(program, 1)
    advocate, _ = participant_upsert(program=program, participant_id="a")
    advocate.refresh_from_db()
    assert short_since(advocate) is not None  # 1 of 2
    code = participant_code_add(participant=advocate)
    assert code.source == CodeSource.MANUAL and code.status == CodeStatus.ASSIGNED
    assert code.usage == CodeUsage.SINGLE and code.pool.kind == "referral"
    assert code.batch is None and code.holder_id == advocate.pk
    assert len(code.code) == 10 and set(code.code) <= set(GENERATED_ALPHABET)
    advocate.refresh_from_db()
    assert short_since(advocate) is None  # the manual code filled the quota
    extra = participant_code_add(participant=advocate, prefix="vip-")
    assert extra.code.startswith("VIP-")
    assert held(advocate) == ["C00000", code.code, extra.code]  # over quota is fine
    assert codes_top_up(holder=advocate) == 0


def test_code_add_manual_retries_on_a_clash(monkeypatch):
    program = ProgramFactory()
    add_batch(program, 1)
    advocate = ParticipantFactory(program=program)
    draws = iter(["C00000", "FRESHCODE"])
    monkeypatch.setattr(
        "codes.services.generation._random_code", lambda prefix, length: next(draws)
    )
    assert participant_code_add(participant=advocate).code == "FRESHCODE"


def test_code_add_manual_refuses_friends_and_blocked_advocates():
    program = ProgramFactory()
    with pytest.raises(CannotAddCode, match="not an advocate"):
        participant_code_add(participant=ParticipantFactory(program=program, is_advocate=False))
    with pytest.raises(CannotAddCode, match="blocked"):
        participant_code_add(participant=ParticipantFactory(program=program, is_blocked=True))


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    return client


def test_admin_add_referral_code_button(superuser_client):
    program = ProgramFactory(code_usage=CodeUsage.MULTI, codes_per_advocate=1)
    add_batch(program, 1)
    advocate, _ = participant_upsert(program=program, participant_id="adv-1")
    change_url = reverse("admin:participants_participant_change", args=[advocate.pk])
    add_url = reverse("admin:participants_participant_add_referral_code", args=[advocate.pk])
    page = superuser_client.get(change_url)
    assert add_url in page.content.decode() and "Add referral code" in page.content.decode()
    confirmation = superuser_client.get(add_url)
    assert "Add the code" in confirmation.content.decode()
    assert not PromoCode.objects.filter(holder=advocate, source=CodeSource.MANUAL).exists()

    response = superuser_client.post(add_url, {"_confirmed": "yes"}, follow=True)
    manual = PromoCode.objects.get(holder=advocate, source=CodeSource.MANUAL)
    text = response.content.decode()
    assert f"Added referral code {manual.code} (Multi-use) for adv-1" in text
    assert text.count(manual.code) >= 2  # the message and the Codes and links row
    assert "C00000" in text
    assert len(held(advocate)) == 2


def test_admin_add_referral_code_is_scoped_to_managed_programs(client):
    manager = UserFactory()
    from django.contrib.auth.models import Permission

    manager.user_permissions.add(*Permission.objects.filter(codename__endswith="participant"))
    client.force_login(manager)
    advocate = ParticipantFactory(program=ProgramFactory())  # a program they do not manage
    url = reverse("admin:participants_participant_add_referral_code", args=[advocate.pk])
    assert client.post(url, {"_confirmed": "yes"}).status_code == 403
    assert not PromoCode.objects.filter(holder=advocate).exists()


def test_admin_add_referral_code_explains_a_refusal(superuser_client):
    friend = ParticipantFactory(program=ProgramFactory(), is_advocate=False)
    url = reverse("admin:participants_participant_add_referral_code", args=[friend.pk])
    response = superuser_client.post(url, {"_confirmed": "yes"}, follow=True)
    assert "No code added" in response.content.decode()
    assert not PromoCode.objects.filter(holder=friend).exists()


def test_top_up_run_skips_and_unqueues_a_blocked_advocate(django_capture_on_commit_callbacks):
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=1)
    short_advocates(program, ["blocked", "next"])
    Participant.objects.filter(participant_id="blocked").update(is_blocked=True)
    with django_capture_on_commit_callbacks(execute=True):
        pool = add_batch(program, 5)
        pool_batch_landed(pool_id=pool.pk)
    by_id = {p.participant_id: p for p in Participant.objects.filter(program=program)}
    assert held(by_id["blocked"]) == [] and short_since(by_id["blocked"]) is None
    assert held(by_id["next"]) == ["C00000"]


def test_the_email_links_to_site_url_and_counts_the_advocates_short(settings):
    from codes.services import stock_alert_send
    from tests.factories import ParticipantFactory, queue_short

    settings.SITE_URL = "https://referrals.example.com/"
    program = alert_program(name="Hats")
    pool = add_batch(program, 0)
    for _ in range(2):
        queue_short(ParticipantFactory(program=program), timezone.now())
    alert = StockAlert.objects.create(
        pool=pool, kind=AlertKind.EMPTY, available=0, threshold=3, recipients="ops@example.com"
    )
    assert stock_alert_send(alert_id=alert.pk)
    body = mail.outbox[0].body
    assert f"https://referrals.example.com/admin/codes/batch/upload/?pool={pool.pk}" in body
    assert f"https://referrals.example.com/admin/codes/pool/stock/{program.pk}/" in body
    assert "127.0.0.1" not in body
    assert "Advocates short of codes: 2" in body
    assert "Forecast:            none: the pool is empty." in body


def test_the_low_stock_check_counts_only_codes_still_valid_in_7_days(
    django_capture_on_commit_callbacks,
):
    """10 available codes, 8 of them expiring in 3 days: 2 count, below the threshold of 3;
    the e-mail says how many more expire within 7 days."""
    program = alert_program(name="Winter")
    pool = add_batch(program, 10)
    soon = timezone.now() + timedelta(days=3)
    PromoCode.objects.filter(code__in=[f"C{i:05d}" for i in range(8)]).update(expires_at=soon)
    with django_capture_on_commit_callbacks(execute=True):
        alerts = pool_stock_check(pool_id=pool.pk)
    assert [(a.kind, a.available) for a in alerts] == [(AlertKind.LOW, 2)]
    body = mail.outbox[0].body
    assert "8 more available codes expire within 7 days (not counted above)." in body
    assert "Codes left:" in body and " 2\n" in body


def test_codes_expiring_after_the_7_days_count_toward_the_stock(django_capture_on_commit_callbacks):
    program = alert_program(name="Summer")
    pool = add_batch(program, 10)
    PromoCode.objects.update(expires_at=timezone.now() + timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        assert pool_stock_check(pool_id=pool.pk) == []
    assert mail.outbox == []
