"""A day's cash sheet per counter (收款对账): what each device at a meal point recorded on a day
(meals, what diners paid, the subsidies, full-price meals, held meals, voids) against the cash
counted at the end of it.

The cash to collect is what diners paid for the meals that stand: served and held ones (a held
meal was paid at the counter; only its subsidy waits for the hub). A voided meal collects nothing.
Reversals dated this day (a meal of an earlier day undone) are shown beside, as money to give
back. Counts are kept, never changed: each with who counted, when, and the sheet's figure then.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from linli.errors import FieldError, invalid
from meals import repository_cash, repository_counter
from meals.models import CashCount, MealPoint

COUNTED = (0, 10**10)  # fen
NOTE_MAX = 200
FIELDS = (
    "meals",
    "subsidized",
    "price_total",
    "paid_total",
    "subsidy_total",
    "full_price",
    "full_price_paid",
    "held",
    "held_paid",
    "held_subsidy",
    "voided",
    "voided_paid",
)


def _row(device: str, values) -> dict:
    return {"device": device, **{f: int(v) for f, v in zip(FIELDS, values, strict=True)}}


def sheet(session: Session, point: MealPoint, day: date) -> dict:
    devices = [_row(r[0], r[1:]) for r in repository_cash.meals_by_device(session, point.id, day)]
    total = _row("", [sum(d[f] for d in devices) for f in FIELDS])
    reversals, reversed_paid = repository_cash.reversals_made(session, point.id, day)
    counts = repository_cash.cash_counts(session, point.id, day)
    latest: dict[str, CashCount] = {}
    for c in counts:  # the latest first
        latest.setdefault(c.device, c)
    for row in (*devices, total):
        c = latest.get(row["device"])
        row["counted"] = c.counted if c else None
        row["difference"] = c.counted - row["paid_total"] if c else None
    return {
        "meal_point_id": point.id,
        "meal_point": point.name,
        "day": day,
        "closed": repository_counter.day_closed(session, point.id, day),
        "total": total,
        "devices": devices,
        "reversals": reversals,
        "reversed_paid": reversed_paid,
        "counts": [count_view(c) for c in counts],
    }


def count_view(c: CashCount) -> dict:
    return {
        "id": c.id,
        "device": c.device,
        "counted": c.counted,
        "expected": c.expected,
        "difference": c.counted - c.expected,
        "note": c.note,
        "counted_by": c.counted_by,
        "counted_at": c.counted_at,
    }


def record_count(
    session: Session,
    point: MealPoint,
    day: date,
    *,
    counted: int,
    device: str,
    note: str | None,
    staff_user_id: int,
    now: datetime,
    today: date,
) -> CashCount:
    """Keep a count of the day's cash (the whole point's, or one device's), with the sheet's cash
    to collect at that moment, so the difference stays as it was seen. 422 for a count out of
    range, a device with no meals that day, or a note too long, each field at once."""
    note = (note or "").strip() or None
    errors = []
    if isinstance(counted, bool) or not isinstance(counted, int) or not COUNTED[0] <= counted <= COUNTED[1]:
        errors.append(
            FieldError("counted", "out_of_range", "清点金额为0到100亿分的整数 Whole fen, 0 to 10^10")
        )
    rows = {r["device"]: r for r in sheet(session, point, day)["devices"]}
    if day > today:
        errors.append(FieldError("day", "future_day", "还没到这一天 That day has not come yet"))
    if device and device not in rows:
        errors.append(
            FieldError("device", "unknown_device", "当天没有该设备的记录 No meals from this device that day")
        )
    if note is not None and len(note) > NOTE_MAX:
        errors.append(FieldError("note", "too_long", "备注最多200字 At most 200 characters"))
    if errors:
        raise invalid(errors)
    expected = rows[device]["paid_total"] if device else sum(r["paid_total"] for r in rows.values())
    row = CashCount(
        meal_point_id=point.id,
        service_day=day,
        device=device,
        counted=counted,
        expected=expected,
        note=note,
        counted_by=staff_user_id,
        counted_at=now,
    )
    session.add(row)
    session.flush()
    return row


# what each figure is called on the CSV (`api.meal_cash` writes it through `reports.render`) and
# whether it is money
TITLES = {
    "meals": ("人次 meals", "int"),
    "subsidized": ("补贴人次 subsidized", "int"),
    "price_total": ("餐费 price", "fen"),
    "paid_total": ("应收现金 cash to collect", "fen"),
    "subsidy_total": ("补贴 subsidy", "fen"),
    "full_price": ("原价餐 full price", "int"),
    "full_price_paid": ("原价收款 full-price cash", "fen"),
    "held": ("待审核 held", "int"),
    "held_paid": ("待审核收款 held cash", "fen"),
    "held_subsidy": ("待审核补贴 held subsidy", "fen"),
    "voided": ("作废 voided", "int"),
    "voided_paid": ("作废金额 voided cash", "fen"),
    "counted": ("实点现金 counted", "fen"),
    "difference": ("差额 difference", "fen"),
}
