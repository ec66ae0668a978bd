import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from codes.models import CodeStatus, PromoCode
from codes.services import CodeNotHeld, code_record_copy
from participants.models import Participant, Referral, ReferralStatus, Reward, RewardStatus
from programs.models import RewardKind
from tests.api_helpers import REFERRAL_CODE_FIELDS
from tests.factories import ParticipantFactory, ProgramFactory
from tests.widget.conftest import bearer, stock, token_for

pytestmark = pytest.mark.django_db

ME = "/api/v1/widget/me"


def copy_url(code):
    return f"/api/v1/widget/codes/{code}/copy"


# --- GET /me ------------------------------------------------------------------------------------


def test_me_upserts_a_new_participant_tops_up_and_answers_the_contract(api, program):
    token = token_for(program, "bob", email="bob@example.com", first_name="Bob", last_name="B")
    response = api.get(ME, **bearer(token))
    assert response.status_code == 200
    body = response.json()
    bob = Participant.objects.get(program=program, participant_id="bob")
    assert (bob.email, bob.first_name, bob.is_advocate) == ("bob@example.com", "Bob", True)
    assert [c["code"] for c in body["referral_codes"]] == ["W0000", "W0001", "W0002"]
    first = body["referral_codes"][0]
    assert set(first) == REFERRAL_CODE_FIELDS
    assert first["usage"] == "single" and first["status"] == "assigned"
    assert first["copied_before"] is False and first["first_copied_at"] is None
    assert body["friend_offer_text"] == program.friend_offer_text
    assert body["referrals"] == {"total": 0, "pending": 0, "converted": 0, "cancelled": 0}
    assert body["rewards"]["total"] == 0 and body["rewards"]["credit"] == []
    assert "widget_secret" not in response.content.decode()
    assert program.widget_secret not in response.content.decode()


def test_me_answers_codes_only_when_a_widget_holds_the_referral_code_component(api, program):
    from programs.models import Widget, WidgetComponent, WidgetComponentKind

    widget = Widget.objects.create(program=program, name="Checkout")
    other = Widget.objects.create(program=program, name="Account page")
    WidgetComponent.objects.create(widget=other, kind=WidgetComponentKind.REWARDS_SUMMARY)
    held = WidgetComponent.objects.create(
        widget=widget, kind=WidgetComponentKind.REFERRAL_PROMO_CODE
    )
    body = api.get(ME, **bearer(token_for(program, "bob"))).json()
    assert body["components"] == ["referral_promo_code", "rewards_summary"]
    assert len(body["referral_codes"]) == 3

    held.delete()  # no widget of the program shows codes any more
    body = api.get(ME, **bearer(token_for(program, "bob"))).json()
    assert body["components"] == ["rewards_summary"]
    assert body["referral_codes"] == []
    assert body["referrals"]["total"] == 0  # the rest still answers


def test_me_lists_held_codes_in_assignment_order_without_redeemed_ones(api, program, advocate):
    held = list(PromoCode.objects.filter(holder=advocate).order_by("assigned_at", "id"))
    # Make assignment order differ from id order, and redeem one.
    PromoCode.objects.filter(pk=held[0].pk).update(assigned_at=timezone.now() + timedelta(days=1))
    PromoCode.objects.filter(pk=held[1].pk).update(
        status=CodeStatus.REDEEMED, redeemed_at=timezone.now()
    )
    body = api.get(ME, **bearer(token_for(program, "alice"))).json()
    codes = [c["code"] for c in body["referral_codes"]]
    # The redeemed one is no longer held; the upsert topped alice back up to 3.
    assert held[1].code not in codes
    assert len(codes) == 3
    assert codes[-1] == held[0].code


def test_me_answers_each_codes_expiry(api, program, advocate):
    held = list(PromoCode.objects.filter(holder=advocate).order_by("assigned_at", "id"))
    until = timezone.now() + timedelta(days=30)
    PromoCode.objects.filter(pk=held[0].pk).update(expires_at=until)
    body = api.get(ME, **bearer(token_for(program, "alice"))).json()
    expiries = {c["code"]: c["expires_at"] for c in body["referral_codes"]}
    assert expiries[held[0].code] == until.isoformat().replace("+00:00", "Z")
    assert expiries[held[1].code] is None


