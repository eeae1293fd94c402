"""The day's close on paper (日结单): an A4 sheet of a meal point's closed day, its numbers and
places to sign, printed at the counter and kept with the day's cash. Drawn with reportlab as the
certificates are (`points.recognition.pdf`): Chinese text in a CID font the PDF viewer supplies,
so the server needs no font files."""

from __future__ import annotations

import io
from datetime import datetime


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
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    out = io.BytesIO()
    width, height = A4
    c = canvas.Canvas(out, pagesize=A4)
    day = view["day"]
    c.setTitle(f"{point_name} 日结单 {day.isoformat()}")
    c.setFont(font, 22)
    c.drawCentredString(width / 2, height - 70, f"{point_name} 日结单")
    c.setFont(font, 12)
    c.drawCentredString(width / 2, height - 92, f"Day close · {day:%Y年%m月%d日} · 编号 No. {view['id']}")
    c.drawString(60, height - 120, f"日结时间 Closed at：{view['closed_at'].astimezone(tz):%Y-%m-%d %H:%M}")
    y = height - 150
    c.setLineWidth(0.5)
    for label, value in lines_of(view):
        c.setFont(font, 13)
        c.drawString(70, y, label)
        c.drawRightString(width - 70, y, value)
        c.line(60, y - 6, width - 60, y - 6)
        y -= 26
    y -= 30
    c.setFont(font, 14)
    for role in ("收银员 Cashier", "助餐点负责人 Meal point manager", "枢纽复核 Hub review"):
        c.drawString(70, y, f"{role}（签字 signature）：")
        c.line(300, y - 4, width - 200, y - 4)
        c.drawString(width - 190, y, "日期：")
        c.line(width - 150, y - 4, width - 70, y - 4)
        y -= 50
    c.setFont(font, 9)
    c.drawString(60, 40, f"邻里 Linli · 打印时间 Printed {printed_at.astimezone(tz):%Y-%m-%d %H:%M}")
    c.showPage()
    c.save()
    return out.getvalue()
