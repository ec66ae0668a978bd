"""Code files are bounded by what they expand to, not their size on disk (docs/architecture.md,
Resilience).

Each bomb is small on disk; the test reads it and checks the answer (refused whole naming the
limit, or read without the declared bulk) and that Python's peak allocation stayed small.
"""

import io
import tracemalloc

import pytest

from codes.parsing import SHOWN_VALUE_CHARS, Limits, UnreadableFile, read_rows
from tests.codes import bombs, files

MB = 1024 * 1024


def read(data, fmt, **limits):
    base = Limits.from_settings()
    chosen = Limits(**{**base.__dict__, **limits})
    return list(read_rows(io.BytesIO(data), fmt, limits=chosen))


def peak_while(function):
    """Run `function`; return (its result or exception, peak bytes Python allocated)."""
    tracemalloc.start()
    try:
        result = function()
    except Exception as exc:  # the refusal is the answer under test
        result = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return result, peak


def test_a_declared_dimension_of_the_whole_sheet_is_ignored():
    data = bombs.xlsx_declaring_the_whole_sheet()
    assert len(data) < 2000
    rows, peak = peak_while(lambda: read(data, "xlsx"))
    assert [(r.line, r.code) for r in rows] == [(2, "ABC"), (1048576, "DEF")]
    assert peak < 5 * MB


def test_one_huge_string_is_refused_by_the_cell_limit_without_being_held():
    data = bombs.xlsx_with_one_huge_string(50 * MB)
    assert len(data) < 200_000
    result, peak = peak_while(lambda: read(data, "xlsx"))
    assert isinstance(result, UnreadableFile)
    assert "CODES_UPLOAD_MAX_CELL_CHARS" in str(result)
    assert peak < 5 * MB


def test_a_workbook_unpacking_past_the_budget_is_refused_from_its_declared_size():
    data = bombs.xlsx_with_one_huge_string(50 * MB)
    with pytest.raises(UnreadableFile, match="CODES_UPLOAD_MAX_EXPANDED_BYTES"):
        read(data, "xlsx", expanded_bytes=10 * MB)


def test_too_many_rows_are_refused_whole_naming_the_limit():
    data = bombs.xlsx_with_rows(5000)
    result, peak = peak_while(lambda: read(data, "xlsx", rows=1000))
    assert isinstance(result, UnreadableFile)
    assert "more than 1,000 rows (the CODES_UPLOAD_MAX_ROWS limit)" in str(result)
    assert peak < 5 * MB
    assert len(read(data, "xlsx", rows=5000)) == 5000


@pytest.mark.parametrize("fmt", ["csv", "txt", "json"])
def test_too_many_rows_in_text_formats(fmt):
    codes = [f"c{n}" for n in range(50)]
    data = files.json_bytes(codes) if fmt == "json" else files.text(codes)
    with pytest.raises(UnreadableFile, match="CODES_UPLOAD_MAX_ROWS"):
        read(data, fmt, rows=49)
    assert len(read(data, fmt, rows=50)) == 50


def test_ods_repeated_rows_expand_only_within_the_limits():
    filled = bombs.ods(bombs.ods_row("code") + bombs.ods_row("abc", repeat=1_000_000))
    assert len(filled) < 2000
    result, peak = peak_while(lambda: read(filled, "ods", rows=1000))
    assert isinstance(result, UnreadableFile) and "CODES_UPLOAD_MAX_ROWS" in str(result)
    assert peak < 5 * MB

    # Blank rows and columns repeated a million times cost nothing and are skipped.
    blank = bombs.ods(
        bombs.ods_row("code")
        + bombs.ods_row("abc")
        + bombs.ods_blank_rows(1_000_000)
        + bombs.ods_row("def", columns_repeat=16384)
    )
    rows, peak = peak_while(lambda: read(blank, "ods"))
    assert [(r.line, r.code) for r in rows] == [(2, "ABC"), (1_000_003, "DEF")]
    assert peak < 5 * MB


def test_ods_of_many_real_rows_is_streamed():
    rows_xml = "".join(bombs.ods_row(f"c{n}") for n in range(20_000))
    data = bombs.ods(rows_xml)
    rows, peak = peak_while(lambda: read(data, "ods"))
    assert len(rows) == 20_000
    assert peak < 10 * MB  # the old reader built the whole document (~60 MB for this file)


def test_columns_past_the_limit_are_never_read():
    data = files.text(["x," * 100 + "code", "1," * 100 + "abc"])
    # The header sits in column 101: past the 50 columns read, so the first column is read.
    rows = read(data, "csv", columns=50)
    assert [r.value for r in rows] == ["x", "1"]
    assert [r.code for r in read(data, "csv", columns=101)] == ["ABC"]


