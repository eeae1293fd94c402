"""At the counter (取餐台): a diner's card scanned through the one scan door becomes a meal with
its price, its subsidy split per funder and what the diner pays; or a clear refusal.

A diner's meals are judged one at a time (the diner's row is locked), and a unique index allows
one subsidized meal per diner, slot and day, so two tablets scanning one card at once, online or
offline, never make two subsidies. A funder's budget is taken by a conditional update at the end of
the meal's transaction, so it never goes over its cap and its row is locked only briefly.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import BigInteger, Date, bindparam, case, delete, func, select, update
from sqlalchemy.orm import Session

from linli.db import const
from linli.errors import FieldError, conflict, invalid, not_found
from linli.outbox import emit
from meals import bookings
from meals.models import (
    AgreementPoint,
    Booking,
    DayClose,
    Diner,
    FundingAgreement,
    Meal,
    MealAdjustment,
    MealPoint,
    MealSlot,
    MealSubsidy,
)
from meals.service import categories_on
from meals.subsidy import Funding, matching_tier, split, tier_label
from orgs.models import Organization, Station

DUPLICATE_WINDOW = timedelta(seconds=60)

# The counter's statements, built once with bound parameters: building them for every scan cost a
# third of a server process's time at lunch rush.
_POINT = (
    select(MealPoint, Organization.path, MealSlot)
    .join(Station, Station.id == MealPoint.station_id)
    .join(Organization, Organization.id == Station.org_id)
    .join(MealSlot, MealSlot.meal_point_id == MealPoint.id)
    .where(MealPoint.station_id == bindparam("station"))
)
_POINT_AND_DINER = (
    _POINT.add_columns(Diner).join(Diner, Diner.id == bindparam("diner")).with_for_update(of=Diner)
)
_FIRST_LOOK = select(  # one round trip: what decides a first scan, besides the funders
    select(Meal.id)  # this diner's subsidized meal in this slot today, if any
    .where(
        Meal.diner_id == bindparam("diner"),
        Meal.service_day == bindparam("day"),
        Meal.slot == bindparam("slot"),
        Meal.subsidized.is_(True),
        Meal.status == const("served"),
    )
    .scalar_subquery(),
    select(func.count())  # the point's meals today, for its daily capacity
    .select_from(Meal)
    .where(
        Meal.meal_point_id == bindparam("point"),
        Meal.service_day == bindparam("day"),
        Meal.status == const("served"),
    )
    .scalar_subquery(),
    select(DayClose.id)  # whether the day is closed
    .where(DayClose.meal_point_id == bindparam("point"), DayClose.service_day == bindparam("day"))
    .exists(),
    select(Booking.id)  # whether a booking waits to be served (most diners do not book)
    .where(
        Booking.diner_id == bindparam("diner"),
        Booking.meal_point_id == bindparam("point"),
        Booking.service_day == bindparam("day"),
        Booking.slot == bindparam("slot"),
        Booking.status == const("booked"),
    )
    .exists(),
)
_MONDAY, _SUNDAY = bindparam("monday", type_=Date), bindparam("sunday", type_=Date)
_FUNDINGS = (  # the agreements paying at a point on a day, and this diner's subsidized meals under each this week
    select(
        FundingAgreement,
        select(func.count())
        .select_from(MealSubsidy)
        .join(Meal, Meal.id == MealSubsidy.meal_id)
        .where(
            MealSubsidy.agreement_id == FundingAgreement.id,
            Meal.diner_id == bindparam("diner"),
            Meal.status == const("served"),
            ~select(MealAdjustment.id).where(MealAdjustment.meal_id == Meal.id).exists(),
            Meal.service_day >= _MONDAY,
            Meal.service_day <= _SUNDAY,
        )
        .scalar_subquery(),
    )
    .join(AgreementPoint, AgreementPoint.agreement_id == FundingAgreement.id)
    .where(
        AgreementPoint.meal_point_id == bindparam("point"),
        FundingAgreement.starts_on <= bindparam("day"),
        FundingAgreement.ends_on >= bindparam("day"),
    )
    .order_by(FundingAgreement.id)
    .execution_options(populate_existing=True)
)
_INSERT_SUBSIDY = MealSubsidy.__table__.insert()
_TAKE = (  # a funder's part from its budget, only if the budget holds it
    update(FundingAgreement)
    .where(
        FundingAgreement.id == bindparam("agreement"),
        FundingAgreement.budget_used + bindparam("amount", type_=BigInteger) <= FundingAgreement.budget_cap,
    )
    .values(budget_used=FundingAgreement.budget_used + bindparam("amount", type_=BigInteger))
    .execution_options(synchronize_session=False)
)


def point_at_station(
    session: Session, station_id: int, diner_id: int | None = None
) -> tuple[MealPoint, str, list[MealSlot], Diner | None] | None:
    """The meal point whose counter this station is, its organization's path and its slots; with
    `diner_id`, the diner's row too, locked (a diner's scans are judged one at a time): one round
    trip. None if the station is no meal point's counter."""
    if diner_id is not None:
        rows = session.execute(_POINT_AND_DINER, {"station": station_id, "diner": diner_id}).all()
        if rows:
            return rows[0][0], rows[0][1], [r[2] for r in rows], rows[0][3]
    rows = session.execute(_POINT, {"station": station_id}).all()  # no such diner (or point): the point alone
    return (rows[0][0], rows[0][1], [r[2] for r in rows], None) if rows else None


