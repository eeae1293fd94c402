"""At the counter (取餐台): a diner's card scanned through the one scan door becomes a meal with
its price, its subsidy split per funder and what the diner pays; or a clear refusal.

A diner's meals are judged one at a time (the diner's row is locked), and a unique index allows
one subsidized meal per diner, slot and day, so two tablets scanning one card at once, online or
offline, never make two subsidies. A funder's budget is read without a lock and taken as the
last statement of the scan's transaction, with its commit (`take_budgets`, from the scan door):
the table's check keeps it within its cap, and the agreement row every meal of a county takes
from is locked only for the server's time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from linli.errors import conflict, not_found
from meals import categories, repository, repository_counter
from meals.models import Diner, Meal, MealPoint
from meals.repository_counter import SlotOnDay
from meals.subsidy import Funding, matching_tier, split, tier_label
from orgs import service as orgs_service

DUPLICATE_WINDOW = timedelta(seconds=60)


def point_at_station(
    session: Session, station_id: int, day: date, diner_id: int | None = None
) -> tuple[MealPoint, str, list[SlotOnDay], Diner | None] | None:
    """The meal point whose counter this station is, its organization's path and its slots as they
    stand on `day` (the prices in force that day); with `diner_id`, the diner's row too, locked (a
    diner's scans are judged one at a time): one round trip. None if the station is no meal
    point's counter."""
    if diner_id is not None:
        rows = repository_counter.point_rows(session, station_id, day, diner_id)
        if rows:
            return rows[0][0], rows[0][1], [r[2] for r in rows], rows[0][3]
    rows = repository_counter.point_rows(session, station_id, day)  # no such diner (or point): the point alone
    return (rows[0][0], rows[0][1], [r[2] for r in rows], None) if rows else None


def today_at(session: Session, point: MealPoint, slots: list[SlotOnDay], day: date) -> list[dict]:
    """The counter's day at a glance: per slot, its hours and price, meals served and bookings."""
    served = repository_counter.served_by_slot(session, point.id, day)
    booked = repository_counter.booked_by_slot(session, point.id, day)
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


def slot_at(slots: list[SlotOnDay], local: datetime) -> SlotOnDay | None:
    hhmm = local.strftime("%H:%M")
    return next((s for s in slots if s.starts <= hhmm < s.ends), None)


def slot_end(session: Session, meal_id: int, tz) -> tuple[datetime, str]:
    """When a meal's slot ended (UTC), and its meal point's organization path."""
    meal = repository.meal(session, meal_id)
    point = repository.point(session, meal.meal_point_id)
    slot = next(
        s for s in repository_counter.point_slots(session, point.id, meal.service_day) if s.slot == meal.slot
    )
    hour, minute = (int(x) for x in slot.ends.split(":"))
    local = datetime.combine(meal.service_day, time(0), tz) + timedelta(hours=hour, minutes=minute)
    return local.astimezone(UTC), orgs_service.get(session, point.org_id).path


def diner_view(diner: Diner) -> dict:
    """What the counter shows: the name, and what the kitchen must know."""
    return {
        "id": diner.id,
        "name": diner.name,
        "dietary_notes": diner.dietary_notes,
        "allergies": diner.allergies,
    }


def meal_view(meal: Meal, parts: list[tuple[int, str, int]], point_name: str | None = None) -> dict:
    """A meal as the counter shows it; with `point_name`, where it was served ("泉心食堂 12:05")."""
    return {
        "id": meal.id,
        "meal_point_id": meal.meal_point_id,
        **({"meal_point": point_name} if point_name is not None else {}),
        "slot": meal.slot,
        "service_day": meal.service_day.isoformat(),
        "mode": meal.mode,
        "price": meal.price,
        "subsidy": meal.subsidy,
        "paid": meal.paid,
        "subsidized": meal.subsidized,
        "served_at": meal.served_at.isoformat(),
        "status": meal.status,
        "split": [{"agreement_id": a, "funder": name, "amount": amount} for a, name, amount in parts],
    }