@pytest.mark.parametrize("fmt", ["txt", "csv", "json"])
def test_an_endless_line_or_cell_is_refused_whole(fmt):
    huge = "A" * (10 * MB)
    data = files.json_bytes(["abc", huge]) if fmt == "json" else files.text(["abc", huge])
    result, peak = peak_while(lambda: read(data, fmt))
    assert isinstance(result, UnreadableFile)
    assert "CODES_UPLOAD_MAX_CELL_CHARS" in str(result)
    assert peak < 3 * MB  # the 10 MB line is never held whole


def test_refused_values_are_cut_to_100_characters_and_escaped():
    long_bad = "é" * 500
    data = files.json_bytes(["ok", long_bad, "a\x00b", "\ud800x", "x\ny"])
    rows = read(data, "json")
    refused = [r for r in rows if r.code is None]
    assert refused[0].value == "é" * SHOWN_VALUE_CHARS + "…"
    assert len(refused[0].reason) < 200
    assert refused[1].value == "a\\x00b"
    assert all("\x00" not in r.value and "\n" not in r.value for r in refused)


def test_a_json_file_nested_absurdly_deep_is_refused():
    result, _ = peak_while(lambda: read(bombs.json_nested(100_000), "json"))
    assert isinstance(result, UnreadableFile)
    assert "nested more than" in str(result)


def test_a_zip_of_too_many_parts_is_refused_before_it_is_listed():
    with pytest.raises(UnreadableFile, match="more than 10,000 parts"):
        read(bombs.zip_with_entries(10_001), "xlsx")


def test_xml_entity_tricks_are_refused():
    with pytest.raises(UnreadableFile, match="document type declaration"):
        read(bombs.xlsx_with_a_doctype(), "xlsx")


def test_xls_files_are_capped_in_size():
    data = files.xls([("code",), ("abc",)])
    with pytest.raises(UnreadableFile, match="CODES_WHOLE_FILE_MAX_BYTES"):
        read(data, "xls", whole_file_bytes=len(data) - 1)
    assert [r.code for r in read(data, "xls")] == ["ABC"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("deep.json", bombs.json_nested(100_000), "nested more than"),
        ("bomb.xlsx", bombs.xlsx_with_one_huge_string(5 * MB), "CODES_UPLOAD_MAX_CELL_CHARS"),
        ("many.ods", bombs.ods(bombs.ods_row("abc", repeat=10**9)), "CODES_UPLOAD_MAX_ROWS"),
        ("repeated.ods", bombs.ods_one_row_repeated(9_999_999), "repeated 9,999,999 times"),
        (
            "styles.xlsx",
            bombs.xlsx_with_a_padded_part("xl/styles.xml", 40 * MB),
            "xl/styles.xml unpacks to",
        ),
        (
            "strings.xlsx",
            bombs.xlsx_with_empty_shared_strings(200_000),
            "more than 100,000 empty texts",
        ),
    ],
)
def test_import_codes_refuses_a_bomb_with_a_clear_command_error(tmp_path, name, data, message):
    from django.core.management import CommandError, call_command

    from codes.models import Batch
    from tests.factories import ProgramFactory

    ProgramFactory(slug="shop")
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(CommandError, match=message):
        call_command("import_codes", "--program", "shop", str(path))
    assert not Batch.objects.exists()


# Issue 19's bombs ---------------------------------------------------------------------------


def test_an_ods_row_repeated_just_under_the_rows_limit_is_refused_before_it_is_expanded():
    data = bombs.ods_one_row_repeated(9_999_999)
    assert len(data) < 1000
    result, peak = peak_while(lambda: read(data, "ods"))
    assert isinstance(result, UnreadableFile)
    assert "Line 1 of this .ods file is repeated 9,999,999 times" in str(result)
    assert peak < 5 * MB


def test_ods_repeats_are_made_lazily_one_row_at_a_time():
    data = bombs.ods(bombs.ods_row("code") + bombs.ods_row("abc", repeat=10_000))
    rows = read_rows(io.BytesIO(data), "ods")
    first = next(rows)
    assert (first.line, first.code) == (2, "ABC")
    # The other 9,999 repeats do not exist yet: reading them all allocates little.
    rest, peak = peak_while(lambda: sum(1 for _ in rows))
    assert rest == 9_999
    assert peak < 2 * MB


def test_an_ods_cell_repeated_across_a_billion_columns_costs_nothing():
    data = bombs.ods_one_cell_repeated_across(10**9)
    rows, peak = peak_while(lambda: read(data, "ods"))
    assert [(r.line, r.code) for r in rows] == [(1, "ABC"), (2, "DEF")]
    assert peak < 5 * MB


