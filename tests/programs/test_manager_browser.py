"""A manager made by `create_manager` logs in, in Chromium at 1366 px, and sees only their
program; the program page shows reward fields by kind and the widget's embed snippet."""

from io import StringIO

import pytest
from django.core.management import call_command

from tests.programs.test_admin_scoping_walk import B_MARKERS, seed_program
from tests.widget.test_browser import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-manager-password-1"


@pytest.fixture
def manager_page(browser, live_server):  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    yield page
    context.close()


def assert_only_alpha(page):
    text = page.content().lower()
    assert not [marker for marker in B_MARKERS if marker in text], page.url


def test_a_manager_made_by_create_manager_logs_in_and_sees_only_their_program(
    manager_page, live_server
):
    from playwright.sync_api import expect

    alpha = seed_program("Alpha Shoes", "alpha", "ALPHA")
    seed_program("Bravo-Secret", "bravo-secret", "BRAVOSECRET")
    out = StringIO()
    call_command("create_manager", "anna", "--program", "alpha", "--password", PASSWORD, stdout=out)
    assert "now manages 'alpha'" in out.getvalue()

    page = manager_page
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("anna")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Programs").first).to_be_visible()
    assert_only_alpha(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "manager-index.png"))

    # The programs list: Alpha only.
    page.goto(f"{live_server.url}/admin/programs/program/")
    expect(page.get_by_role("link", name="Alpha Shoes")).to_be_visible()
    assert_only_alpha(page)

    # The code list and its pool filter: Alpha's pools only.
    page.goto(f"{live_server.url}/admin/codes/promocode/")
    expect(page.get_by_text("ALPHA0000")).to_be_visible()
    assert_only_alpha(page)
    page.screenshot(path=str(ARTIFACTS / "manager-codes.png"))
    page.locator("a", has_text="Filters").first.click()
    expect(page.locator("#changelist-filter")).to_be_visible()
    assert "Alpha Shoes · Alpha Shoes tank" in page.locator("#changelist-filter").inner_html()
    assert_only_alpha(page)
    page.locator("#changelist-filter [name=batch__id__exact]").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "manager-code-filters.png"))

    # The program page: the reward fields follow the kind; the embed snippet is shown.
    page.goto(f"{live_server.url}/admin/programs/program/{alpha.pk}/change/")
    amount = page.locator(".field-reward_amount")
    percent = page.locator(".field-reward_percent")
    expect(amount).to_be_visible()
    expect(percent).to_be_hidden()
    page.select_option("#id_reward_kind", "percent")
    expect(percent).to_be_visible()
    expect(amount).to_be_hidden()
    expect(page.locator(".embed-snippet")).to_contain_text("data-promo-codes")
    assert_only_alpha(page)
    page.locator(".field-reward_kind").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "manager-program-rewards.png"))
    page.locator(".embed-snippet").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "manager-program-embed.png"))

    # Bravo's program page does not open.
    page.goto(f"{live_server.url}/admin/programs/program/{alpha.pk + 1}/change/")
    assert "/admin/programs/program/" not in page.url or "change" not in page.url
    assert_only_alpha(page)
