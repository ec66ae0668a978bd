"""The upload preview tells the manager what it read: the column, the first codes, their usage,
and a warning (or a refusal) when the file has no header naming the codes."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from codes.models import Batch, PromoCode
from codes.parsing import HEADER_NAMES, UnreadableFile, read_rows
from codes.services import pool_get_or_create_referral
from programs.models import CodeUsage
from tests.codes import files
from tests.factories import ProgramFactory

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


def read_codes(lines):
    import io

    return [r.code for r in read_rows(io.BytesIO(files.text(lines)), "csv")]


@pytest.mark.parametrize(
    "header",
    [*HEADER_NAMES, "Promo Code", "PROMO-CODE", " Coupon_Code ", "Voucher  Code", "CODES"],
)
def test_every_header_name_of_the_code_column_is_recognised(header):
    assert read_codes([f"order,{header}", "1,abc", "2,def"]) == ["ABC", "DEF"]


def test_a_promo_code_header_is_not_refused_as_line_1(admin_client, pool):
    response = preview(admin_client, pool, "codes.csv", files.text(["Promo Code", "abc", "def"]))
    shown = response.context["preview"]
    assert (shown.header, shown.column, shown.codes_to_add, shown.invalid_rows) == (
        "Promo Code",
        1,
        2,
        0,
    )
    assert "headed “Promo Code”" in response.text


def test_the_preview_shows_the_column_the_first_ten_codes_and_their_usage(admin_client, pool):
    rows = [("Customer", "Voucher Code")] + [(f"c{i}", f"v{i:03d}") for i in range(25)]
    response = preview(admin_client, pool, "codes.xlsx", files.xlsx(rows))
    shown = response.context["preview"]
    assert (shown.column, shown.header) == (2, "Voucher Code")
    assert shown.sample == [f"V{i:03d}" for i in range(10)]
    html = response.text
    assert "column 2</strong>, headed “Voucher Code”" in html
    assert "V009" in html and "V010" not in html  # the first ten, not more
    assert "<strong>Single-use</strong> codes" in html  # the program's usage


def test_multi_use_programs_preview_multi_use(admin_client):
    program = ProgramFactory(slug="multi", code_usage=CodeUsage.MULTI)
    pool = pool_get_or_create_referral(program=program)
    response = preview(admin_client, pool, "codes.txt", files.text(["abc"]))
    assert "<strong>Multi-use</strong> codes" in response.text


def test_a_name_email_file_is_refused_naming_the_problem(admin_client, pool):
    data = files.text(["name,email", "bob,bob@example.com", "ann,ann@example.com"])
    response = preview(admin_client, pool, "people.csv", data)
    assert "preview" not in response.context
    [error] = response.context["form"].errors["import_file"]
    assert "No code column: the first row (name, email) is a header" in error
    assert "Nothing was imported" in error
    assert not Batch.objects.exists() and not PromoCode.objects.exists()


def test_import_codes_refuses_it_too(pool, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(files.text(["Name,E-mail", "bob,bob@example.com"]))
    with pytest.raises(CommandError, match="No code column"):
        call_command("import_codes", "--program", "shop", str(path))


def test_no_header_is_warned_and_a_first_row_of_several_cells_is_named(admin_client, pool):
    response = preview(admin_client, pool, "codes.csv", files.text(["abc,10%", "def,20%"]))
    shown = response.context["preview"]
    assert shown.header is None and shown.first_row == ["abc", "10%"]
    assert shown.sample == ["ABC", "DEF"]
    html = response.text
    assert "No header row was found" in html
    assert "its first row (“abc”, “10%”) is read as data, so “abc” is taken as a code" in html


def test_a_single_column_file_without_header_is_warned(admin_client, pool):
    response = preview(admin_client, pool, "codes.txt", files.text(["abc", "def"]))
    assert "No header row was found" in response.text
    assert response.context["preview"].first_row == []


def test_rows_of_words_are_codes_unless_they_head_another_kind_of_file():
    # Data rows that merely look like words are codes, as before: only a recognised header
    # of another kind of file is refused.
    assert read_codes(["abc,x", "def,y"]) == ["ABC", "DEF"]
    with pytest.raises(UnreadableFile):
        read_codes(["first name,last name", "Ann,Lee"])
