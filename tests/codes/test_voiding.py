"""Voiding codes (docs/architecture.md, Voiding and blocking): one, a list, a batch; by service,
command,
admin. A voided code is never assigned, never attributes, is kept with who/when/why, and its
holder is topped up at once."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.urls import reverse

from codes.models import Batch, CodeStatus, PromoCode
from codes.services import code_redeem, codes_top_up, codes_void
from participants.services import participant_upsert
from programs.models import CodeUsage
from tests.api_helpers import client_for, url
from tests.factories import ParticipantFactory, ProgramFactory, UserFactory, stock_pool


def held(participant):
    return sorted(PromoCode.objects.held_by(participant).values_list("code", flat=True))


@pytest.fixture
def program(db):
    program = ProgramFactory(slug="shop", code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    stock_pool(program, 6)
    return program


@pytest.mark.django_db
def test_voiding_a_held_code_keeps_it_for_the_record_and_tops_the_holder_up(program):
    manager = UserFactory(username="vera")
    alice, _ = participant_upsert(program=program, participant_id="alice")
    assert held(alice) == ["C00000", "C00001"]
    result = codes_void(program=program, codes=[" c00000 "], by=manager, reason="leaked")
    assert (result.voided, result.advocates_topped_up, result.codes_assigned) == (1, 1, 1)
    assert held(alice) == ["C00001", "C00002"]
    voided = PromoCode.objects.get(code="C00000")
    assert voided.status == CodeStatus.VOIDED and voided.holder_id == alice.pk
    assert voided.voided_by == manager and voided.void_reason == "leaked"
    assert voided.voided_at is not None
    # Never assigned again, whoever asks.
    bob, _ = participant_upsert(program=program, participant_id="bob")
    assert "C00000" not in held(bob)


@pytest.mark.django_db
def test_a_list_says_what_was_voided_left_alone_or_unknown(program):
    participant_upsert(program=program, participant_id="alice")
    code_redeem(code=PromoCode.objects.get(code="C00000"), order_id="O-1")
    codes_void(program=program, codes=["C00005"])
    result = codes_void(program=program, codes=["C00000", "C00005", "C00004", "NOPE", "b@d!"])
    assert result.voided == 1  # C00004, which nobody held
    assert result.already_voided == 1 and result.redeemed_left == 1
    assert result.not_found == ["b@d!", "NOPE"]
    assert (
        "Voided 1 code; 1 was already voided; 1 already redeemed was left as it was"
        in result.summary()
    )
    assert PromoCode.objects.get(code="C00000").status == CodeStatus.REDEEMED


@pytest.mark.django_db
def test_a_voided_multi_use_code_stops_attributing_and_its_advocate_gets_a_new_one():
    program = ProgramFactory(slug="multi", code_usage=CodeUsage.MULTI)
    stock_pool(program, 3)
    alice, _ = participant_upsert(program=program, participant_id="alice")
    assert held(alice) == ["C00000"]
    codes_void(program=program, codes=["C00000"], reason="posted on a coupon site")
    assert held(alice) == ["C00001"]
    response = client_for(program).post(
        url(program, "conversions"), {"OrderId": "O-9", "OrderPromoCode": "c00000"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "rejected"
    assert "voided" in body["reason"] and body["advocate_id"] == "alice"
    assert PromoCode.objects.get(code="C00000").redemption_count == 0


@pytest.mark.django_db
def test_a_voided_code_refers_no_friend(program):
    participant_upsert(program=program, participant_id="alice")
    codes_void(program=program, codes=["C00000"])
    response = client_for(program).put(
        url(program, "participants/friend"), {"referred_by_code": "C00000"}, format="json"
    )
    assert response.status_code == 400
    assert "voided" in response.json()["error"]["fields"]["referred_by_code"][0]


@pytest.mark.django_db
def test_void_codes_command_by_codes_file_and_batch(program, tmp_path, capsys):
    participant_upsert(program=program, participant_id="alice")
    call_command("void_codes", "--program", "shop", "c00000", "--reason", "leaked")
    out = capsys.readouterr().out
    assert out.startswith("shop: Voided 1 code.")
    assert "1 advocate who held them got 1 new code" in out
    assert PromoCode.objects.get(code="C00000").void_reason == "leaked"

    listing = tmp_path / "leaked.csv"
    listing.write_text("code\nC00003\nunknown-1\n")
    call_command("void_codes", "--program", "shop", "--file", str(listing))
    captured = capsys.readouterr()
    assert "Voided 1 code; 1 is not a code of this program." in captured.out
    assert "not a code of shop: 'UNKNOWN-1'" in captured.err

    batch = Batch.objects.get(pool__program=program)
    call_command("void_codes", "--program", "shop", "--batch", str(batch.pk))
    assert (
        not PromoCode.objects.filter(program=program)
        .exclude(status__in=[CodeStatus.VOIDED, CodeStatus.REDEEMED])
        .exists()
    )
    assert PromoCode.objects.get(code="C00000").void_reason == "leaked"  # kept, not re-voided


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--program", "nope", "X"], "No program with slug 'nope'"),
        (["--program", "shop"], "Name the codes to void"),
        (["--program", "shop", "--batch", "999999"], "has no batch 999999"),
        (["--program", "shop", "--file", "/nonexistent/codes.csv"], "Cannot open"),
        (["--program", "shop", "--file", "codes.pdf"], "Cannot read .pdf files"),
    ],
)
def test_void_codes_command_refuses_bad_input_and_voids_nothing(program, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("void_codes", *args)
    assert not PromoCode.objects.voided().exists()


@pytest.mark.django_db
def test_another_programs_batch_cannot_be_voided(program):
    other = ProgramFactory(slug="other")
    stock_pool(other, 2)
    batch = Batch.objects.get(pool__program=other)
    with pytest.raises(CommandError, match="has no batch"):
        call_command("void_codes", "--program", "shop", "--batch", str(batch.pk))
    assert not PromoCode.objects.voided().exists()


@pytest.mark.django_db
def test_the_admin_confirms_how_many_codes_and_advocates_then_voids(program, admin_client):
    participant_upsert(program=program, participant_id="alice")
    ids = list(PromoCode.objects.filter(code__in=["C00000", "C00004"]).values_list("pk", flat=True))
    changelist = reverse("admin:codes_promocode_changelist")
    page = admin_client.post(changelist, {"action": "void_codes", "_selected_action": ids})
    text = page.content.decode()
    assert page.status_code == 200 and "2 codes of" in text
    assert "1 advocate holds some of them" in text and "cannot be undone" in text
    assert not PromoCode.objects.voided().exists()  # nothing before confirming

    done = admin_client.post(
        changelist,
        {"action": "void_codes", "_selected_action": ids, "_confirmed": "yes", "reason": "oops"},
        follow=True,
    )
    assert "Voided 2 codes." in done.content.decode()
    assert set(PromoCode.objects.voided().values_list("code", flat=True)) == {"C00000", "C00004"}
    assert PromoCode.objects.get(code="C00000").voided_by.username == "admin"


@pytest.mark.django_db
def test_the_admin_voids_whole_batches_after_confirming(program, admin_client):
    batch = Batch.objects.get(pool__program=program)
    changelist = reverse("admin:codes_batch_changelist")
    page = admin_client.post(changelist, {"action": "void_batches", "_selected_action": [batch.pk]})
    assert "6 codes of" in page.content.decode()
    admin_client.post(
        changelist,
        {"action": "void_batches", "_selected_action": [batch.pk], "_confirmed": "yes"},
    )
    assert PromoCode.objects.voided().count() == 6


@pytest.mark.django_db
def test_a_manager_cannot_void_codes_of_another_program(program, client):
    from django.contrib.auth.models import Permission

    manager = UserFactory()
    manager.user_permissions.add(*Permission.objects.filter(codename__endswith="promocode"))
    mine = ProgramFactory(slug="mine")
    mine.managers.add(manager)
    client.force_login(manager)
    theirs = PromoCode.objects.filter(program=program).values_list("pk", flat=True)
    client.post(
        reverse("admin:codes_promocode_changelist"),
        {"action": "void_codes", "_selected_action": list(theirs), "_confirmed": "yes"},
    )
    assert not PromoCode.objects.voided().exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_top_up_is_part_of_the_voiding_transaction():
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=1)
    stock_pool(program, 3)
    alice = ParticipantFactory(program=program, participant_id="alice")
    codes_top_up(holder=alice)
    seen = {}

    def look_from_another_connection():
        try:
            seen["statuses"] = dict(PromoCode.objects.values_list("code", "status"))
        finally:
            connection.close()

    with pytest.raises(RuntimeError), transaction.atomic():
        codes_void(program=program, codes=["C00000"])
        # Inside the transaction: voided and topped up together, and nobody else sees either.
        assert held(alice) == ["C00001"]
        thread = threading.Thread(target=look_from_another_connection)
        thread.start()
        thread.join()
        assert seen["statuses"]["C00000"] == CodeStatus.ASSIGNED
        assert seen["statuses"]["C00001"] == CodeStatus.AVAILABLE
        raise RuntimeError("roll back")
    assert held(alice) == ["C00000"]  # rolled back together
    codes_void(program=program, codes=["C00000"])
    assert held(alice) == ["C00001"]
