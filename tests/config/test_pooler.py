"""Through PgBouncer in transaction mode (scripts/pgbouncer, the PgBouncer pass of scripts/test):
consecutive transactions of one Django connection run on different server connections, and
nothing of the project relies on a server connection surviving a transaction."""

import io
import threading

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction

from codes.models import PromoCode
from codes.selectors import codes_export_rows
from codes.services import batch_import
from codes.services import batches as batches_module
from codes.sql import ImportStaging
from tests.factories import ProgramFactory, stock_pool

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.pgbouncer,
    pytest.mark.django_db(transaction=True),
]


def admin_console(command):
    """A command on PgBouncer's admin console (the `pgbouncer` database)."""
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="pgbouncer", autocommit=True
    ) as conn:
        cursor = conn.execute(command)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def backend_pid():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.fixture
def server_connections():
    """Three server connections open at once (three clients in a transaction together), so
    that PgBouncer has a choice for every next transaction."""
    clients = 3
    inside, release = threading.Barrier(clients), threading.Event()

    def hold():
        from django.db import connection as own

        with transaction.atomic():
            own.cursor().execute("SELECT 1")
            inside.wait(10)
            release.wait(10)
        own.close()

    threads = [threading.Thread(target=hold) for _ in range(clients - 1)]
    for thread in threads:
        thread.start()
    with transaction.atomic():
        connection.cursor().execute("SELECT 1")
        inside.wait(10)
        release.set()
    for thread in threads:
        thread.join()


def test_the_database_is_reached_through_pgbouncer_in_transaction_mode(server_connections):
    config = {row["key"]: row["value"] for row in admin_console("SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"
    # One Django connection, several transactions, more than one server connection: what a
    # temporary table, a session SET or a prepared statement would not survive.
    assert len({backend_pid() for _ in range(6)}) > 1


def test_a_temporary_table_would_not_survive_and_the_import_stages_without_one(
    server_connections, monkeypatch
):
    """The import stages its rows over several transactions: a temporary table made in the
    first is missing in a later one behind this pooler, the import's own table is not."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE staged_here (line bigint)")
    seen = []
    for _ in range(8):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('pg_temp.staged_here') IS NOT NULL")
            seen.append(cursor.fetchone()[0])
    assert not all(seen)  # at least one transaction ran where the table does not exist

    program = ProgramFactory(slug="pooled")
    stock_pool(program, 3, prefix="X")  # X00000..X00002 clash: the staged path
    monkeypatch.setattr(batches_module, "STAGING_CHUNK_ROWS", 50)  # many staging transactions
    lines = "\n".join(["code", *[f"N{i:05d}" for i in range(400)], "X00001", "N00007", "bad code!"])
    batch = batch_import(
        pool=program.pools.get(), stream=io.BytesIO(lines.encode()), file_name="codes.csv"
    )
    assert (batch.codes_added, batch.already_in_program, batch.duplicates_in_file) == (400, 1, 1)
    assert batch.invalid_rows == 1
    assert PromoCode.objects.filter(program=program).count() == 403
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE %s", [ImportStaging.PREFIX + "%"]
        )
        assert cursor.fetchone()[0] == 0  # dropped at the end


def test_an_export_pages_through_the_pooler(server_connections, monkeypatch):
    program = ProgramFactory(slug="exported")
    stock_pool(program, 25, prefix="E")
    monkeypatch.setattr("codes.selectors.code_export.EXPORT_PAGE_ROWS", 4)
    rows = list(codes_export_rows(program=program))
    assert [row[0] for row in rows] == [f"E{i:05d}" for i in range(25)]