def today_at(session: Session, point: MealPoint, slots: list[MealSlot], day: date) -> list[dict]:
    """The counter's day at a glance: per slot, its hours and price, meals served and bookings."""
    served = dict(
        session.execute(
            select(Meal.slot, func.count())
            .where(Meal.meal_point_id == point.id, Meal.service_day == day, Meal.status == "served")
            .group_by(Meal.slot)
        ).all()
    )
    booked = dict(
        session.execute(
            select(Booking.slot, func.count())
            .where(
                Booking.meal_point_id == point.id,
                Booking.service_day == day,
                Booking.status.in_(("booked", "served")),
            )
            .group_by(Booking.slot)
        ).all()
    )
    return [
        {
            "slot": s.slot,
            "starts": s.starts,
            "ends": s.ends,
            "price": s.price,
            "served": served.get(s.slot, 0),
            "booked": booked.get(s.slot, 0),
        }
        for s in sorted(slots, key=lambda s: s.starts)
    ]


def slot_at(slots: list[MealSlot], local: datetime) -> MealSlot | None:
    hhmm = local.strftime("%H:%M")
    return next((s for s in slots if s.starts <= hhmm < s.ends), None)


def diner_view(diner: Diner) -> dict:
    """What the counter shows: the name, and what the kitchen must know."""
    return {
        "id": diner.id,
        "name": diner.name,
        "dietary_notes": diner.dietary_notes,
        "allergies": diner.allergies,
    }


def meal_view(meal: Meal, parts: list[tuple[int, str, int]]) -> dict:
    return {
        "id": meal.id,
        "slot": meal.slot,
        "service_day": meal.service_day.isoformat(),
        "mode": meal.mode,
        "price": meal.price,
        "subsidy": meal.subsidy,
        "paid": meal.paid,
        "subsidized": meal.subsidized,
        "served_at": meal.served_at.isoformat(),
        "split": [{"agreement_id": a, "funder": name, "amount": amount} for a, name, amount in parts],
    }


