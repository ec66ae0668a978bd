"""The code-file reader's words in the reader's language: a zh-hans manager previews a file and
reads its refused rows and its refusals in Chinese; the batch keeps its rows' reasons in English
(stored text), and `import_codes` prints English."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from codes.models import Batch, PromoCode
from codes.parsing import UnreadableFile, read_rows
from codes.services import pool_get_or_create_referral
from tests.codes import files
from tests.config.test_console_in_chinese import english_left
from tests.factories import ProgramFactory, PromoCodeFactory

pytestmark = pytest.mark.django_db
UPLOAD = reverse("admin:codes_batch_upload")
# A header, a good code, a code with a space, a code twice, a code already in the program, a
# code too long and one beginning with a dash.
BAD_ROWS = ["code", "GOOD-1", "bad code", "GOOD-1", "TAKEN-1", "A" * 65, "-DASH"]


@pytest.fixture
def pool():
    pool = pool_get_or_create_referral(program=ProgramFactory(slug="shop"))
    PromoCodeFactory(program=pool.program, pool=pool, code="TAKEN-1")
    return pool


@pytest.fixture
def zh_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/admin/"})
    return client


def preview(client, pool, name, data):
    return client.post(UPLOAD, {"pool": pool.pk, "import_file": SimpleUploadedFile(name, data)})


def refused_table(html):
    """The preview's refused rows: from the table's heading to the end of its body."""
    start = html.index("无效字符")
    return html[html.rfind("<table", 0, start) : html.index("</table>", start)]


def test_a_chinese_manager_reads_the_refused_rows_in_chinese(zh_client, pool):
    response = preview(zh_client, pool, "codes.csv", files.text(BAD_ROWS))
    assert response.status_code == 200
    html = response.content.decode()
    reasons = [row["reason"] for row in response.context["preview"].refused]
    assert [str(r) for r in reasons] == [
        "无效字符 ' '（只允许 A–Z, a–z, 0–9, - and _）",
        "文件内重复",
        "已在本计划中",
        "过长（65 个字符，最多 64 个）",
        "以 '-' 开头：优惠码须以字母或数字开头",
    ]
    for reason in reasons:
        assert escape(str(reason)) in html
    # The refused rows' table holds no English but the file's own value.
    assert english_left("<body>" + refused_table(html) + "</body>") == ["bad code"]


def test_a_cell_that_is_not_text_and_a_bad_expiry_are_refused_in_chinese(zh_client, pool):
    data = files.text(["code,expires_at", "GOOD-2,2027-01-01", "GOOD-3,next week"])
    response = preview(zh_client, pool, "codes.csv", data)
    (refused,) = response.context["preview"].refused
    assert str(refused["reason"]) == (
        "过期时间 'next week' 不是日期：请写成 2026-12-31 或 2026-12-31T18:00（ISO 8601），"
        "或使用日期单元格"
    )


@pytest.mark.parametrize(
    ("name", "data", "chinese"),
    [
        ("codes.csv", b"code\n", "文件中没有优惠码：文件为空或只有表头行。"),
        ("codes.csv", b"PK\x03\x04rest", "这个 .csv 文件是 zip 压缩包"),
        ("codes.csv", files.text(["Name,E-mail", "bob,bob@example.com"]), "没有优惠码列"),
        ("codes.json", b"{}", ".json 文件必须包含一个优惠码列表"),
    ],
)
def test_a_file_refused_whole_is_refused_in_chinese(zh_client, pool, name, data, chinese):
    response = preview(zh_client, pool, name, data)
    error = " ".join(response.context["form"].errors["import_file"])
    assert chinese in error and "未导入任何内容。" in error
    # What is left in Latin letters is the file's own words (its first row).
    assert not english_left(f"<body><p>{error}</p></body>".replace("Name, E-mail", ""))
    assert not Batch.objects.filter(file_name=name).exists()


def test_a_file_of_another_format_is_refused_in_chinese(zh_client, pool):
    response = preview(zh_client, pool, "codes.pdf", b"%PDF")
    error = " ".join(response.context["form"].errors["import_file"])
    assert (
        error
        == "无法读取 .pdf 文件：请上传以下格式之一：.csv, .tsv, .txt, .xlsx, .xls, .ods, .json。"
    )


def test_a_bad_column_is_refused_in_chinese():
    data = files.text(["Name,Voucher", "bob,ABC"])
    with translation.override("zh-hans"):
        with pytest.raises(UnreadableFile) as many:
            list(read_rows(io.BytesIO(data), "csv", column=5))
        with pytest.raises(UnreadableFile) as named:
            list(read_rows(io.BytesIO(data), "csv", column="Coupon"))
    assert str(many.value) == "没有第 6 列：文件有 2 列（1 “Name”, 2 “Voucher”）。"
    assert str(named.value) == "没有名为“Coupon”的列：现有的列是 1 “Name”, 2 “Voucher”。"


def test_the_batch_keeps_english_and_shows_fixed_reasons_in_chinese(zh_client, pool):
    response = preview(zh_client, pool, "codes.csv", files.text(BAD_ROWS))
    form = response.context["confirm_form"]
    data = {name: form.initial[name] for name in form.fields if form.initial.get(name)}
    done = zh_client.post(UPLOAD, {**data, "confirm": "yes"}, follow=True)
    batch = Batch.objects.get(file_name="codes.csv")
    # Stored text: English whoever imported the file.
    assert [e["reason"] for e in batch.errors] == [
        "invalid characters ' ' (only A–Z, a–z, 0–9, - and _)",
        "duplicate within the file",
        "already in the program",
        "too long (65 characters, at most 64)",
        "begins with '-': a code begins with a letter or digit",
    ]
    assert PromoCode.objects.filter(code="GOOD-1").exists()
    # The summary message is Chinese; so is the batch page's table heading.
    page = done.content.decode()
    assert "批次" in page
    # A reason without blanks is read in the reader's language.
    assert "空白" not in page  # no blank cell in this file
    blank = Batch.objects.filter(pk=batch.pk)
    blank.update(errors=[{"line": 2, "value": "", "reason": "blank"}])
    change = zh_client.get(reverse("admin:codes_batch_change", args=[batch.pk]))
    assert "<td>空白</td>" in change.content.decode()


def test_import_codes_prints_english(pool, tmp_path, capsys):
    path = tmp_path / "codes.csv"
    path.write_bytes(files.text(BAD_ROWS))
    call_command("import_codes", "--program", "shop", str(path))
    err = capsys.readouterr().err
    assert "line 3: 'bad code': invalid characters ' ' (only A–Z, a–z, 0–9, - and _)" in err
    assert "line 7: '-DASH': begins with '-': a code begins with a letter or digit" in err
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"code\n")
    with pytest.raises(CommandError, match="The file has no codes: it is empty"):
        call_command("import_codes", "--program", "shop", str(empty))
