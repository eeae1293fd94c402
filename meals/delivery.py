"""Home delivery (送餐上门): diners flagged for delivery, and diners who booked a delivery, make a
meal point's delivery list per slot; the list is planned as runs, one per community; a volunteer
filed in the point's organization claims a run, and at each door scans the diner's card with a
phone: the meal is recorded as at the counter (same subsidy rules, one subsidized meal per slot),
answered `delivered`, and the volunteer's delivery award follows through the points ledger."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from linli import scope
from linli.errors import FieldError, conflict, forbidden, invalid, not_found
from linli.outbox import emit
from meals import counter, repository, repository_counter, repository_delivery
from meals.models import SLOTS, DeliveryRun, Diner, MealPoint
from orgs import service as orgs_service


def delivery_diners(session: Session, point_id: int, day: date, slot: str) -> list[Diner]:
    """Who gets a meal brought home for this slot: diners of this point flagged for delivery (a
    standing order), and diners who booked a delivery here; not those paused that day."""
    return repository_delivery.delivery_diners(session, point_id, day, slot)


def _check_day_slot(session: Session, point_id: int, day: date, slot: str) -> None:
    errors = []
    if slot not in SLOTS:
        errors.append(
            FieldError(
                "slot",
                "invalid",
                "餐次应为 breakfast、lunch 或 dinner 之一 Slot must be breakfast, lunch or dinner",
            )
        )
    if not 2000 <= day.year < 2100:
        errors.append(FieldError("day", "out_of_range", "日期不合理 Implausible date"))
    if errors:
        raise invalid(errors)
    if not repository.serves_slot(session, point_id, slot):
        raise invalid(
            [FieldError("slot", "not_served", "该助餐点不提供此餐次 This meal point does not serve it")]
        )


def plan(session: Session, point_id: int, day: date, slot: str, now: datetime) -> list[DeliveryRun]:
    """One run per community on the slot's delivery list (idempotent: planning again adds runs for
    communities new to the list and keeps the ones there, claimed or not)."""
    _check_day_slot(session, point_id, day, slot)
    have = {r.community: r for r in repository_delivery.runs_of_slot(session, point_id, day, slot)}
    for community in sorted({d.community for d in delivery_diners(session, point_id, day, slot)}):
        if community not in have:
            have[community] = DeliveryRun(
                meal_point_id=point_id, service_day=day, slot=slot, community=community, created_at=now
            )
            session.add(have[community])
    session.flush()
    return sorted(have.values(), key=lambda r: r.community)


def runs_at(session: Session, point_id: int, day: date) -> list[DeliveryRun]:
    """A day's runs at a meal point, by slot and community."""
    return repository_delivery.runs_at(session, point_id, day)


def runs_view(
    session: Session, runs: list[DeliveryRun], names: dict[int, str], *, with_stops: bool
) -> list[dict]:
    """The runs with their volunteer (`names`: the volunteers' names by id, given by the caller)
    and, when asked, each stop: the diner, what the kitchen must know, the address, and the meal if
    it was delivered."""
    if not runs:
        return []
    out = []
    lists: dict[tuple, tuple] = {}  # per slot: its diners, their meals, the point and the slot
    for run in runs:
        key = (run.meal_point_id, run.service_day, run.slot)
        if key not in lists:
            everyone = delivery_diners(session, *key)
            point = repository.point(session, run.meal_point_id)
            slots = [
                x for x in repository_counter.point_slots(session, point.id, run.service_day) if x.slot == run.slot
            ]
            lists[key] = (
                everyone,
                repository_delivery.served_meals(
                    session, [d.id for d in everyone], run.service_day, run.slot
                ),
                point,
                slots[0] if slots else None,
            )
        everyone, served, point, slot = lists[key]
        diners = [d for d in everyone if d.community == run.community]
        view = {
            "id": run.id,
            "meal_point_id": run.meal_point_id,
            "day": run.service_day.isoformat(),
            "slot": run.slot,
            "community": run.community,
            "volunteer": {"id": run.volunteer_id, "name": names.get(run.volunteer_id)}
            if run.volunteer_id
            else None,
            "stops_total": len(diners),
            "delivered": sum(d.id in served for d in diners),
        }
        if with_stops:
            view["meal_point_name"] = point.name
            view["stops"] = [
                _stop(session, d, served.get(d.id), point, slot, run.service_day) for d in diners
            ]
        out.append(view)
    return out


def _stop(session, diner: Diner, meal, point: MealPoint, slot, day: date) -> dict:
    """One door: the diner, what the kitchen must know, the address, the meal once delivered, and
    what to collect there (what the meal's diner paid, or the quote under today's rules)."""
    return {
        "diner_id": diner.id,
        "name": diner.name,
        "address": diner.address,
        "dietary_notes": diner.dietary_notes,
        "allergies": diner.allergies,
        "meal_id": meal[0] if meal else None,
        "price": slot.price if slot else None,
        "to_collect": meal[1] if meal else counter.to_pay(session, diner, point, slot, day) if slot else None,
    }