def serve(
    session: Session,
    *,
    diner_id: int,
    card_version: int,
    point: MealPoint,
    slots: list[MealSlot],
    at: datetime,
    tz,
    mode: str,
    device_label: str,
    scan_id: str | None,
    offline: bool,
    slot: MealSlot | None = None,
    delivered_by: int | None = None,
    diner: Diner | None = None,
) -> dict:
    """Judge one diner-card scan at a meal point's counter (or at the door, for a delivery run's
    `slot`). Returns the scan's answer: `meal_served`, `duplicate`, or `rejected` with a reason
    (`already_served` carries the first meal). `diner`: the diner's row, locked already."""
    if diner is None:
        diner = session.scalar(select(Diner).where(Diner.id == diner_id).with_for_update())
    if diner is None:
        return {"outcome": "rejected", "reason": "unknown_person"}
    who = diner_view(diner)
    if card_version != diner.card_version:
        return {"outcome": "rejected", "reason": "revoked_card", "diner": who}
    local = at.astimezone(tz)
    day = local.date()
    at_door = slot is not None  # a delivery run's slot, not the counter's clock
    slot = slot or slot_at(slots, local)
    if slot is None:
        return {"outcome": "rejected", "reason": "outside_window", "diner": who}
    if (
        diner.paused_from
        and diner.paused_from <= day
        and (diner.paused_until is None or day < diner.paused_until)
    ):
        return {"outcome": "rejected", "reason": "diner_paused", "diner": who}
    if offline or at_door:  # late uploads and door scans: not while the day is being closed
        _lock_point(session, point.id, read=True)
    first, served_today, closed, booked = session.execute(
        _FIRST_LOOK, {"diner": diner.id, "day": day, "slot": slot.slot, "point": point.id}
    ).one()
    if closed:  # the day's numbers are final: a meal now would change them silently
        return {"outcome": "rejected", "reason": "day_closed", "diner": who}
    if first is not None:
        first = session.get(Meal, first)
        view = meal_view(first, _parts(session, first.id))
        if not offline and first.meal_point_id == point.id and abs(at - first.served_at) <= DUPLICATE_WINDOW:
            return {"outcome": "duplicate", "diner": who, "meal": view}  # a double tap: the same answer
        return {
            "outcome": "rejected",
            "reason": "already_served",
            "diner": who,
            "meal": view,
            "flagged": offline,
        }
    if served_today >= point.daily_capacity:
        return {"outcome": "rejected", "reason": "capacity_full", "diner": who}
    fundings = _fundings(session, point.id, diner.id, day)
    categories = categories_on(diner, day)
    parts, problem, exhausted = split(
        slot.price, categories, slot.slot, diner.home_point_id == point.id, [f for f, _ in fundings]
    )
    if problem is not None:
        return {"outcome": "rejected", "reason": problem, "diner": who, "price": slot.price}
    names = {f.id: name for f, name in fundings}
    tiers = {  # which tier of each funder's schedule paid: reports break subsidies down by it
        f.id: tier_label(matching_tier(f.schedule, categories, slot.slot)) for f, _ in fundings
    }
    meal = _record(
        session, diner.id, point.id, slot, day, mode, parts, at, device_label, scan_id, tiers, delivered_by
    )
    if meal is None:  # a budget ran out between reading it and taking it
        return {"outcome": "rejected", "reason": "budget_exhausted", "diner": who, "price": slot.price}
    if booked:
        bookings.mark_served(session, diner.id, point.id, day, slot.slot)
    view = meal_view(meal, [(a, names[a], n) for a, n in parts])
    if exhausted:  # said, not hidden: these funders' budgets are used up, the diner pays their part
        view["budget_exhausted"] = [names[a] for a in exhausted]
    return {"outcome": "meal_served", "diner": who, "meal": view}


def _fundings(session: Session, point_id: int, diner_id: int, day: date) -> list[tuple[Funding, str]]:
    """The agreements paying at this point on this day, with this diner's subsidized meals under
    each this week (Monday to Sunday). Not locked: budgets are taken at the very end (`_record`),
    so the agreement rows every meal of a county touches stay locked only for a moment."""
    monday = day - timedelta(days=day.weekday())
    rows = session.execute(
        _FUNDINGS,
        {
            "point": point_id,
            "diner": diner_id,
            "day": day,
            "monday": monday,
            "sunday": monday + timedelta(days=6),
        },
    ).all()
    week = {a.id: n for a, n in rows}
    agreements = [a for a, _ in rows]
    return [
        (
            Funding(
                id=a.id,
                stack_order=a.stack_order,
                schedule=a.schedule,
                budget_left=a.budget_cap - a.budget_used,
                week_cap=a.week_cap,
                used_this_week=week.get(a.id, 0),
                home_point_only=a.home_point_only,
            ),
            a.name,
        )
        for a in agreements
    ]


