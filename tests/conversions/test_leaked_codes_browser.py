"""A leaked code in Chromium at 1366 px and 390 px: flagged on the stock page and in the code
manager, and voided from the e-mail's link after the console's confirmation. Screenshots land
in test-artifacts/."""

from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from codes.models import CodeStatus
from conversions.tasks import detect_leaked_codes
from tests.api_helpers import advocate_with_code
from tests.conversions.test_leaked_codes import leak_program, orders
from tests.widget.test_browser import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-manager-password-1"


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.mark.parametrize("width", [1366, 390])
def test_a_leaked_code_is_flagged_and_voided_from_its_emails_link(browser, live_server, width):  # noqa: F811
    from playwright.sync_api import expect

    program = leak_program(limit=2, name="Alpha Shoes")
    _, code = advocate_with_code(program)
    orders(program, code, 3)
    detect_leaked_codes()
    (message,) = [m for m in mail.outbox if "Leaked code" in m.subject]
    link = next(line for line in message.body.splitlines() if line.startswith("Void it"))
    void_path = "/admin/" + link.split("/admin/", 1)[1]
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

        page.goto(f"{live_server.url}/admin/codes/pool/stock/{program.pk}/")
        card = page.locator(".leaked-codes")
        expect(card).to_contain_text(code.code)
        expect(card).to_contain_text("adv-1")
        card.scroll_into_view_if_needed()
        screenshot(page, f"leaked-stock-{width}.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= width

        card.get_by_role("link", name="In the code manager").click()
        expect(page.locator(".leaked-flag")).to_have_count(1)
        expect(page.locator(".leaked-flag")).to_have_text("leaked")
        screenshot(page, f"leaked-code-manager-{width}.png")

        page.goto(f"{live_server.url}{void_path}")
        expect(page.get_by_text("Voiding cannot be undone.")).to_be_visible()
        page.get_by_label("Why").fill("Posted on a coupon site")
        screenshot(page, f"leaked-void-{width}.png")
        page.locator(".confirm-submit").click()
        expect(page.get_by_text("Voided 1 code").first).to_be_visible()
        screenshot(page, f"leaked-voided-{width}.png")
    finally:
        context.close()
    code.refresh_from_db()
    assert code.status == CodeStatus.VOIDED
    assert "Posted on a coupon site" in code.void_reason
