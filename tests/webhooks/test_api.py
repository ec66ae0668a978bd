"""The server API's webhook endpoints (answers validated against the published schema)."""

import pytest

from tests.api_helpers import client_for, url
from tests.factories import ProgramFactory
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db(transaction=True)  # on-commit sends run, as in production


def test_create_list_change_rotate_test_and_delete(receiver):
    program = ProgramFactory()
    client = client_for(program)
    response = client.post(
        url(program, "webhooks"),
        {"url": receiver.url, "events": ["reward.paid"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["events"] == ["reward.paid"]
    endpoint = Endpoint.objects.get(pk=created["id"])
    assert endpoint.program == program

    listed = client.get(url(program, "webhooks")).json()["results"]
    assert [item["id"] for item in listed] == [endpoint.pk]
    assert "secret" not in listed[0]  # shown once, at creation

    changed = client.patch(
        url(program, f"webhooks/{endpoint.pk}"), {"events": [], "enabled": False}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["events"] == [] and changed.json()["enabled"] is False
    client.patch(url(program, f"webhooks/{endpoint.pk}"), {"enabled": True}, format="json")

    rotated = client.post(url(program, f"webhooks/{endpoint.pk}/secret"))
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None

    receiver.secrets = [created["secret"], rotated.json()["secret"]]
    sent = client.post(url(program, f"webhooks/{endpoint.pk}/test"))
    assert sent.status_code == 202
    [got] = receiver.received
    assert got.id == sent.json()["event_id"]
    assert got.verified_with == receiver.secrets  # both secrets during the overlap

    assert client.delete(url(program, f"webhooks/{endpoint.pk}")).status_code == 204
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "not a url"}, "url", "valid URL"),
        ({"url": "https://127.0.0.1/x", "events": ["code.stolen"]}, "events", "not a valid"),
        ({"events": ["reward.paid"]}, "url", "required"),
    ],
)
def test_bad_bodies_are_refused_naming_the_field(body, field, words):
    program = ProgramFactory()
    response = client_for(program).post(url(program, "webhooks"), body, format="json")
    assert response.status_code == 400
    assert words in str(response.json()["error"]["fields"][field])
    assert not Endpoint.objects.exists()


def test_production_refuses_private_and_metadata_addresses(settings):
    program = ProgramFactory()
    client = client_for(program)
    settings.PRODUCTION = True
    for address in ("http://10.0.0.8/hook", "http://169.254.169.254/latest/meta-data"):
        response = client.post(url(program, "webhooks"), {"url": address}, format="json")
        assert response.status_code == 400
        assert "public addresses" in str(response.json()["error"]["fields"]["url"])
    assert not Endpoint.objects.exists()


def test_another_programs_endpoint_is_not_found():
    program, other = ProgramFactory(), ProgramFactory()
    theirs = Endpoint.objects.create(program=other, url="https://example.com/")
    client = client_for(program)
    assert client.get(url(program, f"webhooks/{theirs.pk}")).status_code == 404
    assert client.delete(url(program, f"webhooks/{theirs.pk}")).status_code == 404
    assert client.post(url(program, f"webhooks/{theirs.pk}/secret")).status_code == 404
    assert Endpoint.objects.filter(pk=theirs.pk).exists()
