"""A client generated from the published schema by openapi-python-client works as generated.

The schema is taken as /api/schema/ serves it, the client is generated (the pinned dev
dependency, in a temporary folder), every generated module is imported, and the whole
integration is driven through the generated functions and models only — over HTTP to the WSGI
app, in the test's database: upsert, read a code, a conversion (JSON), its replay, a 409, an
order form-encoded at impact.com's path (Oid, EventDate NOW, a quantity as a string), the
rewards (list, mark paid), reversals (impact's Amount=0 PUT, the DELETE with a form body, a
POST with _method=DELETE), the lists page by page, and the stock. docs/api-client.md shows the
same calls.
"""

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client as DjangoClient

from config.wsgi import application
from programs.models import CodeUsage, RewardKind
from programs.services import api_key_create
from tests.factories import ProgramFactory, stock_pool

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
PACKAGE = "generated_referrals_client"


@pytest.fixture(autouse=True)
def _keep_the_test_connection(db):
    # The generated client's requests run in this thread, through the WSGI app: they must not
    # close the test's connection (its transaction holds everything the test made).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The client generated from the served schema, every module imported."""
    folder = tmp_path_factory.mktemp("client")
    schema = DjangoClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    (folder / "schema.json").write_bytes(schema.content)
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(folder / "schema.json"),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output and "Error" not in output, output
    sys.path.insert(0, str(folder))
    try:
        package = importlib.import_module(PACKAGE)
        modules = {
            info.name: importlib.import_module(info.name)
            for info in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.")
        }
        yield modules
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


def test_the_generated_client_drives_the_whole_integration(generated):
    assert len(generated) > 40  # every operation and model, each imported above

    def module(name):
        return generated[f"{PACKAGE}.{name}"]

    models = module("models")
    api = {
        name.rsplit(".", 1)[1]: mod
        for name, mod in generated.items()
        if name.startswith(f"{PACKAGE}.api.") and hasattr(mod, "sync_detailed")
    }
    program = ProgramFactory(
        slug="shop",
        code_usage=CodeUsage.SINGLE,
        codes_per_advocate=2,
        reward_kind=RewardKind.CREDIT,
        reward_review_days=0,
    )
    stock_pool(program, 20, prefix="GEN")
    _, key = api_key_create(program=program, name="generated client")
    client = module("client").AuthenticatedClient(
        base_url="http://testserver",
        token=key,
        httpx_args={"transport": httpx.WSGITransport(app=application)},
    )

    def call(operation, expected, **kwargs):
        response = api[operation].sync_detailed(client=client, **kwargs)
        assert response.status_code == expected, (operation, response.content)
        return response.parsed

    # Upsert an advocate; read one of their codes.
    alice = call(
        "participant_upsert",
        201,
        program="shop",
        participant_id="alice",
        body=models.ParticipantUpsertRequest(email="alice@example.com", first_name="Alice"),
    )
    assert isinstance(alice, models.Participant) and alice.referred_by is None
    first_code, second_code = (code.code for code in alice.referral_codes)
    code = call("code_get", 200, program="shop", code=first_code.lower())
    assert code.owner.participant_id == "alice"
    unheld = program.pools.get().codes.filter(holder__isnull=True).first().code
    assert call("code_get", 200, program="shop", code=unheld).owner is None

    # A friend referred by the code; their order as JSON, its replay, a conflicting resend.
    bob = call(
        "participant_upsert",
        201,
        program="shop",
        participant_id="bob",
        body=models.ParticipantUpsertRequest(referred_by_code=first_code),
    )
    assert bob.referred_by.participant_id == "alice"
    order = models.ConversionInputRequest(
        order_id="ORD-1",
        order_promo_code=first_code,
        customer_id="bob",
        order_subtotal="80.00",
        currency_code="USD",
    )
    recorded = call("conversion_record", 201, program="shop", body=order)
    assert isinstance(recorded, models.Conversion)
    assert recorded.status.value == "attributed" and recorded.reward.status.value == "available"
    replay = call("conversion_record", 200, program="shop", body=order)
    assert replay.to_dict() == recorded.to_dict()
    order.order_subtotal = "90.00"
    conflict = call("conversion_record", 409, program="shop", body=order)
    assert isinstance(conflict, models.Error) and conflict.error.code == "conflict"

    # impact.com's path, form-encoded as a server-side tag sends it: Oid, NOW, "2".
    tagged = models.ConversionFormInputRequest(
        oid="ORD-2",
        order_promo_code=second_code,
        customer_id="carol",
        event_date="NOW",
        item_sku_1="TS-1",
        item_quantity_1="2",
        item_price_1="9.50",
    )
    second = call("impact_conversion_record", 201, program="shop", body=tagged)
    assert second.order_id == "ORD-2" and second.status.value == "attributed"
    third = call(
        "conversion_record",
        201,
        program="shop",
        body=models.ConversionInputRequest(order_id="ORD-3", customer_id="dan"),
    )
    assert third.status.value == "unattributed" and third.reward is None

    # The rewards due: list them, mark one paid (twice: the same answer).
    due = call("reward_list", 200, program="shop", status=models.RewardListStatus.AVAILABLE)
    assert [reward.order_id for reward in due.results] == ["ORD-1", "ORD-2"]
    assert due.next_ is None
    paid = call("reward_mark_paid", 200, program="shop", reward_id=due.results[0].id)
    assert paid.status.value == "paid" and paid.paid_at is not None
    assert call("reward_mark_paid", 200, program="shop", reward_id=paid.id).to_dict() == (
        paid.to_dict()
    )

    # Reversals as impact.com sends them: PUT Amount=0 (JSON), DELETE with a form body.
    reversed_second = call(
        "impact_action_update",
        200,
        program="shop",
        body=models.ActionUpdateRequest(order_id="ORD-2", amount=0, reason="ITEM_RETURNED"),
    )
    assert reversed_second.status.value == "reversed"
    assert reversed_second.reward.status.value == "cancelled"
    reversed_first = call(
        "impact_action_reverse",
        200,
        program="shop",
        body=models.ActionReversalFormRequest(order_id="ORD-1", disposition_code="RETURNED"),
    )
    assert reversed_first.reward.status.value == "paid" and reversed_first.reward.needs_review
    overridden = call(
        "impact_action_override",
        404,
        program="shop",
        body=models.ActionOverrideFormRequest(
            field_method=models.ActionMethodEnum.DELETE, order_id="NO-SUCH-ORDER"
        ),
    )
    assert overridden.error.code == "not_found"

    # The lists, page by page through their cursors.
    order_ids, cursor = [], None
    while True:
        kwargs = {"cursor": cursor} if cursor else {}
        page = call("conversion_list", 200, program="shop", limit=2, **kwargs)
        order_ids += [row.order_id for row in page.results]
        if page.next_ is None:
            break
        cursor = parse_qs(urlsplit(page.next_).query)["cursor"][0]
    assert order_ids == ["ORD-1", "ORD-2", "ORD-3"]
    referrals = call("referral_list", 200, program="shop", participant_id="alice")
    assert {referral.friend_id for referral in referrals.results} == {"bob", "carol"}
    alice_now = call("participant_get", 200, program="shop", participant_id="alice")
    assert {reward.status.value for reward in alice_now.rewards} == {"paid", "cancelled"}

    # The stock.
    stock = call("stock_get", 200, program="shop")
    assert stock.pools[0].kind.value == "referral" and stock.pools[0].available >= 0
    json.dumps(stock.to_dict())  # plain JSON all the way down