def _record(
    session,
    diner_id,
    point_id,
    slot: MealSlot,
    day,
    mode,
    parts,
    at,
    device_label,
    scan_id,
    tiers=None,
    delivered_by=None,
) -> Meal | None:
    """Write the meal and its subsidies, then take each funder's part from its budget (in agreement
    id order, each `UPDATE ... WHERE budget_used + part <= budget_cap`). If a budget cannot pay,
    what this meal wrote is undone and None returned."""
    subsidy = sum(amount for _, amount in parts)
    meal = Meal(
        meal_point_id=point_id,
        diner_id=diner_id,
        slot=slot.slot,
        service_day=day,
        mode=mode,
        price=slot.price,
        subsidy=subsidy,
        paid=slot.price - subsidy,
        subsidized=bool(parts),
        status="served",
        scan_id=scan_id,
        served_at=at,
        served_by=device_label[:100],
        delivered_by=delivered_by,
    )
    session.add(meal)
    session.flush()
    if not parts:
        return meal
    session.connection().execute(  # Core, not the ORM's bulk insert: half the cost in Python
        _INSERT_SUBSIDY,
        [
            {
                "meal_id": meal.id,
                "agreement_id": a,
                "amount": n,
                "tier": (tiers or {}).get(a, ""),
                "meal_point_id": point_id,
                "diner_id": diner_id,
                "service_day": day,
                "voided": False,
            }
            for a, n in parts
        ],
    )
    # each funder's part, in agreement id order (one row at a time: a statement updating several
    # rows may lock them in any order, and two meals would deadlock), only if its budget holds it
    taken = []
    for agreement_id, amount in sorted(parts):
        ok = session.execute(_TAKE, {"agreement": agreement_id, "amount": amount}).rowcount
        if not ok:  # one ran out meanwhile: give back what was taken, undo the meal
            for done_id, done_amount in taken:
                session.execute(
                    update(FundingAgreement)
                    .where(FundingAgreement.id == done_id)
                    .values(budget_used=FundingAgreement.budget_used - done_amount)
                    .execution_options(synchronize_session=False)
                )
            session.execute(delete(MealSubsidy).where(MealSubsidy.meal_id == meal.id))
            session.delete(meal)
            session.flush()
            return None
        taken.append((agreement_id, amount))
    return meal


def _parts(session: Session, meal_id: int) -> list[tuple[int, str, int]]:
    return [
        (a, name, n)
        for a, name, n in session.execute(
            select(MealSubsidy.agreement_id, FundingAgreement.name, MealSubsidy.amount)
            .join(FundingAgreement, FundingAgreement.id == MealSubsidy.agreement_id)
            .where(MealSubsidy.meal_id == meal_id)
            .order_by(FundingAgreement.stack_order, FundingAgreement.id)
        )
    ]


def record_unsubsidized(
    session: Session, *, diner_id: int, point: MealPoint, at: datetime, tz, mode: str, device_label: str
) -> Meal:
    """The coordinator's explicit choice after `already_served` or a refusal: a meal at full price."""
    diner = session.scalar(select(Diner).where(Diner.id == diner_id).with_for_update())
    if diner is None:
        raise not_found("助餐对象 Diner", "diner_not_found")
    local = at.astimezone(tz)
    slot = slot_at(list(session.scalars(select(MealSlot).where(MealSlot.meal_point_id == point.id))), local)
    if slot is None:
        raise conflict("outside_window", "现在不在供餐时段 No meal slot now")
    meal = _record(session, diner.id, point.id, slot, local.date(), mode, [], at, device_label, None)
    bookings.mark_served(session, diner.id, point.id, local.date(), slot.slot)
    return meal


