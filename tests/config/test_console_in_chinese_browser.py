"""The console in Chinese in a real browser (Debian's chromium via Playwright), as a program
manager whose browser speaks Chinese, at 1366×768: the program page with its pools, the audit
trail, the code manager, the webhook pages and the review queue, each screenshotted to
test-artifacts/ and read for English left in it."""

import pytest

from tests.config.test_console_in_chinese import alpha, english_left  # noqa: F401 (fixture)
from tests.programs.test_admin_scoping_walk import PASSWORD
from tests.widget.test_browser import ARTIFACTS, browser  # noqa: F401 (the browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_managers_pages_in_chinese(browser, live_server, alpha):  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.get_by_label("用户名").fill("alpha-manager")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_text("您的计划的优惠码库存")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    endpoint = alpha.webhook_endpoints.get()
    pages = [
        ("program", f"/admin/programs/program/{alpha.pk}/change/", "码池"),
        ("audit-trail", f"/admin/programs/program/{alpha.pk}/audit/", "审计记录"),
        ("code-manager", "/admin/codes/promocode/", "优惠码类型"),
        ("webhook-endpoints", "/admin/webhooks/endpoint/", "投递记录"),
        ("webhook-endpoint", f"/admin/webhooks/endpoint/{endpoint.pk}/change/", "密钥轮换"),
        ("webhook-deliveries", "/admin/webhooks/delivery/", "事件类型"),
        ("review-queue", "/admin/participants/reward/?status__exact=pending_review", "需复核"),
    ]
    for name, path, heading in pages:
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_text(heading).first).to_be_visible()
        page.screenshot(path=ARTIFACTS / f"zh-hans-{name}-1366.png", full_page=True)
        assert english_left(page.content()) == [], path
        # Nothing runs off the right of a laptop's screen.
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 1366, f"{path} is {width}px wide"
    context.close()
