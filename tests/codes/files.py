"""Build code files of every format in memory, for the tests."""

import io
import json

import openpyxl
import tablib
import xlwt


def xlsx(rows):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xls(rows):
    book = xlwt.Workbook()
    sheet = book.add_sheet("codes")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if hasattr(value, "year"):
                sheet.write(r, c, value, date_style)
            else:
                sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ods(rows):
    rows = [list(r) for r in rows]
    dataset = tablib.Dataset(*rows[1:], headers=rows[0])
    return dataset.export("ods")


def json_bytes(items):
    return json.dumps(items).encode()


def text(lines, *, newline="\n", bom=False):
    data = newline.join(lines) + newline
    return (b"\xef\xbb\xbf" if bom else b"") + data.encode()
