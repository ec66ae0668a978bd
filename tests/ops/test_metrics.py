"""/metrics: off unless METRICS_ENABLED, only for METRICS_ALLOWED_IPS, and the business gauges
an on-call person reads."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from codes.models import AlertKind, BatchStatus, CodeStatus, PoolKind, PromoCode, StockAlert
from conversions.models import Conversion, ConversionStatus
from ops.business_metrics import CACHE_KEY, REFRESH_LOCK_KEY
from programs.models import CodeUsage
from tests.config.processes import free_port as closed_port
from tests.factories import (
    BatchFactory,
    ParticipantFactory,
    PoolFactory,
    ProgramFactory,
    PromoCodeFactory,
    queue_short,
    stock_pool,
)

ENABLED = {"METRICS_ENABLED": True, "METRICS_ALLOWED_IPS": ["127.0.0.1/32"]}


@pytest.fixture(autouse=True)
def fresh_snapshot():
    # A snapshot cached by an earlier test (Redis outlives a test).
    cache.delete_many([CACHE_KEY, REFRESH_LOCK_KEY])
    yield
    cache.delete_many([CACHE_KEY, REFRESH_LOCK_KEY])


def samples(response):
    """{(name, ((label, value), …)): value} of a Prometheus text answer."""
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels):
    return found[(name, tuple(sorted(labels.items())))]


def test_metrics_is_404_unless_enabled(client):
    with override_settings(METRICS_ENABLED=False, METRICS_ALLOWED_IPS=["127.0.0.1/32"]):
        assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
@override_settings(**ENABLED)
def test_metrics_are_refused_to_an_address_not_allowed(client):
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.7", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "10.0.0.7" in response.json()["error"]["message"]
    assert b"referral_" not in response.content


@pytest.mark.django_db
@override_settings(METRICS_ENABLED=True, METRICS_ALLOWED_IPS=["10.0.0.0/8", "::1/128"])
def test_metrics_are_served_to_an_allowed_address_or_network(client):
    for address in ("10.20.30.40", "::1", "::ffff:10.0.0.9"):
        response = client.get("/metrics", REMOTE_ADDR=address)
        assert response.status_code == 200, address
        assert response["Content-Type"].startswith("text/plain")
        assert value(samples(response), "referral_metrics_up") == 1
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
@override_settings(**ENABLED)
def test_the_business_gauges_say_what_on_call_needs(client):
    program = ProgramFactory(slug="shoes", code_usage=CodeUsage.SINGLE, low_stock_threshold=2)
    pool = stock_pool(program, 5)
    # Multi-use codes left from before the one-way switch can never be handed out again.
    PromoCodeFactory.create_batch(2, batch=BatchFactory(pool=pool, usage=CodeUsage.MULTI))
    advocate = ParticipantFactory(program=program)
    PromoCode.objects.filter(pk=PromoCode.objects.filter(pool=pool).first().pk).update(
        status=CodeStatus.ASSIGNED, holder=advocate, assigned_at=timezone.now()
    )
    for short in ParticipantFactory.create_batch(3, program=program):
        queue_short(short, timezone.now())
    tank = PoolFactory(program=program, kind=PoolKind.FUEL_TANK, name="Tank", low_stock_threshold=9)
    PromoCodeFactory.create_batch(3, batch=BatchFactory(pool=tank))

    now = timezone.now()
    for order, status in enumerate(["attributed", "attributed", "rejected", "unattributed"]):
        Conversion.objects.create(
            program=program, order_id=f"o{order}", status=status, payload_digest="x"
        )
    old = Conversion.objects.create(
        program=program, order_id="old", status=ConversionStatus.REJECTED, payload_digest="x"
    )
    Conversion.objects.filter(pk=old.pk).update(created_at=now - timedelta(hours=2))

    StockAlert.objects.create(pool=pool, kind=AlertKind.LOW, available=2, threshold=2, sent_at=now)
    StockAlert.objects.create(
        pool=pool, kind=AlertKind.EMPTY, available=0, threshold=2, recipients="ops@x.com"
    )
    # A pool naming nobody: its alert is "no recipients", never sent, not counted as unsent.
    StockAlert.objects.create(pool=pool, kind=AlertKind.LOW, available=1, threshold=2)
    timed = BatchFactory(pool=pool, codes_added=40)
    type(timed).objects.filter(pk=timed.pk).update(
        created_at=now - timedelta(seconds=90), completed_at=now
    )
    BatchFactory(pool=pool, status=BatchStatus.FAILED)

    found = samples(client.get("/metrics"))

    referral = {"program": "shoes", "pool": pool.name, "kind": "referral"}
    fuel = {"program": "shoes", "pool": "Tank", "kind": "fuel_tank"}
    assert value(found, "referral_codes_available", **referral) == 4
    assert value(found, "referral_codes_available", **fuel) == 3
    assert value(found, "referral_codes_low_stock_threshold", **referral) == 2
    assert value(found, "referral_codes_low_stock_threshold", **fuel) == 9
    assert value(found, "referral_advocates_short_of_codes", program="shoes") == 3
    last_hour = {
        outcome: value(found, "referral_conversions_last_hour", program="shoes", outcome=outcome)
        for outcome in ConversionStatus.values
    }
    assert last_hour == {"attributed": 2, "unattributed": 1, "rejected": 1, "reversed": 0}
    assert value(found, "referral_stock_alerts_sent_total", **referral, alert="low") == 1
    assert value(found, "referral_stock_alerts_sent_total", **referral, alert="empty") == 0
    assert value(found, "referral_stock_alerts_unsent", **referral) == 1
    assert value(found, "referral_batches", **referral, status="completed") == 3
    assert value(found, "referral_batches", **referral, status="failed") == 1
    assert value(found, "referral_batch_codes_added_total", **referral) == 40
    assert value(found, "referral_batch_duration_seconds_count", **referral) == 1
    assert value(found, "referral_batch_duration_seconds_sum", **referral) == pytest.approx(90)


@pytest.mark.django_db
@override_settings(**ENABLED, METRICS_CACHE_SECONDS=60)
def test_the_business_gauges_are_read_once_per_cache_period(client, django_assert_num_queries):
    program = ProgramFactory(slug="bags")
    pool = stock_pool(program, 3)
    labels = {"program": "bags", "pool": pool.name, "kind": "referral"}
    assert value(samples(client.get("/metrics")), "referral_codes_available", **labels) == 3

    stock_pool(program, 2, prefix="D")
    with django_assert_num_queries(0):  # a scrape within the period reads no table
        found = samples(client.get("/metrics"))
    assert value(found, "referral_codes_available", **labels) == 3
    assert value(found, "referral_metrics_age_seconds") >= 0

    snapshot = cache.get(CACHE_KEY)
    snapshot["taken_at"] -= 61  # the period is over
    cache.set(CACHE_KEY, snapshot)
    found = samples(client.get("/metrics"))
    assert value(found, "referral_codes_available", **labels) == 5
    assert value(found, "referral_metrics_age_seconds") < 60


@pytest.mark.django_db
@override_settings(**ENABLED, METRICS_CACHE_SECONDS=60)
def test_while_one_process_refreshes_the_gauges_the_others_answer_with_the_last_ones(
    client, django_assert_num_queries
):
    program = ProgramFactory(slug="caps")
    pool = stock_pool(program, 3)
    client.get("/metrics")
    snapshot = cache.get(CACHE_KEY)
    snapshot["taken_at"] -= 90
    cache.set(CACHE_KEY, snapshot)
    cache.set(REFRESH_LOCK_KEY, 1)  # another process is reading the database
    stock_pool(program, 2, prefix="D")
    with django_assert_num_queries(0):
        found = samples(client.get("/metrics"))
    labels = {"program": "caps", "pool": pool.name, "kind": "referral"}
    assert value(found, "referral_codes_available", **labels) == 3
    assert value(found, "referral_metrics_age_seconds") >= 90
    cache.delete(REFRESH_LOCK_KEY)


@pytest.mark.django_db
@override_settings(**ENABLED)
def test_scrape_queries_grow_with_pools_and_programs_not_with_codes(
    client, django_assert_max_num_queries
):
    program = ProgramFactory(slug="hats")
    stock_pool(program, 2000)
    cache.delete(CACHE_KEY)
    # pools, codes available and codes expired/expiring (1 each per pool), short advocates,
    # programs, conversions (1 per program), program slugs, alerts, batches
    with django_assert_max_num_queries(9):
        response = client.get("/metrics")
    labels = {"program": "hats", "pool": program.pools.get().name, "kind": "referral"}
    assert value(samples(response), "referral_codes_available", **labels) == 2000


@pytest.mark.django_db
def test_metrics_are_served_when_the_cache_is_unreachable(client):
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }
    program = ProgramFactory(slug="rain")
    pool = stock_pool(program, 4)
    with override_settings(**ENABLED, CACHES=unreachable):
        response = client.get("/metrics")
    assert response.status_code == 200
    found = samples(response)
    assert value(found, "referral_metrics_up") == 1
    labels = {"program": "rain", "pool": pool.name, "kind": "referral"}
    assert value(found, "referral_codes_available", **labels) == 4


@pytest.mark.django_db
@override_settings(**ENABLED)
def test_the_gauges_count_expired_and_soon_expiring_codes(client):
    program = ProgramFactory(slug="dated")
    pool = stock_pool(program, 6)
    codes = PromoCode.objects.filter(pool=pool).order_by("id")
    PromoCode.objects.filter(id__in=[c.id for c in codes[:2]]).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    PromoCode.objects.filter(id=codes[2].id).update(expires_at=timezone.now() + timedelta(days=3))
    cache.delete(CACHE_KEY)
    found = samples(client.get("/metrics"))
    labels = {"program": "dated", "pool": pool.name, "kind": "referral"}
    assert value(found, "referral_codes_available", **labels) == 4
    assert value(found, "referral_codes_expired", **labels) == 2
    assert value(found, "referral_codes_expiring_soon", **labels) == 1