@pytest.mark.parametrize("part", ["xl/styles.xml", "xl/workbook.xml"])
def test_an_xlsx_part_unpacking_hugely_is_refused_before_it_is_unpacked(part):
    data = bombs.xlsx_with_a_padded_part(part, 40 * MB)
    assert len(data) < 100_000
    result, peak = peak_while(lambda: read(data, "xlsx"))
    assert isinstance(result, UnreadableFile)
    assert f"{part} unpacks to 41,943," in str(result)
    assert peak < 5 * MB


def test_an_xlsx_with_small_padded_parts_is_read_streaming_them():
    data = bombs.xlsx_with_a_padded_part("xl/styles.xml", 8 * MB)
    rows, peak = peak_while(lambda: read(data, "xlsx"))
    assert [r.code for r in rows] == ["ABC"]
    assert peak < 5 * MB


def test_an_xlsx_of_empty_shared_strings_is_refused_early():
    data = bombs.xlsx_with_empty_shared_strings(25_000_000)
    assert len(data) < 300_000
    result, peak = peak_while(lambda: read(data, "xlsx"))
    assert isinstance(result, UnreadableFile)
    assert "more than 100,000 empty texts" in str(result)
    assert peak < 10 * MB


def test_an_xlsx_with_more_shared_strings_than_rows_is_refused():
    data = bombs.xlsx('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared=["x"] * 200)
    result = peak_while(lambda: read(data, "xlsx", rows=100, columns=50))[0]
    assert isinstance(result, UnreadableFile)
    assert "more than 150 texts (the CODES_UPLOAD_MAX_ROWS limit" in str(result)


@pytest.mark.parametrize(
    ("data", "shown", "length"),
    [
        (bombs.json_long_number(5_000), "1" * 20, "5,000"),  # crashed ijson's C backend
        (bombs.json_long_number(65_000), "1" * 20, "65,000"),  # SystemError
        (bombs.json_long_number(310, b"9"), "9" * 20, "310"),  # OverflowError at :g
        (bombs.json_long_number(10 * MB), "1" * 20, "10,485,760"),
    ],
    ids=["5000-digits", "65000-digits", "310-nines", "10M-digits"],
)
def test_an_over_long_json_number_is_a_refused_row_naming_its_line(data, shown, length):
    code_first = b'["abc", ' + data[1:-1] + b', {"code": ' + data[1:-1] + b'}, "def"]'
    rows, peak = peak_while(lambda: read(code_first, "json"))
    assert [(r.line, r.code) for r in rows] == [(1, "ABC"), (2, None), (3, None), (4, "DEF")]
    for row in rows[1:3]:
        assert row.value == shown + "…"
        assert row.reason.startswith(f"a number {length} characters long ({shown}…)")
    assert peak < 5 * MB


def test_json_numbers_out_of_range_are_refused_rows():
    data = b"[1e999999999, -1e999999999, 123456789012345678901234567890, 12]"
    rows = read(data, "json")
    assert [r.code for r in rows] == [None] * 4
    assert [r.reason.split(",")[0] for r in rows] == [
        "a number cell (inf)",
        "a number cell (-inf)",
        "a number cell (12345678901234567890…)",
        "a number cell (12)",
    ]


def test_json_strings_split_across_chunks_are_read_whole():
    # Escapes and quotes falling on the guard's chunk boundaries (64 KB) keep their meaning.
    for pad in range(65_526, 65_540):
        data = b'["' + b"a" * 10 + b'", ' + b" " * pad + b'"x\\"y", "B\\\\", 123, "C"]'
        rows = read(data, "json")
        assert [r.code for r in rows] == ["AAAAAAAAAA", None, None, None, "C"]
        assert rows[1].value == 'x"y' and rows[2].value == "B\\"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [bombs.json_long_number(5_000), bombs.json_long_number(310, b"9")],
    ids=["5000-digits", "310-nines"],
)
def test_import_codes_reports_an_over_long_json_number_as_a_refused_row(tmp_path, data):
    from django.core.management import call_command

    from codes.models import Batch
    from tests.factories import ProgramFactory

    ProgramFactory(slug="shop")
    path = tmp_path / "codes.json"
    path.write_bytes(b'["abc", ' + data[1:-1] + b"]")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_codes", "--program", "shop", str(path), stdout=out, stderr=err)
    batch = Batch.objects.get()
    assert (batch.codes_added, batch.invalid_rows) == (1, 1)
    assert batch.errors[0]["line"] == 2 and "characters long" in batch.errors[0]["reason"]
    assert "Traceback" not in out.getvalue() + err.getvalue()
