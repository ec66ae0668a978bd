"""A manager chooses their time zone on their settings page (account menu), in Chromium at
1366 px and on a 390 px phone, and reads the console's times in it."""

from datetime import UTC, datetime

import pytest

from programs.models import ApiKey, ConsoleSettings
from programs.services import program_manager_add
from tests.programs.test_admin_scoping_walk import seed_program
from tests.widget.test_browser import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-manager-password-1"


@pytest.mark.parametrize("width,height,name", [(1366, 768, "laptop"), (390, 844, "phone")])
def test_a_manager_sets_their_zone_and_reads_times_in_it(
    browser,  # noqa: F811
    live_server,
    width,
    height,
    name,
):
    from playwright.sync_api import expect

    alpha = seed_program("Alpha Shoes", "alpha", "ALPHA")
    program_manager_add(program=alpha, username="anna", password=PASSWORD)
    ApiKey.objects.filter(program=alpha).update(
        created_at=datetime(2026, 12, 7, 13, 19, tzinfo=UTC),
        last_used_at=datetime(2026, 12, 7, 23, 5, tzinfo=UTC),
    )
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("anna")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # The account menu (beside the language switcher) leads to the settings page.
    settings_link = page.locator('a[href="/admin/settings/"]')
    expect(settings_link).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    if width > 1000:
        page.locator("[x-on\\:click='openUserLinks = !openUserLinks']").click()
        expect(settings_link).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "console-account-menu.png"))
        settings_link.click()
    else:
        page.goto(f"{live_server.url}/admin/settings/")
    expect(page.locator("#console-now")).to_contain_text("UTC")
    page.select_option("#id_time_zone", "Europe/Paris")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#console-now")).to_contain_text("CET")
    assert ConsoleSettings.objects.get(user__username="anna").time_zone == "Europe/Paris"
    page.screenshot(path=str(ARTIFACTS / f"console-settings-{name}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # A list's times, in Paris: 13:19 UTC is 14:19 CET, 23:05 UTC the next day 00:05 CET.
    page.goto(f"{live_server.url}/admin/programs/apikey/")
    expect(page.get_by_text("2026-12-07 14:19 CET")).to_be_visible()
    expect(page.get_by_text("2026-12-08 00:05 CET")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / f"console-times-in-zone-{name}.png"), full_page=True)
    context.close()
