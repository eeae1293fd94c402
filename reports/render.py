"""A report's sheets as a file (报表文件): JSON (money in fen, as the API), CSV in UTF-8 with a
byte-order mark so Excel in China opens it (one section per breakdown, money in yuan with two
decimals, exact), XLSX with one sheet per breakdown, Chinese headers, money formatted in yuan,
dates as dates (a date number format, so a partner's Excel sorts and filters them), columns as wide
as their widest cell (a CJK character counts as two) and a totals row (written row by row in
openpyxl's write-only mode).

Every text a spreadsheet shows goes through `spreadsheet_text`, the one rule for CSV and XLSX
alike: names come from hubs' admins, and a name like `=HYPERLINK(...)` must stay a name in a
partner's Excel. JSON is data for programs and keeps every value exact."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import date
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from reports.queries import Sheet

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
YUAN = '#,##0.00"元"'
DAY = "yyyy-mm-dd"
WIDTH = (6, 60)  # a column's width in characters: at least, at most
SHEET_TITLE = str.maketrans("[]:*?/\\", "（）：＊？／＼")  # characters a sheet title cannot hold
# OWASP's CSV injection rule: a cell beginning with = + - @ TAB or CR is read as a formula by
# Excel, WPS or LibreOffice; an apostrophe in front keeps it text. Their full-width forms too, as a
# precaution (Chinese input methods type them; a spreadsheet may read them as the others). The
# same after a separator (, ; TAB CR LF, then any double quotes): a reader splitting on another
# separator than the file's (a semicolon locale, a partner's script) would start a cell there.
FORMULA_START = "=+-@\t\r＝＋－＠"
_FORMULA_AT = re.compile(r'(^|[,;\t\r\n]"*)(?=[' + re.escape(FORMULA_START) + "])")


def spreadsheet_text(value):
    """A text cell as every writer puts it (CSV and XLSX): an apostrophe before a character that
    would start a formula, at the start or after a separator; control characters a workbook cannot
    hold as U+FFFD. Anything not text (numbers, None) as it is."""
    if not isinstance(value, str):
        return value
    return _FORMULA_AT.sub(r"\1'", ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))


def yuan_text(fen) -> str:
    """Exact: 123456 fen → "1234.56"; other cells ("<5", text) as they are."""
    if not isinstance(fen, int):
        return str(fen)
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def render(fmt: str, header: dict, sheets: list[Sheet]) -> bytes:
    return {"json": _json, "csv": _csv, "xlsx": _xlsx}[fmt](header, sheets)


def _json(header: dict, sheets: list[Sheet]) -> bytes:
    def as_dict(values, sheet):
        return {c.key: v for c, v in zip(sheet.columns, values, strict=True)}

    body = {
        **header,
        "sheets": [
            {
                "key": s.key,
                "title": s.title,
                "columns": [{"key": c.key, "title": c.title, "kind": c.kind} for c in s.columns],
                "rows": [as_dict(r, s) for r in s.rows],
                "totals": as_dict(s.totals, s) if s.totals else None,
            }
            for s in sheets
        ],
    }
    return json.dumps(body, ensure_ascii=False, indent=1).encode()


def _heading(column) -> str:
    return column.title + ("（元）" if column.kind == "fen" else "")


def _csv(header: dict, sheets: list[Sheet]) -> bytes:
    """Every field in double quotes (a separator inside a name never starts a cell), text through
    `spreadsheet_text`; money is ours, formatted by `yuan_text`."""
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_ALL)

    def row(values):
        w.writerow([spreadsheet_text(v) for v in values])

    row([header["title"], f"{header['period_start']} 至 {header['period_end']}"])
    for s in sheets:
        w.writerow([])
        row([s.title])
        row([_heading(c) for c in s.columns])
        for values in [*s.rows, *([s.totals] if s.totals else [])]:
            w.writerow(
                [
                    yuan_text(v) if c.kind == "fen" and isinstance(v, int) else spreadsheet_text(v)
                    for c, v in zip(s.columns, values, strict=True)
                ]
            )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(header: dict, sheets: list[Sheet]) -> bytes:
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for s in sheets:
        ws = wb.create_sheet(s.title.translate(SHEET_TITLE)[:31])
        for i, width in enumerate(_widths(s), start=1):  # before the first row (write-only mode)
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.append([_text(ws, f"{header['title']} {header['period_start']} 至 {header['period_end']}")])
        heads = []
        for c in s.columns:
            cell = _text(ws, _heading(c))
            cell.font = bold
            heads.append(cell)
        ws.append(heads)
        for row in s.rows:
            ws.append([_cell(ws, c, v) for c, v in zip(s.columns, row, strict=True)])
        if s.totals:
            cells = [_cell(ws, c, v) for c, v in zip(s.columns, s.totals, strict=True)]
            for cell in cells:
                cell.font = bold
            ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def display_width(text: str) -> int:
    """How many characters wide a text shows: CJK and other wide characters count as two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _widths(sheet: Sheet) -> list[float]:
    """Each column as wide as its heading or its widest value (as shown), within `WIDTH`."""
    widths = []
    for i, column in enumerate(sheet.columns):
        shown = [_heading(column)] + [
            f"{yuan_text(v)}元" if column.kind == "fen" else str(v)
            for v in (r[i] for r in [*sheet.rows, *([sheet.totals] if sheet.totals else [])])
            if v is not None
        ]
        widest = max(display_width(t) for t in shown)
        widths.append(min(max(widest + 2, WIDTH[0]), WIDTH[1]))
    return widths


def _day(value):
    """A date column's value as a date ("2030-06-01" or a date); anything else as it is."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else value
    except ValueError:
        return value


def _cell(ws, column, value) -> WriteOnlyCell:
    if column.kind == "fen" and isinstance(value, int):
        cell = WriteOnlyCell(ws, value=Decimal(value) / 100)
        cell.number_format = YUAN
        return cell
    if column.kind == "date" and isinstance(day := _day(value), date):
        cell = WriteOnlyCell(ws, value=day)
        cell.number_format = DAY
        return cell
    if isinstance(value, str):
        return _text(ws, value)
    return WriteOnlyCell(ws, value=value)


def _text(ws, value: str) -> WriteOnlyCell:
    """A string cell whatever the text looks like: openpyxl would make "=…" a formula and "#N/A"
    an error value. An empty text is an empty cell."""
    cell = WriteOnlyCell(ws, value=spreadsheet_text(value) or None)
    if value:
        cell.data_type = "s"
    return cell


def render_table(fmt: str, title: str, headings: list[str], rows: list[list]) -> bytes:
    """One plain table for another system to import (the national volunteer system's): the
    headings on the first line, then the rows, every cell text (an ID number stays its 18
    characters, never a number in Excel), through `spreadsheet_text` like every export. CSV in
    UTF-8 with a byte-order mark, every field quoted; XLSX one sheet named `title`."""
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, quoting=csv.QUOTE_ALL)
        for values in (headings, *rows):
            w.writerow([spreadsheet_text("" if v is None else str(v)) for v in values])
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title.translate(SHEET_TITLE)[:31])
    for i, heading in enumerate(headings):
        widest = max([display_width(heading), *(display_width(str(r[i] or "")) for r in rows)])
        ws.column_dimensions[get_column_letter(i + 1)].width = min(max(widest + 2, WIDTH[0]), WIDTH[1])
    bold = Font(bold=True)
    heads = []
    for heading in headings:
        cell = _text(ws, heading)
        cell.font = bold
        heads.append(cell)
    ws.append(heads)
    for values in rows:
        ws.append([_text(ws, "" if v is None else str(v)) for v in values])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
