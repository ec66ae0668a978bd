"""The widget in a real browser: Playwright for Python driving Debian's chromium.

Never a downloaded browser build: `make browser` (a step of `make test`) installs chromium.
"""

import os
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from django.utils import timezone

from codes.models import PromoCode
from codes.services import codes_top_up
from tests.conftest import service_unavailable
from tests.factories import ParticipantFactory, ProgramFactory
from tests.widget.conftest import stock, token_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser(django_db_setup):
    if not os.access(CHROMIUM, os.X_OK):
        service_unavailable(
            f"Chromium is not installed at {CHROMIUM}: run `make browser` as root (`make test` "
            "runs it) to install Debian's chromium"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the tests' own ORM calls are
    # still plain synchronous ones, made between browser steps.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 760})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    yield page
    context.close()


def widget_url(live_server, program, token):
    return f"{live_server.url}/widget/{program.slug}/#token={token}"


def test_rotate_copy_reload_and_see_the_notice(page, live_server):
    from playwright.sync_api import expect

    program = ProgramFactory(
        slug="shoes", codes_per_advocate=3, friend_offer_text="Friends get 20% off shoes."
    )
    stock(program, 5, prefix="SHOE")
    codes_top_up(holder=ParticipantFactory(program=program, participant_id="alice"))
    page.goto(widget_url(live_server, program, token_for(program, "alice")))

    code = page.locator(".pc-code")
    counter = page.locator(".pc-counter")
    notice = page.get_by_text("You've copied this code before")
    expect(code).to_have_text("SHOE0000")
    expect(counter).to_have_text("Code 1 of 3")
    expect(page.get_by_text("Friends get 20% off shoes.")).to_be_visible()
    expect(page.get_by_text("No friends referred yet.")).to_be_visible()

    page.get_by_role("button", name="Next code").click()
    expect(code).to_have_text("SHOE0001")
    expect(counter).to_have_text("Code 2 of 3")
    page.get_by_role("button", name="Previous code").click()
    page.get_by_role("button", name="Previous code").click()  # wraps round
    expect(counter).to_have_text("Code 3 of 3")
    # Keyboard: the buttons are reachable and work with Enter.
    page.get_by_role("button", name="Next code").focus()
    page.keyboard.press("Enter")
    expect(counter).to_have_text("Code 1 of 3")
    page.keyboard.press("Enter")
    expect(code).to_have_text("SHOE0001")

    expect(notice).to_be_hidden()
    # The widget says "copied" at once and records the copy in the background: wait for the
    # recording request before looking at the database.
    with page.expect_response(
        lambda r: r.url.endswith("/copy") and r.request.method == "POST"
    ) as recorded:
        page.get_by_role("button", name="Copy code").click()
    assert recorded.value.status == 200
    expect(page.get_by_role("status")).to_contain_text("SHOE0001 copied")
    assert page.evaluate("navigator.clipboard.readText()") == "SHOE0001"
    expect(notice).to_be_hidden()  # the first copy is not "before"
    assert PromoCode.objects.get(code="SHOE0001").first_copied_at is not None
    assert PromoCode.objects.get(code="SHOE0000").first_copied_at is None

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-copied.png"), full_page=True)

    page.reload()
    expect(code).to_have_text("SHOE0000")
    expect(notice).to_be_hidden()
    page.get_by_role("button", name="Next code").click()
    expect(code).to_have_text("SHOE0001")
    expect(notice).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "widget-copied-before.png"), full_page=True)


