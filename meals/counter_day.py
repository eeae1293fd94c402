"""After the meal (餐后): a meal voided the same day, reversed once its day is past or closed, a
meal's record with every change made to it, and closing a meal point's day.

Closing a day, voids and reversals take the meal point's row (late uploads and door scans share it,
see `counter.serve`), so none of them lands on a day between its close reading the numbers and
writing them. Counter scans during a slot skip it: a day closes after its last slot.

When a day closes (`closes_at`): the evening run closes a point's day at 21:30 local, or once its
last slot has ended if that is later (a point serving dinner until 23:45 closes just after 23:45,
by the run every 15 minutes), so a scan within a slot is never refused `day_closed`. The afternoon
and evening before 21:30 stay open at points that finish earlier, as before: for voids and for
tablets that were offline to upload. Staff close by hand (`close_by_hand`) once the last slot has
ended, to print and sign the day's sheet at the end of service.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from linli.errors import FieldError, conflict, invalid, not_found
from linli.outbox import emit
from meals import repository, repository_counter
from meals.counter import meal_view
from meals.models import DayClose, Meal, MealAdjustment, MealSubsidy


def void(session: Session, meal_id: int, *, reason: str, staff_user_id: int, now: datetime, tz) -> Meal:
    """Void a meal the same day, with a reason: its subsidies go back to the funders' budgets."""
    meal, reason = _meal_to_change(session, meal_id, reason, "作废理由")
    if meal.service_day != now.astimezone(tz).date() or repository_counter.day_closed(
        session, meal.meal_point_id, meal.service_day
    ):
        raise conflict(
            "meal_day_past",
            "只能作废当天且未日结的餐次 Only meals of today, before the day is closed, can be voided",
        )
    _give_back(session, meal.id)
    meal.status, meal.void_reason, meal.voided_at, meal.voided_by = "voided", reason, now, staff_user_id
    repository_counter.void_subsidies(session, meal.id)
    repository.mark_booking_unserved(session, meal.diner_id, meal.meal_point_id, meal.service_day, meal.slot)
    _undo_delivery(session, meal, now)
    session.flush()
    return meal


def _meal_to_change(session: Session, meal_id: int, reason: str, what: str) -> tuple[Meal, str]:
    """The meal a void or a reversal changes, locked with its meal point (see above),
    and the reason given; 422, 404 or 409 (already voided, or held for review) otherwise."""
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= 200:
        raise invalid([FieldError("reason", "required", f"请填写{what}（1到200字） A reason is required")])
    meal = repository_counter.lock_meal(session, meal_id)
    if meal is None:
        raise not_found("餐次记录 Meal", "meal_not_found")
    if meal.status == "voided":
        raise conflict("meal_voided", "该餐已作废 Already voided")
    if meal.status == "held":  # its hold is the hub's to decide: voiding it would leave the hold undecidable
        raise conflict(
            "meal_held", "该餐待枢纽审核，由管理员批准或驳回 Held for the hub's review: an admin decides it"
        )
    repository_counter.lock_point(session, meal.meal_point_id)
    return meal, reason


def _give_back(session: Session, meal_id: int) -> list[MealSubsidy]:
    """Return a meal's subsidies to the funders' budgets (in agreement id order); its parts."""
    parts = repository_counter.subsidies_of(session, meal_id)
    for part in parts:
        repository_counter.give_back_budget(session, part.agreement_id, part.amount)
    return parts


