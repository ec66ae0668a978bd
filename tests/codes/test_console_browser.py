"""The stock page and the upload preview in a real browser (Debian's chromium via Playwright),
as a program manager at 1366×768. Screenshots land in test-artifacts/."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from codes.models import CodeStatus, PromoCode
from tests.codes import files
from tests.factories import ParticipantFactory, ProgramFactory, UserFactory, fuel_tank, stock_pool
from tests.widget.test_browser import ARTIFACTS, browser  # noqa: F401 (the browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
PERMISSIONS = [
    "view_program",
    "change_program",
    "view_pool",
    "view_batch",
    "add_batch",
    "view_promocode",
    "view_stockalert",
]


@pytest.fixture
def manager_page(browser, live_server):  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def program():
    program = ProgramFactory(name="Shoe Shop", slug="shoes", low_stock_threshold=20)
    pool = stock_pool(program, 120)
    fuel_tank(program, 15, name="Thank-you codes")
    advocates = [ParticipantFactory(program=program) for _ in range(10)]
    now = timezone.now()
    ids = list(PromoCode.objects.filter(pool=pool).order_by("id").values_list("id", flat=True))
    # 60 codes handed out over the last 30 days, more of them lately.
    for n, code_id in enumerate(ids[:60]):
        PromoCode.objects.filter(id=code_id).update(
            status=CodeStatus.ASSIGNED,
            holder=advocates[n % 10],
            assigned_at=now - timedelta(days=(n * 7) % 29, hours=n % 5),
        )
    return program


def log_in(page, live_server, program, next_url):
    user = UserFactory(username="manager")
    user.user_permissions.add(*Permission.objects.filter(codename__in=PERMISSIONS))
    program.managers.add(user)
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_the_stock_page_draws_its_chart(manager_page, live_server, program):
    from playwright.sync_api import expect

    page = manager_page
    log_in(page, live_server, program, f"/admin/codes/pool/stock/{program.pk}/")
    expect(page.get_by_text("Codes handed out per day, last 30 days")).to_be_visible()
    canvas = page.locator("canvas.chart")
    expect(canvas).to_have_count(1)
    # Chart.js (unfold's bundled copy) made a chart of the canvas, with both pools' data...
    # (it does so once its script has run: wait for that rather than race it)
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas.chart'))"
    )
    datasets = page.evaluate(
        "() => Chart.getChart(document.querySelector('canvas.chart')).data.datasets"
        ".map(d => [d.label, d.data.reduce((a, b) => a + b, 0)])"
    )
    assert datasets == [["Referral codes", 60], ["Thank-you codes", 0]]
    # ...and drew it: the canvas has painted pixels.
    painted = page.evaluate(
        """() => {
            const canvas = document.querySelector('canvas.chart');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
            let painted = 0;
            for (let i = 3; i < pixels.data.length; i += 4) if (pixels.data[i] > 0) painted++;
            return painted;
        }"""
    )
    assert painted > 500
    box = canvas.bounding_box()
    assert box["width"] > 600 and box["height"] > 200
    expect(page.locator(".stock-pool").first).to_contain_text("60")  # assigned
    expect(page.get_by_role("link", name="Upload codes")).to_have_count(2)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "stock-page-1366.png", full_page=True)

    page.get_by_role("link", name="Upload codes").first.click()
    expect(page.get_by_label("Pool")).to_have_value(str(program.pools.get(kind="referral").pk))


def test_the_index_dashboard_links_to_the_stock_page(manager_page, live_server, program):
    from playwright.sync_api import expect

    page = manager_page
    log_in(page, live_server, program, "/admin/")
    card = page.locator(".program-stock")
    expect(card).to_contain_text("Shoe Shop")
    expect(card.locator("[data-count=available]")).to_have_text("60")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "admin-index-dashboard-1366.png", full_page=True)
    card.get_by_role("link", name="Stock page").click()
    expect(page.locator("canvas.chart")).to_be_visible()


def test_the_upload_preview_shows_the_codes_it_will_add(
    manager_page, live_server, program, tmp_path
):
    from playwright.sync_api import expect

    page = manager_page
    pool = program.pools.get(kind="referral")
    log_in(page, live_server, program, f"/admin/codes/batch/upload/?pool={pool.pk}")
    path = tmp_path / "spring.csv"
    path.write_bytes(
        files.text(["Customer,Promo Code"] + [f"c{i},spring{i:02d}" for i in range(15)])
    )
    page.locator("input[type=file]").set_input_files(path)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#upload-layout")).to_contain_text("column 2")
    expect(page.locator("#upload-layout")).to_contain_text("Promo Code")
    expect(page.locator("#upload-usage")).to_contain_text("Single-use")
    sample = page.locator("#upload-sample li")
    expect(sample).to_have_count(10)
    expect(sample.first).to_have_text("SPRING00")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "upload-preview-1366.png", full_page=True)
    page.get_by_role("button", name="Confirm import of 15 codes").click()
    expect(page.get_by_text(re.compile(r"Batch \d+: 15 rows read, 15 codes added"))).to_be_visible()
    assert PromoCode.objects.filter(pool=pool, code__startswith="SPRING").count() == 15


def test_a_file_without_a_code_column_is_refused_in_the_form(
    manager_page, live_server, program, tmp_path
):
    from playwright.sync_api import expect

    page = manager_page
    pool = program.pools.get(kind="referral")
    log_in(page, live_server, program, f"/admin/codes/batch/upload/?pool={pool.pk}")
    path = tmp_path / "people.csv"
    path.write_bytes(files.text(["name,email", "bob,bob@example.com"]))
    page.locator("input[type=file]").set_input_files(path)
    page.get_by_role("button", name="Preview").click()
    expect(
        page.get_by_text("No code column: the first row (name, email) is a header")
    ).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "upload-refused-name-email-1366.png", full_page=True)


def test_the_program_page_has_stock_and_upload_buttons(manager_page, live_server, program):
    from playwright.sync_api import expect

    page = manager_page
    log_in(page, live_server, program, f"/admin/programs/program/{program.pk}/change/")
    # unfold's detail-action buttons at the top of the page
    stock = page.locator(f'a[href="/admin/programs/program/{program.pk}/stock/"]')
    upload = page.locator(f'a[href="/admin/programs/program/{program.pk}/upload/"]')
    expect(stock).to_contain_text("Stock")
    expect(upload).to_contain_text("Upload codes")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "program-page-buttons-1366.png")
    upload.click()
    expect(page.get_by_label("Pool")).to_have_value(str(program.pools.get(kind="referral").pk))
    page.go_back()
    stock.click()
    expect(page.locator("canvas.chart")).to_be_visible()


def test_a_file_without_a_header_is_previewed_with_a_warning(
    manager_page, live_server, program, tmp_path
):
    from playwright.sync_api import expect

    page = manager_page
    pool = program.pools.get(kind="referral")
    log_in(page, live_server, program, f"/admin/codes/batch/upload/?pool={pool.pk}")
    path = tmp_path / "codes.csv"
    path.write_bytes(files.text(["summer01,10%", "summer02,10%", "summer03,15%"]))
    page.locator("input[type=file]").set_input_files(path)
    page.get_by_role("button", name="Preview").click()
    warning = page.locator("#no-header-warning")
    expect(warning).to_contain_text("No header row was found")
    expect(warning).to_contain_text("(“summer01”, “10%”)")
    expect(page.locator("#upload-sample li")).to_have_count(3)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "upload-preview-no-header-1366.png", full_page=True)


def test_the_main_pages_in_chinese(browser, live_server, program, tmp_path):  # noqa: F811
    """A manager whose browser speaks Chinese: the dashboard, the stock page, an upload's
    preview, the code manager, a participant and the program form, screenshotted."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    user = UserFactory(username="manager")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=[*PERMISSIONS, "view_participant"])
    )
    program.managers.add(user)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.get_by_label("用户名").fill("manager")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    ARTIFACTS.mkdir(exist_ok=True)

    expect(page.get_by_text("您的计划的优惠码库存")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "zh-hans-dashboard-1366.png", full_page=True)

    page.goto(f"{live_server.url}/admin/codes/pool/stock/{program.pk}/")
    expect(page.get_by_text("近 30 天每日发放的优惠码")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "zh-hans-stock-page-1366.png", full_page=True)

    pool = program.pools.get(kind="referral")
    page.goto(f"{live_server.url}/admin/codes/batch/upload/?pool={pool.pk}")
    path = tmp_path / "spring.csv"
    path.write_bytes(
        files.text(["Customer,Promo Code"] + [f"c{i},spring{i:02d}" for i in range(15)])
    )
    page.locator("input[type=file]").set_input_files(path)
    page.get_by_role("button", name="预览").click()
    expect(page.locator("#upload-layout")).to_contain_text("第 2 列")
    page.screenshot(path=ARTIFACTS / "zh-hans-upload-preview-1366.png", full_page=True)

    page.goto(f"{live_server.url}/admin/codes/promocode/")
    page.screenshot(path=ARTIFACTS / "zh-hans-code-manager-1366.png", full_page=True)
    advocate = program.participants.first()
    page.goto(f"{live_server.url}/admin/participants/participant/{advocate.pk}/change/")
    page.screenshot(path=ARTIFACTS / "zh-hans-participant-1366.png", full_page=True)
    page.goto(f"{live_server.url}/admin/programs/program/{program.pk}/change/")
    page.screenshot(path=ARTIFACTS / "zh-hans-program-form-1366.png", full_page=True)
    context.close()