def test_a_reward_code_shows_under_the_rewards_and_is_copied(page, live_server):
    from playwright.sync_api import expect

    from participants.models import Referral, ReferralStatus
    from participants.services import reward_grant
    from tests.factories import fuel_tank

    program = ProgramFactory(slug="gifts", codes_per_advocate=1)
    stock(program, 2, prefix="REF")
    fuel_tank(program, 2, prefix="GIFT-")
    alice = ParticipantFactory(program=program, participant_id="alice")
    codes_top_up(holder=alice)
    friend = ParticipantFactory(program=program, participant_id="bob", is_advocate=False)
    reward_grant(
        referral=Referral.objects.create(
            program=program,
            advocate=alice,
            friend=friend,
            status=ReferralStatus.CONVERTED,
            converted_at=timezone.now(),
        )
    )
    page.goto(widget_url(live_server, program, token_for(program, "alice")))
    expect(page.locator(".pc-code")).to_have_text("REF0000")
    expect(page.get_by_role("heading", name="Your reward codes")).to_be_visible()
    reward = page.locator(".pc-reward-code")
    expect(reward).to_have_text("GIFT-00000")
    with page.expect_response(
        lambda r: r.url.endswith("/copy") and r.request.method == "POST"
    ) as recorded:
        page.get_by_role("button", name="Copy reward code GIFT-00000").click()
    assert recorded.value.status == 200
    expect(page.get_by_role("status")).to_contain_text("GIFT-00000 copied")
    assert page.evaluate("navigator.clipboard.readText()") == "GIFT-00000"
    assert PromoCode.objects.get(code="GIFT-00000").first_copied_at is not None
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-reward-code.png"), full_page=True)
    page.reload()
    expect(page.locator(".pc-reward").get_by_text("You've copied this code before")).to_be_visible()


