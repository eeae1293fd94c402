"""The day's close on paper (日结单): an A4 sheet of a meal point's closed day, its numbers and
places to sign, printed at the counter and kept with the day's cash. Drawn with reportlab as the
certificates are (`points.recognition.pdf`): Chinese text in a CID font the PDF viewer supplies,
so the server needs no font files; text wrapped to the page by `linli.pdftext`."""

from __future__ import annotations

import io
from datetime import datetime

from linli import pdftext


def yuan(fen: int) -> str:
    """Exact: 123456 → "1,234.56元"; a negative amount keeps its sign."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100:,}.{abs(fen) % 100:02d}元"


def lines_of(view: dict) -> list[tuple[str, str]]:
    """The sheet's rows: (label, value), Chinese first."""
    rows = [
        ("供餐人次 Meals served", str(view["meals"])),
        ("其中享受补贴 Subsidized", str(view["subsidized"])),
        ("就餐长者人数 Diners", str(view["diners"])),
        ("餐费合计 Price total", yuan(view["price_total"])),
        ("长者自付（应收现金）Paid by diners", yuan(view["paid_total"])),
        ("补贴合计 Subsidy total", yuan(view["subsidy_total"])),
    ]
    rows += [(f"  {f['funder']}", yuan(f["amount"])) for f in view["funders"] if f["amount"]]
    rows += [
        ("作废 Voided", str(view["voided"])),
        ("预订未到 No-shows", str(view["no_shows"])),
        ("冲减笔数 Reversals", str(view["adjustments"])),
        ("冲减补贴 Reversed subsidy", yuan(view["adjusted_subsidy"])),
    ]
    rows += [(f"  {f['funder']}", yuan(f["adjusted"])) for f in view["funders"] if f["adjusted"]]
    return rows


def pdf(point_name: str, view: dict, printed_at: datetime, tz) -> bytes:
    """Every line wrapped to the page (`linli.pdftext`); rows that do not fit go on to another page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = pdftext.register()
    out = io.BytesIO()
    width, height = A4
    c = canvas.Canvas(out, pagesize=A4)
    day = view["day"]
    c.setTitle(f"{point_name} 日结单 {day.isoformat()}")
    y = pdftext.draw(
        c, f"{point_name} 日结单", 60, height - 70, width - 120, 22, leading=1.25, align="center"
    )
    c.setFont(font, 12)
    c.drawCentredString(width / 2, y - 4, f"Day close　{day:%Y年%m月%d日}　编号 No. {view['id']}")
    c.drawString(60, y - 32, f"日结时间 Closed at：{view['closed_at'].astimezone(tz):%Y-%m-%d %H:%M}")
    y -= 62

    def room(needed: float) -> float:
        if y - needed >= 70:
            return y
        c.showPage()
        return height - 70

    c.setLineWidth(0.5)
    for label, value in lines_of(view):
        value_w = pdftext.width_of(value, font, 13)
        label_w = width - 140 - value_w - 16
        y = room(pdftext.height_of(label, label_w, 13, leading=1.3) + 8)
        c.setFont(font, 13)
        c.drawRightString(width - 70, y, value)
        y = pdftext.draw(c, label, 70, y, label_w, 13, leading=1.3) + 13 * 1.3 - 26
        c.setLineWidth(0.5)
        c.line(60, y + 20, width - 60, y + 20)
    y = room(180) - 30  # the three signatures stay together
    for role in ("收银员 Cashier", "助餐点负责人 Meal point manager", "枢纽复核 Hub review"):
        y = room(50)
        c.setFont(font, 14)
        c.drawString(70, y, f"{role}（签字 signature）：")
        c.line(300, y - 4, width - 200, y - 4)
        c.drawString(width - 190, y, "日期：")
        c.line(width - 150, y - 4, width - 70, y - 4)
        y -= 50
    c.setFont(font, 9)
    c.drawString(60, 40, f"邻里 Linli　打印时间 Printed {printed_at.astimezone(tz):%Y-%m-%d %H:%M}")
    c.showPage()
    c.save()
    return out.getvalue()
