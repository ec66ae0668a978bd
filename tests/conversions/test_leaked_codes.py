"""Leaked multi-use codes: a code used by more customers in a day than the program allows is
flagged once, e-mailed once (in the program's alert language) with a link to the console's
void confirmation, and shown on the code manager and the stock page."""

import re
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from codes.models import CodeStatus, LeakAlert, PromoCode
from conversions.models import Conversion
from conversions.services import codes_leak_detect
from conversions.tasks import detect_leaked_codes
from programs.models import CodeUsage
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url
from tests.factories import UserFactory

RECIPIENTS = "ops@example.com, fraud@example.com"


def leak_program(limit=3, **fields):
    fields = {"low_stock_recipients": RECIPIENTS, **fields}
    return stocked_program(
        code_usage=CodeUsage.MULTI, review_leak_customers_per_day=limit, **fields
    )


def orders(program, code, customers, *, prefix="C", repeat=1):
    """`customers` distinct customers each ordering `repeat` times with `code`."""
    client = client_for(program)
    for n in range(customers):
        for r in range(repeat):
            answer = client.post(
                url(program, "conversions"),
                {
                    "OrderId": f"{prefix}{n}-{r}",
                    "OrderPromoCode": code.code,
                    "CustomerId": f"{prefix.lower()}-customer-{n}",
                },
                format="json",
            )
            assert answer.status_code in (200, 201), answer.content
            assert answer.json()["status"] == "attributed"


@pytest.fixture
def detect(django_capture_on_commit_callbacks):
    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return detect_leaked_codes()

    return run


@pytest.mark.django_db
def test_more_customers_than_allowed_in_a_day_flags_the_code_and_emails_once(detect):
    program = leak_program(limit=3, name="Spring Friends")
    _, code = advocate_with_code(program)
    orders(program, code, 3, repeat=2)  # 3 customers (6 orders): not more than 3
    assert detect() == 0
    assert mail.outbox == []
    orders(program, code, 1, prefix="D")  # a fourth customer
    assert detect() == 1
    code.refresh_from_db()
    assert code.leaked_at is not None
    assert code.status == CodeStatus.ASSIGNED  # flagged, not voided: the manager decides
    (message,) = mail.outbox
    assert message.to == ["ops@example.com", "fraud@example.com"]
    assert message.subject == (
        f"[Spring Friends] Leaked code: {code.code} used by 4 customers in a day"
    )
    void_link = settings.SITE_URL + reverse("admin:codes_promocode_void_code", args=[code.pk])
    assert f"Void it (you confirm on the page): {void_link}" in message.body
    assert re.search(r"^Advocate: +adv-1$", message.body, re.M)
    assert re.search(r"^Customers, 24 hours: +4$", message.body, re.M)
    # More customers, later runs: still that one e-mail.
    orders(program, code, 2, prefix="E")
    assert detect() == 0
    assert len(mail.outbox) == 1
    assert LeakAlert.objects.get().sent_at is not None


@pytest.mark.django_db
def test_only_the_last_24_hours_count_and_the_setting_off_flags_nothing(detect):
    program = leak_program(limit=2)
    _, code = advocate_with_code(program)
    orders(program, code, 2)
    Conversion.objects.filter(code=code).update(created_at=timezone.now() - timedelta(hours=25))
    orders(program, code, 2, prefix="D")  # 2 today, 4 in two days
    assert detect() == 0
    off = leak_program(limit=None)
    _, other = advocate_with_code(off, participant_id="adv-2", email="adv2@example.com")
    orders(off, other, 5, prefix="F")
    assert detect() == 0
    assert not PromoCode.objects.filter(leaked_at__isnull=False).exists()


@pytest.mark.django_db
def test_the_email_speaks_the_programs_alert_language(detect):
    program = leak_program(limit=1, name="春季好友", alert_language="zh-hans")
    _, code = advocate_with_code(program)
    orders(program, code, 2)
    assert detect() == 1
    (message,) = mail.outbox
    assert message.subject == f"[春季好友] 优惠码泄露：{code.code} 一天内被 2 位顾客使用"
    assert "作废它（在页面上确认）：http" in message.body


@pytest.mark.django_db
def test_without_recipients_the_flag_stands_and_nothing_is_sent(detect):
    program = leak_program(limit=1, low_stock_recipients="")
    _, code = advocate_with_code(program)
    orders(program, code, 2)
    assert detect() == 1
    assert mail.outbox == []
    assert LeakAlert.objects.get().sent_at is None


def manager_of(program, *codenames):
    user = UserFactory()
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_promocode", "change_promocode", "view_pool", *codenames]
        )
    )
    program.managers.add(user)
    return user


