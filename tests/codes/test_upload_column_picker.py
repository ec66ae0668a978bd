"""The preview's column picker: each column's first rows, the detected column preselected; the
manager picks another and the preview and the import read it; the choice travels in the signed
reference, checked against the columns of that upload (a tampered index is refused); a first row
naming no code column makes the manager choose before confirming; a platform export is named."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from codes.models import Batch, PromoCode
from codes.services import pool_get_or_create_referral
from codes.upload_store import upload_verify
from tests.codes import files
from tests.codes.test_import_layouts import SHOPIFY
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db
UPLOAD = reverse("admin:codes_batch_upload")


@pytest.fixture
def user(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    client.force_login(user)
    return user


@pytest.fixture
def pool():
    return pool_get_or_create_referral(program=ProgramFactory(slug="shop"))


def preview(client, pool, name, data):
    return client.post(UPLOAD, {"pool": pool.pk, "import_file": SimpleUploadedFile(name, data)})


def reference_of(response):
    return response.context["confirm_form"].initial["upload"]


def choose(client, response, column):
    return client.post(UPLOAD, {"choose": "1", "upload": reference_of(response), "column": column})


def confirm(client, response, **extra):
    return client.post(UPLOAD, {"confirm": "1", "upload": reference_of(response), **extra})


TWO_COLUMNS = files.text(["code,alt", "abc1,xyz1", "abc2,xyz2", "abc3,xyz3"])


def test_the_picker_shows_each_columns_first_rows_with_the_detected_one_checked(client, user, pool):
    response = preview(client, pool, "codes.csv", TWO_COLUMNS)
    shown = response.context["preview"]
    assert shown.picker_columns == [(0, 1, "code", True), (1, 2, "alt", False)]
    assert shown.picker_rows == [["abc1", "xyz1"], ["abc2", "xyz2"], ["abc3", "xyz3"]]
    page = response.text
    assert 'name="column" value="0" required checked' in page
    assert 'name="column" value="1" required>' in page
    assert "xyz2" in page


def test_picking_another_column_previews_and_imports_it(client, user, pool):
    first = preview(client, pool, "codes.csv", TWO_COLUMNS)
    picked = choose(client, first, "1")
    assert picked.status_code == 200
    shown = picked.context["preview"]
    assert (shown.column, shown.header, shown.codes_to_add) == (2, "alt", 3)
    assert shown.sample == ["XYZ1", "XYZ2", "XYZ3"]
    assert "as you chose" in picked.text
    # The choice is in the new signed reference, for this upload.
    assert upload_verify(reference=reference_of(picked), user=user).column == 1
    # A column field posted with the confirmation is never read: the reference's is.
    done = confirm(client, picked, column="0")
    assert done.status_code == 302
    assert sorted(PromoCode.objects.values_list("code", flat=True)) == ["XYZ1", "XYZ2", "XYZ3"]


@pytest.mark.parametrize("column", ["2", "-1", "99", "x", ""])
def test_a_column_that_is_not_one_of_the_uploads_is_refused(client, user, pool, column):
    first = preview(client, pool, "codes.csv", TWO_COLUMNS)
    assert choose(client, first, column).status_code == 403
    assert not Batch.objects.exists()


def test_a_tampered_reference_cannot_carry_a_column(client, user, pool):
    first = preview(client, pool, "codes.csv", TWO_COLUMNS)
    reference = reference_of(first)
    tampered = reference[:-1] + ("A" if reference[-1] != "A" else "B")
    response = client.post(UPLOAD, {"choose": "1", "upload": tampered, "column": "1"})
    assert response.status_code == 403


def test_a_background_import_reads_the_chosen_column(
    client, user, pool, settings, django_capture_on_commit_callbacks
):
    settings.CODES_UPLOAD_ASYNC_BYTES = 10  # this small file goes to the background path
    first = preview(client, pool, "codes.csv", TWO_COLUMNS)
    picked = choose(client, first, "1")
    with django_capture_on_commit_callbacks() as callbacks:
        done = confirm(client, picked)
    assert done.status_code == 302
    batch = Batch.objects.get()
    assert batch.code_column == 1
    for callback in callbacks:  # the worker's turn
        callback()
    assert sorted(PromoCode.objects.values_list("code", flat=True)) == ["XYZ1", "XYZ2", "XYZ3"]


TITLED = files.text(["Title,Promo", "Friends,abc1", "Friends,abc2"])


def test_a_first_row_naming_no_code_column_makes_the_manager_choose_first(client, user, pool):
    response = preview(client, pool, "codes.csv", TITLED)
    assert response.status_code == 200
    shown = response.context["preview"]
    assert shown.needs_column
    assert [c[3] for c in shown.picker_columns] == [False, False]  # nothing preselected
    assert "No code column: the first row (Title, Promo) is not a code" in response.text
    assert 'name="confirm"' not in response.text  # no confirmation before a choice
    picked = choose(client, response, "1")
    shown = picked.context["preview"]
    assert (shown.needs_column, shown.header, shown.codes_to_add) == (False, "Promo", 2)
    assert 'name="confirm"' in picked.text
    assert confirm(client, picked).status_code == 302
    assert sorted(PromoCode.objects.values_list("code", flat=True)) == ["ABC1", "ABC2"]


def test_the_preview_names_the_platform_and_counts_the_skipped(client, user, pool):
    response = preview(client, pool, "discounts.csv", SHOPIFY)
    shown = response.context["preview"]
    assert shown.platform == "Shopify discount codes"
    assert shown.codes_to_add == 2
    assert "Recognised as a <strong>Shopify discount codes</strong> export" in response.text
    assert "Skipped: expired in the file" in response.text
    assert dict((str(r), n) for r, n in shown.skipped_rows) == {
        "inactive in the file": 1,
        "already used, per the file": 1,
        "expired in the file": 2,
    }
    done = confirm(client, response)
    assert done.status_code == 302
    messages = [str(m) for m in done.wsgi_request._messages]
    assert any("2 skipped: expired in the file" in m for m in messages)
    batch_page = client.get(done.url)
    assert "1 skipped: inactive in the file; 1 skipped: already used, per the file; " in (
        batch_page.text
    )


def test_the_picker_and_the_skipped_rows_in_chinese(client, user, pool):
    response = client.post(
        UPLOAD,
        {"pool": pool.pk, "import_file": SimpleUploadedFile("discounts.csv", SHOPIFY)},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    page = response.text
    assert "已识别为 <strong>Shopify 折扣码</strong> 导出文件" in page
    assert "优惠码所在列" in page and "第 2 列" in page
    assert "已跳过：文件中已过期" in page and "已跳过：文件显示已被使用" in page
    assert "从这一列读取优惠码" in page
    first = client.post(
        UPLOAD,
        {"pool": pool.pk, "import_file": SimpleUploadedFile("codes.csv", TWO_COLUMNS)},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    picked = client.post(
        UPLOAD,
        {"choose": "1", "upload": reference_of(first), "column": "1"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert "按您的选择，优惠码读取自<strong>第 2 列</strong>（表头为“alt”）" in picked.text
