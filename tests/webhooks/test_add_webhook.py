"""add_webhook and the SSRF guard: production refuses private, link-local and metadata
addresses at save and at send; the local profile allows loopback."""

import io
import socket

import pytest
from django.core.management import CommandError, call_command
from standardwebhooks.webhooks import Webhook

from tests.factories import ProgramFactory
from webhooks.destinations import DestinationRefused, resolve
from webhooks.models import Delivery, Endpoint
from webhooks.services import deliveries_write, delivery_attempt, endpoint_create

pytestmark = pytest.mark.django_db


def add_webhook(*args):
    out = io.StringIO()
    call_command("add_webhook", *args, stdout=out)
    return out.getvalue()


def test_add_webhook_prints_the_id_and_secret_on_its_last_line(receiver):
    program = ProgramFactory(slug="shoes")
    out = add_webhook(
        "--program",
        "shoes",
        "--url",
        receiver.url,
        "--event",
        "reward.paid",
        "--event",
        "referral.converted",
    )
    pk, secret = out.strip().splitlines()[-1].split()
    endpoint = Endpoint.objects.get(pk=pk)
    assert endpoint.program == program and endpoint.secret == secret
    assert secret.startswith("whsec_")
    Webhook(secret)
    assert endpoint.events == ["reward.paid", "referral.converted"]
    named = add_webhook(
        "--program",
        "shoes",
        "--url",
        receiver.url,
        "--event",
        "code.expired",
        "--event",
        "referral.held_for_review",
    )
    assert Endpoint.objects.get(pk=named.splitlines()[-1].split()[0]).events == [
        "code.expired",
        "referral.held_for_review",
    ]
    everything = add_webhook("--program", "shoes", "--url", receiver.url)
    assert Endpoint.objects.get(pk=everything.splitlines()[-1].split()[0]).events == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--program", "nope", "--url", "https://example.com/"], "nope"),
        (["--program", "shoes", "--url", "ftp://example.com/"], "https://"),
        (
            ["--program", "shoes", "--url", "http://127.0.0.1/", "--event", "code.stolen"],
            "Unknown event 'code.stolen'",
        ),
        (["--program", "shoes", "--url", "http://10.1.2.3/"], "10.1.2.3, a private address"),
    ],
)
def test_add_webhook_refuses_bad_input_clearly(args, message):
    ProgramFactory(slug="shoes")
    with pytest.raises(CommandError, match=message):
        add_webhook(*args)
    assert not Endpoint.objects.exists()


def test_allow_private_outside_production_and_refused_in_production(settings):
    ProgramFactory(slug="shoes")
    out = add_webhook("--program", "shoes", "--url", "http://10.1.2.3/hook", "--allow-private")
    assert Endpoint.objects.get(pk=out.splitlines()[-1].split()[0]).allow_private
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="refused in production"):
        add_webhook("--program", "shoes", "--url", "http://10.1.2.3/", "--allow-private")


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "10.255.255.254",
        "169.254.169.254",
        "127.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "::1",
        "fd00:ec2::254",
        "0.0.0.0",
        "100.64.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_production_refuses_non_public_addresses_at_save(settings, address):
    settings.PRODUCTION = True
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(DestinationRefused, match="only sent to public addresses"):
        resolve(f"https://{host}/hook")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        endpoint_create(program=ProgramFactory(), url=f"https://{host}/hook")


def test_the_metadata_address_is_refused_even_outside_production():
    with pytest.raises(DestinationRefused, match="metadata"):
        resolve("http://169.254.169.254/latest/meta-data/", allow_private=True)
    with pytest.raises(DestinationRefused, match="link-local"):
        resolve("http://169.254.1.1/")


def test_a_name_resolving_to_a_private_address_is_refused(settings, monkeypatch):
    settings.PRODUCTION = True

    def fake_getaddrinfo(host, port, *args, **kwargs):
        answers = {"hooks.example.com": "93.184.216.34", "rebound.example.com": "10.0.0.5"}
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    assert resolve("https://hooks.example.com/x")[3] == "93.184.216.34"
    with pytest.raises(DestinationRefused, match=r"10\.0\.0\.5, a private address"):
        resolve("https://rebound.example.com/x")


def test_re_resolved_at_send_a_name_turned_private_is_not_sent(settings, monkeypatch, receiver):
    """Saved while public; at send the name points at a private address: no request, the
    attempt fails with the reason (and is retried like any failure)."""
    program = ProgramFactory()
    endpoint = endpoint_create(program=program, url=receiver.url)
    settings.PRODUCTION = True
    [delivery_id] = deliveries_write(
        program_id=program.pk, events=[("reward.paid", {"reward_id": 1}, "")]
    )
    attempt = delivery_attempt(delivery_id=delivery_id)
    assert not attempt.delivered
    assert receiver.received == []
    delivery = Delivery.objects.get(pk=delivery_id)
    assert "127.0.0.1, a loopback address" in delivery.last_error
    assert delivery.status == "pending" and delivery.attempts == 1
    assert endpoint.pk == delivery.endpoint_id


def test_redirects_are_not_followed(receiver):
    program = ProgramFactory()
    endpoint = endpoint_create(program=program, url=receiver.url)
    receiver.secrets = [endpoint.secret]
    receiver.statuses = [302]
    [delivery_id] = deliveries_write(
        program_id=program.pk, events=[("reward.paid", {"reward_id": 1}, "")]
    )
    attempt = delivery_attempt(delivery_id=delivery_id)
    assert attempt.status_code == 302 and not attempt.delivered
    assert "redirects are not followed" in attempt.error
    assert len(receiver.received) == 1