def _filed_under(session: Session, team_paths: list[str], point: MealPoint) -> bool:
    org_path = orgs_service.get(session, point.org_id).path
    return any(scope.covers([org_path], path) for path in team_paths)


def open_runs_for(session: Session, volunteer_id: int, team_paths: list[str], day: date) -> list[DeliveryRun]:
    """Runs of a day a volunteer may claim (at points of organizations they filed under) or has.
    `team_paths`: the paths of the teams the volunteer is filed with (approved)."""
    if not team_paths:
        return []
    return repository_delivery.open_runs(session, volunteer_id, team_paths, day)


def claim(
    session: Session, run_id: int, volunteer_id: int, team_paths: list[str], now: datetime, tz
) -> DeliveryRun:
    """Take a run: one volunteer each, the first claim wins (a conditional update). `team_paths`:
    the paths of the teams the volunteer is filed with (approved)."""
    run = repository_delivery.run(session, run_id)
    if run is None:
        raise not_found("送餐路线 Delivery run", "run_not_found")
    if run.service_day < now.astimezone(tz).date():
        raise conflict("run_past", "该送餐路线已过期 This run's day is past")
    if not _filed_under(session, team_paths, repository.point(session, run.meal_point_id)):
        raise forbidden(
            "尚未加入该组织的服务队（未备案） Not filed with a team of this organization", "not_filed"
        )
    taken = repository_delivery.take_run(session, run, volunteer_id, now)
    if not taken and run.volunteer_id != volunteer_id:
        raise conflict("run_taken", "该路线已有志愿者认领 Another volunteer has taken this run")
    return run


def release(session: Session, run_id: int, volunteer_id: int) -> DeliveryRun:
    """Give a claimed run back (e.g. the volunteer fell ill); deliveries already made stay."""
    run = repository_delivery.run(session, run_id, lock=True)
    if run is None or run.volunteer_id != volunteer_id:
        raise not_found("送餐路线 Delivery run", "run_not_found")
    run.volunteer_id, run.claimed_at = None, None
    session.flush()
    return run


EARLY, LATE = timedelta(minutes=30), timedelta(hours=2)


def _at(local: datetime, hhmm: str) -> datetime:
    return local.replace(hour=int(hhmm[:2]), minute=int(hhmm[3:]), second=0, microsecond=0)


def _on_run(session: Session, diner: Diner, run: DeliveryRun) -> bool:
    """Whether the diner is on the run's list (paused or not: a paused diner is told so)."""
    if diner.delivery and diner.home_point_id == run.meal_point_id:
        return True
    return repository_delivery.booked_delivery(session, diner.id, run)


def deliver(
    session: Session,
    *,
    diner_id: int,
    card_version: int,
    volunteer_id: int,
    at: datetime,
    tz,
    device_label: str,
    scan_id: str | None,
    offline: bool,
) -> tuple[dict, int | None]:
    """A diner's card scanned at the door by the volunteer on the run: the meal, answered
    `delivered` (or the counter's refusals), and the station to store the scan at."""
    diner = repository.diner(session, diner_id)
    if diner is None:
        return {"outcome": "rejected", "reason": "unknown_person"}, None
    if card_version != diner.card_version:  # a lost card says nothing about its diner
        return {"outcome": "rejected", "reason": "revoked_card"}, None
    local = at.astimezone(tz)
    mine = repository_delivery.runs_on_day(session, volunteer_id, local.date(), diner.community)
    on_list = [(run, point, slot) for run, point, slot in mine if _on_run(session, diner, run)]
    if not on_list:  # not this volunteer's to know who the card belongs to
        return {"outcome": "rejected", "reason": "not_on_run"}, None
    # the run whose slot is being delivered now: from 30 minutes before it starts to 2 hours after it ends
    in_window = [
        (run, point, slot)
        for run, point, slot in on_list
        if _at(local, slot.starts) - EARLY <= local <= _at(local, slot.ends) + LATE
    ]
    if not in_window:
        return {"outcome": "rejected", "reason": "outside_window"}, on_list[0][1].station_id
    _run, point, slot = in_window[0]
    result = counter.serve(
        session,
        diner_id=diner.id,
        card_version=card_version,
        point=point,
        slots=[slot],
        slot=slot,
        at=at,
        tz=tz,
        mode="delivery",
        device_label=device_label,
        scan_id=scan_id,
        offline=offline,
        delivered_by=volunteer_id,
    )
    if result["outcome"] == "meal_served":
        result["outcome"] = "delivered"
        meal_id = result["meal"]["id"]
        emit(
            session,
            event="meal.delivered",
            job_id=f"meal-delivered-{meal_id}",
            args=[meal_id, volunteer_id],
            now=at,
            queue="points",
            known_new=True,
        )
    return result, point.station_id


def delivered_meal(session: Session, meal_id: int) -> tuple[str, datetime]:
    """For the delivery award (event `meal.delivered`): the organization path of the meal's point
    and when it reached the door."""
    place = repository_delivery.meal_place(session, meal_id)
    if place is None:
        raise not_found("餐次记录 Meal", "meal_not_found")
    return place
