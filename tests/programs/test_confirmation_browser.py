"""Every confirmation page in the console's own styles, in Chromium at 1366 px and 390 px: the
program form's "cannot be undone" page, voiding codes and blocking advocates. The buttons are
buttons (a filled primary or danger one, a bordered "No, go back"), the "Why" box has a visible
border under its label. Screenshots land in test-artifacts/."""

from io import StringIO

import pytest
from django.core.management import call_command

from codes.models import CodeStatus, PromoCode
from participants.models import Participant
from programs.models import Program
from tests.programs.test_admin_scoping_walk import seed_program
from tests.widget.test_browser import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-manager-password-1"
# Colours come back as [red, green, blue, alpha] 0-255 (unfold's are oklch(); a canvas paints them).
STYLE = """(el) => {
    const s = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const rgba = (colour) => {
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.fillStyle = colour;
        ctx.fillRect(0, 0, 1, 1);
        return Array.from(ctx.getImageData(0, 0, 1, 1).data);
    };
    return {
        tag: el.tagName, background: rgba(s.backgroundColor), color: rgba(s.color),
        cursor: s.cursor, border: parseFloat(s.borderTopWidth), borderColor: rgba(s.borderTopColor),
        paddingX: parseFloat(s.paddingLeft), paddingY: parseFloat(s.paddingTop),
        radius: parseFloat(s.borderTopLeftRadius), height: box.height, width: box.width,
        top: box.top,
    };
}"""


@pytest.fixture
def contexts(browser, live_server):  # noqa: F811
    """A logged-in manager's page at 1366 px and at 390 px (one session)."""
    seed_program("Alpha Shoes", "alpha", "ALPHA")
    call_command(
        "create_manager", "anna", "--program", "alpha", "--password", PASSWORD, stdout=StringIO()
    )
    made = []

    def page_at(width):
        context = browser.new_context(
            viewport={"width": width, "height": 800 if width > 400 else 760}
        )
        made.append(context)
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/login/")
        page.get_by_label("Username").fill("anna")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/admin/")
        return page

    yield page_at
    for context in made:
        context.close()


def assert_console_buttons(page, danger):
    submit = page.locator(".confirm-submit")
    cancel = page.locator(".confirm-cancel")
    confirm, back = submit.evaluate(STYLE), cancel.evaluate(STYLE)
    # A filled button: red for what cannot be undone, the console's primary colour otherwise.
    red, green, blue, alpha = confirm["background"]
    assert alpha == 255, confirm
    assert (red > 150 and green < 100 and blue < 100) == danger, confirm
    assert confirm["color"] == [255, 255, 255, 255], confirm
    # "No, go back" is a bordered white button, not a link in the text.
    assert back["border"] >= 1 and back["borderColor"][3] > 0, back
    assert back["borderColor"][:3] != [255, 255, 255], back
    assert back["background"] == [255, 255, 255, 255], back
    for button in (confirm, back):
        assert button["cursor"] == "pointer", button
        assert button["paddingX"] >= 8 and button["paddingY"] >= 6, button
        assert button["radius"] > 0 and button["height"] >= 32, button


def assert_reason_box(page):
    box = page.get_by_label("Why")
    style = box.evaluate(STYLE)
    assert style["tag"] == "INPUT"
    assert style["border"] >= 1 and style["borderColor"][3] > 0, style
    assert style["borderColor"][:3] != [255, 255, 255], style
    assert style["height"] >= 32 and style["width"] >= 200, style
    label = page.locator("label", has_text="Why").first.evaluate(STYLE)
    assert label["top"] < style["top"], "the label stands above its box"
    box.fill("leaked on a coupon site")


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.mark.parametrize("width", [1366, 390])
def test_the_irreversible_change_asks_with_the_consoles_buttons(contexts, live_server, width):
    from playwright.sync_api import expect

    program = Program.objects.get(slug="alpha")
    Program.objects.filter(pk=program.pk).update(promo_codes_enabled=False, code_usage="multi")
    page = contexts(width)
    page.goto(f"{live_server.url}/admin/programs/program/{program.pk}/change/")
    page.locator("#id_promo_codes_enabled").check()
    page.select_option("#id_code_usage", "single")
    page.locator("#submit-row button[name=_save], button[name=_save]").first.click()
    expect(page.get_by_text("cannot be undone").first).to_be_visible()
    assert_console_buttons(page, danger=True)
    screenshot(page, f"confirm-irreversible-{width}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.locator(".confirm-submit").click()
    expect(page.locator("#id_code_usage, .field-code_usage").first).to_be_visible()
    program.refresh_from_db()
    assert program.promo_codes_enabled and program.code_usage == "single"


@pytest.mark.parametrize("width", [1366, 390])
def test_voiding_codes_asks_why_in_a_visible_box(contexts, live_server, width):
    from playwright.sync_api import expect

    page = contexts(width)
    code = PromoCode.objects.filter(code="ALPHA0005").get()
    page.goto(f"{live_server.url}/admin/codes/promocode/?q=ALPHA0005")
    page.locator("input.action-select").first.check()
    page.select_option("select[name=action]", "void_codes")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("Voiding cannot be undone.")).to_be_visible()
    assert_console_buttons(page, danger=True)
    assert_reason_box(page)
    screenshot(page, f"confirm-void-{width}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.locator(".confirm-submit").click()
    expect(page.get_by_text("Voided 1 code").first).to_be_visible()
    code.refresh_from_db()
    assert code.status == CodeStatus.VOIDED
    assert code.void_reason == "leaked on a coupon site"


@pytest.mark.parametrize("width", [1366, 390])
def test_blocking_asks_why_in_a_visible_box(contexts, live_server, width):
    from playwright.sync_api import expect

    page = contexts(width)
    page.goto(f"{live_server.url}/admin/participants/participant/?q=alpha-advocate")
    page.locator("input.action-select").first.check()
    page.select_option("select[name=action]", "block_advocates")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("will be blocked")).to_be_visible()
    assert_console_buttons(page, danger=False)
    checkbox = page.get_by_label("Also void the referral codes they hold")
    assert checkbox.evaluate(STYLE)["border"] >= 1
    expect(checkbox).to_be_checked()
    assert_reason_box(page)
    screenshot(page, f"confirm-block-{width}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.locator(".confirm-submit").click()
    expect(page.get_by_text("Blocked 1").first).to_be_visible()
    assert Participant.objects.get(participant_id="alpha-advocate").is_blocked
