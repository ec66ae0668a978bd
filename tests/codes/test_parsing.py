"""Reading every upload format, the header rule, and the files that cannot be read at all."""

import datetime
import io

import pytest

from codes.parsing import UnreadableFile, file_format, read_rows
from tests.codes import files


def rows(data, fmt):
    return [(r.line, r.code, r.reason) for r in read_rows(io.BytesIO(data), fmt)]


def codes(data, fmt):
    return [r.code for r in read_rows(io.BytesIO(data), fmt)]


def test_csv_with_header_in_any_case_reads_that_column():
    data = files.text(["id,CoDe,name", "1,abc,x", "2,def,y"])
    assert rows(data, "csv") == [(2, "ABC", ""), (3, "DEF", "")]


def test_without_header_the_first_column_holds_codes():
    assert codes(files.text(["abc,x", "def,y"]), "csv") == ["ABC", "DEF"]


def test_bom_crlf_and_semicolons():
    data = files.text(["code;note", "abc;1", "def;2"], newline="\r\n", bom=True)
    assert rows(data, "csv") == [(2, "ABC", ""), (3, "DEF", "")]


def test_tsv_and_txt():
    assert codes(files.text(["note\tcode", "x\tabc"]), "tsv") == ["ABC"]
    assert codes(files.text(["Code", " abc ", "", "def"], newline="\r\n"), "txt") == ["ABC", "DEF"]


def test_blank_rows_are_skipped_and_lines_are_physical_lines():
    data = files.text(["code", "", "abc", "   ", "def"])
    assert rows(data, "csv") == [(3, "ABC", ""), (5, "DEF", "")]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ab c", "invalid characters ' '"),
        ("café", "invalid characters 'é'"),
        ("A" * 65, "too long (65 characters, at most 64)"),
        ("-A1", "begins with '-': a code begins with a letter or digit"),
        ("_x", "begins with '_'"),
        (" -12", "begins with '-'"),
    ],
)
def test_invalid_codes_are_refused_with_a_reason(value, reason):
    [(line, code, why)] = rows(files.text(["code", value]), "csv")
    assert (line, code) == (2, None)
    assert why.startswith(reason)


def test_sixty_four_characters_is_fine():
    assert codes(files.text(["a" * 64]), "txt") == ["A" * 64]


@pytest.mark.parametrize("maker", [files.xlsx, files.xls, files.ods])
def test_spreadsheet_number_and_date_cells_are_refused_never_converted(maker):
    data = maker([("code",), ("abc",), (12345,), (datetime.date(2024, 3, 1),), ("def",)])
    fmt = maker.__name__
    result = rows(data, fmt)
    assert [r[1] for r in result] == ["ABC", None, None, "DEF"]
    assert result[1][0] == 3 and "number cell" in result[1][2]
    assert result[2][0] == 4 and "date cell" in result[2][2]


@pytest.mark.parametrize("maker", [files.xlsx, files.xls, files.ods])
def test_spreadsheet_header_picks_the_code_column(maker):
    data = maker([("name", "CODE"), ("x", "abc"), ("y", "def")])
    assert codes(data, maker.__name__) == ["ABC", "DEF"]


def test_json_list_of_strings_and_of_objects():
    assert codes(files.json_bytes(["abc", "def"]), "json") == ["ABC", "DEF"]
    data = files.json_bytes([{"code": "abc", "n": 1}, {"code": 5}, {"other": "x"}])
    result = rows(data, "json")
    assert result[0] == (1, "ABC", "")
    assert result[1][1] is None and "number" in result[1][2]
    assert result[2][1] is None and "code" in result[2][2]


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (b"", "csv", "empty"),
        (b"code\r\n", "csv", "no codes"),
        (b"\n\n  \n", "txt", "no codes"),
        (bytes(range(256)) * 8, "csv", "binary"),
        (b"\xff\xfe\xfdabc\n", "csv", "not UTF-8"),
        (files.xlsx([("code",), ("abc",)]), "csv", "zip archive"),
        (files.xls([("code",), ("abc",)]), "txt", "XLS"),
        (b"code\nabc\n", "xlsx", "not a readable Excel workbook"),
        (b"code\nabc\n", "xls", "not a readable Excel 97"),
        (b"code\nabc\n", "ods", "not a readable OpenDocument"),
        (b"code\nabc\n", "json", "not valid JSON"),
        (b'{"code": "abc"}', "json", "must hold a list"),
        (b'[{"name": "abc"}]', "json", "No code column"),
        (b"[]", "json", "no codes"),
        (files.xlsx([("code",)]), "xlsx", "no codes"),
    ],
)
def test_unreadable_files_are_refused_whole_with_a_clear_message(data, fmt, message):
    with pytest.raises(UnreadableFile, match=message):
        list(read_rows(io.BytesIO(data), fmt))


def test_unknown_extension_is_refused():
    with pytest.raises(UnreadableFile, match=r"\.pdf"):
        file_format("codes.pdf")
    assert file_format("Codes.XLSX") == "xlsx"
