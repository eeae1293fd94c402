"""Home delivery's queries (送餐上门): a slot's delivery list, runs, who is on them and what was
delivered. The rules are in `delivery`."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import or_, select, union, update
from sqlalchemy.orm import Session

from linli import scope
from meals.models import Booking, DeliveryRun, Diner, Meal, MealPoint, MealSlot
from meals.repository_counter import PRICE_ON_DAY, slot_on_day
from orgs.models import Organization


def _paused(day: date):
    return (
        (Diner.paused_from.is_not(None))
        & (Diner.paused_from <= day)
        & (Diner.paused_until.is_(None) | (Diner.paused_until > day))
    )


def delivery_diners(session: Session, point_id: int, day: date, slot: str) -> list[Diner]:
    """Diners of this point flagged for delivery, and diners who booked a delivery here for this
    slot; not those paused that day. By community and name."""
    booked = select(Booking.diner_id).where(
        Booking.meal_point_id == point_id,
        Booking.service_day == day,
        Booking.slot == slot,
        Booking.mode == "delivery",
        Booking.status.in_(("booked", "served")),
    )
    home = select(Diner.id).where(Diner.home_point_id == point_id, Diner.delivery.is_(True))
    # a union of ids, not an OR of the two: PostgreSQL reads an OR with a subquery by going
    # through every diner of the province
    return list(
        session.scalars(
            select(Diner)
            .where(Diner.id.in_(union(home, booked)), ~_paused(day))
            .order_by(Diner.community, Diner.name, Diner.id)
        )
    )


def booked_delivery(session: Session, diner_id: int, run: DeliveryRun) -> bool:
    """Whether the diner booked a delivery for the run's point, day and slot (booked or served)."""
    return (
        session.scalar(
            select(Booking.id).where(
                Booking.diner_id == diner_id,
                Booking.meal_point_id == run.meal_point_id,
                Booking.service_day == run.service_day,
                Booking.slot == run.slot,
                Booking.mode == "delivery",
                Booking.status.in_(("booked", "served")),
            )
        )
        is not None
    )


def served_meals(session: Session, diner_ids: list[int], day: date, slot: str) -> dict[int, tuple[int, int]]:
    """{diner id: (meal id, fen paid)} of these diners' meals served in this slot."""
    return {
        diner_id: (meal_id, paid)
        for diner_id, meal_id, paid in session.execute(
            select(Meal.diner_id, Meal.id, Meal.paid).where(
                Meal.diner_id.in_(diner_ids),
                Meal.service_day == day,
                Meal.slot == slot,
                Meal.status == "served",
            )
        ).all()
    }


def run(session: Session, run_id: int, *, lock: bool = False) -> DeliveryRun | None:
    if lock:
        return session.get(DeliveryRun, run_id, with_for_update=True)
    return session.get(DeliveryRun, run_id)


def runs_of_slot(session: Session, point_id: int, day: date, slot: str) -> list[DeliveryRun]:
    return list(
        session.scalars(
            select(DeliveryRun).where(
                DeliveryRun.meal_point_id == point_id,
                DeliveryRun.service_day == day,
                DeliveryRun.slot == slot,
            )
        )
    )


def runs_at(session: Session, point_id: int, day: date) -> list[DeliveryRun]:
    return list(
        session.scalars(
            select(DeliveryRun)
            .where(DeliveryRun.meal_point_id == point_id, DeliveryRun.service_day == day)
            .order_by(DeliveryRun.slot, DeliveryRun.community)
        )
    )


def open_runs(session: Session, volunteer_id: int, team_paths: list[str], day: date) -> list[DeliveryRun]:
    """A day's runs untaken or the volunteer's, at points of organizations holding one of these
    team paths."""
    return list(
        session.scalars(
            select(DeliveryRun)
            .join(MealPoint, MealPoint.id == DeliveryRun.meal_point_id)
            .join(Organization, Organization.id == MealPoint.org_id)
            .where(
                DeliveryRun.service_day == day,
                or_(DeliveryRun.volunteer_id.is_(None), DeliveryRun.volunteer_id == volunteer_id),
                # the point's organization holds one of the volunteer's teams (in SQL, on the path
                # index: a province has a run per community at every point, and only a few are
                # this volunteer's)
                Organization.path.in_(scope.above(team_paths)),
            )
            .order_by(DeliveryRun.meal_point_id, DeliveryRun.slot, DeliveryRun.community)
        )
    )


def take_run(session: Session, run: DeliveryRun, volunteer_id: int, now: datetime) -> bool:
    """Give the run to the volunteer if nobody has it (reloads `run`); whether it was taken now."""
    taken = session.execute(
        update(DeliveryRun)
        .where(DeliveryRun.id == run.id, DeliveryRun.volunteer_id.is_(None))
        .values(volunteer_id=volunteer_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(run)
    return bool(taken)


def runs_on_day(session: Session, volunteer_id: int, day: date, community: str) -> list:
    """The volunteer's runs of a day in a community, each with its point and slot (as it stands
    that day: the price in force), by slot start."""
    rows = session.execute(
        select(DeliveryRun, MealPoint, MealSlot, PRICE_ON_DAY)
        .join(MealPoint, MealPoint.id == DeliveryRun.meal_point_id)
        .join(MealSlot, (MealSlot.meal_point_id == MealPoint.id) & (MealSlot.slot == DeliveryRun.slot))
        .where(
            DeliveryRun.volunteer_id == volunteer_id,
            DeliveryRun.service_day == day,
            DeliveryRun.community == community,
        )
        .order_by(MealSlot.starts),
        {"day": day},
    )
    return [(run, point, slot_on_day(slot, price)) for run, point, slot, price in rows]


def meal_place(session: Session, meal_id: int) -> tuple[str, datetime] | None:
    """The organization path of a meal's point and when the meal was served."""
    row = session.execute(
        select(Organization.path, Meal.served_at)
        .join(MealPoint, MealPoint.org_id == Organization.id)
        .join(Meal, Meal.meal_point_id == MealPoint.id)
        .where(Meal.id == meal_id)
    ).first()
    return tuple(row) if row else None
