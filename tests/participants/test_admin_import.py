import io
import os
import tempfile
import time

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from codes.tasks import sweep_waiting_uploads
from codes.upload_store import UPLOAD_TTL_SECONDS, upload_keep
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


# The confirm step trusts nothing the request names (docs/architecture.md, Resilience) --------

PEOPLE = b"participant_id,email,first_name,last_name,referred_by_code\r\nv-1,,Vic,Tim,\r\n"


@pytest.fixture
def system_temp(tmp_path, monkeypatch):
    """The system temp folder, empty at the start, where another file waits."""
    folder = tmp_path / "systmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def victim(system_temp):
    victim = system_temp / "victim.csv"
    victim.write_bytes(PEOPLE)
    return victim


def confirm_fields(response):
    form = response.context["confirm_form"]
    return {name: form.initial.get(name, "") for name in form.fields}


@pytest.mark.parametrize(
    "named",
    [
        lambda victim: victim.name,  # another file's base name in the system temp folder
        lambda victim: str(victim),  # an absolute path
        lambda victim: "../" * 12 + str(victim).lstrip("/"),  # climbing out of a folder
        lambda victim: "../../etc/hostname",
    ],
    ids=["base-name", "absolute", "dotdot", "etc"],
)
def test_confirm_never_reads_or_removes_a_file_the_request_names(admin_client, victim, named):
    program = stocked_program(codes=10)
    response = preview(admin_client, program, "people.csv", b"participant_id\r\nmine\r\n", "csv")
    data = {**confirm_fields(response), "import_file_name": named(victim)}
    answer = admin_client.post(CONFIRM_URL, data)
    assert answer.status_code == 200
    assert "This import is not yours or has expired" in answer.content.decode()
    assert victim.read_bytes() == PEOPLE  # neither read nor removed
    assert not Participant.objects.filter(participant_id__in=["v-1", "mine"]).exists()


def test_a_preview_writes_nothing_to_the_system_temp_folder(admin_client, system_temp):
    program = stocked_program(codes=10)
    response = preview(admin_client, program, "people.csv", PEOPLE, "csv")
    assert list(system_temp.iterdir()) == []
    confirm(admin_client, response)
    assert list(system_temp.iterdir()) == []
    assert Participant.objects.filter(participant_id="v-1").exists()


def test_a_preview_reference_works_only_for_its_user_and_only_once(admin_client):
    program = stocked_program(codes=10)
    response = preview(admin_client, program, "people.csv", PEOPLE, "csv")
    data = confirm_fields(response)

    other = Client()
    other.force_login(get_user_model().objects.create_superuser("other", "o@example.com", "pw"))
    answer = other.post(CONFIRM_URL, data)
    assert "This import is not yours or has expired" in answer.content.decode()
    assert not Participant.objects.filter(participant_id="v-1").exists()

    done = admin_client.post(CONFIRM_URL, {**data, "original_file_name": "forged.csv"})
    assert done.status_code == 302
    assert Participant.objects.filter(participant_id="v-1").count() == 1
    again = admin_client.post(CONFIRM_URL, data, follow=True)
    assert "has expired or was already imported" in again.content.decode()


def test_a_code_uploads_reference_does_not_confirm_a_participant_import(admin_client):
    program = stocked_program(codes=10)
    pool = program.pools.get(kind="referral")
    user = get_user_model().objects.get(username="root")
    reference = upload_keep(chunks=[PEOPLE], user=user, pool=pool, file_name="codes.csv")
    response = preview(admin_client, program, "people.csv", b"participant_id\r\nmine\r\n", "csv")
    answer = admin_client.post(
        CONFIRM_URL, {**confirm_fields(response), "import_file_name": reference}
    )
    assert "This import is not yours or has expired" in answer.content.decode()
    assert not Participant.objects.filter(participant_id__in=["v-1", "mine"]).exists()


def test_unconfirmed_previews_are_removed_once_expired(admin_client, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.REDIS_URL = ""
    program = stocked_program(codes=10)
    fresh = preview(admin_client, program, "people.csv", PEOPLE, "csv")
    (new,) = (tmp_path / "uploads").iterdir()
    preview(admin_client, program, "people.csv", PEOPLE, "csv")
    (old,) = set((tmp_path / "uploads").iterdir()) - {new}
    long_ago = time.time() - UPLOAD_TTL_SECONDS - 60
    os.utime(old, (long_ago, long_ago))
    assert sweep_waiting_uploads() == 1
    assert not old.exists() and new.exists()
    # The newer preview still confirms.
    confirm(admin_client, fresh)
    assert Participant.objects.filter(participant_id="v-1").exists()
