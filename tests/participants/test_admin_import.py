import io

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from participants.models import Participant, Referral
from tests.api_helpers import advocate_with_code, stocked_program

IMPORT_URL = "/admin/participants/participant/import/"
CONFIRM_URL = "/admin/participants/participant/process_import/"


@pytest.fixture
def admin_client(db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def format_index(client, name):
    form = client.get(IMPORT_URL).context["form"]
    return next(v for v, label in form.fields["format"].choices if label.lower() == name)


def preview(client, program, name, content, fmt):
    return client.post(
        IMPORT_URL,
        {
            "program": program.pk,
            "format": format_index(client, fmt),
            "import_file": SimpleUploadedFile(name, content),
        },
    )


def confirm(client, response):
    form = response.context["confirm_form"]
    data = {name: form.initial.get(name, "") for name in form.fields}
    return client.post(CONFIRM_URL, data, follow=True)


def test_csv_import_previews_then_upserts_with_codes_and_referrals(admin_client):
    program = stocked_program(codes=30)
    advocate, code = advocate_with_code(program)
    csv = (
        "participant_id,email,first_name,last_name,referred_by_code\r\n"
        f"p-1,p1@example.com,Ada,Lovelace,{code.code.lower()}\r\n"
        "p-2,p2@example.com,Grace,Hopper,\r\n"
    ).encode()
    response = preview(admin_client, program, "people.csv", csv, "csv")
    assert response.status_code == 200
    assert response.context["result"].totals["new"] == 2
    assert "confirm_form" in response.context
    # The preview wrote nothing.
    assert not Participant.objects.filter(participant_id__in=["p-1", "p-2"]).exists()

    confirm(admin_client, response)
    p1 = Participant.objects.get(program=program, participant_id="p-1")
    assert p1.first_name == "Ada" and p1.is_advocate
    assert p1.promo_codes.exists()
    assert Referral.objects.get(friend=p1).advocate == advocate
    assert Participant.objects.filter(program=program, participant_id="p-2").exists()


def test_xlsx_import_is_accepted(admin_client):
    program = stocked_program(codes=10)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["participant_id", "email", "first_name", "last_name", "referred_by_code"])
    sheet.append(["x-1", "x1@example.com", "Xavier", "Y", None])
    buffer = io.BytesIO()
    book.save(buffer)
    response = preview(admin_client, program, "people.xlsx", buffer.getvalue(), "xlsx")
    assert response.context["result"].totals["new"] == 1
    confirm(admin_client, response)
    assert Participant.objects.get(participant_id="x-1").email == "x1@example.com"


def test_a_refused_referred_by_code_marks_the_row_invalid_and_nothing_is_offered(admin_client):
    program = stocked_program(codes=10)
    csv = b"participant_id,email,first_name,last_name,referred_by_code\nq-1,,,,NOSUCHCODE\n"
    response = preview(admin_client, program, "people.csv", csv, "csv")
    result = response.context["result"]
    assert result.has_validation_errors()
    assert "confirm_form" not in response.context
    assert "not one of this program" in response.content.decode()
    assert not Participant.objects.filter(participant_id="q-1").exists()
