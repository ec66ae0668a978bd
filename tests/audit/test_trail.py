"""The audit trail: who changed programs, pools, batches, keys, managers, rewards and voids,
when, and what changed; never a row per code on the hot paths."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEntry
from codes.models import Batch, CodeStatus, PromoCode
from codes.services import batch_import, codes_top_up, codes_void, pool_get_or_create_referral
from participants.models import Participant, Reward, RewardStatus
from participants.services import participant_upsert
from programs.models import ApiKey, CodeUsage, Program, ProgramManager
from programs.services import api_key_create, api_key_revoke, program_rotate_widget_secret
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url
from tests.factories import ProgramFactory, UserFactory, stock_pool
from tests.programs.test_admin import change_url, form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def admin_client(client, root):
    client.force_login(root)
    return client


def entries_of(obj):
    return AuditEntry.objects.get_for_object(obj).order_by("timestamp", "pk")


def everything_recorded():
    """Every value the trail keeps, as one text, to look for what must not be there."""
    return json.dumps(
        list(
            AuditEntry.objects.values(
                "object_repr", "changes", "changes_text", "additional_data", "serialized_data"
            )
        ),
        default=str,
    )


# --- Who: an admin user, a command, an API key ----------------------------------------------


def test_a_single_use_switch_in_the_admin_is_recorded_with_the_admin_user(admin_client, root):
    program = ProgramFactory(promo_codes_enabled=True, code_usage=CodeUsage.MULTI)
    response = admin_client.post(
        change_url(program),
        form_data(program, code_usage="single", _confirm_irreversible="yes"),
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    entry = entries_of(program).last()
    assert entry.actor == root and entry.actor_display == "root"
    assert entry.event == "one-way switch: switched to single-use"
    assert entry.changes["code_usage"] == ["multi", "single"]
    assert entry.remote_addr == "203.0.113.7"
    assert entry.program_id == program.pk


def test_create_program_is_recorded_with_the_command_as_actor():
    call_command("create_program", "acme", "--single-use", stdout=io.StringIO())
    program = Program.objects.get(slug="acme")
    entry = entries_of(program).get()
    assert entry.action == AuditEntry.Action.CREATE
    assert entry.actor is None and entry.actor_label == "command: create_program"
    assert entry.event == "one-way switch: promo codes turned on, switched to single-use"
    assert entry.changes["code_usage"][1] == "single"
    assert entry.changes["promo_codes_enabled"][1] == "True"
    assert "widget_secret" not in entry.changes  # the secret never reaches the trail


def test_a_reversal_through_the_api_is_recorded_under_the_keys_name():
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=1)
    _, code = advocate_with_code(program)
    key, raw = api_key_create(program=program, name="shop-backend")
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = AuditEntry.objects.count()
    order = {"OrderId": "O-1", "OrderPromoCode": code.code, "CustomerId": "friend-1"}
    assert client.post(url(program, "conversions"), order).json()["status"] == "attributed"
    assert AuditEntry.objects.count() == before  # recording an order writes no audit row
    assert client.post(url(program, "conversions/O-1/reversal")).status_code == 200
    reward = Reward.objects.get()
    entry = entries_of(reward).get()
    assert entry.event == "reward cancelled"
    assert entry.actor is None
    assert entry.actor_label == f"API key 'shop-backend' ({key.prefix}…)"
    assert entry.changes["status"] == [RewardStatus.AVAILABLE, RewardStatus.CANCELLED]


def test_entries_of_one_command_run_share_a_correlation_id():
    program = ProgramFactory(slug="acme")
    stock_pool(program, 5)
    call_command("void_codes", "--program", "acme", "C00000", "C00001", stdout=io.StringIO())
    call_command("create_api_key", "--program", "acme", stdout=io.StringIO())
    void = AuditEntry.objects.get(event="codes voided")
    key_entry = AuditEntry.objects.get(content_type__model="apikey")
    assert void.actor_label == "command: void_codes"
    assert key_entry.actor_label == "command: create_api_key"
    assert void.cid and key_entry.cid and void.cid != key_entry.cid


# --- What: keys, managers, pools, batches, voids, rewards, the widget secret -----------------


def test_a_key_created_and_revoked_is_recorded_without_its_digest():
    program = ProgramFactory()
    key, raw = api_key_create(program=program, name="shop")
    api_key_revoke(api_key=key)
    created, revoked = entries_of(key)
    assert created.action == AuditEntry.Action.CREATE and created.changes["name"][1] == "shop"
    assert revoked.changes["revoked_at"][0] == "None"
    assert key.digest not in everything_recorded() and raw not in everything_recorded()
    assert created.program_id == program.pk


def test_a_manager_added_in_the_admin_shows_on_the_programs_page(admin_client):
    program = ProgramFactory()
    manager = UserFactory(username="pat")
    data = form_data(
        program,
        **{
            "programmanager_set-TOTAL_FORMS": "1",
            "programmanager_set-0-user": str(manager.pk),
            "programmanager_set-0-program": str(program.pk),
        },
    )
    assert admin_client.post(change_url(program), data).status_code == 302
    entry = AuditEntry.objects.get(content_type__model="programmanager")
    assert entry.action == AuditEntry.Action.CREATE and entry.actor.username == "root"
    assert entry.program_id == program.pk
    page = admin_client.get(change_url(program)).content.decode()
    assert "Audit trail" in page and "pat manages" in page


def test_the_widget_secret_rotation_is_recorded_without_the_secret():
    program = ProgramFactory()
    old = program.widget_secret
    program_rotate_widget_secret(program=program)
    entry = entries_of(program).last()
    assert entry.event == "widget secret rotated"
    recorded = everything_recorded()
    assert old not in recorded and program.widget_secret not in recorded


def test_a_reward_tank_switch_records_both_pools():
    from codes.services import pool_create_fuel_tank, pool_set_reward_tank

    program = ProgramFactory()
    first = pool_create_fuel_tank(program=program, name="First")
    second = pool_create_fuel_tank(program=program, name="Second")
    pool_set_reward_tank(program=program, pool=first)
    pool_set_reward_tank(program=program, pool=second)
    assert entries_of(first).last().changes["pays_rewards"] == ["True", "False"]
    assert entries_of(second).last().changes["pays_rewards"] == ["False", "True"]


def test_marking_rewards_paid_in_the_admin_records_each_with_the_user(admin_client, root):
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=1)
    client = client_for(program)
    for n in range(2):
        _, code = advocate_with_code(program, f"adv-{n}", f"a{n}@example.com")
        order = {"OrderId": f"O-{n}", "OrderPromoCode": code.code, "CustomerId": f"f-{n}"}
        client.post(url(program, "conversions"), order)
    rewards = list(Reward.objects.order_by("pk"))
    response = admin_client.post(
        reverse("admin:participants_reward_changelist"),
        {"action": "mark_paid", "_selected_action": [r.pk for r in rewards]},
    )
    assert response.status_code == 302
    for reward in rewards:
        entry = entries_of(reward).get()
        assert entry.event == "reward marked paid" and entry.actor == root
        assert entry.changes["status"] == [RewardStatus.AVAILABLE, RewardStatus.PAID]


def test_a_void_of_a_whole_batch_is_one_entry_with_its_counts_against_the_batch():
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    pool = stock_pool(program, 3000)
    batch = Batch.objects.get(pool=pool)
    participant_upsert(program=program, participant_id="adv-1")  # holds 2 of the batch's codes
    before = AuditEntry.objects.count()
    result = codes_void(program=program, batch=batch, reason="wrong batch")
    assert result.voided == 3000
    assert AuditEntry.objects.count() == before + 1  # one entry, not 3,000
    entry = entries_of(batch).last()
    assert entry.event == "codes voided"
    details = entry.additional_data
    assert details["voided"] == 3000 and details["reason"] == "wrong batch"
    assert len(details["codes"]) == 101 and details["codes"][-1] == "… and 2,900 more"
    assert PromoCode.objects.filter(status=CodeStatus.VOIDED).count() == 3000


def test_named_codes_voided_are_recorded_against_the_program():
    program = ProgramFactory()
    stock_pool(program, 3)
    codes_void(program=program, codes=["c00001", "nope"], reason="leaked")
    entry = entries_of(program).last()
    assert entry.event == "codes voided" and entry.additional_data["codes"] == ["C00001"]
    assert entry.additional_data["not codes of the program"] == 1


# --- The hot paths write no audit rows ------------------------------------------------------


def test_assignment_redemption_and_an_import_write_no_row_per_code():
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=3)
    pool = pool_get_or_create_referral(program=program)
    before = AuditEntry.objects.count()
    text = "code\n" + "\n".join(f"IMP{i:05d}" for i in range(2000))
    batch = batch_import(pool=pool, stream=io.BytesIO(text.encode()), file_name="codes.csv")
    assert batch.codes_added == 2000
    # The batch's creation and its completion with the counts: two rows for 2,000 codes.
    assert AuditEntry.objects.count() == before + 2
    completed = entries_of(batch).last()
    assert completed.event == "batch completed"
    assert completed.changes["codes_added"] == ["0", "2000"]

    before = AuditEntry.objects.count()
    advocates = [
        participant_upsert(program=program, participant_id=f"adv-{n}")[0] for n in range(20)
    ]
    for advocate in advocates:
        codes_top_up(holder=advocate)
    client = client_for(program)
    code = PromoCode.objects.filter(holder=advocates[0]).first()
    order = {"OrderId": "O-1", "OrderPromoCode": code.code, "CustomerId": "friend"}
    assert client.post(url(program, "conversions"), order).json()["status"] == "attributed"
    api_key_entries = 1  # client_for created a key
    assert AuditEntry.objects.count() == before + api_key_entries
    assert Participant.objects.filter(program=program).count() == 21


# --- Where it is shown: the object's page, the superuser's list ------------------------------


def test_the_batch_page_shows_its_void_and_who_did_it(admin_client, root):
    program = ProgramFactory()
    pool = stock_pool(program, 4)
    batch = Batch.objects.get(pool=pool)
    call_command(
        "void_codes", "--program", program.slug, "--batch", str(batch.pk), stdout=io.StringIO()
    )
    page = admin_client.get(reverse("admin:codes_batch_change", args=[batch.pk])).content.decode()
    assert "Audit trail" in page and "codes voided" in page and "command: void_codes" in page
    full = admin_client.get(reverse("admin:codes_batch_audit", args=[batch.pk]))
    assert full.status_code == 200 and "command: void_codes" in full.content.decode()


def test_a_manager_sees_the_trail_of_their_program_only(client):
    mine, other = ProgramFactory(), ProgramFactory()
    manager = UserFactory(username="pat")
    from django.contrib.auth.models import Permission

    manager.user_permissions.add(*Permission.objects.filter(codename__endswith="_program"))
    ProgramManager.objects.create(program=mine, user=manager)
    client.force_login(manager)
    assert client.get(change_url(mine)).status_code == 200
    assert client.get(reverse("admin:programs_program_audit", args=[mine.pk])).status_code == 200
    other_audit = client.get(reverse("admin:programs_program_audit", args=[other.pk]))
    assert other_audit.status_code in (302, 403, 404)
    # The whole trail is for superusers only.
    assert client.get(reverse("admin:audit_auditentry_changelist")).status_code == 403


def test_the_superusers_list_filters_by_program_actor_and_event(admin_client):
    call_command("create_program", "acme", "--multi-use", stdout=io.StringIO())
    call_command("create_program", "other", stdout=io.StringIO())
    acme = Program.objects.get(slug="acme")
    stock_pool(acme, 3)
    call_command("void_codes", "--program", "acme", "C00000", stdout=io.StringIO())
    api_key_create(program=acme, name="loose")  # no actor: system

    changelist = reverse("admin:audit_auditentry_changelist")
    page = admin_client.get(changelist).content.decode()
    assert "command: create_program" in page and "codes voided" in page

    def listed(**query):
        response = admin_client.get(changelist, query)
        assert response.status_code == 200
        return list(response.context["cl"].result_list)

    assert {e.program_id for e in listed(program=acme.pk)} == {acme.pk}
    by_command = listed(actor_kind="command")
    assert by_command and all(e.actor_label.startswith("command: ") for e in by_command)
    assert [e.event for e in listed(event="codes voided")] == ["codes voided"]
    system = listed(actor_kind="system")
    assert [e.object_repr for e in system if e.content_type.model == "apikey"] == [
        "loose (" + ApiKey.objects.get(name="loose").prefix + "…)"
    ]
    one_way = listed(event="one-way switch: promo codes turned on, switched to single-use")
    assert one_way == []  # acme is multi-use
    assert [e.object_repr for e in listed(event="one-way switch: promo codes turned on")] == [
        "acme"
    ]
    # Nobody, not even a superuser, can change or delete an entry.
    entry = AuditEntry.objects.first()
    change = admin_client.post(reverse("admin:audit_auditentry_change", args=[entry.pk]), {})
    assert change.status_code == 403 or AuditEntry.objects.filter(pk=entry.pk).exists()
    delete = admin_client.post(
        reverse("admin:audit_auditentry_delete", args=[entry.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403 and AuditEntry.objects.filter(pk=entry.pk).exists()


def test_a_task_run_outside_any_request_names_itself():
    from codes.services import batch_upload_enqueue
    from codes.tasks import batch_process_upload_task

    program = ProgramFactory()
    pool = pool_get_or_create_referral(program=program)
    user = get_user_model().objects.create_user("uploader")
    # The upload waits for a worker (the test's transaction never commits: run it by hand).
    batch = batch_upload_enqueue(
        pool=pool, chunks=[b"code\nA1\nA2\n"], file_name="f.csv", created_by=user
    )
    batch_process_upload_task.apply(args=[batch.pk])
    created, completed = entries_of(batch)
    assert created.changes["created_by"] == ["None", "uploader"]
    assert completed.event == "batch completed"
    assert completed.actor_label == "task: codes.batch_process_upload"
    assert completed.changes["codes_added"] == ["0", "2"]


def test_text_in_the_trail_is_shown_escaped(admin_client):
    program = ProgramFactory()
    stock_pool(program, 2)
    codes_void(program=program, codes=["C00000"], reason="<script>alert(1)</script>")
    page = admin_client.get(change_url(program)).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in page
