"""The service-record certificate (志愿服务记录证明) as a PDF, as 志愿服务记录与证明出具办法 asks:
the volunteer's name, ID type and number, volunteer number, total hours and the service (content,
organization, dates, hours), the issuing organization with its person in charge, the handler and
a contact phone, a certificate number, the date, a place for the seal and a QR code of
/verify/{certificate_id}. Pure: `render(data)` draws what it is given (the caller passes the full
ID number; nothing is fetched here) and returns the bytes. The table goes on over as many A4 pages
as it needs, its header repeated on each; every line is wrapped to the page (`linli.pdftext`)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

from linli import pdftext, qr

MARGIN = 50.0
# the table's columns: (heading, share of the width)
COLUMNS = (
    ("服务内容/活动 Activity", 0.36),
    ("服务组织 Organization", 0.30),
    ("日期 Dates", 0.20),
    ("时长(小时) Hours", 0.14),
)
CELL_SIZE = 9.5
LEADING = 1.3


@dataclass(frozen=True)
class ServiceRow:
    content: str
    organization: str
    start: date
    end: date
    minutes: int


@dataclass(frozen=True)
class CertificateData:
    certificate_id: str
    base_url: str
    name: str
    id_type: str  # as printed, e.g. "居民身份证"
    id_number: str  # the full number, from the caller (records.identity.reveal)
    volunteer_number: str
    total_minutes: int
    issuer: str
    person_in_charge: str
    handler: str
    contact_phone: str
    issued_on: date
    period_start: date | None = None
    period_end: date | None = None
    rows: list[ServiceRow] = field(default_factory=list)

    @property
    def verify_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/verify/{self.certificate_id}"


def hours(minutes: int) -> str:
    """Hours with two decimals and thousands separators: 90 → "1.50"."""
    return (
        f"{minutes // 60:,}.{round(minutes % 60 * 100 / 60):02d}" if minutes % 60 else f"{minutes // 60:,}.00"
    )


def hours_text(minutes: int) -> str:
    return f"{minutes // 60:,}小时{minutes % 60}分钟"


def _dates(row: ServiceRow) -> str:
    if row.start == row.end:
        return f"{row.start:%Y-%m-%d}"
    return f"{row.start:%Y-%m-%d} 至 {row.end:%Y-%m-%d}"


def statement(data: CertificateData) -> str:
    period = ""
    if data.period_start and data.period_end:
        period = f"于{data.period_start:%Y年%m月%d日}至{data.period_end:%Y年%m月%d日}期间"
    return (
        f"兹证明 {data.name}（{data.id_type}：{data.id_number}；志愿者编号：{data.volunteer_number}）"
        f"{period}参加志愿服务，经记录累计志愿服务时长 {hours_text(data.total_minutes)}"
        f"（{hours(data.total_minutes)} 小时），服务记录如下。"
    )


class _Pages:
    """The canvas and a cursor `y` that starts a new page when a block does not fit."""

    def __init__(self, data: CertificateData):
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas

        self.data = data
        self.font = pdftext.register()
        self.out = io.BytesIO()
        self.width, self.height = A4
        self.c = canvas.Canvas(self.out, pagesize=A4)
        self.c.setTitle(f"志愿服务记录证明 {data.name} {data.certificate_id}")
        self.page = 1
        self.y = self.height - MARGIN
        self.in_table = False
        self.bottom = MARGIN + 24  # the footer lives below

    @property
    def inner(self) -> float:
        return self.width - 2 * MARGIN

    def footer(self) -> None:
        d = self.data
        text = (
            f"证明编号 No. {d.certificate_id}　第{self.page}页 Page {self.page}　核验 Verify: {d.verify_url}"
        )
        lines = pdftext.fit(text, self.font, 8, self.inner)
        for i, (line, size) in enumerate(reversed(lines)):
            self.c.setFont(self.font, size)
            self.c.drawString(MARGIN, MARGIN - 6 + i * 8 * 1.2, line)

    def need(self, h: float) -> None:
        if self.y - h >= self.bottom:
            return
        self.footer()
        self.c.showPage()
        self.page += 1
        self.y = self.height - MARGIN
        if self.in_table:
            self.c.setFont(self.font, 9)
            self.c.drawString(MARGIN, self.y - 9, "续表 (continued)")
            self.y -= 18
            self.table_header()

    def cells(self, texts: list[str], size: float) -> tuple[list[list[tuple[str, float]]], float]:
        fitted = [
            pdftext.fit(t, self.font, size, share * self.inner - 8)
            for t, (_, share) in zip(texts, COLUMNS, strict=True)
        ]
        h = max(len(lines) for lines in fitted) * size * LEADING + 6
        return fitted, h

    def row(self, texts: list[str], size: float, *, shade: bool = False) -> None:
        fitted, h = self.cells(texts, size)
        c, x, top = self.c, MARGIN, self.y
        if shade:
            c.setFillGray(0.92)
            c.rect(MARGIN, top - h, self.inner, h, stroke=0, fill=1)
            c.setFillGray(0)
        c.setLineWidth(0.5)
        for lines, (_, share) in zip(fitted, COLUMNS, strict=True):
            w = share * self.inner
            c.rect(x, top - h, w, h)
            for i, (line, s) in enumerate(lines):
                c.setFont(self.font, s)
                c.drawString(x + 4, top - 3 - size * 0.9 - i * size * LEADING, line)
            x += w
        self.y = top - h

    def table_header(self) -> None:
        self.row([h for h, _ in COLUMNS], CELL_SIZE, shade=True)


def render(data: CertificateData) -> bytes:
    from reportlab.lib.utils import ImageReader

    p = _Pages(data)
    c, font, inner = p.c, p.font, p.inner
    qr_size = 78
    c.drawImage(
        ImageReader(io.BytesIO(qr.png(data.verify_url, box_size=4))),
        p.width - MARGIN - qr_size,
        p.height - MARGIN - qr_size,
        qr_size,
        qr_size,
    )
    c.setFont(font, 24)
    c.drawCentredString(p.width / 2, p.height - MARGIN - 34, "志愿服务记录证明")
    c.setFont(font, 10)
    c.drawCentredString(p.width / 2, p.height - MARGIN - 52, "Certificate of Volunteer Service Record")
    p.y = pdftext.draw(
        c, f"证明编号 No. {data.certificate_id}", MARGIN, p.height - MARGIN - 72, inner - qr_size - 10, 10
    )
    p.y = min(p.y, p.height - MARGIN - qr_size) - 14
    text = statement(data)
    p.need(pdftext.height_of(text, inner, 12, leading=1.6))
    p.y = pdftext.draw(c, text, MARGIN, p.y - 12, inner, 12, leading=1.6) - 4
    p.need(60)
    p.in_table = True
    p.table_header()
    for r in data.rows:
        texts = [r.content, r.organization, _dates(r), hours(r.minutes)]
        p.need(p.cells(texts, CELL_SIZE)[1])
        p.row(texts, CELL_SIZE)
    total = ["合计 Total", "", f"{len(data.rows)} 条 records", hours(data.total_minutes)]
    p.need(p.cells(total, CELL_SIZE)[1])
    p.row(total, CELL_SIZE, shade=True)
    p.in_table = False
    _issuer_block(p, data)
    p.footer()
    c.showPage()
    c.save()
    return p.out.getvalue()


def _issuer_block(p: _Pages, data: CertificateData) -> None:
    """特此证明, then the issuer's lines on the right half, the seal's dashed circle beside the
    organization's name (left of it, so no text is hidden under it)."""
    c, font = p.c, p.font
    x, w = MARGIN + p.inner * 0.42, p.inner * 0.58
    lines = [
        f"出具单位（盖章）Issued by：{data.issuer}",
        f"负责人 Person in charge：{data.person_in_charge}",
        f"经办人 Handler：{data.handler}",
        f"联系电话 Contact：{data.contact_phone}",
        f"出具日期 Date：{data.issued_on:%Y年%m月%d日}",
    ]
    size = 11
    block = sum(pdftext.height_of(t, w, size, leading=1.6) for t in lines)
    p.need(max(block, 80) + 40)  # 特此证明, the lines and the seal beside them
    p.y = pdftext.draw(c, "特此证明。This is to certify the above.", MARGIN, p.y - 24, p.inner, 12) - 16
    top = p.y
    for t in lines:
        p.y = pdftext.draw(c, t, x, p.y, w, size, leading=1.6)
    cx, cy, r = x - 58, top - 30, 44
    c.saveState()
    c.setDash(4, 3)
    c.setStrokeGray(0.45)
    c.setLineWidth(0.8)
    c.circle(cx, cy, r)
    c.setFillGray(0.55)
    c.setFont(font, 11)
    c.drawCentredString(cx, cy - 4, "盖章 Seal")
    c.restoreState()
