"""Uploading codes in the admin: preview of every refused row, then confirm into one batch."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from codes.models import Batch, BatchSource, BatchStatus, BatchUploadPart, PromoCode
from codes.services import batch_upload_enqueue, pool_get_or_create_referral
from programs.models import ProgramManager
from tests.codes import files
from tests.factories import ProgramFactory, PromoCodeFactory, UserFactory

pytestmark = pytest.mark.django_db
UPLOAD = reverse("admin:codes_batch_upload")


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    return client


@pytest.fixture
def pool():
    return pool_get_or_create_referral(program=ProgramFactory(slug="shop"))


def preview(client, pool, name, data):
    return client.post(UPLOAD, {"pool": pool.pk, "import_file": SimpleUploadedFile(name, data)})


def confirm(client, response):
    form = response.context["confirm_form"]
    data = {name: form.initial[name] for name in form.fields if form.initial.get(name)}
    return client.post(UPLOAD, {**data, "confirm": "yes"})


def test_upload_page_is_linked_from_the_batch_and_pool_lists(admin_client, pool):
    assert UPLOAD in admin_client.get(reverse("admin:codes_batch_changelist")).text
    assert (
        f"{UPLOAD}?pool={pool.pk}" in admin_client.get(reverse("admin:codes_pool_changelist")).text
    )
    page = admin_client.get(f"{UPLOAD}?pool={pool.pk}")
    assert page.status_code == 200
    assert page.context["form"]["pool"].value() == str(pool.pk)


def test_preview_lists_every_refused_row_then_confirm_imports_the_good_ones(admin_client, pool):
    PromoCodeFactory(batch__pool=pool, code="OLD")
    data = files.xlsx([("Code",), ("abc",), ("old",), ("ABC",), (123,), ("a b",), ("def",)])
    response = preview(admin_client, pool, "codes.xlsx", data)
    assert response.status_code == 200
    shown = response.context["preview"]
    assert (shown.rows_read, shown.codes_to_add, shown.duplicates_in_file) == (6, 2, 1)
    assert (shown.already_in_program, shown.invalid_rows) == (1, 2)
    assert [(r["line"], r["reason"].split(" (")[0]) for r in shown.refused] == [
        (3, "already in the program"),
        (4, "duplicate within the file"),
        (5, "a number cell"),
        (6, "invalid characters ' '"),
    ]
    assert "duplicate within the file" in response.text
    assert not Batch.objects.filter(source=BatchSource.UPLOAD).exists()  # nothing yet

    done = confirm(admin_client, response)
    batch = Batch.objects.get(source=BatchSource.UPLOAD)
    assert done.status_code == 302
    assert done.url == reverse("admin:codes_batch_change", args=[batch.pk])
    assert batch.file_name == "codes.xlsx"
    assert (batch.rows_read, batch.codes_added, batch.duplicates_in_file) == (6, 2, 1)
    assert (batch.already_in_program, batch.invalid_rows, len(batch.errors)) == (1, 2, 4)
    assert list(batch.codes.values_list("code", flat=True)) == ["ABC", "DEF"]

    page = admin_client.get(done.url)
    assert page.status_code == 200
    assert "a number cell" in page.text
    assert "Done: 6 rows read." in page.text


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "file is empty"),
        ("header.csv", b"Code\r\n", "no codes"),
        ("garbage.csv", bytes(range(256)) * 4, "binary data"),
        ("wrong.ods", b"code\nabc", "not a readable OpenDocument"),
        ("codes.docx", b"abc", r"Cannot read \.docx"),
    ],
)
def test_unreadable_upload_is_refused_with_a_message_and_nothing_saved(
    admin_client, pool, name, data, message
):
    response = preview(admin_client, pool, name, data)
    assert response.status_code == 200
    assert "preview" not in response.context
    errors = " ".join(response.context["form"].errors["import_file"])
    assert re.search(message, errors)
    assert not Batch.objects.exists()
    assert not PromoCode.objects.exists()


def test_promo_codes_off_refuses_the_upload(admin_client, pool):
    type(pool.program).objects.filter(pk=pool.program_id).update(promo_codes_enabled=False)
    response = preview(admin_client, pool, "c.txt", files.text(["abc"]))
    assert "Referral promo codes are off" in " ".join(response.context["form"].errors["pool"])


def test_a_manager_cannot_upload_into_another_programs_pool(client, pool):
    mine = pool_get_or_create_referral(program=ProgramFactory(slug="mine"))
    user = UserFactory()
    user.user_permissions.add(
        *__import__(
            "django.contrib.auth.models", fromlist=["Permission"]
        ).Permission.objects.filter(codename__in=["add_batch", "view_batch"])
    )
    ProgramManager.objects.create(program=mine.program, user=user)
    client.force_login(user)
    response = preview(client, pool, "c.txt", files.text(["abc"]))
    assert "pool" in response.context["form"].errors
    ok = preview(client, mine, "c.txt", files.text(["abc"]))
    assert ok.context["preview"].codes_to_add == 1
    forged = client.post(
        UPLOAD,
        {
            "pool": pool.pk,
            "import_file_name": "x",
            "original_file_name": "c.txt",
            "confirm": "yes",
        },
    )
    assert forged.status_code == 403
    assert not PromoCode.objects.exists()


def test_staff_without_the_permission_cannot_upload(client, pool):
    client.force_login(UserFactory())
    assert client.get(UPLOAD).status_code == 403


def test_big_files_are_imported_in_the_background_with_progress(
    admin_client, pool, settings, django_capture_on_commit_callbacks
):
    settings.CODES_UPLOAD_ASYNC_BYTES = 10
    response = preview(
        admin_client, pool, "big.csv", files.text(["code"] + [f"c{i}" for i in range(50)])
    )
    assert response.context["background"] is True
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        done = confirm(admin_client, response)
    # the import task, then what a landed batch triggers (alerts re-armed, top-up)
    assert len(callbacks) >= 1
    batch = Batch.objects.get(source=BatchSource.UPLOAD)
    assert batch.status == BatchStatus.COMPLETED
    assert (batch.codes_added, batch.progress_rows) == (50, 50)
    assert not BatchUploadPart.objects.exists()  # the kept file went with the import
    assert admin_client.get(done.url).status_code == 200


def test_pending_batch_page_shows_progress_and_refreshes(admin_client, pool, settings):
    batch = batch_upload_enqueue(pool=pool, chunks=[files.text(["abc"])], file_name="c.txt")
    page = admin_client.get(reverse("admin:codes_batch_change", args=[batch.pk]))
    assert "Waiting: 0 rows read so far." in page.text
    assert 'http-equiv="refresh"' in page.text


def test_a_background_batch_that_cannot_be_read_fails_with_its_reason(
    pool, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_upload_enqueue(pool=pool, chunks=[b"\x00\x01garbage"], file_name="g.csv")
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED
    assert "binary data" in batch.failure_reason
    assert not PromoCode.objects.exists()


def test_the_upload_form_gives_the_batch_a_validity(admin_client, pool):
    from datetime import UTC, datetime

    data = b"code\nSPRING1\nSPRING2\n"
    response = admin_client.post(
        UPLOAD,
        {
            "pool": pool.pk,
            "import_file": SimpleUploadedFile("spring.csv", data),
            "valid_from": "2027-03-01 00:00",
            "expires_at": "2027-05-31 23:59",
        },
    )
    assert response.status_code == 200 and response.context["preview"].codes_to_add == 2
    confirm(admin_client, response)
    batch = Batch.objects.get(pool=pool)
    assert batch.expires_at == datetime(2027, 5, 31, 23, 59, tzinfo=UTC)
    codes = PromoCode.objects.filter(batch=batch)
    assert {c.valid_from for c in codes} == {datetime(2027, 3, 1, tzinfo=UTC)}
    assert {c.expires_at for c in codes} == {datetime(2027, 5, 31, 23, 59, tzinfo=UTC)}


def test_an_expiry_before_the_start_is_refused_naming_the_field(admin_client, pool):
    response = admin_client.post(
        UPLOAD,
        {
            "pool": pool.pk,
            "import_file": SimpleUploadedFile("x.csv", b"code\nA1\n"),
            "valid_from": "2027-03-01 00:00",
            "expires_at": "2027-02-01 00:00",
        },
    )
    assert "preview" not in response.context
    assert response.context["form"].errors["expires_at"] == [
        "The codes would expire (2027-02-01 00:00) before they become valid (2027-03-01 00:00)."
    ]
    assert not Batch.objects.exists()
