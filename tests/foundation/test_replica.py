"""A real streaming replica (scripts/replica, started by scripts/test): what tolerates lag reads
it, what decides reads the primary, a manager who just changed something reads the primary, and
a replica that falls behind or goes away is read around, saying so in the log."""

import logging
import os
import subprocess
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from codes.models import PromoCode
from foundation import replica
from ops.business_metrics import read_snapshot
from programs.models import CodeUsage
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.replica,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]
ROOT = Path(__file__).resolve().parents[2]
LIST = reverse("admin:codes_promocode_changelist")
CODES_TABLE = '"codes_promocode"'


@pytest.fixture(autouse=True)
def quick_checks(settings, monkeypatch):
    settings.DATABASE_REPLICA_CHECK_SECONDS = 0.1
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 60
    settings.DATABASE_REPLICA_PIN_SECONDS = 3
    monkeypatch.setattr(replica.ReplicaHealth, "RETRY_UNREACHABLE_SECONDS", 0.2)
    replica.health.reset()
    yield
    replica_sql("SELECT pg_wal_replay_resume()")  # never leave it paused for the next test
    replica.health.reset()


def replica_sql(sql, params=()):
    with connections["replica"].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def caught_up(seconds=30):
    """Wait until the replica has replayed everything the primary wrote so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        lsn = cursor.fetchone()[0]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if replica_sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn])[0]:
            time.sleep(0.15)  # past one health check period
            return
        time.sleep(0.05)
    raise AssertionError(f"the replica did not replay up to {lsn} within {seconds} s")


def codes_read(queries):
    return [q["sql"] for q in queries if CODES_TABLE in q["sql"] and q["sql"].startswith("SELECT")]


def manager(username="manager"):
    return get_user_model().objects.create_superuser(username, f"{username}@example.com", "pw")


@pytest.fixture
def shop():
    program = stocked_program(slug="shop", code_usage=CodeUsage.SINGLE)
    advocate_with_code(program, "alice", "alice@example.com")
    caught_up()
    return program


def test_the_console_lists_searches_exports_and_gauges_read_the_replica(shop, client):
    client.force_login(manager())
    caught_up()
    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connection) as on_primary,
    ):
        listed = client.get(LIST)
        searched = client.get(LIST, {"q": "alice"})
        exported = client.get(reverse("admin:codes_promocode_export_list_csv"))
        stock = client.get(reverse("admin:codes_program_stock", args=[shop.pk]))
        gauges = read_snapshot()
    assert listed.status_code == searched.status_code == stock.status_code == 200
    assert len(listed.context["cl"].result_list) == 20
    held = shop.codes_per_advocate
    assert [c.holder.participant_id for c in searched.context["cl"].result_list] == ["alice"] * held
    assert len(b"".join(exported.streaming_content).decode().splitlines()) == 21  # header + 20
    assert gauges["pools"][0]["available"] == 20 - held
    assert len(codes_read(on_replica)) >= 5
    assert codes_read(on_primary) == []  # not one read of the codes on the primary


def test_the_read_apis_lists_read_the_replica(shop):
    api = client_for(shop)
    code = PromoCode.objects.filter(program=shop, holder__isnull=False).first().code
    assert (
        api.post(url(shop, "conversions"), {"OrderId": "o-9", "OrderPromoCode": code}).status_code
        == 201
    )
    caught_up()
    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connection) as on_primary,
    ):
        orders = api.get(url(shop, "conversions"))
        rewards = api.get(url(shop, "rewards"))
        referrals = api.get(url(shop, "referrals"))
    assert orders.status_code == rewards.status_code == referrals.status_code == 200
    assert [o["order_id"] for o in orders.json()["results"]] == ["o-9"]
    assert len(rewards.json()["results"]) == len(referrals.json()["results"]) == 1
    listed = ("conversions_conversion", "participants_reward", "participants_referral")
    assert sum(any(t in q["sql"] for t in listed) for q in on_replica.captured_queries) >= 3
    assert not any(
        q["sql"].startswith("SELECT") and any(f'FROM "{t}"' in q["sql"] for t in listed)
        for q in on_primary.captured_queries
    )


def test_what_decides_reads_the_primary(shop):
    api = client_for(shop)
    caught_up()
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        upserted = api.put(url(shop, "participants/bob"), {"email": "bob@example.com"})
        code = upserted.json()["referral_codes"][0]["code"]
        order = api.post(url(shop, "conversions"), {"OrderId": "o-1", "OrderPromoCode": code})
        looked_up = api.get(url(shop, f"codes/{code}"))
    assert upserted.status_code == order.status_code == 201
    assert order.json()["status"] == "attributed" and looked_up.status_code == 200
    assert on_replica.captured_queries == []


def test_a_manager_who_just_changed_something_reads_the_primary(shop, client):
    """The replica is kept behind on purpose (replay paused; the lag limit is generous): the
    manager who voided a code sees it voided at once, another manager sees the replica's older
    list until it catches up."""
    client.force_login(manager())
    other = type(client)()
    other.force_login(manager("other"))
    code = PromoCode.objects.filter(program=shop, holder__isnull=True).order_by("id").first()
    replica_sql("SELECT pg_wal_replay_pause()")
    done = client.post(
        LIST,
        {"action": "void_codes", "_selected_action": [code.pk], "_confirmed": "yes"},
        follow=True,
    )
    assert "Voided 1 code." in done.content.decode()

    def status_seen(by):
        page = by.get(LIST, {"q": code.code})
        return [c.status for c in page.context["cl"].result_list]

    with CaptureQueriesContext(connection) as on_primary:
        assert status_seen(client) == ["voided"]  # read-your-writes: the primary
    assert codes_read(on_primary)
    assert status_seen(other) == ["available"]  # the replica, not replayed yet

    replica_sql("SELECT pg_wal_replay_resume()")
    caught_up()
    assert status_seen(other) == ["voided"]
    time.sleep(3.2)  # the pin lasts DATABASE_REPLICA_PIN_SECONDS
    with CaptureQueriesContext(connection) as on_primary:
        assert status_seen(client) == ["voided"]
    assert codes_read(on_primary) == []  # back on the replica


def test_a_replica_falling_behind_is_read_around_and_logged(shop, client, settings, caplog):
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 1
    client.force_login(manager())
    caplog.set_level(logging.INFO, logger="foundation.replica")
    assert client.get(LIST).status_code == 200  # on the replica: it is current
    replica_sql("SELECT pg_wal_replay_pause()")
    PromoCode.objects.create(program=shop, pool=shop.pools.get(), code="LATE1", usage="single")
    time.sleep(1.5)  # the replica has not replayed it for longer than the limit
    with CaptureQueriesContext(connection) as on_primary:
        page = client.get(LIST, {"q": "LATE"})
    assert [c.code for c in page.context["cl"].result_list] == ["LATE1"]
    assert codes_read(on_primary)
    assert "Replica reads go to the primary: the replica is" in caplog.text
    assert "behind (limit 1 s)" in caplog.text

    replica_sql("SELECT pg_wal_replay_resume()")
    caught_up()
    with CaptureQueriesContext(connection) as on_primary:
        page = client.get(LIST, {"q": "LATE"})
    assert [c.code for c in page.context["cl"].result_list] == ["LATE1"]
    assert codes_read(on_primary) == []
    assert "Replica reads go to the replica" in caplog.text


def replica_script(command):
    subprocess.run([str(ROOT / "scripts" / "replica"), command], check=True, env=os.environ)


def test_a_replica_gone_away_is_read_around_and_logged_until_it_is_back(shop, client, caplog):
    client.force_login(manager())
    caplog.set_level(logging.INFO, logger="foundation.replica")
    assert client.get(LIST).status_code == 200
    replica_script("halt")
    try:
        with CaptureQueriesContext(connection) as on_primary:
            page = client.get(LIST)
            stock = client.get(reverse("admin:codes_program_stock", args=[shop.pk]))
        assert page.status_code == stock.status_code == 200
        assert len(page.context["cl"].result_list) == 20
        assert codes_read(on_primary)
        assert "Replica reads go to the primary: the replica cannot be reached" in caplog.text
    finally:
        replica_script("resume")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and replica.read_alias() != replica.REPLICA:
        time.sleep(0.2)
    caught_up()
    with CaptureQueriesContext(connection) as on_primary:
        assert client.get(LIST).status_code == 200
    assert codes_read(on_primary) == []