def serve(
    session: Session,
    *,
    diner_id: int,
    card_version: int,
    point: MealPoint,
    slots: list[SlotOnDay],
    at: datetime,
    tz,
    mode: str,
    device_label: str,
    scan_id: str | None,
    offline: bool,
    slot: SlotOnDay | None = None,
    delivered_by: int | None = None,
    diner: Diner | None = None,
    path: str | None = None,
) -> dict:
    """Judge one diner-card scan at a meal point's counter (or at the door, for a delivery run's
    `slot`). Returns the scan's answer: `meal_served`, `duplicate`, or `rejected` with a reason
    (`already_served` carries the first meal). `diner`: the diner's row, locked already; `path`:
    the point's organization's (it decides the county's categories), read if not given. A meal
    served carries `budgets`, each funder's part: the caller takes them (`take_budgets`) last,
    just before its commit, and judges again if they no longer fit."""
    if diner is None:
        diner = repository_counter.lock_diner(session, diner_id)
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
        repository_counter.lock_point(session, point.id, read=True)
    first, served_today, closed, booked = repository_counter.first_look(
        session, diner.id, day, slot.slot, point.id
    )
    if closed:  # the day's numbers are final: a meal now would change them silently
        return {"outcome": "rejected", "reason": "day_closed", "diner": who}
    if first is not None:
        first = repository.meal(session, first)
        where = point if first.meal_point_id == point.id else repository.point(session, first.meal_point_id)
        view = meal_view(first, repository_counter.parts(session, first.id), where.name)
        if not offline and first.meal_point_id == point.id and abs(at - first.served_at) <= DUPLICATE_WINDOW:
            return {"outcome": "duplicate", "diner": who, "meal": view}  # a double tap: the same answer
        return {
            "outcome": "rejected",
            "reason": "already_served",
            "diner": who,
            "meal": view,
            "price": slot.price,  # should the coordinator serve a second meal at full price
            "flagged": offline,
        }
    if served_today >= point.daily_capacity:
        return {"outcome": "rejected", "reason": "capacity_full", "diner": who}
    fundings = _fundings(session, point.id, diner.id, day)
    county = categories.rules(session, path) if path is not None else categories.at_point(session, point)
    diner_categories = county.of(diner, day)
    parts, problem, exhausted = split(
        slot.price,
        diner_categories,
        slot.slot,
        diner.home_point_id == point.id,
        [f for f, _, _ in fundings],
        diner.residence,
    )
    if problem is not None:
        return {"outcome": "rejected", "reason": problem, "diner": who, "price": slot.price}
    names = {f.id: name for f, name, _ in fundings}
    tiers = {  # which tier of each funder's schedule paid (reports break subsidies down by it), and
        # under which version of the schedule
        f.id: (tier_label(matching_tier(f.schedule, diner_categories, slot.slot, diner.residence)), version)
        for f, _, version in fundings
    }
    meal = _record(
        session, diner.id, point.id, slot, day, mode, parts, at, device_label, scan_id, tiers, delivered_by
    )
    if booked:
        repository.mark_booking_served(session, diner.id, point.id, day, slot.slot)
    view = meal_view(meal, [(a, names[a], n) for a, n in parts], point.name)
    if exhausted:  # said, not hidden: these funders' budgets are used up, the diner pays their part
        view["budget_exhausted"] = [names[a] for a in exhausted]
    return {"outcome": "meal_served", "diner": who, "meal": view, "budgets": sorted(parts)}


def to_pay(session: Session, diner: Diner, point: MealPoint, slot: SlotOnDay, day: date) -> int:
    """What the diner would pay (fen) for this slot's meal at this point on this day, as the rules
    and budgets stand now: the price less the subsidies a scan would give (the full price when none
    would). A quote for the delivery run's list; the scan at the door decides."""
    fundings = _fundings(session, point.id, diner.id, day)
    parts, _, _ = split(
        slot.price,
        categories.at_point(session, point).of(diner, day),
        slot.slot,
        diner.home_point_id == point.id,
        [f for f, _, _ in fundings],
        diner.residence,
    )
    return slot.price - sum(amount for _, amount in parts)


