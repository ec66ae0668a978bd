"""The console's webhook pages, as a program manager: add an endpoint (its secret shown once),
send a test event, rotate the secret, read the delivery log and redeliver."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from programs.services import program_manager_add
from tests.factories import ProgramFactory
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db(transaction=True)  # on-commit sends run, as in production


@pytest.fixture
def manager_client(client):
    alpha = ProgramFactory(slug="alpha", name="Alpha")
    ProgramFactory(slug="bravo", name="Bravo")
    result = program_manager_add(program=alpha, username="anna", password="a-long-pw-123456")
    client.force_login(result.user)
    return client, alpha


def shown(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_a_manager_adds_an_endpoint_tests_rotates_and_redelivers(manager_client, receiver):
    client, alpha = manager_client
    add = reverse("admin:webhooks_endpoint_add")
    response = client.post(
        add,
        {"program": alpha.pk, "url": receiver.url, "events": ["reward.paid"], "enabled": "on"},
        follow=True,
    )
    assert response.status_code == 200
    endpoint = Endpoint.objects.get()
    assert endpoint.program == alpha and endpoint.events == ["reward.paid"]
    [message] = [m for m in shown(response) if "signing secret" in m]
    assert endpoint.secret in message and "not shown again" in message
    # Shown once: the endpoint's page never shows it.
    page = client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]))
    assert endpoint.secret not in page.content.decode()
    receiver.secrets = [endpoint.secret]

    changelist = reverse("admin:webhooks_endpoint_changelist")
    client.post(changelist, {"action": "send_test_event", "_selected_action": [endpoint.pk]})
    assert receiver.types() == ["webhook.test"]

    response = client.post(
        changelist, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}, follow=True
    )
    old = endpoint.secret
    endpoint.refresh_from_db()
    assert endpoint.secret != old and any(endpoint.secret in m for m in shown(response))
    receiver.secrets = [endpoint.secret]

    log = client.get(
        reverse("admin:webhooks_delivery_changelist"), {"endpoint__id__exact": endpoint.pk}
    )
    text = log.content.decode()
    assert "webhook.test" in text and "delivered" in text
    delivery = Delivery.objects.get()
    client.post(
        reverse("admin:webhooks_delivery_changelist"),
        {"action": "redeliver", "_selected_action": [delivery.pk]},
    )
    assert len(receiver.received) == 2
    assert receiver.received[1].verified_with == [endpoint.secret]  # signed with the new one
    assert receiver.received[1].id == receiver.received[0].id


def test_a_refused_address_is_shown_at_the_url_field(manager_client, settings):
    client, alpha = manager_client
    settings.PRODUCTION = True
    response = client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"program": alpha.pk, "url": "http://169.254.169.254/latest", "enabled": "on"},
    )
    assert response.status_code == 200
    assert "metadata" in str(response.context["adminform"].form.errors["url"])
    assert not Endpoint.objects.exists()


def test_a_manager_cannot_add_an_endpoint_to_another_program(manager_client, receiver):
    client, _ = manager_client
    bravo = ProgramFactory._meta.model.objects.get(slug="bravo")
    response = client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"program": bravo.pk, "url": receiver.url, "enabled": "on"},
    )
    assert response.status_code == 200
    assert "program" in response.context["adminform"].form.errors
    assert not Endpoint.objects.exists()


def test_the_add_form_offers_the_expiry_and_review_events(manager_client, receiver):
    client, alpha = manager_client
    add = reverse("admin:webhooks_endpoint_add")
    page = client.get(add).content.decode()
    for name in ("code.expired", "referral.held_for_review"):
        assert f'value="{name}"' in page
    client.post(
        add,
        {
            "program": alpha.pk,
            "url": receiver.url,
            "events": ["code.expired", "referral.held_for_review"],
            "enabled": "on",
        },
    )
    assert Endpoint.objects.get().events == ["code.expired", "referral.held_for_review"]
