"""The review queue in Chromium at 1366 px and 390 px: the dashboard's count leads to the held
referrals, each with its score and reasons in words and its advocate's history; a manager
approves one and denies two with a reason, and the audit trail records each decision.
Screenshots land in test-artifacts/."""

from io import StringIO

import pytest
from django.core.management import call_command

from audit.models import AuditEntry
from participants.models import Reward, RewardStatus
from tests.conversions.test_review_queue_api import held_orders
from tests.widget.test_browser import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-manager-password-1"


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def decide(page, rows, action, reason):
    for row in rows:
        row.locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.get_by_role("button", name="Run").click()
    page.get_by_label("Why").fill(reason)


@pytest.mark.parametrize("width", [1366, 390])
def test_a_manager_approves_one_and_denies_two_from_the_queue(browser, live_server, width):  # noqa: F811
    from playwright.sync_api import expect

    program, _ = held_orders(3, name="Alpha Shoes")
    call_command(
        "create_manager",
        "anna",
        "--program",
        program.slug,
        "--password",
        PASSWORD,
        stdout=StringIO(),
    )
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 400 else 760})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/admin/login/")
        page.get_by_label("Username").fill("anna")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/admin/")

        figure = page.locator('[data-figure="held_referrals"]')
        expect(figure).to_contain_text("Referrals waiting for review: 3")
        screenshot(page, f"review-dashboard-{width}.png")
        figure.get_by_role("link").click()

        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(3)
        expect(rows.first.locator(".review-score")).to_have_text("Score 40")
        expect(rows.first.locator(".review-reason")).to_have_text("Disposable e-mail (+40)")
        expect(rows.first.locator(".advocate-history")).to_contain_text(
            "4 referrals (4 converted) · rewards: 1 granted, 3 held"
        )
        screenshot(page, f"review-queue-{width}.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1 or width < 400

        queue = page.url
        held = Reward.objects.filter(status=RewardStatus.PENDING_REVIEW).order_by("pk").first()
        page.goto(f"{live_server.url}/admin/participants/reward/{held.pk}/change/")
        expect(page.get_by_text("Score 40 of 100, from:")).to_be_visible()
        expect(page.locator(".review-reason")).to_contain_text(
            "The customer's e-mail is at a disposable (throwaway) domain."
        )
        expect(page.locator(".advocate-history").first).to_contain_text("4 referrals")
        screenshot(page, f"review-held-referral-{width}.png")
        page.goto(queue)

        decide(page, [rows.nth(0)], "approve_held", "Known customer, checked by phone")
        expect(page.get_by_text("1 held reward will be approved")).to_be_visible()
        screenshot(page, f"review-approve-{width}.png")
        page.locator(".confirm-submit").click()
        expect(page.get_by_text("Approved 1 held reward.")).to_be_visible()

        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(2)
        decide(page, [rows.nth(0), rows.nth(1)], "deny_held", "Throwaway addresses")
        expect(page.get_by_text("2 held rewards will be denied")).to_be_visible()
        screenshot(page, f"review-deny-{width}.png")
        page.locator(".confirm-submit").click()
        expect(page.get_by_text("Denied 2 held rewards.")).to_be_visible()
        expect(page.locator("#result_list tbody tr")).to_have_count(0)
        screenshot(page, f"review-queue-empty-{width}.png")
    finally:
        context.close()

    assert not Reward.objects.filter(status=RewardStatus.PENDING_REVIEW).exists()
    assert Reward.objects.filter(reason_code="review_denied").count() == 2
    entries = AuditEntry.objects.filter(event__endswith="after review").order_by("id")
    assert [(e.event, e.additional_data["reason"], e.actor.username) for e in entries] == [
        ("reward approved after review", "Known customer, checked by phone", "anna"),
        ("reward denied after review", "Throwaway addresses", "anna"),
        ("reward denied after review", "Throwaway addresses", "anna"),
    ]
