"""XLS (Excel 97–2003): xlrd reads the whole file, so its size is capped first."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from .cells import _NotText
from .limits import UnreadableFile


def _xls_rows(stream, limits):
    import xlrd

    data = stream.read(limits.whole_file_bytes + 1)
    if len(data) > limits.whole_file_bytes:
        raise UnreadableFile(
            _(
                "XLS files are read whole and this one is larger than %(limit)s bytes (the "
                "CODES_WHOLE_FILE_MAX_BYTES limit): save it as CSV or XLSX, which are streamed."
            )
            % {"limit": f"{limits.whole_file_bytes:,}"}
        )
    try:
        # ragged_rows: a row is as long as its last cell, never padded to the widest row.
        book = xlrd.open_workbook(file_contents=data, on_demand=True, ragged_rows=True)
        sheet = book.sheet_by_index(0)
    except Exception:
        raise UnreadableFile(
            _("This .xls file is not a readable Excel 97–2003 workbook.")
        ) from None
    del data
    for r in range(sheet.nrows):
        cells = []
        for cell in sheet.row_slice(r, 0, min(sheet.row_len(r), limits.columns)):
            if cell.ctype == xlrd.XL_CELL_TEXT:
                cells.append(cell.value)
            elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                cells.append(None)
            elif cell.ctype == xlrd.XL_CELL_DATE:
                try:
                    cells.append(xlrd.xldate_as_datetime(cell.value, book.datemode))
                except (ValueError, OverflowError):
                    cells.append(cell.value)
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                cells.append(bool(cell.value))
            elif cell.ctype == xlrd.XL_CELL_ERROR:
                cells.append(_NotText("#ERROR", N_("an error cell, not text")))
            else:
                cells.append(cell.value)
        yield r + 1, cells
