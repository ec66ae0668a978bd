"""import_codes on SQLite and on PostgreSQL (COPY straight into the table, or into staging)."""

import pytest
from django.core.management import CommandError, call_command

from codes.models import Batch, PoolKind, PromoCode
from codes.services import pool_get_or_create_referral
from tests.codes import files
from tests.factories import PoolFactory, ProgramFactory, PromoCodeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    program = ProgramFactory(slug="shop")
    pool_get_or_create_referral(program=program)
    return program


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_imports_a_csv_and_prints_a_one_line_summary(program, tmp_path, capsys):
    path = write(tmp_path, "codes.csv", files.text(["code;x", "abc;1", "ABC;2", "b c;3", "def;4"]))
    call_command("import_codes", "--program", "shop", path)
    out, err = capsys.readouterr()
    assert out.count("\n") == 1
    assert "4 rows read, 2 codes added, 1 duplicate in the file" in out
    assert "1 invalid row" in out
    assert "line 4: 'b c'" in err
    assert set(PromoCode.objects.values_list("code", flat=True)) == {"ABC", "DEF"}


@pytest.mark.parametrize(
    ("name", "maker"),
    [("c.xlsx", files.xlsx), ("c.xls", files.xls), ("c.ods", files.ods)],
)
def test_reads_spreadsheets_like_the_admin(program, tmp_path, name, maker, capsys):
    path = write(tmp_path, name, maker([("Code",), ("abc",), (42,), ("def",)]))
    call_command("import_codes", "--program", "shop", path)
    batch = Batch.objects.get()
    assert (batch.codes_added, batch.invalid_rows) == (2, 1)
    assert "number cell" in batch.errors[0]["reason"]


def test_into_a_named_fuel_tank_pool(program, tmp_path):
    tank = PoolFactory(program=program, kind=PoolKind.FUEL_TANK, name="Rewards")
    path = write(tmp_path, "c.json", files.json_bytes([{"code": "gift1"}, {"code": "gift2"}]))
    call_command("import_codes", "--program", "shop", "--pool", "Rewards", path)
    assert list(tank.codes.values_list("code", flat=True)) == ["GIFT1", "GIFT2"]


def test_progress_goes_to_stderr_when_asked(program, tmp_path, capsys):
    path = write(tmp_path, "c.txt", files.text(["abc", "def"]))
    call_command("import_codes", "--program", "shop", "--progress", path)
    assert "2 rows read…" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--program", "nope"], "No program with slug 'nope'"),
        (["--program", "shop", "--pool", "Nope"], "has no pool 'Nope'"),
    ],
)
def test_bad_program_or_pool(program, tmp_path, args, message):
    path = write(tmp_path, "c.txt", files.text(["abc"]))
    with pytest.raises(CommandError, match=message):
        call_command("import_codes", *args, path)


def test_program_with_promo_codes_off(tmp_path):
    ProgramFactory(slug="off", promo_codes_enabled=False)
    path = write(tmp_path, "c.txt", files.text(["abc"]))
    with pytest.raises(CommandError, match="off for program 'off'"):
        call_command("import_codes", "--program", "off", path)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("garbage.csv", bytes(range(256)) * 4, "binary data"),
        ("empty.txt", b"", "empty"),
        ("header.csv", b"code\r\n", "no codes"),
        ("nocode.json", b'[{"email": "a@example.com"}]', "No code column"),
        ("wrong.xlsx", b"code\nabc\n", "not a readable Excel workbook"),
        ("codes.pdf", b"%PDF", r"\.pdf"),
    ],
)
def test_unreadable_files_exit_non_zero_and_import_nothing(program, tmp_path, name, data, message):
    path = write(tmp_path, name, data)
    with pytest.raises(CommandError, match=message):
        call_command("import_codes", "--program", "shop", path)
    assert not PromoCode.objects.exists()
    assert not Batch.objects.exists()


def test_missing_file(program, tmp_path):
    with pytest.raises(CommandError, match="Cannot open"):
        call_command("import_codes", "--program", "shop", str(tmp_path / "missing.csv"))