def _fundings(
    session: Session, point_id: int, diner_id: int, day: date
) -> list[tuple[Funding, str, int | None]]:
    """The agreements paying at this point on this day, by the schedule version in force that day
    (its id, or None for the agreement's own), with this diner's subsidized meals under each this
    week (Monday to Sunday) and this month (calendar, local days). Not locked: budgets are taken at
    the very end (`take_budgets`), so the agreement rows every meal of a county touches stay locked
    only for a moment."""
    monday = day - timedelta(days=day.weekday())
    first = day.replace(day=1)
    last = (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    rows = repository_counter.fundings(
        session, point_id, diner_id, day, monday, monday + timedelta(days=6), first, last
    )
    return [
        (
            Funding(
                id=a.id,
                stack_order=a.stack_order,
                schedule=v.schedule if v is not None else a.schedule,
                budget_left=a.budget_cap - a.budget_used,
                week_cap=v.week_cap if v is not None else a.week_cap,
                used_this_week=n,
                home_point_only=a.home_point_only,
                month_cap=v.month_cap if v is not None else a.month_cap,
                used_this_month=m,
            ),
            a.name,
            v.id if v is not None else None,
        )
        for a, n, m, v in rows
    ]


def _record(
    session,
    diner_id,
    point_id,
    slot: SlotOnDay,
    day,
    mode,
    parts,
    at,
    device_label,
    scan_id,
    tiers=None,
    delivered_by=None,
) -> Meal:
    """Write the meal and its subsidies (the funders' budgets are taken by `take_budgets`)."""
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
    repository_counter.insert_subsidies(
        session,
        [
            {
                "meal_id": meal.id,
                "agreement_id": a,
                "amount": n,
                "tier": (tiers or {}).get(a, ("", None))[0],
                "schedule_version_id": (tiers or {}).get(a, ("", None))[1],
                "meal_point_id": point_id,
                "diner_id": diner_id,
                "service_day": day,
                "voided": False,
            }
            for a, n in parts
        ],
    )
    return meal


def take_budgets(session: Session, parts: list[tuple[int, int]], *, commit: bool) -> bool:
    """Take each funder's part of a meal from its budget, in agreement id order (one row at a time:
    a statement updating several rows may lock them in any order, and two meals would deadlock);
    the table's check refuses a part the budget no longer holds. False then (other meals took it
    since it was read): the caller rolls back everything the scan wrote and judges it again on
    what is left. Called last: with `commit` (an online scan, a transaction of its own) the parts
    go with the commit in one round trip, so that the agreement rows every meal of a county takes
    from stay locked only for the server's time."""
    return repository_counter.take_budgets(session, parts, commit=commit)


def record_unsubsidized(
    session: Session, *, diner_id: int, point: MealPoint, at: datetime, tz, mode: str, device_label: str
) -> Meal:
    """The coordinator's explicit choice after `already_served` or a refusal: a meal at full price."""
    diner = repository_counter.lock_diner(session, diner_id)
    if diner is None:
        raise not_found("助餐对象 Diner", "diner_not_found")
    local = at.astimezone(tz)
    slot = slot_at(repository_counter.point_slots(session, point.id, local.date()), local)
    if slot is None:
        raise conflict("outside_window", "现在不在供餐时段 No meal slot now")
    if repository_counter.day_closed(session, point.id, local.date()):  # as a scan would be
        raise conflict(
            "day_closed", "当天已日结，不能再记录 The day is closed; no more meals can be recorded"
        )
    meal = _record(session, diner.id, point.id, slot, local.date(), mode, [], at, device_label, None)
    repository.mark_booking_served(session, diner.id, point.id, local.date(), slot.slot)
    return meal
