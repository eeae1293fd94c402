"""Every PDF Linli draws stays inside the page (版面检查): the commendation certificate, the meal
day sheet and the service-record certificate, rendered with the longest names and figures,
rasterized with pdftoppm (poppler-utils, installed by `make pdftools`), with no dark pixel outside
a 1 cm margin on any page; and pypdf finds every line of the input text in the PDF (a wrapped line
is whole once whitespace is ignored; nothing is cut). Grant receipts are uploads, not renders."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from pypdf import PdfReader

from meals import day_sheet
from points import recognition
from points.models import Certificate
from records.certificate_pdf import CertificateData, ServiceRow, render

TZ = ZoneInfo("Asia/Shanghai")
MARGIN_CM = 1.0
DPI = 72  # one pixel a point
ORG = "邻里互助志愿服务协会" * 10  # 100 characters
NAME = "欧阳" * 25  # 50 characters
MINUTES = 9_999_999 * 60 + 31


@pytest.fixture(autouse=True)
def _pdftoppm():
    if shutil.which("pdftoppm") is None:  # a failure, not a skip: the check must run in CI
        pytest.fail("pdftoppm not found: `make pdftools` installs poppler-utils")


def rasterize(pdf: bytes) -> list[Image.Image]:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "in.pdf").write_bytes(pdf)
        subprocess.run(["pdftoppm", "-gray", "-r", str(DPI), "-png", "in.pdf", "page"], cwd=d, check=True)
        return [Image.open(p).copy() for p in sorted(Path(d).glob("page-*.png"))]


def outside_margin(pdf: bytes, margin_cm: float = MARGIN_CM, dark: int = 160) -> list[str]:
    """Each page's dark pixels outside the printable area, as "page n: x0,y0-x1,y1" boxes."""
    wrong = []
    for n, page in enumerate(rasterize(pdf), start=1):
        m = round(margin_cm / 2.54 * DPI)
        w, h = page.size
        mask = page.point(lambda v: 255 if v < dark else 0)
        inner = Image.new("L", (w, h), 0)
        inner.paste(255, (m, m, w - m, h - m))
        outer = Image.composite(Image.new("L", (w, h), 0), mask, inner)  # dark and not inside
        box = outer.getbbox()
        if box:
            wrong.append(f"page {n}: {box}")
    return wrong


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def text_of(pdf: bytes) -> str:
    return squash("".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def missing(pdf: bytes, lines: list[str]) -> list[str]:
    text = text_of(pdf)
    return [line for line in lines if squash(line) not in text]


def commendation(kind: str, minutes: int, name: str, title: str) -> Certificate:
    return Certificate(
        id=1,
        kind=kind,
        volunteer_id=1,
        holder_name=name,
        hub_id=None,
        title=title,
        period_start=date(2030, 1, 1),
        period_end=date(2030, 12, 31),
        minutes=minutes,
        issued_at=datetime(2031, 1, 5, 2, tzinfo=UTC),
    )


def test_the_checker_sees_text_that_runs_off_the_page():
    """The check itself: the old certificate's way (a fixed place, no wrapping) is caught."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen import canvas

    from linli import pdftext

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=landscape(A4))
    c.setFont(pdftext.register(), 20)
    c.drawString(
        90, 300, f"在2030年01月01日至2030年12月31日期间积极参加志愿服务，累计服务{MINUTES // 60}小时31分钟，"
    )
    c.showPage()
    c.save()
    assert outside_margin(out.getvalue())


@pytest.mark.parametrize("kind", ["commendation", "service_record"])
@pytest.mark.parametrize(
    "name, minutes", [("王英", 31), (NAME, MINUTES), ("A" * 50, MINUTES)], ids=["short", "long", "latin"]
)
def test_the_commendation_certificate_stays_inside_the_page(kind, name, minutes):
    title = "2030年度" + ORG[:90]
    cert = commendation(kind, minutes, name, title)
    url = "https://linli.example.cn/verify/1042-4f1c2a9b07d3e8aa"
    pdf = recognition.pdf(cert, url, ORG, TZ)
    assert outside_margin(pdf) == []
    hours = f"{minutes // 60}小时{minutes % 60}分钟"
    assert missing(pdf, [name, hours, ORG, url] + ([title] if kind == "commendation" else [])) == []
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_the_day_sheet_stays_inside_the_page():
    funders = [{"funder": f"{i}号" + ORG, "amount": 999_999_999, "adjusted": 12_345} for i in range(30)]
    view = {
        "id": 999_999_999,
        "day": date(2030, 6, 4),
        "closed_at": datetime(2030, 6, 4, 13, tzinfo=UTC),
        "meals": 9_999_999,
        "subsidized": 9_999_999,
        "diners": 9_999_999,
        "price_total": 999_999_999_999,
        "paid_total": 999_999_999_999,
        "subsidy_total": 999_999_999_999,
        "funders": funders,
        "voided": 9_999_999,
        "no_shows": 9_999_999,
        "adjustments": 9_999_999,
        "adjusted_subsidy": 999_999_999_999,
    }
    pdf = day_sheet.pdf(ORG, view, datetime(2030, 6, 4, 14, tzinfo=UTC), TZ)
    assert outside_margin(pdf) == []
    assert len(PdfReader(io.BytesIO(pdf)).pages) > 1  # the rows went on to another page
    lines = [ORG, "日结单", "9,999,999,999.99元"] + [label for label, _ in day_sheet.lines_of(view)]
    assert missing(pdf, lines) == []


def longest_record() -> CertificateData:
    rows = [
        ServiceRow(
            content=("助餐点配餐、送餐上门与独居长者探访服务" * 6)[: 100 if i % 7 == 0 else 18],
            organization=ORG if i % 5 == 0 else "泉塘街道邻里互助队",
            start=date(2030, 1 + i % 12, 1 + i % 28),
            end=date(2030, 1 + i % 12, 28),
            minutes=MINUTES // 200 + (MINUTES % 200 if i == 0 else 0),
        )
        for i in range(200)
    ]
    return CertificateData(
        certificate_id="R7KQ2M9X4TPA3HCE",
        base_url="https://linli.example.cn",
        name=NAME,
        id_type="港澳居民来往内地通行证",
        id_number="H1234567890123456789",
        volunteer_number="V" + "9" * 20,
        total_minutes=MINUTES,
        issuer=ORG,
        person_in_charge=NAME,
        handler=NAME,
        contact_phone="0731-88888888-12345",
        issued_on=date(2031, 1, 5),
        period_start=date(2030, 1, 1),
        period_end=date(2030, 12, 31),
        rows=rows,
    )


def test_the_record_certificate_stays_inside_every_page_and_says_everything():
    data = longest_record()
    pdf = render(data)
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) > 5
    assert outside_margin(pdf) == []
    lines = [data.name, data.id_type, data.id_number, data.volunteer_number, "9,999,999小时31分钟"]
    lines += [data.issuer, data.contact_phone, data.certificate_id, "2031年01月05日", "盖章"]
    for r in data.rows:
        lines += [r.content, r.organization]
    assert missing(pdf, lines) == []
    # the table's header is repeated on every page the table goes on to
    assert all("服务内容/活动" in p.extract_text() for p in pages[:-1])


def test_a_sample_certificate_for_the_docs():
    """The picture in docs/records.md (written when LINLI_SCREENSHOTS names the folder)."""
    import os

    rows = [
        ServiceRow(
            "助餐点配餐、送餐", "泉塘志愿者协会", date(2030, 3, 2 + 7 * i), date(2030, 3, 2 + 7 * i), 150
        )
        for i in range(4)
    ] + [ServiceRow("独居长者探访", "龙舟志愿服务队", date(2030, 4, 11), date(2030, 4, 12), 240)]
    data = CertificateData(
        certificate_id="R7KQ2M9X4TPA3HCE",
        base_url="https://linli.example.cn",
        name="王秀英",
        id_type="居民身份证",
        id_number="430121199003078515",
        volunteer_number="V4301210001",
        total_minutes=sum(r.minutes for r in rows),
        issuer="泉塘志愿者协会",
        person_in_charge="刘建华",
        handler="陈小燕",
        contact_phone="0731-84001234",
        issued_on=date(2030, 5, 6),
        period_start=date(2030, 3, 1),
        period_end=date(2030, 4, 30),
        rows=rows,
    )
    pdf = render(data)
    assert outside_margin(pdf) == [] and len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert missing(pdf, ["14小时0分钟", "14.00", "独居长者探访", "2030-04-11至2030-04-12"]) == []
    if folder := os.environ.get("LINLI_SCREENSHOTS"):
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "c.pdf").write_bytes(pdf)
            subprocess.run(["pdftoppm", "-r", "80", "-png", "-singlefile", "c.pdf", "c"], cwd=d, check=True)
            Path(folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(d) / "c.png", Path(folder) / "record-certificate.png")


def test_wrapping_shrinks_only_the_token_that_cannot_fit():
    from linli import pdftext

    font = pdftext.register()
    token = "9" * 40  # one unbreakable figure, wider than the line at 12 pt
    lines = pdftext.fit(f"累计服务时长{token}小时，表现突出。" * 3, font, 12, 200)
    assert "".join(line for line, _ in lines) == f"累计服务时长{token}小时，表现突出。" * 3  # nothing lost
    assert all(pdftext.width_of(line, font, s) <= 200 for line, s in lines)
    sizes = {line: s for line, s in lines}
    assert sizes[token] < 12 and {s for line, s in lines if line != token} == {12}
    assert not any(line[0] in "，。" for line, _ in lines)  # no line starts with closing punctuation
    tiny = pdftext.fit("W" * 400, font, 12, 100)  # too wide even at the smallest size: split, not cut
    assert "".join(line for line, _ in tiny) == "W" * 400 and len(tiny) > 1