@pytest.mark.postgres
def test_postgres_copy_path_gives_the_same_counts(program, tmp_path):
    PromoCodeFactory(batch__pool=program.pools.get(), code="OLD7")
    lines = ["code"] + [f"code{i}" for i in range(3000)] + ["CODE5", "old7", "bad!", "Code9"]
    path = write(tmp_path, "big.csv", files.text(lines))
    call_command("import_codes", "--program", "shop", path)
    batch = Batch.objects.latest("id")
    assert (
        batch.rows_read,
        batch.codes_added,
        batch.duplicates_in_file,
        batch.already_in_program,
        batch.invalid_rows,
    ) == (3004, 3000, 2, 1, 1)
    assert [e["line"] for e in batch.errors] == [3002, 3003, 3004, 3005]
    first, last = batch.codes.order_by("id")[0], batch.codes.order_by("-id")[0]
    assert (first.code, last.code) == ("CODE0", "CODE2999")


@pytest.mark.postgres
def test_a_file_without_clash_is_copied_straight_in_and_the_summary_says_how(
    program, tmp_path, capsys
):
    path = write(tmp_path, "codes.csv", files.text(["code", "a1", "b2", "bad code", "c3"]))
    call_command("import_codes", "--program", "shop", path)
    out, _ = capsys.readouterr()
    assert "3 codes added" in out
    # The test database's role is a superuser: it may turn off the per-row key checks.
    assert "loaded COPY straight into the codes table, foreign keys checked once per batch" in out
    batch = Batch.objects.get()
    assert list(batch.codes.order_by("id").values_list("code", flat=True)) == ["A1", "B2", "C3"]
    assert [e["line"] for e in batch.errors] == [4]


@pytest.mark.postgres
def test_a_clash_falls_back_to_staging_and_the_summary_says_so(program, tmp_path, capsys):
    PromoCodeFactory(batch__pool=program.pools.get(), code="OLD")
    path = write(tmp_path, "codes.csv", files.text(["code", "new1", "old", "new2", "NEW1"]))
    call_command("import_codes", "--program", "shop", path)
    out, _ = capsys.readouterr()
    assert "2 codes added, 1 duplicate in the file, 1 already in the program" in out
    assert "loaded through a staging table (some codes clash)" in out
    assert Batch.objects.count() == 2  # OLD's own batch and this one: the undone COPY left none


@pytest.mark.postgres
def test_a_role_that_may_not_skip_triggers_gets_row_by_row_checks(
    program, tmp_path, capsys, monkeypatch
):
    from codes.sql import ForeignKeyChecks

    monkeypatch.setattr(ForeignKeyChecks, "_role_may_skip_triggers", staticmethod(lambda: False))
    path = write(tmp_path, "codes.csv", files.text(["code", "a1", "b2"]))
    call_command("import_codes", "--program", "shop", path)
    out, _ = capsys.readouterr()
    assert "2 codes added" in out
    assert "foreign keys checked row by row" in out


def test_an_expires_at_column_sets_each_codes_expiry_over_the_batchs(program, tmp_path, capsys):
    from datetime import UTC, datetime

    path = write(
        tmp_path,
        "dated.csv",
        files.text(
            [
                "code,Expires At",
                "A1,2027-06-30",
                "A2,2027-06-30T18:00+08:00",
                "A3,",
                "A4,next tuesday",
                "A1,2027-01-01",
            ]
        ),
    )
    call_command("import_codes", "--program", "shop", path, "--expires-at", "2027-12-31")
    err = capsys.readouterr().err
    expiry = dict(PromoCode.objects.values_list("code", "expires_at"))
    # A date alone: the code works through that day.
    assert expiry["A1"] == datetime(2027, 7, 1, tzinfo=UTC)
    assert expiry["A2"] == datetime(2027, 6, 30, 10, tzinfo=UTC)
    assert expiry["A3"] == Batch.objects.get().expires_at  # no own expiry: the batch's
    assert "A4" not in expiry
    assert "line 5:" in err and "'next tuesday' is not a date" in err


@pytest.mark.parametrize(
    ("name", "maker"), [("d.xlsx", files.xlsx), ("d.ods", files.ods), ("d.xls", files.xls)]
)
def test_the_spreadsheets_own_date_cells_set_the_expiry(program, tmp_path, name, maker):
    from datetime import UTC, date, datetime

    path = write(tmp_path, name, maker([("Code", "Valid until"), ("B1", date(2027, 3, 31))]))
    call_command("import_codes", "--program", "shop", path)
    assert PromoCode.objects.get(code="B1").expires_at == datetime(2027, 4, 1, tzinfo=UTC)