def _undo_delivery(session: Session, meal: Meal, now: datetime) -> None:
    if meal.delivered_by is not None:  # the volunteer's delivery award is taken back
        emit(
            session,
            event="meal.delivery_undone",
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
    today_closed = repository_counter.day_closed(session, meal.meal_point_id, today)
    if meal.service_day == today and not today_closed:
        raise conflict("meal_day_open", "当天未日结的餐次请直接作废 Today's meals are voided, not adjusted")
    if repository_counter.reversed_already(session, meal.id):
        raise conflict("meal_adjusted", "该餐已调整过 This meal was already reversed")
    parts = _give_back(session, meal.id)
    adjustment = MealAdjustment(
        meal_id=meal.id,
        meal_day=meal.service_day,
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
    adjustment = repository_counter.adjustment_of(session, meal.id)
    return {
        **meal_view(meal, repository_counter.parts(session, meal.id)),
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
    repository_counter.lock_point(session, point_id)
    if repository_counter.day_close(session, point_id, day) is not None:
        return None
    (meals, subsidized, diners, price, paid, subsidy), by_funder, voided = repository_counter.day_totals(
        session, point_id, day
    )
    no_shows = repository.mark_no_shows(session, point_id, day)
    adjusted = repository_counter.adjustments_made(session, point_id, day)
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


EVENING = time(21, 30)  # the automatic close, at the latest slot's end if that is later


def _at(day: date, hhmm: str, tz) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(0), tz) + timedelta(hours=hour, minutes=minute)


def closes_at(day: date, last_end: str | None, tz) -> datetime:
    """When the evening run closes a point's day (UTC): 21:30 local, or the end of its last slot."""
    evening = datetime.combine(day, EVENING, tz)
    return max(evening, _at(day, last_end, tz) if last_end else evening).astimezone(UTC)


def close_open_days(session: Session, now: datetime, tz) -> int:
    """The evening run (every 15 minutes): close today at every meal point whose day is over
    (`closes_at`), and any earlier day left open (e.g. while the scheduler was down). Returns how
    many days were closed."""
    today = now.astimezone(tz).date()
    ends = repository_counter.last_slot_ends(session)
    days = sorted(
        (point_id, day)
        for point_id, day in repository_counter.unclosed_days(session, today)
        if now >= closes_at(day, ends.get(point_id), tz)
    )
    return sum(close_day(session, point_id, day, now) is not None for point_id, day in days)


def close_by_hand(session: Session, point_id: int, day: date, now: datetime, tz) -> tuple[DayClose, bool]:
    """Staff close a day themselves (to print and sign its sheet): a past day, or today once its
    last slot has ended (409 `slot_open` before, so no scan within a slot meets a closed day).
    Idempotent: a closed day is answered as it was closed. The close, and whether this made it."""
    today = now.astimezone(tz).date()
    if day > today:
        raise invalid(
            [FieldError("day", "future_day", "不能日结未来的日期 A day still to come cannot be closed")]
        )
    slots = repository_counter.point_slots(session, point_id, day)
    last = max(slots, key=lambda s: s.ends, default=None)
    if day == today and last is not None and now < _at(day, last.ends, tz):
        raise conflict(
            "slot_open",
            f"今天的供餐尚未结束（最后一餐到 {last.ends}），结束后才能日结"
            f" Today's last slot ends at {last.ends}; close the day after it",
        )
    made = close_day(session, point_id, day, now)
    return made or repository_counter.day_close(session, point_id, day), made is not None


def today_times(session: Session, point_id: int, day: date, tz) -> tuple[datetime | None, datetime]:
    """When a day's last slot ends (closing by hand is possible from then; None without slots)
    and when the evening run closes it."""
    last = max((s.ends for s in repository_counter.point_slots(session, point_id, day)), default=None)
    return (_at(day, last, tz).astimezone(UTC) if last else None), closes_at(day, last, tz)


def is_closed(session: Session, point_id: int, day: date) -> bool:
    return repository_counter.day_closed(session, point_id, day)


def closes_of(session: Session, point_id: int, *, before: date | None, limit: int) -> list[DayClose]:
    """A point's closes, the latest day first, days before `before` (a page's cursor)."""
    return repository_counter.day_closes(session, point_id, before=before, limit=limit)


def close_view(session: Session, row: DayClose) -> dict:
    """A close as the API and the printed sheet show it: the funders by name, in stacking order."""
    names = repository_counter.agreement_names(
        session, [int(a) for a in {*row.by_funder, *(row.adjusted_by_funder or {})}]
    )
    return {
        "id": row.id,
        "meal_point_id": row.meal_point_id,
        "day": row.service_day,
        "meals": row.meals,
        "subsidized": row.subsidized,
        "diners": row.diners,
        "price_total": row.price_total,
        "paid_total": row.paid_total,
        "subsidy_total": row.subsidy_total,
        "funders": [
            {
                "agreement_id": a,
                "funder": name,
                "amount": int(row.by_funder.get(str(a), 0)),
                "adjusted": int((row.adjusted_by_funder or {}).get(str(a), 0)),
            }
            for a, name in names
        ],
        "voided": row.voided,
        "adjustments": row.adjustments,
        "adjusted_subsidy": row.adjusted_subsidy,
        "no_shows": row.no_shows,
        "closed_at": row.closed_at,
    }


def hold(session: Session, meal_id: int) -> Meal:
    """An offline meal held for a hub's review (integrity): its subsidy stays reserved from the
    budgets, and is neither paid nor reported until `release` or `reject_held`."""
    meal = repository_counter.lock_meal(session, meal_id)
    meal.status = "held"
    repository_counter.hold_subsidies(session, meal.id, held=True)
    session.flush()
    return meal


def release(session: Session, meal_id: int) -> Meal:
    """A held meal approved: served, its subsidy paid and reported by its service day."""
    meal = _held(session, meal_id)
    meal.status = "served"
    repository_counter.hold_subsidies(session, meal.id, held=False)
    session.flush()
    return meal


def reject_held(session: Session, meal_id: int, *, reason: str, staff_user_id: int, now: datetime) -> Meal:
    """A held meal rejected: voided, its reserved subsidy back in the funders' budgets."""
    meal = _held(session, meal_id)
    _give_back(session, meal.id)
    meal.status, meal.void_reason, meal.voided_at, meal.voided_by = "voided", reason[:200], now, staff_user_id
    repository_counter.void_subsidies(session, meal.id)
    repository.mark_booking_unserved(session, meal.diner_id, meal.meal_point_id, meal.service_day, meal.slot)
    session.flush()
    return meal


def _held(session: Session, meal_id: int) -> Meal:
    meal = repository_counter.lock_meal(session, meal_id)
    if meal is None:
        raise not_found("餐次记录 Meal", "meal_not_found")
    if meal.status != "held":
        raise conflict("not_held", "该餐不在待审核状态 This meal is not held for review")
    repository_counter.lock_point(session, meal.meal_point_id)
    return meal


def get_close(session: Session, close_id: int) -> DayClose:
    row = repository_counter.get_day_close(session, close_id)
    if row is None:
        raise not_found("日结 Day close", "day_close_not_found")
    return row
