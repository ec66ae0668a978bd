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
