"""Bookings (订餐): meals booked for coming days before a cut-off (16:00 the day before, local
time), so the kitchen sees counts per slot and dietary needs; served when the diner's card is
scanned, counted as no-shows when the day closes."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from linli.errors import FieldError, conflict, invalid, not_found
from linli.qr import InvalidCode
from meals import repository
from meals.models import MODES, SLOTS, Booking, Diner

CUTOFF = time(16, 0)  # the day before, local time
HORIZON = timedelta(days=14)


def book(
    session: Session,
    *,
    diner: Diner,
    point_id: int,
    day: date,
    slot: str,
    mode: str,
    staff_user_id: int | None,
    now: datetime,
    tz,
) -> Booking:
    errors = []
    if slot not in SLOTS:
        errors.append(
            FieldError(
                "slot",
                "invalid",
                "餐次应为 breakfast、lunch 或 dinner 之一 Slot must be breakfast, lunch or dinner",
            )
        )
    if mode not in MODES:
        errors.append(
            FieldError(
                "mode",
                "invalid",
                "就餐方式应为 dine_in、pick_up 或 delivery 之一 Mode must be dine_in, pick_up or delivery",
            )
        )
    local = now.astimezone(tz)
    deadline = datetime.combine(day - timedelta(days=1), CUTOFF, tz)
    if not local.date() < day <= local.date() + HORIZON:
        errors.append(
            FieldError("day", "out_of_range", "只能预订明天起14天内 Book from tomorrow, up to 14 days ahead")
        )
    elif local >= deadline:
        errors.append(
            FieldError(
                "day", "past_cutoff", "已过预订截止时间（前一天16:00） Past the cut-off, 16:00 the day before"
            )
        )
    elif (
        diner.paused_from
        and diner.paused_from <= day
        and (diner.paused_until is None or day < diner.paused_until)
    ):
        errors.append(
            FieldError("day", "diner_paused", "该长者当天助餐暂停 Meals are paused for this diner that day")
        )
    if mode == "delivery" and not diner.address:
        errors.append(FieldError("mode", "no_address", "送餐须先登记地址 Delivery needs the diner's address"))
    if errors:
        raise invalid(errors)
    if not repository.serves_slot(session, point_id, slot):
        raise invalid(
            [FieldError("slot", "not_served", "该助餐点不提供此餐次 This meal point does not serve it")]
        )
    if repository.booked_already(session, diner.id, day, slot):
        raise conflict("already_booked", "已预订该餐 Already booked")
    booking = Booking(
        diner_id=diner.id,
        meal_point_id=point_id,
        service_day=day,
        slot=slot,
        mode=mode,
        status="booked",
        booked_by=staff_user_id,
        created_at=now,
    )
    session.add(booking)
    session.flush()
    return booking


def diner_by_card(session: Session, codes, payload: str) -> Diner:
    """The diner whose card this is (422 for anything else, a replaced card included)."""
    try:
        code = codes.parse(payload)
    except InvalidCode:
        code = None
    diner = repository.diner(session, code.subject_id) if code and code.kind == "diner_card" else None
    if diner is None:
        raise invalid([FieldError("card", "invalid_code", "无法识别的助餐卡 Not a diner card")])
    if code.number != diner.card_version:
        raise invalid([FieldError("card", "revoked_card", "此卡已作废，请使用新卡 This card was replaced")])
    return diner


def upcoming(session: Session, diner_id: int, today: date) -> list[Booking]:
    return repository.upcoming_bookings(session, diner_id, today)


def get(session: Session, booking_id: int, *, diner_id: int | None = None) -> Booking:
    """A booking (404 if there is none, or, with `diner_id`, if it is not that diner's)."""
    booking = repository.booking(session, booking_id)
    if booking is None or (diner_id is not None and booking.diner_id != diner_id):
        raise not_found("预订 Booking", "booking_not_found")
    return booking


def cancel(session: Session, booking_id: int, now: datetime, tz) -> Booking:
    booking = get(session, booking_id)
    if booking.status != "booked":
        raise conflict(
            f"booking_{booking.status}", "该预订已不能取消 This booking can no longer be cancelled"
        )
    if now.astimezone(tz) >= datetime.combine(booking.service_day - timedelta(days=1), CUTOFF, tz):
        raise conflict("past_cutoff", "已过取消截止时间 Past the cut-off")
    booking.status, booking.cancelled_at = "cancelled", now
    return booking


def kitchen(session: Session, point_id: int, day: date) -> dict:
    """What the kitchen needs for a day: counts per slot and mode, and each booked diner's needs."""
    rows = repository.kitchen_rows(session, point_id, day)
    counts = Counter((slot, mode) for slot, mode, *_ in rows)
    return {
        "day": day.isoformat(),
        "slots": {
            slot: {mode: n for (s, mode), n in counts.items() if s == slot}
            for slot in sorted({s for s, _ in counts})
        },
        "needs": [
            {"slot": slot, "name": name, "dietary_notes": notes, "allergies": allergies}
            for slot, _, name, notes, allergies in rows
            if notes or allergies
        ],
    }