def test_me_summarises_referrals_and_rewards(api, program, advocate):
    friends = [ParticipantFactory(program=program, is_advocate=False) for _ in range(3)]
    referrals = [
        Referral.objects.create(program=program, advocate=advocate, friend=f, status=s)
        for f, s in zip(
            friends,
            [ReferralStatus.PENDING, ReferralStatus.CONVERTED, ReferralStatus.CONVERTED],
            strict=True,
        )
    ]
    for referral, status in zip(
        referrals[1:], [RewardStatus.AVAILABLE, RewardStatus.CANCELLED], strict=True
    ):
        Reward.objects.create(
            program=program,
            advocate=advocate,
            referral=referral,
            kind=RewardKind.CREDIT,
            amount=10,
            currency="USD",
            status=status,
        )
    body = api.get(ME, **bearer(token_for(program, "alice"))).json()
    assert body["referrals"] == {"total": 3, "pending": 1, "converted": 2, "cancelled": 0}
    assert body["rewards"]["total"] == 2
    assert body["rewards"]["available"] == 1 and body["rewards"]["cancelled"] == 1
    assert body["rewards"]["credit"] == [{"currency": "USD", "amount": "10.00"}]


def test_me_with_an_empty_pool_answers_no_codes(api, db):
    program = ProgramFactory(slug="empty")
    body = api.get(ME, **bearer(token_for(program, "zoe"))).json()
    assert body["referral_codes"] == []


# --- referred_by_code: only from the signed token ----------------------------------------------


def test_referred_by_code_in_the_token_links_the_friend_as_pending(api, program, advocate):
    code = PromoCode.objects.filter(holder=advocate).first()
    token = token_for(program, "friend", referred_by_code=code.code.lower())
    assert api.get(ME, **bearer(token)).status_code == 200
    referral = Referral.objects.get(friend__participant_id="friend")
    assert referral.advocate == advocate
    assert referral.code == code
    assert referral.status == ReferralStatus.PENDING


def test_referred_by_code_in_the_query_string_is_ignored(api, program, advocate):
    code = PromoCode.objects.filter(holder=advocate).first()
    response = api.get(f"{ME}?referred_by_code={code.code}", **bearer(token_for(program, "eve")))
    assert response.status_code == 200
    assert not Referral.objects.filter(friend__participant_id="eve").exists()


def test_own_code_unknown_code_and_second_code_do_not_link(api, program, advocate):
    own = PromoCode.objects.filter(holder=advocate).first()
    api.get(ME, **bearer(token_for(program, "alice", referred_by_code=own.code)))
    api.get(ME, **bearer(token_for(program, "friend", referred_by_code="NOSUCHCODE")))
    assert not Referral.objects.exists()

    other = ParticipantFactory(program=program, participant_id="carol")
    from codes.services import codes_top_up

    codes_top_up(holder=other)
    api.get(ME, **bearer(token_for(program, "friend", referred_by_code=own.code)))
    carols = PromoCode.objects.filter(holder=other).first()
    api.get(ME, **bearer(token_for(program, "friend", referred_by_code=carols.code)))
    assert Referral.objects.get(friend__participant_id="friend").advocate == advocate


# --- POST /codes/{code}/copy --------------------------------------------------------------------


def test_copy_records_the_first_copy_and_says_so_after(api, program, advocate):
    code = PromoCode.objects.filter(holder=advocate).first()
    token = token_for(program, "alice")
    first = api.post(copy_url(code.code), **bearer(token))
    assert first.status_code == 200
    body = first.json()
    assert body["code"] == code.code
    assert body["copied_before"] is False
    assert body["first_copied_at"] is not None
    code.refresh_from_db()
    stamped = code.first_copied_at
    assert stamped is not None

    again = api.post(copy_url(code.code.lower()), **bearer(token)).json()
    assert again["copied_before"] is True
    code.refresh_from_db()
    assert code.first_copied_at == stamped  # the first copy's time is kept

    me = api.get(ME, **bearer(token)).json()
    listed = next(c for c in me["referral_codes"] if c["code"] == code.code)
    assert listed["copied_before"] is True and listed["first_copied_at"] is not None


def test_copy_of_a_code_not_held_is_404(api, program, advocate):
    other = ParticipantFactory(program=program, participant_id="carol")
    from codes.services import codes_top_up

    codes_top_up(holder=other)
    carols = PromoCode.objects.filter(holder=other).first()
    token = token_for(program, "alice")
    for text in [carols.code, "NOSUCHCODE", "bad code!"]:
        response = api.post(copy_url(text), **bearer(token))
        assert response.status_code == 404, text
        assert response.json()["error"]["code"] == "not_found"
    carols.refresh_from_db()
    assert carols.first_copied_at is None


