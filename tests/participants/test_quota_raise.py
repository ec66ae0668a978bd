"""Raising codes per advocate tops every advocate up in the background at once (a Celery task
on commit), and the stock page and the dashboard say how far it got."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse

from codes.models import PromoCode
from codes.topups import program_topup_progress
from programs.models import CodeUsage
from programs.services import program_update
from tests.api_helpers import advocate_with_code, stocked_program

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    cache.clear()
    program = stocked_program(codes=30, code_usage=CodeUsage.SINGLE, codes_per_advocate=3)
    for n in range(4):
        advocate_with_code(program, f"adv-{n}", f"adv-{n}@example.com")
    return program


def held(program):
    return sorted(
        PromoCode.objects.held_by(p).count() for p in program.participants.filter(is_advocate=True)
    )


def test_raising_codes_per_advocate_tops_every_advocate_up_at_once(
    program, django_capture_on_commit_callbacks, client
):
    assert held(program) == [3, 3, 3, 3]
    with django_capture_on_commit_callbacks(execute=True):
        program_update(program=program, codes_per_advocate=5)
    # Nobody had to load their widget first.
    assert held(program) == [5, 5, 5, 5]
    progress = program_topup_progress(program_id=program.pk)
    assert progress["state"] == "done" and progress["quota"] == 5
    assert progress["advocates_seen"] == 4 and progress["codes_assigned"] == 8

    client.force_login(get_user_model().objects.create_superuser("root", "r@x.com", "pw"))
    stock = client.get(reverse("admin:codes_program_stock", args=[program.pk])).text
    assert "Every advocate was topped up to 5 codes each" in stock
    assert "8 codes handed out to 4 advocates visited" in stock
    index = client.get(reverse("admin:index")).text
    assert "Every advocate was topped up to 5 codes each" in index


def test_the_stock_page_shows_the_run_queued_until_a_worker_takes_it(
    program, django_capture_on_commit_callbacks, client, monkeypatch
):
    from participants import tasks

    sent = []
    monkeypatch.setattr(tasks.top_up_program_advocates, "delay", lambda *a: sent.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        program_update(program=program, codes_per_advocate=4)
    assert sent == [(program.pk,)]
    assert held(program) == [3, 3, 3, 3]  # the worker has not run yet
    client.force_login(get_user_model().objects.create_superuser("root", "r@x.com", "pw"))
    stock = client.get(reverse("admin:codes_program_stock", args=[program.pk])).text
    assert "Topping up every advocate to 4 codes each: queued at" in stock

    tasks.top_up_program_advocates.run(program.pk)  # the worker
    assert held(program) == [4, 4, 4, 4]
    stock = client.get(reverse("admin:codes_program_stock", args=[program.pk])).text
    assert "Every advocate was topped up to 4 codes each" in stock


def test_lowering_codes_per_advocate_starts_no_run(program, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        program_update(program=program, codes_per_advocate=2)
    assert program_topup_progress(program_id=program.pk) is None
