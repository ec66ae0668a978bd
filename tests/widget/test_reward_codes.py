"""Reward (fuel-tank) codes in the widget's /me and the server API's participant, with copy."""

import json

import pytest
from django.utils import timezone

from codes.models import PromoCode
from participants.models import Referral, ReferralStatus
from participants.services import reward_grant, rewards_release_due
from participants.widget.schema import WidgetMeSerializer, widget_me_body
from participants.widget.selectors import widget_state
from tests.api_helpers import REWARD_CODE_FIELDS, client_for, url
from tests.factories import ParticipantFactory, fuel_tank
from tests.widget.conftest import bearer, token_for

pytestmark = pytest.mark.django_db

ME = "/api/v1/widget/me"


def earn(program, advocate, friend_id):
    friend = ParticipantFactory(program=program, participant_id=friend_id, is_advocate=False)
    referral = Referral.objects.create(
        program=program,
        advocate=advocate,
        friend=friend,
        status=ReferralStatus.CONVERTED,
        converted_at=timezone.now(),
    )
    return reward_grant(referral=referral)


def test_me_and_the_server_api_show_revealed_reward_codes_only(api, program, advocate):
    fuel_tank(program, 3, review_days=10)
    pending = earn(program, advocate, "f1")
    token = token_for(program, "alice")
    assert api.get(ME, **bearer(token)).json()["reward_codes"] == []
    server = client_for(program)
    assert server.get(url(program, "participants/alice")).json()["reward_codes"] == []

    rewards_release_due(now=timezone.now() + timezone.timedelta(days=11))
    body = api.get(ME, **bearer(token)).json()
    [shown] = body["reward_codes"]
    assert set(shown) == REWARD_CODE_FIELDS
    assert shown["code"] == "TANK00000" and shown["reward_id"] == pending.pk
    assert shown["status"] == "available" and shown["copied_before"] is False
    assert server.get(url(program, "participants/alice")).json()["reward_codes"] == [shown]
    # Reward codes are not referral codes: the referral codes are unchanged.
    assert all(c["code"].startswith("W") for c in body["referral_codes"])


def test_a_revealed_reward_code_is_copied_and_a_reserved_one_is_not(api, program, advocate):
    fuel_tank(program, 2)
    earn(program, advocate, "f1")  # revealed at once (no review period)
    token = token_for(program, "alice")
    first = api.post("/api/v1/widget/codes/tank00000/copy", **bearer(token))
    assert first.status_code == 200
    assert first.json()["code"] == "TANK00000" and first.json()["copied_before"] is False
    again = api.post("/api/v1/widget/codes/TANK00000/copy", **bearer(token)).json()
    assert again["copied_before"] is True
    assert api.get(ME, **bearer(token)).json()["reward_codes"][0]["copied_before"] is True

    program.reward_review_days = 5
    program.save()
    earn(program, advocate, "f2")  # reserved for 5 days
    reserved = api.post("/api/v1/widget/codes/TANK00001/copy", **bearer(token))
    assert reserved.status_code == 404
    assert PromoCode.objects.get(code="TANK00001").first_copied_at is None
    # Nor can another participant copy alice's reward code.
    other = token_for(program, "bob")
    api.get(ME, **bearer(other))
    assert api.post("/api/v1/widget/codes/TANK00000/copy", **bearer(other)).status_code == 404


def test_me_answers_what_its_documented_serializer_would(api, program, advocate):
    """/me writes its body by hand for speed; it must stay what WidgetMeSerializer documents."""
    fuel_tank(program, 2)
    earn(program, advocate, "f1")
    token = token_for(program, "alice")
    api.post("/api/v1/widget/codes/TANK00000/copy", **bearer(token))
    referral_code = api.get(ME, **bearer(token)).json()["referral_codes"][0]["code"]
    api.post(f"/api/v1/widget/codes/{referral_code}/copy", **bearer(token))
    body = api.get(ME, **bearer(token)).json()
    advocate.refresh_from_db()
    state = {**widget_state(participant=advocate, program=program), "language": "en"}
    assert body["reward_codes"] and body["referral_codes"][0]["copied_before"] is True
    assert body == json.loads(json.dumps(WidgetMeSerializer(state).data))
    # Credit earned and a blank name, which this program's rewards do not show.
    state["rewards"]["credit"] = [{"currency": "EUR", "amount": "12.50"}]
    state["participant"]["first_name"] = ""
    assert widget_me_body(state) == WidgetMeSerializer(state).data


def test_set_reward_code_valid_days_gives_a_revealed_reward_code_its_expiry(api, program, advocate):
    import io
    from datetime import timedelta

    from django.core.management import call_command
    from django.core.management.base import CommandError

    fuel_tank(program, 3, review_days=10)
    out = io.StringIO()
    call_command(
        "set_reward",
        "--program",
        program.slug,
        "--fuel-tank",
        "Thank-you codes",
        "--code-valid-days",
        "30",
        stdout=out,
    )
    assert "valid 30 days from when it is revealed" in out.getvalue()
    earn(program, advocate, "f1")
    assert PromoCode.objects.get(code="TANK00000").expires_at is None  # reserved: no clock yet
    before = timezone.now()
    rewards_release_due(now=timezone.now() + timedelta(days=11))
    code = PromoCode.objects.get(code="TANK00000")
    assert before + timedelta(days=30) <= code.expires_at <= timezone.now() + timedelta(days=30)
    [shown] = api.get(ME, **bearer(token_for(program, "alice"))).json()["reward_codes"]
    assert shown["expires_at"] == code.expires_at.isoformat().replace("+00:00", "Z")
    server = client_for(program).get(url(program, "participants/alice")).json()
    assert server["reward_codes"] == [shown]

    # A code whose batch gives it an earlier end keeps that end.
    soon = timezone.now() + timedelta(days=3)
    PromoCode.objects.filter(code="TANK00001").update(expires_at=soon)
    program.reward_review_days = 0
    program.save()
    earn(program, advocate, "f2")
    assert PromoCode.objects.get(code="TANK00001").expires_at == soon

    with pytest.raises(CommandError, match="Only reward codes from a fuel tank can expire"):
        call_command(
            "set_reward", "--program", program.slug, "--percent", "5", "--code-valid-days", "3"
        )
