"""The batch import service: good rows land together, bad rows are listed, nothing partial."""

import io

import pytest
from django.db import DatabaseError

from codes.models import Batch, BatchStatus, PoolKind, PromoCode
from codes.parsing import UnreadableFile
from codes.services import PromoCodesOff, batch_import, batches, pool_get_or_create_referral
from codes.sql import ImportStaging
from programs.models import CodeUsage
from tests.codes import files
from tests.factories import PoolFactory, ProgramFactory, PromoCodeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    return ProgramFactory(code_usage=CodeUsage.SINGLE)


@pytest.fixture
def pool(program):
    return pool_get_or_create_referral(program=program)


def run(pool, data, name="codes.csv"):
    return batch_import(pool=pool, stream=io.BytesIO(data), file_name=name)


def test_a_file_with_some_bad_rows_imports_exactly_its_good_rows(pool, program):
    fuel = PoolFactory(program=program, kind=PoolKind.FUEL_TANK, name="Tank")
    PromoCodeFactory(batch__pool=fuel, code="TAKEN")
    data = files.text(
        ["code", "abc", "ab c", "Abc", "taken", "", "x" * 65, "café", "def"],
        bom=True,
        newline="\r\n",
    )
    batch = run(pool, data)
    assert batch.status == BatchStatus.COMPLETED
    assert batch.usage == CodeUsage.SINGLE
    assert (
        batch.rows_read,
        batch.codes_added,
        batch.duplicates_in_file,
        batch.already_in_program,
        batch.invalid_rows,
    ) == (7, 2, 1, 1, 3)
    assert list(batch.codes.values_list("code", "usage", "status")) == [
        ("ABC", "single", "available"),
        ("DEF", "single", "available"),
    ]
    assert [(e["line"], e["reason"].split(" (")[0]) for e in batch.errors] == [
        (3, "invalid characters ' '"),
        (4, "duplicate within the file"),
        (5, "already in the program"),
        (7, "too long"),
        (8, "invalid characters 'é'"),
    ]


def test_codes_are_added_in_file_order(pool):
    batch = run(pool, files.text(["zzz", "aaa", "mmm"]), "c.txt")
    assert list(batch.codes.order_by("id").values_list("code", flat=True)) == ["ZZZ", "AAA", "MMM"]


def test_usage_is_the_programs_usage_at_upload_time(program, pool):
    program.code_usage = CodeUsage.MULTI
    program.save()
    batch = run(pool, files.text(["abc"]), "c.txt")
    assert batch.usage == CodeUsage.MULTI
    assert PromoCode.objects.get(code="ABC").usage == CodeUsage.MULTI


def test_a_second_import_of_the_same_file_adds_nothing(pool):
    data = files.text(["code", "abc", "def"])
    run(pool, data)
    again = run(pool, data)
    assert (again.codes_added, again.already_in_program) == (0, 2)
    assert PromoCode.objects.count() == 2


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"", "empty.csv"),
        (b"code\n", "header-only.csv"),
        (bytes(range(256)) * 4, "garbage.csv"),
        (b"code\nabc\n", "text.xlsx"),
        (b'[{"name": "abc"}]', "no-code.json"),
    ],
)
def test_an_unreadable_file_leaves_no_rows_behind(pool, data, name):
    with pytest.raises(UnreadableFile):
        run(pool, data, name)
    assert not Batch.objects.exists()
    assert not PromoCode.objects.exists()


def test_a_file_that_breaks_after_good_rows_is_refused_whole(pool):
    good = "".join(f"CODE{i:06d}\n" for i in range(5000)).encode()
    with pytest.raises(UnreadableFile, match="UTF-8"):
        run(pool, good + b"\xff\xfe broken\n", "codes.txt")
    assert not Batch.objects.exists()
    assert not PromoCode.objects.exists()


def test_a_database_error_leaves_no_partial_batch(pool, monkeypatch):
    PromoCodeFactory(batch__pool=pool, code="OLD")
    batches_before = Batch.objects.count()

    def explode(self, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(ImportStaging, "existing_rows", explode)
    with pytest.raises(DatabaseError):
        run(pool, files.text(["code", "new1", "old", "new2"]))
    assert Batch.objects.count() == batches_before
    assert list(PromoCode.objects.values_list("code", flat=True)) == ["OLD"]


def test_a_program_with_promo_codes_off_is_refused(pool, program):
    type(program).objects.filter(pk=program.pk).update(promo_codes_enabled=False)
    with pytest.raises(PromoCodesOff, match="off"):
        run(pool, files.text(["abc"]), "c.txt")
    assert not PromoCode.objects.exists()


def test_errors_kept_are_capped_but_counts_are_exact(pool, monkeypatch):
    monkeypatch.setattr(batches, "BATCH_ERRORS_KEPT", 3)
    batch = run(pool, files.text(["bad code"] * 10 + ["good"]), "c.txt")
    assert batch.invalid_rows == 10
    assert [e["line"] for e in batch.errors] == [1, 2, 3]


def test_staging_in_chunks_reports_progress(pool, monkeypatch):
    monkeypatch.setattr(batches, "STAGING_CHUNK_ROWS", 4)
    seen = []
    batch = batch_import(
        pool=pool,
        stream=io.BytesIO(files.text([f"C{i}" for i in range(10)])),
        file_name="c.txt",
        on_progress=seen.append,
    )
    assert batch.codes_added == 10
    assert seen == [4, 8, 10]


def test_a_file_that_breaks_after_chunks_were_loaded_leaves_nothing(pool, monkeypatch):
    # Chunks of 100: on PostgreSQL thousands of codes are already COPied into the table when
    # the bad bytes come.
    monkeypatch.setattr(batches, "STAGING_CHUNK_ROWS", 100)
    good = "".join(f"CODE{i:06d}\n" for i in range(2000)).encode()
    with pytest.raises(UnreadableFile, match="UTF-8"):
        run(pool, good + b"\xff\xfe broken\n", "codes.txt")
    assert not Batch.objects.exists()
    assert not PromoCode.objects.exists()


def test_a_database_error_after_the_codes_are_in_leaves_no_partial_batch(pool, monkeypatch):
    def explode(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(batches, "_audit_completed", explode)
    with pytest.raises(DatabaseError):
        run(pool, files.text(["code", "new1", "new2"]))
    assert not Batch.objects.exists()
    assert not PromoCode.objects.exists()


@pytest.mark.postgres
def test_after_an_import_the_keys_of_other_rows_are_checked_again(pool):
    from django.db import IntegrityError, connection, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        run(pool, files.text(["code", "abc"]))
        with connection.cursor() as cursor:  # same transaction: a batch that does not exist
            cursor.execute(
                "INSERT INTO codes_promocode (program_id, pool_id, batch_id, code, usage, source,"
                " status, redemption_count, redeemed_order_id, void_reason)"
                " VALUES (%s, %s, 999999, 'XYZ', 'single', 'pool', 'available', 0, '', '')",
                [pool.program_id, pool.pk],
            )
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_code_must_begin_with_a_letter_or_digit_and_the_row_is_named(pool):
    # `-A1` would read as a formula in a spreadsheet opening an export.
    data = files.text(["code", "-A1", "ok1", "_X", "9-a", " -1"])
    batch = run(pool, data)
    assert list(batch.codes.values_list("code", flat=True)) == ["OK1", "9-A"]
    assert [(e["line"], e["reason"]) for e in batch.errors] == [
        (2, "begins with '-': a code begins with a letter or digit"),
        (4, "begins with '_': a code begins with a letter or digit"),
        (6, "begins with '-': a code begins with a letter or digit"),
    ]
