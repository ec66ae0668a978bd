"""The manager's console for participants, rewards and conversions (docs/architecture.md,
Reviewing):
the participant page with codes, referrals and rewards; "Add referral code" after a
confirmation; the participant list's codes held and "short of codes"; rewards moved only by
their actions; conversions with advocate, friend and amount, a reversed one shown reversed."""

import pytest
from django.urls import reverse
from django.utils import timezone

from codes.models import CodeShortfall, CodeSource, PromoCode
from conversions.models import Conversion
from participants.models import Participant, Referral, Reward, RewardStatus
from programs.models import CodeUsage
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    return client


@pytest.fixture
def order():
    """alice's code used by friend-9 in ORD-77 (single-use, credit reward)."""
    program = stocked_program(slug="shop", code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    alice, code = advocate_with_code(program, "alice", "alice@example.com")
    body = {
        "OrderId": "ORD-77",
        "OrderPromoCode": code.code,
        "CustomerId": "friend-9",
        "OrderSubtotal": "120.50",
        "CurrencyCode": "EUR",
    }
    assert client_for(program).post(url(program, "conversions"), body).json()["status"] == (
        "attributed"
    )
    return program, alice, code


def page_of(client, participant):
    return client.get(reverse("admin:participants_participant_change", args=[participant.pk]))


def test_the_participant_page_shows_each_code_once_with_its_order_and_friend(order, admin_client):
    _, alice, code = order
    text = page_of(admin_client, alice).text
    codes_table = text.split("Codes and links")[1].split("Referrals (friends")[0]
    assert codes_table.count(f">{code.code}<") == 1
    friend = Participant.objects.get(participant_id="friend-9")
    assert reverse("admin:participants_participant_change", args=[friend.pk]) in text
    assert "ORD-77" in text and "order_id=ORD-77" in text
    assert "Referrals (friends this advocate referred)" in text and "Rewards" in text
    assert "10.00 USD" in text  # the reward's amount, in the Rewards table


def test_add_referral_code_asks_first_then_adds(order, admin_client):
    _, alice, _ = order
    add = reverse("admin:participants_participant_add_referral_code", args=[alice.pk])
    assert add in page_of(admin_client, alice).text
    confirmation = admin_client.get(add)
    assert "Add a referral code for alice" in confirmation.text
    held = PromoCode.objects.held_by(alice).count()
    plural = "" if held == 1 else "s"
    assert f"They hold {held} referral code{plural} now" in confirmation.text
    assert not PromoCode.objects.filter(holder=alice, source=CodeSource.MANUAL).exists()
    done = admin_client.post(add, {"_confirmed": "yes"}, follow=True)
    added = PromoCode.objects.get(holder=alice, source=CodeSource.MANUAL)
    assert f"Added referral code {added.code}" in done.text


def test_add_referral_code_to_a_friend_says_why_not(order, admin_client):
    friend = Participant.objects.get(participant_id="friend-9")
    add = reverse("admin:participants_participant_add_referral_code", args=[friend.pk])
    done = admin_client.post(add, {"_confirmed": "yes"}, follow=True)
    assert "No code added: friend-9 is a referred friend, not an advocate yet" in done.text
    assert "upsert" not in done.text
    assert not PromoCode.objects.filter(holder=friend).exists()


def test_the_participant_list_shows_codes_held_and_filters_short_of_codes(order, admin_client):
    program, alice, _ = order
    bob, _ = advocate_with_code(program, "bob", "bob@example.com")
    CodeShortfall.objects.create(holder=bob, program=program, since=timezone.now())
    listing = reverse("admin:participants_participant_changelist")
    page = admin_client.get(listing)
    held = {p.participant_id: p.held_count for p in page.context["cl"].result_list}
    assert held["alice"] == PromoCode.objects.held_by(alice).count()
    assert held["bob"] == PromoCode.objects.held_by(bob).count()
    short = admin_client.get(listing, {"short_of_codes": "yes"}).context["cl"].result_list
    assert [p.participant_id for p in short] == ["bob"]


def test_the_rewards_list_names_advocate_friend_order_amount_and_program(order, admin_client):
    page = admin_client.get(reverse("admin:participants_reward_changelist"))
    text = page.text
    for shown in ["alice", "friend-9", "ORD-77", "10.00 USD", "Shop", "UTC"]:
        assert shown in text


def test_a_rewards_status_cannot_be_set_by_hand(order, admin_client):
    reward = Reward.objects.get()
    reward.status = RewardStatus.CANCELLED
    reward.save()
    change = reverse("admin:participants_reward_change", args=[reward.pk])
    page = admin_client.get(change)
    assert 'name="status"' not in page.text
    admin_client.post(change, {"status": RewardStatus.AVAILABLE})
    reward.refresh_from_db()
    assert reward.status == RewardStatus.CANCELLED


def test_mark_paid_asks_first_then_pays_an_available_reward(order, admin_client):
    reward = Reward.objects.get()
    assert reward.status == RewardStatus.AVAILABLE  # no review period
    mark = reverse("admin:participants_reward_mark_paid_here", args=[reward.pk])
    assert (
        mark in admin_client.get(reverse("admin:participants_reward_change", args=[reward.pk])).text
    )
    row = reverse("admin:participants_reward_mark_paid_from_list", args=[reward.pk])
    assert row in admin_client.get(reverse("admin:participants_reward_changelist")).text
    assert "Mark reward" in admin_client.get(mark).text
    reward.refresh_from_db()
    assert reward.status == RewardStatus.AVAILABLE
    done = admin_client.post(mark, {"_confirmed": "yes"}, follow=True)
    reward.refresh_from_db()
    assert reward.status == RewardStatus.PAID and f"Reward #{reward.pk} marked paid" in done.text


def test_mark_paid_refuses_a_reward_still_in_review(order, admin_client):
    Reward.objects.update(status=RewardStatus.PENDING)
    reward = Reward.objects.get()
    row = reverse("admin:participants_reward_mark_paid_from_list", args=[reward.pk])
    done = admin_client.post(row, {"_confirmed": "yes"}, follow=True)
    assert "only an available reward can be marked paid" in done.text
    reward.refresh_from_db()
    assert reward.status == RewardStatus.PENDING


def test_the_conversions_list_shows_a_reversed_order_with_its_reason(order, admin_client):
    program, *_ = order
    listing = reverse("admin:conversions_conversion_changelist")
    text = admin_client.get(listing).text
    for shown in ["alice", "friend-9", "120.50 EUR", "Attributed"]:
        assert shown in text
    client_for(program).post(url(program, "conversions/ORD-77/reversal"), {"reason": "Refunded"})
    assert Conversion.objects.get().status == "reversed"
    text = admin_client.get(listing).text
    assert "Reversed on" in text and "Refunded" in text
    assert "Attributed" not in text.split("result_list")[-1].split("</table>")[0]


def test_a_referrals_order_links_to_its_conversion(order, admin_client):
    referral = Referral.objects.get()
    conversions = admin_client.get(
        reverse("admin:conversions_conversion_changelist"),
        {"order_id": referral.order_id, "program__id__exact": referral.program_id},
    )
    assert [c.order_id for c in conversions.context["cl"].result_list] == ["ORD-77"]


def test_erase_personal_data_asks_first_then_erases_and_keeps_the_books(order, admin_client):
    _, alice, code = order
    erase = reverse("admin:participants_participant_erase_personal_data", args=[alice.pk])
    assert erase in page_of(admin_client, alice).text
    confirmation = admin_client.get(erase)
    assert "Erase the personal data of alice" in confirmation.text
    assert "This cannot be undone." in confirmation.text
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"  # nothing happens before confirming
    done = admin_client.post(erase, {"_confirmed": "yes"}, follow=True)
    assert "e-mail, names and account id blanked" in done.text
    alice.refresh_from_db()
    assert alice.is_erased and alice.email == "" and alice.participant_id != "alice"
    assert "alice@example.com" not in done.text
    assert Referral.objects.filter(code=code).count() == 1  # the books are kept
    again = admin_client.post(erase, {"_confirmed": "yes"}, follow=True)
    assert "already erased" in again.text


def test_a_manager_cannot_erase_another_programs_participant(order, client, django_user_model):
    from django.core.management import call_command

    _, alice, _ = order
    other = stocked_program(slug="other")
    call_command("create_manager", "mia", "--program", other.slug, "--password", "pw-12345-long")
    client.login(username="mia", password="pw-12345-long")
    erase = reverse("admin:participants_participant_erase_personal_data", args=[alice.pk])
    assert client.post(erase, {"_confirmed": "yes"}).status_code in (403, 404)
    alice.refresh_from_db()
    assert not alice.is_erased


def test_a_friend_whose_order_carried_an_email_is_shown_by_it(admin_client):
    program = stocked_program(slug="mail", code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    alice, code = advocate_with_code(program, "alice", "alice@example.com")
    body = {
        "OrderId": "ORD-88",
        "OrderPromoCode": code.code,
        "CustomerId": "cust-88120",
        "CustomerEmail": "bea@example.com",
        "OrderSubtotal": "40.00",
        "CurrencyCode": "EUR",
    }
    assert client_for(program).post(url(program, "conversions"), body).status_code in (200, 201)
    pages = [
        page_of(admin_client, alice),
        admin_client.get(reverse("admin:participants_referral_changelist")),
        admin_client.get(reverse("admin:participants_reward_changelist")),
        admin_client.get(reverse("admin:conversions_conversion_changelist")),
        admin_client.get(reverse("admin:codes_promocode_changelist"), {"q": code.code}),
    ]
    for page in pages:
        assert "bea@example.com" in page.text, page.request["PATH_INFO"]
        assert "cust-88120" not in page.text, page.request["PATH_INFO"]


@pytest.mark.parametrize("status", [RewardStatus.PAID, RewardStatus.CANCELLED])
def test_a_paid_or_cancelled_rewards_page_offers_nothing_it_would_refuse(
    order, admin_client, status
):
    reward = Reward.objects.get()
    change = reverse("admin:participants_reward_change", args=[reward.pk])
    mark = reverse("admin:participants_reward_mark_paid_here", args=[reward.pk])
    available = admin_client.get(change).text
    assert mark in available  # an available reward can be marked paid...
    assert 'name="_save"' not in available  # ...and has no field to save
    Reward.objects.filter(pk=reward.pk).update(status=status)
    page = admin_client.get(change).text
    assert mark not in page and "Mark paid" not in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