def void(session: Session, meal_id: int, *, reason: str, staff_user_id: int, now: datetime, tz) -> Meal:
    """Void a meal the same day, with a reason: its subsidies go back to the funders' budgets."""
    meal, reason = _meal_to_change(session, meal_id, reason, "作废理由")
    if meal.service_day != now.astimezone(tz).date() or day_closed(
        session, meal.meal_point_id, meal.service_day
    ):
        raise conflict(
            "meal_day_past",
            "只能作废当天且未日结的餐次 Only meals of today, before the day is closed, can be voided",
        )
    _give_back(session, meal.id)
    meal.status, meal.void_reason, meal.voided_at, meal.voided_by = "voided", reason, now, staff_user_id
    session.execute(
        update(MealSubsidy)
        .where(MealSubsidy.meal_id == meal.id)
        .values(voided=True)
        .execution_options(synchronize_session=False)
    )
    bookings.mark_unserved(session, meal.diner_id, meal.meal_point_id, meal.service_day, meal.slot)
    _undo_delivery(session, meal, now)
    session.flush()
    return meal


def _meal_to_change(session: Session, meal_id: int, reason: str, what: str) -> tuple[Meal, str]:
    """The meal a void or a reversal changes, locked with its meal point (see `_lock_point`),
    and the reason given; 422, 404 or 409 (already voided) otherwise."""
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= 200:
        raise invalid([FieldError("reason", "required", f"请填写{what}（1到200字） A reason is required")])
    meal = session.get(Meal, meal_id, with_for_update=True, populate_existing=True)
    if meal is None:
        raise not_found("餐次记录 Meal", "meal_not_found")
    if meal.status == "voided":
        raise conflict("meal_voided", "该餐已作废 Already voided")
    _lock_point(session, meal.meal_point_id)
    return meal, reason


def _give_back(session: Session, meal_id: int) -> list[MealSubsidy]:
    """Return a meal's subsidies to the funders' budgets (in agreement id order); its parts."""
    parts = list(
        session.scalars(
            select(MealSubsidy).where(MealSubsidy.meal_id == meal_id).order_by(MealSubsidy.agreement_id)
        )
    )
    for part in parts:
        session.execute(
            update(FundingAgreement)
            .where(FundingAgreement.id == part.agreement_id)
            .values(budget_used=FundingAgreement.budget_used - part.amount)
        )
    return parts


def _undo_delivery(session: Session, meal: Meal, now: datetime) -> None:
    if meal.delivered_by is not None:  # the volunteer's delivery award is taken back
        emit(
            session,
            func="workers.jobs.meal_delivery_undone",
            job_id=f"meal-delivery-undone-{meal.id}",
            args=[meal.id],
            now=now,
            queue="points",
        )


def reverse(
    session: Session, meal_id: int, *, reason: str, staff_user_id: int, now: datetime, tz
) -> MealAdjustment:
    """Reverse a meal that can no longer be voided (its day is past or closed): the meal stays as
    recorded, the reversal counts on the first day still open at the point, and the subsidies go
    back to the funders' budgets. A meal is reversed at most once."""
    meal, reason = _meal_to_change(session, meal_id, reason, "调整理由")
    today = now.astimezone(tz).date()
    today_closed = day_closed(session, meal.meal_point_id, today)
    if meal.service_day == today and not today_closed:
        raise conflict("meal_day_open", "当天未日结的餐次请直接作废 Today's meals are voided, not adjusted")
    if session.scalar(select(MealAdjustment.id).where(MealAdjustment.meal_id == meal.id)) is not None:
        raise conflict("meal_adjusted", "该餐已调整过 This meal was already reversed")
    parts = _give_back(session, meal.id)
    adjustment = MealAdjustment(
        meal_id=meal.id,
        meal_point_id=meal.meal_point_id,
        made_on=today + timedelta(days=1) if today_closed else today,
        price_delta=-meal.price,
        paid_delta=-meal.paid,
        subsidy_delta=-meal.subsidy,
        by_funder={str(p.agreement_id): -p.amount for p in parts},
        reason=reason,
        made_by=staff_user_id,
        made_at=now,
    )
    session.add(adjustment)
    _undo_delivery(session, meal, now)
    session.flush()
    return adjustment