@pytest.fixture
def phone(browser, live_server):
    """A phone 390 px wide whose browser speaks English."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="en-US",
    )
    page = context.new_page()
    yield page
    context.close()


def test_a_code_with_an_expiry_says_until_when_it_is_valid(phone, live_server):
    """A code that expires reads "Valid until <date>" (as the advocate's language writes
    dates), one that does not reads nothing; the same under a reward code."""
    from playwright.sync_api import expect

    from participants.models import Referral, ReferralStatus
    from participants.services import reward_grant
    from tests.factories import fuel_tank

    page = phone
    year = timezone.now().year + 1
    until = timezone.now().replace(year=year, month=12, day=31, hour=12, minute=0)
    program = ProgramFactory(slug="dated", codes_per_advocate=2)
    stock(program, 2, prefix="DATE")
    fuel_tank(program, 1, prefix="GIFT-")
    alice = ParticipantFactory(program=program, participant_id="alice")
    codes_top_up(holder=alice)
    PromoCode.objects.filter(code__in=["DATE0000", "GIFT-00000"]).update(expires_at=until)
    friend = ParticipantFactory(program=program, participant_id="bob", is_advocate=False)
    reward_grant(
        referral=Referral.objects.create(
            program=program,
            advocate=alice,
            friend=friend,
            status=ReferralStatus.CONVERTED,
            converted_at=timezone.now(),
        )
    )
    page.goto(widget_url(live_server, program, token_for(program, "alice")))
    expect(page.locator(".pc-code")).to_have_text("DATE0000")
    expiry = page.locator(".pc-card .pc-expiry")
    expect(expiry).to_have_text(f"Valid until Dec 31, {year}")
    expect(expiry).to_be_visible()
    expect(page.locator(".pc-reward .pc-expiry")).to_have_text(f"Valid until Dec 31, {year}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-expiry-phone.png"), full_page=True)
    page.get_by_role("button", name="Next code").tap()
    expect(page.locator(".pc-code")).to_have_text("DATE0001")
    expect(expiry).to_be_hidden()


def test_an_advocate_with_no_code_sees_the_empty_state(page, live_server):
    from playwright.sync_api import expect

    program = ProgramFactory(slug="empty")
    page.goto(widget_url(live_server, program, token_for(program, "zoe")))
    expect(page.get_by_text("No code yet")).to_be_visible()
    expect(page.get_by_role("button", name="Copy code")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-empty.png"), full_page=True)


def test_an_expired_token_is_shown_readably(page, live_server):
    from playwright.sync_api import expect

    program = ProgramFactory(slug="late")
    token = jwt.encode(
        {"sub": "alice", "program": "late", "exp": timezone.now() - timedelta(minutes=1)},
        program.widget_secret,
        "HS256",
    )
    page.goto(widget_url(live_server, program, token))
    expect(page.get_by_role("alert")).to_contain_text("This link has expired")


@pytest.fixture
def shop_server():
    """A plain HTML page on another origin: a tiny server of its own on the loopback."""
    pages = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.pages = pages
    server.origin = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    server.server_close()


def test_the_script_mounts_the_widget_on_another_origin(page, live_server, shop_server):
    from playwright.sync_api import expect

    shop = shop_server.origin
    program = ProgramFactory(slug="embed", widget_allowed_origins=shop)
    stock(program, 3, prefix="EMB")
    token = token_for(program, "bob")
    shop_server.pages["/account"] = (
        "<!doctype html><html><head><title>Shop</title></head><body><h1>My account</h1>"
        f'<div data-promo-codes data-token="{token}"></div>'
        f'<script src="{live_server.url}/static/promo-codes/promo-codes.js"></script>'
        "</body></html>"
    )
    page.goto(f"{shop}/account")
    expect(page.locator(".pc-code")).to_have_text("EMB0000")
    expect(page.locator(".pc-counter")).to_have_text("Code 1 of 3")
    # The stylesheet beside the script came along.
    assert page.locator(".pc-copy").evaluate("b => getComputedStyle(b).display") == "block"

    # Once the origin is no longer allowed, the browser's CORS check stops the widget.
    program.widget_allowed_origins = ""
    program.save()
    page.reload()
    expect(page.get_by_role("alert")).to_be_visible()


def test_the_admin_rotate_button_rotates_the_secret(page, live_server, django_user_model):
    from playwright.sync_api import expect

    django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-browser")
    program = ProgramFactory(slug="rotating")
    before = program.widget_secret
    page.goto(f"{live_server.url}/admin/login/?next=/admin/programs/program/{program.pk}/change/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("pw-for-browser")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Reveal")).to_be_visible()
    expect(page.locator(".widget-secret")).to_be_hidden()  # masked until revealed
    page.get_by_text("Reveal").click()
    expect(page.locator(".widget-secret")).to_have_text(before)
    page.get_by_role("button", name="Rotate widget secret").click()
    expect(page.get_by_text("widget secret of")).to_be_visible()
    program.refresh_from_db()
    assert program.widget_secret != before
    expect(page.locator(".widget-secret")).to_have_text(program.widget_secret, use_inner_text=False)


def test_a_token_of_another_program_is_refused_before_any_call(page, live_server):
    from playwright.sync_api import expect

    from participants.models import Participant

    shoes = ProgramFactory(slug="shoes")
    hats = ProgramFactory(slug="hats")
    calls = []
    page.on("request", lambda request: calls.append(request.url))
    page.goto(widget_url(live_server, shoes, token_for(hats, "alice")))
    expect(page.locator(".pc-error-title")).to_have_text(
        "This link is for another program. Please open the page again from your account."
    )
    assert not [u for u in calls if "/api/v1/widget/" in u]
    assert not Participant.objects.exists()


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.x"])
def test_a_broken_link_reads_not_valid_not_another_program(page, live_server, token):
    from playwright.sync_api import expect

    program = ProgramFactory(slug="shoes")
    page.goto(widget_url(live_server, program, token))
    expect(page.locator(".pc-error-title")).to_have_text(
        "This link is not valid. Please open the page again from your account."
    )


def test_without_the_referral_code_component_the_widget_shows_no_code(page, live_server):
    from playwright.sync_api import expect

    from programs.models import Widget, WidgetComponent, WidgetComponentKind

    program = ProgramFactory(slug="parts", codes_per_advocate=2)
    stock(program, 4, prefix="PART")
    widget = Widget.objects.create(program=program, name="Checkout widget")
    component = WidgetComponent.objects.create(
        widget=widget, kind=WidgetComponentKind.REFERRAL_PROMO_CODE
    )
    WidgetComponent.objects.create(widget=widget, kind=WidgetComponentKind.REWARDS_SUMMARY)
    codes_top_up(holder=ParticipantFactory(program=program, participant_id="alice"))
    page.goto(widget_url(live_server, program, token_for(program, "alice")))
    expect(page.locator(".pc-code")).to_have_text("PART0000")

    # The manager removes the component from every widget: the advocate sees no code.
    component.delete()
    page.reload()
    expect(page.get_by_text("No friends referred yet.")).to_be_visible()
    expect(page.locator(".pc-code")).to_have_count(0)
    expect(page.get_by_role("button", name="Copy code")).to_have_count(0)
    expect(page.get_by_text("No code yet")).to_have_count(0)
    assert "PART000" not in page.content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-without-code-component-390.png"), full_page=True)


@pytest.fixture
def phone_zh(browser, live_server):
    """A phone whose browser speaks Chinese (navigator.language and Accept-Language zh-CN)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    yield page
    context.close()


