"""The manager's console in a real browser (Chromium, 1366 × 768): finding an advocate's codes
by e-mail in the code manager, and adding a referral code on a participant's page after
confirming. Screenshots go to test-artifacts/."""

import pytest
from django.core.management import call_command

from codes.models import CodeSource, PromoCode
from participants.services import participant_upsert
from programs.models import CodeUsage
from tests.factories import ProgramFactory, stock_pool
from tests.widget.test_browser import ARTIFACTS, browser  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def manager_page(browser, live_server):  # noqa: F811
    program = ProgramFactory(slug="shop", name="Shoe Shop", code_usage=CodeUsage.SINGLE)
    stock_pool(program, 40, prefix="SHOE")
    other = ProgramFactory(slug="rival", name="Rival")
    stock_pool(other, 5, prefix="SHOE")
    call_command("create_manager", "mia", "--program", "shop", "--password", PASSWORD)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", "mia")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    yield page, program, other
    context.close()


def test_the_code_manager_finds_an_advocates_codes_by_email(manager_page, live_server):
    from playwright.sync_api import expect

    page, program, other = manager_page
    alice, _ = participant_upsert(
        program=program, participant_id="alice", email="alice@shoes.example"
    )
    participant_upsert(program=program, participant_id="bob", email="bob@shoes.example")
    participant_upsert(program=other, participant_id="carol", email="alice@shoes.example")
    alices = list(PromoCode.objects.filter(holder=alice).values_list("code", flat=True))
    assert len(alices) == 3

    page.goto(f"{live_server.url}/admin/codes/promocode/")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-code-list.png"))
    search = page.locator("#searchbar")
    search.fill("Alice@Shoes.example")
    search.press("Enter")
    page.wait_for_url("**q=Alice*")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    for code in alices:
        expect(page.locator("#result_list").get_by_text(code, exact=True)).to_be_visible()
    # The advocate column is on screen at 1366 px, without scrolling sideways.
    advocate = page.locator("#result_list tbody tr").first.get_by_role("link", name="alice")
    expect(advocate).to_be_visible()
    box = advocate.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1366
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-code-search-by-email.png"))
    page.locator("a:has-text('Export')").first.click()
    expect(page.get_by_role("link", name="CSV: the filtered list")).to_be_visible()
    page.wait_for_timeout(400)  # the menu fades in
    page.screenshot(path=str(ARTIFACTS / "console-code-export-menu.png"))

    # The first characters of a code, typed in lower case.
    search = page.locator("#searchbar")
    search.fill(alices[0][:6].lower())
    search.press("Enter")
    page.wait_for_url(f"**q={alices[0][:6].lower()}*")
    expect(page.locator("#result_list").get_by_text(alices[0], exact=True)).to_be_visible()


def test_the_participant_page_adds_a_code_after_confirming(manager_page, live_server):
    from playwright.sync_api import expect

    page, program, _ = manager_page
    alice, _ = participant_upsert(
        program=program, participant_id="alice", email="alice@shoes.example"
    )
    page.goto(f"{live_server.url}/admin/participants/participant/{alice.pk}/change/")
    codes = page.locator("text=Codes and links")
    expect(codes.first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-participant-page.png"), full_page=True)

    page.get_by_role("link", name="Add referral code").click()
    expect(page.get_by_text("Add a referral code for alice").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "console-add-code-confirmation.png"))
    assert not PromoCode.objects.filter(holder=alice, source=CodeSource.MANUAL).exists()

    page.get_by_role("button", name="Add the code").click()
    added = PromoCode.objects.get(holder=alice, source=CodeSource.MANUAL)
    expect(page.get_by_text(f"Added referral code {added.code}")).to_be_visible()
    expect(page.locator("#promo_codes-data").get_by_text(added.code, exact=True)).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "console-participant-code-added.png"), full_page=True)


def test_rewards_and_conversions_lists_read_at_1366_px(manager_page, live_server):
    from playwright.sync_api import expect

    from tests.api_helpers import client_for, url

    page, program, _ = manager_page
    alice, _ = participant_upsert(
        program=program, participant_id="alice", email="alice@shoes.example"
    )
    api = client_for(program)
    for number, code in enumerate(PromoCode.objects.filter(holder=alice)[:2]):
        body = {
            "OrderId": f"ORD-{number}",
            "OrderPromoCode": code.code,
            "CustomerId": f"friend-{number}",
            "OrderSubtotal": "80.00",
            "CurrencyCode": "EUR",
        }
        assert api.post(url(program, "conversions"), body).json()["status"] == "attributed"
    api.post(url(program, "conversions/ORD-1/reversal"), {"reason": "Parcel returned"})

    page.goto(f"{live_server.url}/admin/participants/reward/")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.locator("#result_list").get_by_text("friend-0")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-rewards.png"))

    page.goto(f"{live_server.url}/admin/conversions/conversion/")
    expect(page.get_by_text("Parcel returned", exact=False)).to_be_visible()
    expect(page.locator("#result_list").get_by_text("80.00 EUR").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "console-conversions.png"))
