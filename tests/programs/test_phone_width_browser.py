"""No console page a program manager uses is wider than a 390 px phone: Chromium measures
`document.documentElement.scrollWidth` on each (tables scroll inside their own box, long
snippets wrap). Screenshots of each page at 390 px land in test-artifacts/phone/."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from codes.models import Batch, Pool, PromoCode
from conversions.models import Conversion
from participants.models import Participant, Reward
from programs.models import Program, Widget
from tests.programs.test_admin_scoping_walk import seed_program
from tests.widget.test_browser import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-manager-password-1"
WIDTH = 390

# The outermost elements that stick out past the screen's right edge (to name in a failure).
STICKING_OUT = """(width) => {
    const out = [];
    for (const el of document.body.querySelectorAll('*')) {
        const right = el.getBoundingClientRect().right;
        const parent = el.parentElement.getBoundingClientRect().right;
        if (right > width + 1 && parent <= width + 1) {
            out.push(`${el.tagName.toLowerCase()}.${[...el.classList].slice(0, 3).join('.')}`
                + ` (${Math.round(right)} px)`);
        }
    }
    return out.slice(0, 4);
}"""


def manager_pages(program):
    """Every page a manager of `program` works with: lists, each kind of object's page, the
    stock page and the upload form."""
    pool = Pool.objects.filter(program=program, kind="referral").get()
    one = {
        "programs_program": program,
        "programs_widget": Widget.objects.filter(program=program).first(),
        "codes_pool": pool,
        "codes_batch": Batch.objects.filter(pool=pool).first(),
        "codes_promocode": PromoCode.objects.filter(program=program, holder__isnull=False).first(),
        "participants_participant": Participant.objects.filter(
            program=program, is_advocate=True
        ).first(),
        "participants_reward": Reward.objects.filter(program=program).first(),
        "conversions_conversion": Conversion.objects.filter(program=program).first(),
    }
    pages = [reverse("admin:index")]
    for name, obj in one.items():
        pages.append(reverse(f"admin:{name}_changelist"))
        pages.append(reverse(f"admin:{name}_change", args=[obj.pk]))
    pages += [
        reverse("admin:participants_referral_changelist"),
        reverse("admin:codes_stockalert_changelist"),
        reverse("admin:programs_apikey_changelist"),
        reverse("admin:codes_program_stock", args=[program.pk]),
        reverse("admin:codes_batch_upload"),
    ]
    return pages


def test_no_console_page_is_wider_than_a_phone(browser, live_server):  # noqa: F811
    seed_program("Alpha Shoes", "alpha", "ALPHA")
    call_command(
        "create_manager", "anna", "--program", "alpha", "--password", PASSWORD, stdout=StringIO()
    )
    program = Program.objects.get(slug="alpha")
    context = browser.new_context(viewport={"width": WIDTH, "height": 780})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("anna")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    shots = ARTIFACTS / "phone"
    shots.mkdir(parents=True, exist_ok=True)
    too_wide = {}
    for path in manager_pages(program):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        name = path.strip("/").replace("/", "-") or "index"
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        if path == reverse("admin:programs_program_change", args=[program.pk]):
            # the two parts that pushed this page out once: the embed snippet and the trail
            page.locator(".embed-snippet").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "program-embed-snippet.png"))
            page.get_by_text("Open the audit trail").first.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "program-audit-trail.png"))
        if width > WIDTH:
            too_wide[path] = (width, page.evaluate(STICKING_OUT, WIDTH))
    context.close()
    assert not too_wide, too_wide