def test_the_widget_in_chinese_on_a_phone(phone_zh, live_server):
    """?lang=zh-hans (and a Chinese phone): every word the advocate reads is Chinese; money and
    dates as Chinese writes them; the codes, copy, "copied before" and the rewards."""
    import re

    from playwright.sync_api import expect

    from participants.models import Referral, ReferralStatus, Reward, RewardKind, RewardStatus
    from participants.services import reward_grant
    from tests.factories import fuel_tank

    page = phone_zh
    program = ProgramFactory(
        slug="cha",
        name="茶馆",
        codes_per_advocate=2,
        reward_kind=RewardKind.FUEL_TANK,
        friend_offer_text="好友首单立减 20%。",
    )
    stock(program, 3, prefix="CHA")
    fuel_tank(program, 1, prefix="GIFT-")
    alice = ParticipantFactory(program=program, participant_id="alice")
    codes_top_up(holder=alice)
    PromoCode.objects.filter(code="CHA0001").update(first_copied_at=timezone.now())
    next_year = timezone.now().year + 1
    PromoCode.objects.filter(code="CHA0000").update(
        expires_at=timezone.now().replace(year=next_year, month=12, day=31, hour=12)
    )
    friends = [
        ParticipantFactory(program=program, participant_id=f"f{i}", is_advocate=False)
        for i in range(3)
    ]
    referrals = [
        Referral.objects.create(program=program, advocate=alice, friend=friend, **state)
        for friend, state in zip(
            friends,
            [
                {"status": ReferralStatus.CONVERTED, "converted_at": timezone.now()},
                {"status": ReferralStatus.CONVERTED, "converted_at": timezone.now()},
                {"status": ReferralStatus.PENDING},
            ],
            strict=True,
        )
    ]
    reward_grant(referral=referrals[0])  # the fuel-tank code
    Reward.objects.create(  # and a credit in yuan, from an earlier rule
        program=program,
        advocate=alice,
        referral=referrals[1],
        kind=RewardKind.CREDIT,
        amount=10,
        currency="CNY",
        status=RewardStatus.AVAILABLE,
    )

    page.goto(
        f"{live_server.url}/widget/{program.slug}/?lang=zh-hans#token={token_for(program, 'alice')}"
    )
    code = page.locator(".pc-code")
    expect(code).to_have_text("CHA0000")
    expect(page.locator(".pc-counter")).to_have_text("第 1 个，共 2 个")
    expect(page.locator(".pc-card .pc-expiry")).to_have_text(f"有效期至 {next_year}年12月31日")
    expect(page.get_by_role("heading", name="推荐好友")).to_be_visible()
    expect(page.get_by_text("已推荐 3 位好友（1 个待确认，2 个已下单）。")).to_be_visible()
    expect(page.get_by_text("¥10.00", exact=False)).to_be_visible()
    expect(page.locator(".pc-reward-date")).to_contain_text(str(timezone.now().year) + "年")
    with page.expect_response(lambda r: "/copy" in r.url and r.request.method == "POST") as done:
        page.get_by_role("button", name="复制优惠码").tap()
    assert done.value.status == 200
    expect(page.get_by_role("status")).to_have_text("优惠码 CHA0000 已复制到剪贴板。")
    page.get_by_role("button", name="下一个优惠码").tap()
    expect(code).to_have_text("CHA0001")
    expect(page.locator(".pc-card .pc-notice")).to_have_text("您之前复制过此优惠码")
    assert page.evaluate("document.title") == "茶馆 · 推荐好友"
    assert page.evaluate("document.querySelector('.pc-widget').lang") == "zh-hans"

    # Nothing English left: the visible text, less the codes, has no run of Latin letters.
    text = page.evaluate("document.body.innerText")
    for shown_code in ("CHA0000", "CHA0001", "GIFT-00000"):
        text = text.replace(shown_code, "")
    assert re.findall(r"[A-Za-z]{2,}", text) == [], text

    # The layout holds: nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-zh-hans-phone.png"), full_page=True)


def test_an_expired_link_reads_in_chinese(phone_zh, live_server):
    from playwright.sync_api import expect

    program = ProgramFactory(slug="late-zh")
    token = jwt.encode(
        {"sub": "alice", "program": program.slug, "exp": timezone.now() - timedelta(minutes=1)},
        program.widget_secret,
        "HS256",
    )
    phone_zh.goto(widget_url(live_server, program, token))  # no ?lang: the phone's language
    expect(phone_zh.get_by_role("alert")).to_contain_text("此链接已过期")
