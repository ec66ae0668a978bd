"""Erasing a participant (privacy requests): DELETE …/participants/{id} and erase_participant.

Personal data goes (participant row, orders, exports, admin, audit trail); the brand's books
stay (referrals, rewards, redeemed codes, counts)."""

import hashlib
import io
import json

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import AuditEntry
from codes.models import CodeStatus, PromoCode
from codes.services import batch_import
from conversions.models import Conversion
from participants.models import Participant, Referral, Reward
from participants.services import participant_block, participant_erase
from programs.models import CodeUsage
from programs.services import api_key_create
from tests.api_helpers import client_for, stocked_program, url
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db

ALICE = {"email": "Alice.Smith@Example.com", "first_name": "Alice", "last_name": "Smithson"}


@pytest.fixture
def program():
    return stocked_program(codes=30, code_usage=CodeUsage.SINGLE, codes_per_advocate=2)


@pytest.fixture
def api(program):
    return client_for(program)


@pytest.fixture
def alice(program, api):
    """An advocate with two orders attributed to her codes (one code redeemed and replaced),
    who also ordered herself through another advocate, once with her address and once with
    its SHA-1 digest (as impact.com integrations send it)."""
    body = {**ALICE, "account_id": "acct-77"}
    assert api.put(url(program, "participants/alice-1"), body, format="json").status_code == 201
    api.put(url(program, "participants/bob-1"), {"email": "bob@example.com"}, format="json")
    alice = Participant.objects.get(participant_id="alice-1")
    bob = Participant.objects.get(participant_id="bob-1")
    alice_codes = list(PromoCode.objects.filter(holder=alice).order_by("pk"))
    bob_code = PromoCode.objects.filter(holder=bob).first()
    orders = [
        {
            "OrderId": "A-1",
            "OrderPromoCode": alice_codes[0].code,
            "CustomerId": "friend-1",
            "CustomerEmail": "friend1@example.com",
        },
        {"OrderId": "A-2", "OrderPromoCode": alice_codes[1].code, "CustomerId": "friend-2"},
        {
            "OrderId": "B-1",
            "OrderPromoCode": bob_code.code,
            "CustomerId": "alice-1",
            "CustomerEmail": ALICE["email"],
        },
        {"OrderId": "X-1", "CustomerEmail": hashlib.sha1(b"alice.smith@example.com").hexdigest()},
        {"OrderId": "X-2", "CustomerEmail": "alice.smith@example.com"},
    ]
    for order in orders:
        assert api.post(url(program, "conversions"), order).status_code == 201
    return Participant.objects.get(pk=alice.pk)


def personal_values():
    return [
        "alice-1",
        "alice.smith@example.com",
        "Alice",
        "Smithson",
        "acct-77",
        hashlib.sha1(b"alice.smith@example.com").hexdigest(),
    ]


def assert_nothing_personal_left(text):
    lowered = text.lower()
    for value in personal_values():
        assert value.lower() not in lowered, value


def test_delete_erases_personal_data_and_keeps_the_books(program, api, alice):
    held = set(PromoCode.objects.held_by(alice).values_list("code", flat=True))
    redeemed = set(PromoCode.objects.redeemed().filter(holder=alice).values_list("pk", flat=True))
    referrals_made = Referral.objects.filter(advocate=alice).count()
    rewards = Reward.objects.filter(advocate=alice).count()
    assert len(held) == 2 and len(redeemed) == 2 and referrals_made == 2 and rewards == 2

    response = api.delete(url(program, "participants/alice-1"))
    assert response.status_code == 204 and response.content == b""

    erased = Participant.objects.get(pk=alice.pk)
    assert erased.participant_id.startswith("erased:") and len(erased.participant_id) > 20
    assert (erased.email, erased.first_name, erased.last_name, erased.account_id) == ("",) * 4
    assert erased.is_erased
    # Codes she could still share are voided; the redeemed ones stay hers, linked.
    assert set(PromoCode.objects.filter(code__in=held).values_list("status", flat=True)) == {
        CodeStatus.VOIDED
    }
    assert (
        set(PromoCode.objects.redeemed().filter(holder=erased).values_list("pk", flat=True))
        == redeemed
    )
    assert PromoCode.objects.held_by(erased).count() == 0  # and no top-up after the void
    assert Referral.objects.filter(advocate=erased).count() == referrals_made
    assert Reward.objects.filter(advocate=erased).count() == rewards
    # Her orders: no e-mail (address or digest), no id; the answers name her tombstone.
    for order_id in ("B-1", "X-1", "X-2"):
        conversion = Conversion.objects.get(order_id=order_id)
        assert conversion.customer_email == "", order_id
    assert Conversion.objects.get(order_id="B-1").customer_id == erased.participant_id
    assert Conversion.objects.get(order_id="B-1").friend == erased
    for order_id in ("A-1", "A-2"):
        conversion = Conversion.objects.get(order_id=order_id)
        assert conversion.response["advocate_id"] == erased.participant_id
        assert conversion.advocate == erased and conversion.status == "attributed"
    # Other people's data stays.
    assert Conversion.objects.get(order_id="A-1").customer_email == "friend1@example.com"
    bob = Participant.objects.get(participant_id="bob-1")
    assert bob.email == "bob@example.com"
    stored = json.dumps(
        [
            Participant.objects.filter(pk=erased.pk).values().get(),
            *Conversion.objects.values("customer_id", "customer_email", "response"),
        ],
        default=str,
    )
    assert_nothing_personal_left(stored)


