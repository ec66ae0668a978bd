"""Small files that expand hugely (or lie about their size), built in memory for the tests."""

import io
import zipfile

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Codes" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _zip(parts):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            if isinstance(data, str):
                data = data.encode()
            if callable(data):
                with archive.open(name, "w", force_zip64=True) as part:
                    data(part)
            else:
                archive.writestr(name, data)
    return out.getvalue()


def xlsx(sheet_body, *, dimension=None, shared=None, sheet_head=""):
    """An XLSX whose first sheet holds `sheet_body` (the <sheetData> content, or a callable
    writing it to a part) and an optional shared-string table (a list, or a callable)."""
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>{sheet_head}<worksheet xmlns="{_MAIN}">'
        + (f'<dimension ref="{dimension}"/>' if dimension else "")
        + "<sheetData>"
    )
    tail = "</sheetData></worksheet>"
    if callable(sheet_body):

        def sheet(part):
            part.write(head.encode())
            sheet_body(part)
            part.write(tail.encode())

    else:
        sheet = head + sheet_body + tail
    parts = {
        "[Content_Types].xml": _CONTENT_TYPES,
        "_rels/.rels": _ROOT_RELS,
        "xl/workbook.xml": _WORKBOOK,
        "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS,
        "xl/worksheets/sheet1.xml": sheet,
    }
    if callable(shared):

        def strings(part):
            part.write(f'<sst xmlns="{_MAIN}">'.encode())
            shared(part)
            part.write(b"</sst>")

        parts["xl/sharedStrings.xml"] = strings
    elif shared is not None:
        items = "".join(f"<si><t>{s}</t></si>" for s in shared)
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{_MAIN}">{items}</sst>'
    return _zip(parts)


def inline_row(line, *values):
    cells = "".join(
        f'<c r="{chr(65 + i)}{line}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{line}">{cells}</row>'


def xlsx_declaring_the_whole_sheet():
    """1.5 KB: declares A1:XFD1048576, with a cell in the last column and a row at the end."""
    body = (
        inline_row(1, "code")
        + inline_row(2, "abc")
        + '<row r="3"><c r="XFD3" t="inlineStr"><is><t>far</t></is></c></row>'
        + inline_row(1048576, "def")
    )
    return xlsx(body, dimension="A1:XFD1048576")


def xlsx_with_one_huge_string(chars):
    """A few hundred KB holding one shared string of `chars` characters."""

    def strings(part):
        part.write(b"<si><t>")
        block = b"A" * (1 << 20)
        left = chars
        while left > 0:
            part.write(block[: min(left, len(block))])
            left -= len(block)
        part.write(b"</t></si>")

    return xlsx('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared=strings)


def xlsx_with_rows(count):
    """`count` rows of one short inline code each, written as a stream."""

    def body(part):
        for start in range(1, count + 1, 10_000):
            part.write(
                "".join(
                    f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>C{n}</t></is></c></row>'
                    for n in range(start, min(start + 10_000, count + 1))
                ).encode()
            )

    return xlsx(body)


def xlsx_with_a_doctype():
    """The billion laughs, in a worksheet."""
    entities = '<!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    return xlsx(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row>', sheet_head=entities
    )


def zip_with_entries(count):
    """A zip of `count` empty parts (a workbook that is all table of contents)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for n in range(count):
            archive.writestr(f"p{n}", b"")
    return out.getvalue()


_ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"


def ods(rows_xml):
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Codes">'
        f"{rows_xml}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    return _zip({"mimetype": _ODS_MIMETYPE, "content.xml": content})


def ods_row(*values, repeat=1, columns_repeat=1):
    cells = "".join(
        f'<table:table-cell office:value-type="string" table:number-columns-repeated="{columns_repeat}">'
        f"<text:p>{v}</text:p></table:table-cell>"
        for v in values
    )
    return f'<table:table-row table:number-rows-repeated="{repeat}">{cells}</table:table-row>'


def ods_blank_rows(repeat):
    return (
        f'<table:table-row table:number-rows-repeated="{repeat}">'
        '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
    )


def json_nested(depth):
    return b"[" + b"[" * depth + b"]" * depth + b"]"


def ods_one_row_repeated(repeat=9_999_999):
    """Under 1 KB: one filled row repeated `repeat` times (by default just under the rows
    limit, so only laziness keeps it small)."""
    return ods(ods_row("abc", repeat=repeat))


def ods_one_cell_repeated_across(columns=10**9):
    """A row whose one filled cell is repeated across `columns` columns."""
    return ods(ods_row("abc", columns_repeat=columns) + ods_row("def"))


def _spaces(total):
    def write(part):
        block = b" " * (1 << 20)
        left = total
        while left > 0:
            part.write(block[: min(left, len(block))])
            left -= len(block)

    return write


def xlsx_with_a_padded_part(name, padding):
    """A valid XLSX of two codes whose part `name` (xl/styles.xml or xl/workbook.xml) holds
    `padding` bytes of spaces: it unpacks hugely from a few hundred KB."""
    data = xlsx(inline_row(1, "code") + inline_row(2, "abc"))
    if name == "xl/workbook.xml":
        head, _ = _WORKBOOK.rsplit("</workbook>", 1)
        content = [head.encode(), _spaces(padding), b"</workbook>"]
    else:
        content = [f'<styleSheet xmlns="{_MAIN}">'.encode(), _spaces(padding), b"</styleSheet>"]
    source = zipfile.ZipFile(io.BytesIO(data))
    parts = {info.filename: source.read(info) for info in source.infolist()}

    def write(part):
        for piece in content:
            part.write(piece) if isinstance(piece, bytes) else piece(part)

    parts[name] = write
    if name == "xl/styles.xml":
        parts["xl/_rels/workbook.xml.rels"] = _WORKBOOK_RELS.replace(
            "</Relationships>",
            '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/styles" Target="styles.xml"/></Relationships>',
        )
    return _zip(parts)


def xlsx_with_empty_shared_strings(count):
    """`count` empty `<si/>` shared strings (a few hundred KB zipped) and one code."""

    def strings(part):
        block = b"<si/>" * 100_000
        left = count
        while left > 0:
            n = min(left, 100_000)
            part.write(block[: 5 * n])
            left -= n

    return xlsx(inline_row(1, "code") + inline_row(2, "abc"), shared=strings)


def json_long_number(digits, first=b"1"):
    """`[` + one integer of `digits` digits + `]` (5,000 digits crashed ijson's C backend)."""
    return b"[" + first * digits + b"]"
