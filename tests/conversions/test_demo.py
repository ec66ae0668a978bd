from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from codes.models import PromoCode
from participants.models import Participant
from programs.models import Program

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        Program.objects.count(),
        PromoCode.objects.count(),
        Participant.objects.count(),
        get_user_model().objects.count(),
        sorted(PromoCode.objects.exclude(holder=None).values_list("code", "holder_id")),
    )


def test_demo_loads_a_program_with_codes_and_participants_once():
    out = StringIO()
    call_command("demo", stdout=out)
    program = Program.objects.get(slug="demo")
    assert program.promo_codes_enabled
    assert program.codes.count() == 300
    assert program.participants.count() == 3
    # each demo advocate holds their quota of codes
    for participant in program.participants.all():
        assert participant.promo_codes.filter(status="assigned").count() == program.code_quota
    first = snapshot()
    call_command("demo", stdout=out)
    assert snapshot() == first
    assert "nothing changed" in out.getvalue()


def test_the_demo_widget_carries_the_promo_code_component():
    call_command("demo", stdout=StringIO())
    widget = Program.objects.get(slug="demo").widgets.get()
    assert list(widget.components.values_list("kind", flat=True)) == ["referral_promo_code"]


def test_the_demo_holds_a_program_with_promo_codes_off_to_walk_turning_them_on(
    django_capture_on_commit_callbacks,
):
    from codes.services import batch_generate, pool_get_or_create_referral
    from programs.services import program_update

    call_command("demo", stdout=StringIO())
    starter = Program.objects.get(slug="starter")
    assert not starter.promo_codes_enabled
    assert sorted(starter.participants.values_list("participant_id", flat=True)) == [
        "dora",
        "evan",
    ]
    assert not PromoCode.objects.filter(program=starter).exists()
    # The README's walk: turn promo codes on (single-use, the template on its widget), add codes.
    with django_capture_on_commit_callbacks(execute=True):
        starter = program_update(
            program=starter,
            promo_codes_enabled=True,
            code_usage="single",
            codes_per_advocate=2,
            apply_template_to_widgets=True,
        )
    with django_capture_on_commit_callbacks(execute=True):
        batch_generate(pool=pool_get_or_create_referral(program=starter), count=10, prefix="SOCK-")
    for participant in starter.participants.all():
        held = participant.promo_codes.filter(status="assigned")
        assert held.count() == 2 and all(c.code.startswith("SOCK-") for c in held)