def test_the_old_id_answers_404_and_erasing_twice_is_404(program, api, alice):
    assert api.delete(url(program, "participants/alice-1")).status_code == 204
    gone = api.get(url(program, "participants/alice-1"))
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    again = api.delete(url(program, "participants/alice-1"))
    assert again.status_code == 404
    assert "already erased" in again.json()["error"]["message"]
    tombstone = Participant.objects.get(pk=alice.pk).participant_id
    assert api.get(url(program, f"participants/{tombstone}")).status_code == 404
    assert api.delete(url(program, f"participants/{tombstone}")).status_code == 404
    # The id is forgotten: the brand may register someone under it again, from scratch.
    again = api.put(url(program, "participants/alice-1"), {"email": "new@example.com"})
    assert again.status_code == 201 and again.json()["referred_by"] is None
    assert Participant.objects.filter(program=program).count() >= 2


def test_a_tombstone_cannot_be_upserted(program, api):
    response = api.put(url(program, "participants/erased:abc"), {"email": "x@example.com"})
    assert response.status_code == 400
    assert "participant_id" in response.json()["error"]["fields"]


def test_unknown_participant_is_404_and_another_programs_key_cannot_erase(program, api, alice):
    assert api.delete(url(program, "participants/nobody")).status_code == 404
    other = ProgramFactory()
    other_key = client_for(other)
    response = other_key.delete(url(program, "participants/alice-1"))
    assert response.status_code == 403
    assert Participant.objects.get(pk=alice.pk).email == ALICE["email"]
    # The other program's own URL does not reach this program's participant either.
    assert other_key.delete(url(other, "participants/alice-1")).status_code == 404


def test_the_erasure_is_in_the_audit_trail_under_the_key_without_the_erased_values(program, alice):
    key, raw = api_key_create(program=program, name="privacy-bot")
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.delete(url(program, "participants/alice-1")).status_code == 204
    erased = Participant.objects.get(pk=alice.pk)
    entry = AuditEntry.objects.get(event="participant erased")
    assert entry.actor_label == f"API key 'privacy-bot' ({key.prefix}…)"
    assert entry.object_repr == erased.participant_id and entry.object_id == erased.pk
    assert entry.program_id == program.pk
    assert set(entry.changes) == {
        "participant_id",
        "email",
        "first_name",
        "last_name",
        "account_id",
    }
    assert entry.changes["email"] == ["[erased]", ""]
    assert entry.additional_data["codes voided"] == 2
    assert entry.additional_data["referrals kept"] == 3  # two she made, one she received
    assert entry.additional_data["rewards kept"] == 2
    assert entry.additional_data["redeemed codes kept"] == 2
    recorded = json.dumps(list(AuditEntry.objects.values()), default=str)
    assert_nothing_personal_left(recorded)


