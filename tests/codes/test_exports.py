"""Exports: CSV and XLSX, header `code` first, formula cells neutralised, XLSX all text."""

import csv
import io

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from codes.exports import neutralise
from codes.models import CodeStatus, PromoCode
from codes.services import pool_get_or_create_referral
from tests.factories import BatchFactory, ParticipantFactory, ProgramFactory, PromoCodeFactory

pytestmark = pytest.mark.django_db
HEADER = [
    "code",
    "usage",
    "status",
    "pool",
    "batch",
    "advocate id",
    "assigned",
    "first copied",
    "redeemed",
    "order id",
    "type",
    "expires",
]


@pytest.fixture
def codes():
    program = ProgramFactory(slug="shop")
    pool = pool_get_or_create_referral(program=program)
    pool.name = "=HYPERLINK(1)"
    pool.save()
    batch = BatchFactory(pool=pool)
    advocate = ParticipantFactory(program=program, participant_id="@evil")
    when = timezone.now()
    held = PromoCodeFactory(
        batch=batch,
        code="-ABC",
        holder=advocate,
        status=CodeStatus.REDEEMED,
        assigned_at=when,
        redeemed_at=when,
        redeemed_order_id="+1234",
    )
    free = PromoCodeFactory(batch=batch, code="FREE1")
    other = PromoCodeFactory(code="OTHERPROGRAM")
    return program, held, free, other


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\nx", "'\nx"),
        (" =1+1", "' =1+1"),
        ("  \t-2", "'  \t-2"),
        ("\u00a0@SUM(A1)", "'\u00a0@SUM(A1)"),
        ("＝1+1", "'＝1+1"),
        (" plain", " plain"),
        ("a=b", "a=b"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_neutralise(text, safe):
    assert neutralise(text) == safe


def test_csv_export_command(codes, tmp_path, capsys):
    _, held, free, _ = codes
    out = tmp_path / "codes.csv"
    call_command("export_codes", "--program", "shop", "-o", str(out))
    assert "Exported 2 codes" in capsys.readouterr().out
    rows = list(csv.reader(out.open(newline="")))
    assert rows[0] == HEADER
    assert rows[1][:6] == [
        "'-ABC",  # a code from before codes began with a letter or digit
        "single",
        "redeemed",
        "'=HYPERLINK(1)",
        str(held.batch_id),
        "'@evil",
    ]
    assert rows[1][6] == held.assigned_at.isoformat()
    assert rows[1][9] == "'+1234"
    assert rows[2] == ["FREE1", "single", "available", "'=HYPERLINK(1)", str(free.batch_id)] + [
        ""
    ] * 5 + ["referral", ""]


def test_csv_export_to_stdout(codes, capsys):
    call_command("export_codes", "--program", "shop")
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == ",".join(HEADER)
    assert "Exported 2 codes" in err


def test_xlsx_export_writes_every_cell_as_text(codes, tmp_path):
    out = tmp_path / "codes.xlsx"
    call_command("export_codes", "--program", "shop", "--format", "xlsx", "-o", str(out))
    sheet = openpyxl.load_workbook(out).active
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == HEADER
    # Every cell is a string cell (an empty one reads back as an empty inline string).
    assert all(c.data_type in ("s", "inlineStr") for row in rows for c in row)
    batch = str(codes[1].batch_id)
    assert [c.value for c in rows[1]][:6] == [
        "-ABC",
        "single",
        "redeemed",
        "=HYPERLINK(1)",
        batch,
        "@evil",
    ]
    assert len(rows) == 3


def test_unknown_program(codes):
    with pytest.raises(CommandError, match="No program with slug"):
        call_command("export_codes", "--program", "nope")


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    return client


def test_admin_action_streams_csv(codes, admin_client):
    _, held, _, other = codes
    response = admin_client.post(
        reverse("admin:codes_promocode_changelist"),
        {"action": "export_csv", "_selected_action": [held.pk, other.pk]},
    )
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r[0] for r in rows] == ["code", "'-ABC", "OTHERPROGRAM"]


def test_admin_action_streams_xlsx(codes, admin_client):
    _, held, free, _ = codes
    response = admin_client.post(
        reverse("admin:codes_promocode_changelist"),
        {"action": "export_xlsx", "_selected_action": [held.pk, free.pk]},
    )
    assert response.streaming
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert [r[0] for r in book.active.iter_rows(values_only=True)] == ["code", "-ABC", "FREE1"]


def test_codes_list_filters_and_searches_case_insensitively(codes, admin_client):
    url = reverse("admin:codes_promocode_changelist")
    page = admin_client.get(url, {"q": "free1"})
    assert [c.code for c in page.context["cl"].result_list] == ["FREE1"]
    page = admin_client.get(url, {"status__exact": "redeemed", "usage__exact": "single"})
    assert [c.code for c in page.context["cl"].result_list] == ["-ABC"]
    assert "@evil" in page.text
    assert PromoCode.objects.count() == 3