def test_copy_of_a_redeemed_code_is_404(api, program, advocate):
    code = PromoCode.objects.filter(holder=advocate).first()
    PromoCode.objects.filter(pk=code.pk).update(status=CodeStatus.REDEEMED)
    response = api.post(copy_url(code.code), **bearer(token_for(program, "alice")))
    assert response.status_code == 404


def test_copy_by_a_participant_not_yet_loaded_is_404(api, program):
    response = api.post(copy_url("W0000"), **bearer(token_for(program, "nobody")))
    assert response.status_code == 404


def test_copy_needs_a_token(api, program, advocate):
    code = PromoCode.objects.filter(holder=advocate).first()
    assert api.post(copy_url(code.code)).status_code == 401


def test_code_record_copy_refuses_a_code_of_another_participant(program, advocate):
    other = ParticipantFactory(program=program, participant_id="dave")
    code = PromoCode.objects.filter(holder=advocate).first()
    with pytest.raises(CodeNotHeld):
        code_record_copy(participant=other, code_text=code.code)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_exactly_one_is_first():
    program = ProgramFactory(slug="race")
    stock(program, 3)
    advocate = ParticipantFactory(program=program, participant_id="racer")
    from codes.services import codes_top_up

    codes_top_up(holder=advocate)
    code = PromoCode.objects.filter(holder=advocate).first()
    results, barrier = [], threading.Barrier(8)

    def worker():
        try:
            barrier.wait()
            results.append(code_record_copy(participant=advocate, code_text=code.code))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert sum(not r.copied_before for r in results) == 1
    assert len({r.first_copied_at for r in results}) == 1


# --- Throttle -------------------------------------------------------------------------------------


@override_settings(WIDGET_API_RATE="3/min")
def test_the_widget_api_is_rate_limited_per_participant(api, program, advocate):
    alice, bob = token_for(program, "alice"), token_for(program, "bob")
    statuses = [api.get(ME, **bearer(alice)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.get(ME, **bearer(alice))
    assert limited.json()["error"]["code"] == "throttled"
    assert "Retry-After" in limited.headers
    # Another participant, and the same id in another program, have their own counts.
    assert api.get(ME, **bearer(bob)).status_code == 200
    other = ProgramFactory(slug="hats")
    assert api.get(ME, **bearer(token_for(other, "alice"))).status_code == 200


@override_settings(WIDGET_API_RATE="10/min")
def test_the_rate_count_is_atomic_under_concurrency(program):
    from rest_framework.test import APIRequestFactory

    from participants.widget.api import ParticipantRateThrottle
    from participants.widget.tokens import WidgetIdentity

    identity = WidgetIdentity(program=program, participant_id="alice", claims={})
    request = APIRequestFactory().get(ME)
    request.user = identity
    allowed, barrier = [], threading.Barrier(20)

    def worker():
        barrier.wait()
        allowed.append(ParticipantRateThrottle().allow_request(request, None))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 10


@pytest.mark.redis
def test_rate_counts_live_in_redis_when_configured(api, program, advocate):
    import redis
    from django.conf import settings
    from django.core.cache import cache

    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    api.get(ME, **bearer(token_for(program, "alice")))
    api.get(ME, **bearer(token_for(program, "alice")))
    client = redis.Redis.from_url(settings.REDIS_URL)
    [key] = client.keys(cache.make_and_validate_key(f"widget-rate:{program.pk}:*"))
    assert int(client.get(key)) == 2
    assert 0 < client.ttl(key) <= 70  # the window, and a margin


def test_the_documented_answers_match_the_real_ones(api, program, advocate):
    from participants.widget.schema import (
        CodeCopySerializer,
        RewardsSummarySerializer,
        WidgetMeSerializer,
    )

    token = token_for(program, "alice")
    body = api.get(ME, **bearer(token)).json()
    assert set(body) == set(WidgetMeSerializer().fields)
    assert set(body["rewards"]) == set(RewardsSummarySerializer().fields)
    copied = api.post(copy_url(body["referral_codes"][0]["code"]), **bearer(token)).json()
    assert set(copied) == set(CodeCopySerializer().fields)