def test_what_the_trail_and_the_admin_history_kept_about_her_is_forgotten(program, alice):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    participant_block(participant=alice, void_codes=True, by=root, reason="fraud by Smithson")
    LogEntry.objects.log_actions(
        user_id=root.pk, queryset=[alice], action_flag=CHANGE, change_message="edited"
    )
    participant_erase(program=program, participant_id="alice-1")
    recorded = json.dumps([*AuditEntry.objects.values(), *LogEntry.objects.values()], default=str)
    assert_nothing_personal_left(recorded)
    assert AuditEntry.objects.filter(event="advocate blocked").exists()  # the fact stays
    voided = PromoCode.objects.filter(holder_id=alice.pk, status=CodeStatus.VOIDED)
    assert voided.exists() and set(voided.values_list("void_reason", flat=True)) == {"[erased]"}
    kind = ContentType.objects.get_for_model(Participant)
    assert LogEntry.objects.get(content_type=kind).object_repr.startswith("erased:")


def test_a_customer_record_made_from_her_orders_is_erased_too(program, api, alice):
    # An order without CustomerId made a participant named after the order, with her address.
    bob = Participant.objects.get(participant_id="bob-1")
    bob_code = PromoCode.objects.held_by(bob).first()
    order = {
        "OrderId": "C-1",
        "OrderPromoCode": bob_code.code,
        "CustomerEmail": "other.address@example.com",
    }
    assert api.post(url(program, "conversions"), order).json()["status"] == "attributed"
    Participant.objects.filter(participant_id="order:C-1").update(email=ALICE["email"])
    result = participant_erase(program=program, participant_id="alice-1")
    assert result.order_friends_erased == 1
    friend = Conversion.objects.get(order_id="C-1").friend
    assert friend.is_erased and friend.email == "" and friend.participant_id.startswith("erased:")


def test_the_command_erases_and_refuses_twice_clearly(program, alice):
    out = io.StringIO()
    call_command("erase_participant", "--program", program.slug, "alice-1", stdout=out)
    summary = out.getvalue()
    assert summary.startswith(f"{program.slug}: Erased participant erased:")
    assert "2 codes voided" in summary and "kept 3 referrals, 2 rewards" in summary
    entry = AuditEntry.objects.get(event="participant erased")
    assert entry.actor_label == "command: erase_participant"
    with pytest.raises(CommandError, match="never created, or already erased"):
        call_command("erase_participant", "--program", program.slug, "alice-1")
    with pytest.raises(CommandError, match="No program with slug 'nope'"):
        call_command("erase_participant", "--program", "nope", "alice-1")


def test_the_export_and_the_admin_show_nothing_of_her(program, alice, client, django_user_model):
    participant_erase(program=program, participant_id="alice-1")
    out = io.StringIO()
    from unittest import mock

    with mock.patch("sys.stdout", out):
        call_command("export_codes", "--program", program.slug, stderr=io.StringIO())
    export = out.getvalue()
    tombstone = Participant.objects.get(pk=alice.pk).participant_id
    assert tombstone in export  # her redeemed codes are still hers, under the tombstone
    assert_nothing_personal_left(export)

    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    page = client.get(
        reverse("admin:participants_participant_change", args=[alice.pk])
    ).content.decode()
    assert tombstone in page and "participant erased" in page
    assert_nothing_personal_left(page)
    for term in ("alice-1", "alice.smith@example.com", "Smithson"):
        found = client.get(reverse("admin:participants_participant_changelist"), {"q": term})
        assert list(found.context["cl"].result_list) == [], term
    for page_name in ("conversions_conversion_changelist", "codes_promocode_changelist"):
        listing = client.get(reverse(f"admin:{page_name}")).content.decode()
        assert "alice.smith@example.com" not in listing.lower() and "alice-1" not in listing


def test_an_erased_advocate_is_not_topped_up_when_a_batch_lands(program, alice):
    participant_erase(program=program, participant_id="alice-1")
    pool = PromoCode.objects.filter(holder=alice).first().pool
    batch_import(pool=pool, stream=io.BytesIO(b"code\nNEW1\nNEW2\n"), file_name="more.csv")
    from codes.services import codes_top_up_short

    codes_top_up_short(program=program)
    assert PromoCode.objects.held_by(alice).count() == 0


def test_the_schema_documents_the_delete(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/programs/{program}/participants/{participant_id}"][
        "delete"
    ]
    assert operation["operationId"] == "participant_erase"
    assert set(operation["responses"]) >= {"204", "401", "403", "404"}
    assert "tombstone" in operation["description"]
