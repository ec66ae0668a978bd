"""Erasure leaves nothing of the person in any table: every table of the database is dumped
(PostgreSQL, each row as text) after erasing someone whom orders, order lines, a reversal, a
void of other codes, a block and an admin change message all quoted."""

import hashlib
import json

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.db import connection

from codes.models import CodeStatus, PromoCode
from codes.services import codes_void
from conversions.models import Conversion, ConversionItem
from participants.models import Participant
from participants.services import participant_block
from programs.models import CodeUsage
from tests.api_helpers import client_for, stocked_program, url

TYPED = "Erase.Target+r1@Example.com"
ADDRESS = TYPED.lower()
PERSON = {
    "email": TYPED,
    "first_name": "Zenobia",
    "last_name": "Quixwell",
    "account_id": "acct-zq77",
}
PERSON_ID = "zq-77"


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


# What must be found nowhere once she is erased (searched in any case).
PERSONAL = [ADDRESS, "Zenobia", "Quixwell", "acct-zq77", PERSON_ID, sha1(ADDRESS), sha1(TYPED)]


def dump_matches(values):
    """{value: [table, …]} of every table whose rows, as text, contain the value in any case."""
    found = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            for value in values:
                cursor.execute(
                    f"SELECT count(*) FROM {quoted} AS t WHERE strpos(lower(t::text), %s) > 0",
                    [value.lower()],
                )
                if cursor.fetchone()[0]:
                    found.setdefault(value, []).append(table)
    return found


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_dump_of_every_table_holds_nothing_of_the_erased_person():
    program = stocked_program(codes=40, code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    api = client_for(program)
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    assert (
        api.put(url(program, f"participants/{PERSON_ID}"), PERSON, format="json").status_code == 201
    )
    api.put(url(program, "participants/bob-1"), {"email": "bob@example.com"}, format="json")
    her = Participant.objects.get(participant_id=PERSON_ID)
    bob = Participant.objects.get(participant_id="bob-1")
    her_code = PromoCode.objects.filter(holder=her).order_by("pk").first()
    bob_code = PromoCode.objects.filter(holder=bob).order_by("pk").first()
    orders = [
        # She orders through Bob, her digest taken of the address as typed (not lower-cased),
        # with a line named after her.
        {
            "OrderId": "D-1",
            "OrderPromoCode": bob_code.code,
            "CustomerEmail": sha1(TYPED),
            "ItemSku1": "GIFT",
            "ItemName1": f"Gift card for {TYPED}",
            "ItemPrice1": 10,
        },
        {"OrderId": "D-2", "CustomerEmail": ADDRESS, "ItemName1": "Engraving: Zenobia Quixwell"},
        {"OrderId": "D-3", "CustomerEmail": sha1(ADDRESS)},
        # A friend's order on her code.
        {"OrderId": "D-4", "OrderPromoCode": her_code.code, "CustomerId": "friend-9"},
    ]
    for order in orders:
        response = api.post(url(program, "conversions"), order, format="json")
        assert response.status_code == 201, response.content
    reversal = api.post(
        url(program, "conversions/D-4/reversal"),
        {"reason": "Refund asked by Zenobia Quixwell"},
        format="json",
    )
    assert reversal.status_code == 200
    # Codes she never held, voided by a manager whose reason names her.
    free = PromoCode.objects.filter(pool__program=program, status=CodeStatus.AVAILABLE)
    codes_void(
        program=program,
        queryset=free.filter(pk__in=list(free.values_list("pk", flat=True)[:3])),
        by=root,
        reason=f"Leaked by {ADDRESS}",
    )
    participant_block(participant=her, by=root, reason=f"Fraud reported about {TYPED}")
    LogEntry.objects.log_actions(
        user_id=root.pk,
        queryset=[program],
        action_flag=CHANGE,
        change_message=json.dumps([{"changed": {"fields": ["Notes"]}}, f"Asked by {TYPED}"]),
    )
    assert set(dump_matches(PERSONAL)) == set(PERSONAL)  # every value is there before

    assert api.delete(url(program, f"participants/{PERSON_ID}")).status_code == 204

    assert dump_matches(PERSONAL) == {}
    # The words around the values and the books stay.
    assert ConversionItem.objects.get(conversion__order_id="D-1").name == "Gift card for [erased]"
    assert (
        Conversion.objects.get(order_id="D-4").reversal_reason
        == "Refund asked by [erased] [erased]"
    )
    assert set(
        PromoCode.objects.filter(void_reason__startswith="Leaked").values_list(
            "void_reason", flat=True
        )
    ) == {"Leaked by [erased]"}
    assert Conversion.objects.filter(order_id__startswith="D-").count() == 4