@pytest.mark.django_db
def test_the_flag_on_the_code_manager_and_the_stock_page(client, detect):
    program = leak_program(limit=1)
    _, code = advocate_with_code(program)
    _, clean = advocate_with_code(program, participant_id="adv-2", email="adv2@example.com")
    orders(program, code, 2)
    detect()
    client.force_login(manager_of(program))
    changelist = reverse("admin:codes_promocode_changelist")
    page = client.get(changelist).content.decode()
    assert page.count('class="leaked-flag') == 1
    leaked = client.get(changelist, {"leaked": "yes"}).context["cl"].result_list
    assert [c.code for c in leaked] == [code.code]
    stock = client.get(reverse("admin:codes_program_stock", args=[program.pk]))
    table = stock.context["leaked_table"]
    assert [row[1] for row in table["rows"]] == ["adv-1"]
    assert table["rows"][0][2] == "2"
    body = stock.content.decode()
    assert reverse("admin:codes_promocode_void_code", args=[code.pk]) in body
    assert clean.code not in body


@pytest.mark.django_db
def test_the_void_link_asks_a_manager_of_the_program_to_confirm_and_no_one_else(client, detect):
    program = leak_program(limit=1)
    _, code = advocate_with_code(program)
    orders(program, code, 2)
    detect()
    link = reverse("admin:codes_promocode_void_code", args=[code.pk])
    stranger = manager_of(leak_program(limit=1))
    client.force_login(stranger)
    assert client.get(link).status_code == 404
    assert client.post(link, {"_confirmed": "yes", "reason": "x"}).status_code == 404
    viewer = UserFactory()
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_promocode"))
    program.managers.add(viewer)
    client.force_login(viewer)
    assert client.get(link).status_code == 403  # may see codes, not void them
    client.force_login(manager_of(program))
    asked = client.get(link)
    assert asked.status_code == 200
    assert "1 code of" in asked.content.decode()
    # Opened from an e-mail, "No, go back" has no history to go back to: it leads to the code.
    code_page = reverse("admin:codes_promocode_change", args=[code.pk])
    assert re.search(rf'href="{code_page}"[^>]*confirm-cancel', asked.content.decode())
    code.refresh_from_db()
    assert code.status == CodeStatus.ASSIGNED  # nothing until confirmed
    done = client.post(link, {"_confirmed": "yes", "reason": "Posted on a coupon site"})
    assert done.status_code == 302
    code.refresh_from_db()
    assert code.status == CodeStatus.VOIDED
    assert "Posted on a coupon site" in code.void_reason
    again = client.get(link, follow=True)
    assert "voided already" in again.content.decode()


@pytest.mark.django_db
def test_set_review_policy_sets_and_clears_the_leak_setting():
    program = leak_program(limit=None)
    call_command("set_review_policy", "--program", program.slug, "--leaked-code-customers", "50")
    program.refresh_from_db()
    assert program.review_leak_customers_per_day == 50
    assert program.review_policy == "off"  # untouched without --policy
    call_command("set_review_policy", "--program", program.slug, "--leaked-code-customers", "0")
    program.refresh_from_db()
    assert program.review_leak_customers_per_day is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_detecting_at_once_flag_and_email_the_code_once():
    program = leak_program(limit=2)
    _, code = advocate_with_code(program)
    orders(program, code, 3)
    since = timezone.now() - timedelta(minutes=20)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(len(codes_leak_detect(since=since)))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [0, 1]
    assert LeakAlert.objects.count() == 1
    assert [m.subject for m in mail.outbox if "Leaked code" in m.subject] == [
        f"[{program.name}] Leaked code: {code.code} used by 3 customers in a day"
    ]


@pytest.mark.django_db
def test_an_email_the_broker_lost_is_sent_by_a_later_run(detect, monkeypatch):
    from codes import tasks

    program = leak_program(limit=1)
    _, code = advocate_with_code(program)
    orders(program, code, 2)
    monkeypatch.setattr(tasks.send_leak_alert, "delay", lambda *args: None)  # lost on the way
    assert detect() == 1
    assert mail.outbox == []
    monkeypatch.undo()
    assert detect() == 0  # too young to be called lost: it may still be on its way
    assert mail.outbox == []
    LeakAlert.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    detect()
    assert [m.subject for m in mail.outbox] == [
        f"[{program.name}] Leaked code: {code.code} used by 2 customers in a day"
    ]
    detect()
    assert len(mail.outbox) == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_detection_reads_the_recent_orders_and_each_codes_day_through_indexes():
    from conversions.selectors import leaked_code_rows

    program = leak_program(limit=1)
    _, code = advocate_with_code(program)
    orders(program, code, 2)
    rows = leaked_code_rows(
        program_ids=[program.pk], since=timezone.now() - timedelta(minutes=20), now=timezone.now()
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = rows.explain()
    # The recent orders through an index of the program's orders (the (program, created_at)
    # one or the program's foreign key, as the statistics of the moment choose); each code's
    # orders through its foreign key's index. Never a scan of every order.
    assert re.search(
        r"Index (Only )?Scan using (conversion_recent|conversions_conversion_program_id)", plan
    ), plan
    assert "conversions_conversion_code_id" in plan, plan
    assert "Seq Scan on conversions_conversion" not in plan, plan
