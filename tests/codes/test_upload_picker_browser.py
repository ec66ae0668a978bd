"""The upload preview's column picker in a real browser (Debian's chromium via Playwright): a
manager on a 1366 px laptop and on a 390 px phone picks the codes' column of a file whose first
row names none, and sees a platform export named. Screenshots land in test-artifacts/."""

import re

import pytest

from tests.codes import files
from tests.codes.test_console_browser import log_in, program  # noqa: F401 (fixture)
from tests.codes.test_import_layouts import SHOPIFY
from tests.widget.test_browser import ARTIFACTS, browser  # noqa: F401 (the browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLED = files.text(
    ["Title,Promo,Note"] + [f"Spring friends,spring{i:02d},batch {i % 3}" for i in range(12)]
)


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_the_manager_picks_the_codes_column(
    browser,  # noqa: F811
    live_server,
    program,  # noqa: F811
    tmp_path,
    width,
    height,
):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    pool = program.pools.get(kind="referral")
    log_in(page, live_server, program, f"/admin/codes/batch/upload/?pool={pool.pk}")
    path = tmp_path / "spring.csv"
    path.write_bytes(TITLED)
    page.locator("input[type=file]").set_input_files(path)
    page.get_by_role("button", name="Preview").click()

    expect(page.locator("#choose-column-warning")).to_contain_text(
        "No code column: the first row (Title, Promo, Note) is not a code"
    )
    picker = page.locator("#upload-columns")
    expect(picker.locator("input[name=column]")).to_have_count(3)
    expect(picker.locator("input[name=column]:checked")).to_have_count(0)
    expect(picker).to_contain_text("spring01")
    expect(page.get_by_role("button", name="Confirm import")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"upload-choose-column-{width}.png", full_page=True)

    picker.get_by_label("Column 2").check()
    page.get_by_role("button", name="Read the codes from this column").click()
    expect(page.locator("#upload-layout")).to_contain_text("column 2")
    expect(page.locator("#upload-layout")).to_contain_text("as you chose")
    expect(page.locator("#upload-columns input[name=column][value='1']")).to_be_checked()
    expect(page.locator("#upload-sample li").first).to_have_text("SPRING00")
    page.screenshot(path=ARTIFACTS / f"upload-column-chosen-{width}.png", full_page=True)
    page.get_by_role("button", name="Confirm import of 12 codes").click()
    expect(page.get_by_text(re.compile(r"Batch \d+: 12 rows read, 12 codes added"))).to_be_visible()
    context.close()


def test_a_shopify_export_is_named_and_its_skipped_rows_counted(
    browser,  # noqa: F811
    live_server,
    program,  # noqa: F811
    tmp_path,
):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    pool = program.pools.get(kind="referral")
    log_in(page, live_server, program, f"/admin/codes/batch/upload/?pool={pool.pk}")
    path = tmp_path / "discount_codes.csv"
    path.write_bytes(SHOPIFY)
    page.locator("input[type=file]").set_input_files(path)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#upload-platform")).to_contain_text("Shopify discount codes")
    expect(page.locator("#upload-counts")).to_contain_text("Skipped: expired in the file")
    expect(page.locator("#upload-columns input[name=column][value='0']")).to_be_checked()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "upload-shopify-export-1366.png", full_page=True)
    context.close()
