"""A report's sheets as a file (报表文件): JSON (money in fen, as the API), CSV in UTF-8 with a
byte-order mark so Excel in China opens it (one section per breakdown, money in yuan with two
decimals, exact), XLSX with one sheet per breakdown, Chinese headers, money formatted in yuan and
a totals row (written row by row in openpyxl's write-only mode)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from reports.queries import Sheet

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
YUAN = '#,##0.00"元"'
SHEET_TITLE = str.maketrans("[]:*?/\\", "（）：＊？／＼")  # characters a sheet title cannot hold


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


def _csv(header: dict, sheets: list[Sheet]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([header["title"], f"{header['period_start']} 至 {header['period_end']}"])
    for s in sheets:
        w.writerow([])
        w.writerow([s.title])
        w.writerow([c.title + ("（元）" if c.kind == "fen" else "") for c in s.columns])
        for row in [*s.rows, *([s.totals] if s.totals else [])]:
            w.writerow([yuan_text(v) if c.kind == "fen" else v for c, v in zip(s.columns, row, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(header: dict, sheets: list[Sheet]) -> bytes:
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for s in sheets:
        ws = wb.create_sheet(s.title.translate(SHEET_TITLE)[:31])
        ws.append([f"{header['title']} {header['period_start']} 至 {header['period_end']}"])
        heads = []
        for c in s.columns:
            cell = WriteOnlyCell(ws, value=c.title + ("（元）" if c.kind == "fen" else ""))
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


def _cell(ws, column, value) -> WriteOnlyCell:
    if column.kind == "fen" and isinstance(value, int):
        cell = WriteOnlyCell(ws, value=Decimal(value) / 100)
        cell.number_format = YUAN
        return cell
    return WriteOnlyCell(ws, value=value)