def meal_record(session: Session, meal: Meal) -> dict:
    """A meal for the record: as served, who served it, and every change made to it since."""
    adjustment = session.scalar(select(MealAdjustment).where(MealAdjustment.meal_id == meal.id))
    return {
        **meal_view(meal, _parts(session, meal.id)),
        "diner_id": meal.diner_id,
        "meal_point_id": meal.meal_point_id,
        "served_by": meal.served_by,
        "status": meal.status,
        "void": {
            "reason": meal.void_reason,
            "voided_at": meal.voided_at.isoformat(),
            "voided_by": meal.voided_by,
        }
        if meal.status == "voided"
        else None,
        "reversal": adjustment_view(adjustment) if adjustment else None,
    }


def adjustment_view(a: MealAdjustment) -> dict:
    return {
        "id": a.id,
        "meal_id": a.meal_id,
        "made_on": a.made_on.isoformat(),
        "price_delta": a.price_delta,
        "paid_delta": a.paid_delta,
        "subsidy_delta": a.subsidy_delta,
        "by_funder": a.by_funder,
        "reason": a.reason,
        "made_by": a.made_by,
        "made_at": a.made_at.isoformat(),
    }


def close_day(session: Session, point_id: int, day: date, now: datetime) -> DayClose | None:
    """Close a meal point's day (idempotent: a closed day stays as it was closed)."""
    _lock_point(session, point_id)
    existing = session.scalar(
        select(DayClose).where(DayClose.meal_point_id == point_id, DayClose.service_day == day)
    )
    if existing is not None:
        return None
    served = (Meal.meal_point_id == point_id) & (Meal.service_day == day)
    meals, subsidized, diners, price, paid, subsidy = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Meal.subsidized, 1), else_=0)), 0),
            func.count(func.distinct(Meal.diner_id)),
            func.coalesce(func.sum(Meal.price), 0),
            func.coalesce(func.sum(Meal.paid), 0),
            func.coalesce(func.sum(Meal.subsidy), 0),
        ).where(served, Meal.status == "served")
    ).one()
    by_funder = {
        str(a): int(n)
        for a, n in session.execute(
            select(MealSubsidy.agreement_id, func.sum(MealSubsidy.amount))
            .join(Meal, Meal.id == MealSubsidy.meal_id)
            .where(served, Meal.status == "served")
            .group_by(MealSubsidy.agreement_id)
        )
    }
    voided = session.scalar(select(func.count()).select_from(Meal).where(served, Meal.status == "voided"))
    no_shows = bookings.mark_no_shows(session, point_id, day)
    adjusted = list(
        session.scalars(
            select(MealAdjustment).where(
                MealAdjustment.meal_point_id == point_id, MealAdjustment.made_on == day
            )
        )
    )
    adjusted_by_funder: dict[str, int] = {}
    for a in adjusted:
        for funder, amount in a.by_funder.items():
            adjusted_by_funder[funder] = adjusted_by_funder.get(funder, 0) + amount
    row = DayClose(
        meal_point_id=point_id,
        service_day=day,
        meals=meals,
        subsidized=int(subsidized),
        diners=diners,
        price_total=int(price),
        paid_total=int(paid),
        subsidy_total=int(subsidy),
        by_funder=by_funder,
        voided=voided,
        adjustments=len(adjusted),
        adjusted_subsidy=sum(a.subsidy_delta for a in adjusted),
        adjusted_by_funder=adjusted_by_funder,
        no_shows=no_shows,
        closed_at=now,
    )
    session.add(row)
    session.flush()
    return row


def day_closed(session: Session, point_id: int, day: date) -> bool:
    return (
        session.scalar(
            select(DayClose.id).where(DayClose.meal_point_id == point_id, DayClose.service_day == day)
        )
        is not None
    )


def _lock_point(session: Session, point_id: int, read: bool = False) -> None:
    """Closing a day, voids and reversals take the meal point's row (late uploads and door scans
    share it), so none of them lands on a day between its close reading the numbers and writing
    them. Counter scans during a slot skip it: a day closes after its last slot."""
    session.execute(select(MealPoint.id).where(MealPoint.id == point_id).with_for_update(read=read))
