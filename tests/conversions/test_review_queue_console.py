"""The review queue in the console: each held referral with its score and reasons in words and
its advocate's history; the dashboard counts the referrals waiting, per program managed."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from participants.models import Reward, RewardStatus
from participants.services import participant_block
from tests.conversions.test_review_queue_api import held_orders
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PERMISSIONS = ["view_reward", "change_reward", "view_pool", "view_program"]


def manager_of(*programs, permissions=PERMISSIONS):
    user = UserFactory()
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    for program in programs:
        program.managers.add(user)
    return user


def queue_url(program):
    return (
        reverse("admin:participants_reward_changelist")
        + f"?status__exact=pending_review&program__id__exact={program.pk}"
    )


def test_the_queue_shows_score_reasons_in_words_and_the_advocates_history(client):
    program, _ = held_orders(2)
    client.force_login(manager_of(program))
    page = client.get(queue_url(program)).content.decode()
    assert page.count('class="font-semibold review-score">Score 40<') == 2
    assert page.count("Disposable e-mail (+40)") == 2
    assert "The customer&#x27;s e-mail is at a disposable (throwaway) domain." in page
    # The advocate made 3 referrals: one clean (granted), two held.
    assert "3 referrals (3 converted) · rewards: 1 granted, 2 held" in page


def test_the_held_referrals_page_says_the_review_and_the_history_with_flags(client):
    program, _ = held_orders(1)
    held = Reward.objects.get(program=program, status=RewardStatus.PENDING_REVIEW)
    participant_block(participant=held.advocate, void_codes=False, reason="checking")
    client.force_login(manager_of(program))
    page = client.get(reverse("admin:participants_reward_change", args=[held.pk]))
    body = page.content.decode()
    assert "Score 40 of 100, from:" in body
    assert (
        "Disposable e-mail (+40): The customer&#x27;s e-mail is at a disposable (throwaway) "
        "domain." in body
    )
    assert "rewards: 1 granted, 1 held" in body
    assert '<div class="advocate-history">blocked</div>' in body
    clean = Reward.objects.get(program=program, status=RewardStatus.AVAILABLE)
    other = client.get(reverse("admin:participants_reward_change", args=[clean.pk]))
    assert "Score 0: no check applied." in other.content.decode()


def test_the_dashboard_counts_the_referrals_waiting_in_the_managers_programs(client):
    mine, _ = held_orders(2)
    theirs, _ = held_orders(1)
    client.force_login(manager_of(mine))
    page = client.get(reverse("admin:index"))
    body = page.content.decode()
    cards = page.context["stock_dashboard"]
    assert [item["row"].program for item in cards] == [mine]
    (figure,) = cards[0]["figures"]
    assert figure.count == 2 and figure.attention
    assert figure.url == queue_url(mine)
    assert 'data-count="held_referrals">2<' in body
    listed = client.get(figure.url).context["cl"].result_list
    assert {r.program_id for r in listed} == {mine.pk} and len(listed) == 2
    # A manager who may not see rewards gets no such figure.
    client.force_login(manager_of(mine, theirs, permissions=["view_pool"]))
    cards = client.get(reverse("admin:index")).context["stock_dashboard"]
    assert all(item["figures"] == [] for item in cards)


def test_the_queue_the_history_and_the_dashboard_in_chinese(client):
    program, _ = held_orders(1)
    client.force_login(manager_of(program))
    chinese = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans"}
    page = client.get(queue_url(program), **chinese).content.decode()
    assert ">得分 40<" in page
    assert "一次性邮箱 (+40)" in page
    assert "2 个推荐（2 个已转化） · 奖励：1 个已发放、1 个暂扣" in page
    held = Reward.objects.get(program=program, status=RewardStatus.PENDING_REVIEW)
    asked = client.post(
        reverse("admin:participants_reward_changelist") + f"?program__id__exact={program.pk}",
        {"action": "deny_held", "_selected_action": [held.pk]},
        **chinese,
    ).content.decode()
    assert "1 个暂扣奖励将被拒绝" in asked
    index = client.get(reverse("admin:index"), **chinese).content.decode()
    assert "待审核的推荐" in index


def test_the_held_referrals_page_approves_it_after_asking_why(client):
    from audit.models import AuditEntry

    program, _ = held_orders(1)
    held = Reward.objects.get(program=program, status=RewardStatus.PENDING_REVIEW)
    approve = reverse("admin:participants_reward_approve_this", args=[held.pk])
    client.force_login(manager_of(held_orders(1)[0]))
    assert client.get(approve).status_code == 403  # another program's manager
    client.force_login(manager_of(program))
    page = client.get(reverse("admin:participants_reward_change", args=[held.pk]))
    assert approve in page.content.decode()
    asked = client.get(approve)
    assert "1 held reward will be approved" in asked.content.decode()
    assert Reward.objects.get(pk=held.pk).status == RewardStatus.PENDING_REVIEW
    done = client.post(approve, {"_confirmed": "yes", "reason": "Her sister, same address"})
    assert done.status_code == 302 and done["Location"] == queue_url(program)
    assert Reward.objects.get(pk=held.pk).status == RewardStatus.AVAILABLE
    entry = AuditEntry.objects.get(event="reward approved after review")
    assert entry.additional_data == {"reason": "Her sister, same address"}
    # Decided: the page no longer offers it.
    page = client.get(reverse("admin:participants_reward_change", args=[held.pk]))
    assert approve not in page.content.decode()
