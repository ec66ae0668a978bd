"""The admin upload trusts nothing the request names (docs/architecture.md, Resilience): the
confirm step
reads only what its own preview kept for that user; bad bytes and bombs answer a clear page."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from codes.models import Batch, BatchSource, PromoCode
from codes.services import pool_get_or_create_referral
from programs.models import ProgramManager
from tests.codes import bombs, files
from tests.factories import ProgramFactory, UserFactory

pytestmark = pytest.mark.django_db
UPLOAD = reverse("admin:codes_batch_upload")


def manager_of(program):
    user = UserFactory()
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_batch", "view_batch", "view_pool"])
    )
    ProgramManager.objects.create(program=program, user=user)
    return user


@pytest.fixture
def pool():
    return pool_get_or_create_referral(program=ProgramFactory(slug="shop"))


@pytest.fixture
def manager(client, pool):
    user = manager_of(pool.program)
    client.force_login(user)
    return user


@pytest.fixture
def server_file(tmp_path):
    """A file on the server that no upload should ever read or remove."""
    secret = tmp_path / "secrets.txt"
    secret.write_text("root:x:0:0\nVALIDCODE1\n")
    return secret


def preview(client, pool, name, data):
    return client.post(UPLOAD, {"pool": pool.pk, "import_file": SimpleUploadedFile(name, data)})


def confirm_data(response):
    form = response.context["confirm_form"]
    return {name: form.initial[name] for name in form.fields if form.initial.get(name)}


@pytest.mark.parametrize(
    "named",
    [
        lambda secret: str(secret),  # an absolute path
        lambda secret: "../" * 12 + str(secret).lstrip("/"),  # climbing out of a folder
        lambda secret: secret.name,  # a name in the temporary folder
    ],
    ids=["absolute", "dotdot", "bare-name"],
)
def test_confirm_never_reads_or_removes_a_file_the_request_names(
    client, manager, pool, server_file, named
):
    # The attack of the finding: the old form's fields, naming a server file.
    forged = client.post(
        UPLOAD,
        {
            "confirm": "1",
            "pool": pool.pk,
            "import_file_name": named(server_file),
            "original_file_name": "x.txt",
        },
    )
    assert forged.status_code == 403
    # The new field, given a path instead of the preview's reference.
    forged = client.post(UPLOAD, {"confirm": "1", "upload": named(server_file)})
    assert forged.status_code == 403
    assert server_file.read_text() == "root:x:0:0\nVALIDCODE1\n"
    assert not PromoCode.objects.exists()
    assert not Batch.objects.exists()


def test_a_preview_reference_works_only_for_its_user_and_only_once(client, manager, pool):
    response = preview(client, pool, "codes.txt", files.text(["abc", "def"]))
    reference = confirm_data(response)

    other = manager_of(pool.program)  # manages the same program, but did not preview
    client.force_login(other)
    assert client.post(UPLOAD, {**reference, "confirm": "1"}).status_code == 403

    # Altered by one character: the signature no longer matches.
    client.force_login(manager)
    tampered = reference["upload"][:-1] + ("A" if reference["upload"][-1] != "A" else "B")
    assert client.post(UPLOAD, {"upload": tampered, "confirm": "1"}).status_code == 403
    assert not PromoCode.objects.exists()

    done = client.post(UPLOAD, {**reference, "confirm": "1"})
    assert done.status_code == 302
    assert sorted(PromoCode.objects.values_list("code", flat=True)) == ["ABC", "DEF"]
    again = client.post(UPLOAD, {**reference, "confirm": "1"})
    assert again.status_code == 302 and again.url.startswith(UPLOAD)  # expired: upload again
    assert Batch.objects.count() == 1


def test_a_manager_who_lost_the_program_cannot_confirm_its_preview(client, manager, pool):
    response = preview(client, pool, "codes.txt", files.text(["abc"]))
    ProgramManager.objects.filter(user=manager).delete()
    assert client.post(UPLOAD, {**confirm_data(response), "confirm": "1"}).status_code == 403
    assert not PromoCode.objects.exists()


def test_the_file_name_and_pool_are_the_previews_not_the_requests(client, manager, pool):
    other_pool = pool_get_or_create_referral(program=ProgramFactory(slug="other"))
    ProgramManager.objects.create(program=other_pool.program, user=manager)
    response = preview(client, pool, "codes.txt", files.text(["abc"]))
    data = {**confirm_data(response), "pool": other_pool.pk, "original_file_name": "x.json"}
    client.post(UPLOAD, {**data, "confirm": "1"})
    batch = Batch.objects.get()
    assert (batch.pool, batch.file_name) == (pool, "codes.txt")


def test_bad_bytes_in_cells_are_refused_rows_stored_escaped(client, manager, pool):
    # NUL in a CSV cell and a lone surrogate in a JSON cell once made PostgreSQL refuse the
    # batch's list of refused rows (500).
    for name, data in [
        # (past the first 4 KB, which are checked for binary data)
        ("nul.csv", files.text(["code", "abc", *[f"n{i}" for i in range(1000)]]) + b"de\x00f\n"),
        ("surrogate.json", json.dumps(["ghi", "\ud800x"]).encode()),
    ]:
        response = preview(client, pool, name, data)
        assert response.status_code == 200
        assert response.context["preview"].invalid_rows == 1
        done = client.post(UPLOAD, {**confirm_data(response), "confirm": "1"})
        assert done.status_code == 302
    batches = list(Batch.objects.order_by("id"))
    assert [b.invalid_rows for b in batches] == [1, 1]
    assert batches[0].errors[0]["value"] == "de\\x00f"
    assert PromoCode.objects.filter(code__in=["ABC", "GHI"]).count() == 2


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bomb.xlsx", bombs.xlsx_with_one_huge_string(20 * 1024 * 1024), "CELL_CHARS"),
        ("deep.json", bombs.json_nested(100_000), "nested more than"),
        ("long.txt", b"abc\n" + b"A" * (2 * 1024 * 1024) + b"\n", "CELL_CHARS"),
        ("many.ods", bombs.ods(bombs.ods_row("abc", repeat=10**9)), "CODES_UPLOAD_MAX_ROWS"),
        ("repeated.ods", bombs.ods_one_row_repeated(9_999_999), "repeated 9,999,999 times"),
        (
            "workbook.xlsx",
            bombs.xlsx_with_a_padded_part("xl/workbook.xml", 40 * 1024 * 1024),
            "xl/workbook.xml unpacks to",
        ),
        ("strings.xlsx", bombs.xlsx_with_empty_shared_strings(200_000), "empty texts"),
    ],
)
def test_bombs_are_refused_with_the_limit_named_and_nothing_kept(
    client, manager, pool, name, data, message
):
    response = preview(client, pool, name, data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["import_file"])
    assert not Batch.objects.exists()


@pytest.mark.parametrize(
    "number", [b"1" * 5_000, b"9" * 310, b"1e999999999"], ids=["5000", "310-nines", "1e999999999"]
)
def test_a_json_file_of_over_long_numbers_previews_and_confirms_with_refused_rows(
    client, manager, pool, number
):
    response = preview(client, pool, "codes.json", b'["abc", ' + number + b"]")
    assert response.status_code == 200
    assert response.context["preview"].invalid_rows == 1
    assert client.post(UPLOAD, {**confirm_data(response), "confirm": "1"}).status_code == 302
    batch = Batch.objects.get()
    assert (batch.codes_added, batch.invalid_rows) == (1, 1)
    assert batch.errors[0]["line"] == 2


def test_a_declared_whole_sheet_previews_and_imports_what_is_there(client, manager, pool):
    response = preview(client, pool, "sheet.xlsx", bombs.xlsx_declaring_the_whole_sheet())
    assert response.context["preview"].codes_to_add == 2
    client.post(UPLOAD, {**confirm_data(response), "confirm": "1"})
    assert sorted(PromoCode.objects.values_list("code", flat=True)) == ["ABC", "DEF"]


def test_the_preview_of_a_big_file_checks_a_sample_and_counts_the_rest(
    client, manager, pool, settings
):
    settings.CODES_PREVIEW_CHECKED_ROWS = 100
    settings.CODES_UPLOAD_ASYNC_BYTES = 10**9
    lines = ["code"] + [f"c{n}" for n in range(300)] + ["c5", "bad code"]
    response = preview(client, pool, "big.csv", files.text(lines))
    shown = response.context["preview"]
    assert (shown.rows_read, shown.invalid_rows, shown.checked_rows) == (302, 1, 100)
    assert not shown.complete
    assert shown.codes_to_add == 301  # an upper bound: the import finds the late duplicate
    assert shown.sample[:3] == ["C0", "C1", "C2"]
    assert "checked in the first 100" in response.text
    client.post(UPLOAD, {**confirm_data(response), "confirm": "1"})
    batch = Batch.objects.get(source=BatchSource.UPLOAD)
    assert (batch.codes_added, batch.duplicates_in_file, batch.invalid_rows) == (300, 1, 1)


def test_the_preview_names_the_column_and_the_usage(client, manager, pool):
    response = preview(client, pool, "c.csv", files.text(["name,Code", "x,abc"]))
    assert "column 2" in response.text and "“Code”" in response.text
    assert "Single-use" in response.text
    response = preview(client, pool, "c.csv", files.text(["abc", "def"]))
    assert "No header row" in response.text
