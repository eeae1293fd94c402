"""The counter's queries (取餐台): the meal point at a station, what decides a scan, the meal and
its subsidies written and taken from the funders' budgets, voids, reversals and a day's close.
The rules are in `counter` and `counter_day`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import BigInteger, Date, bindparam, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linli.db import commit_after, const
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
    ScheduleVersion,
    SlotPrice,
)
from orgs.models import Organization, Station

# The counter's statements, built once with bound parameters: building them for every scan cost a
# third of a server process's time at lunch rush.
# the meals that take a diner's slot, a point's capacity and a week's cap: served, and held for
# review (integrity) until a hub decides
LIVE = (const("served"), const("held"))


@dataclass(frozen=True)
class SlotOnDay:
    """A meal point's slot as it stands on a day: its hours and the price in force that day."""

    id: int
    slot: str
    starts: str
    ends: str
    price: int  # fen


def slot_on_day(slot: MealSlot, price: int) -> SlotOnDay:
    return SlotOnDay(slot.id, slot.slot, slot.starts, slot.ends, price)


# a slot's price on a day: its latest version whose day has come (one indexed lookup), else its own
PRICE_ON_DAY = func.coalesce(
    select(SlotPrice.price)
    .where(SlotPrice.meal_slot_id == MealSlot.id, SlotPrice.effective_from <= bindparam("day", type_=Date))
    .order_by(SlotPrice.effective_from.desc(), SlotPrice.id.desc())
    .limit(1)
    .correlate(MealSlot)
    .scalar_subquery(),
    MealSlot.price,
)
# an agreement's schedule version on a day (none: its own schedule from the start)
_VERSION_ON_DAY = (
    select(ScheduleVersion.id)
    .where(
        ScheduleVersion.agreement_id == FundingAgreement.id,
        ScheduleVersion.effective_from <= bindparam("day", type_=Date),
    )
    .order_by(ScheduleVersion.effective_from.desc(), ScheduleVersion.id.desc())
    .limit(1)
    .correlate(FundingAgreement)
    .scalar_subquery()
)
_POINT = (
    select(MealPoint, Organization.path, MealSlot, PRICE_ON_DAY)
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
        Meal.status.in_(LIVE),
    )
    .scalar_subquery(),
    select(func.count())  # the point's meals today, for its daily capacity
    .select_from(Meal)
    .where(
        Meal.meal_point_id == bindparam("point"),
        Meal.service_day == bindparam("day"),
        Meal.status.in_(LIVE),
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
_FIRST, _LAST = bindparam("first", type_=Date), bindparam("last", type_=Date)


# a subsidy and its meal: the meal's day is the subsidy's (a foreign key on both on PostgreSQL),
# named in the join so that each table's months are pruned alike (monthly partitions)
_SAME_MEAL = (Meal.id == MealSubsidy.meal_id) & (Meal.service_day == MealSubsidy.service_day)


def _subsidized_between(start, end):
    """This diner's subsidized meals under the agreement of the row, from `start` to `end`: live
    (served or held) and not reversed."""
    return (
        select(func.count())
        .select_from(MealSubsidy)
        .join(Meal, _SAME_MEAL)
        .where(
            MealSubsidy.agreement_id == FundingAgreement.id,
            Meal.diner_id == bindparam("diner"),
            Meal.status.in_(LIVE),
            ~select(MealAdjustment.id).where(MealAdjustment.meal_id == Meal.id).exists(),
            Meal.service_day >= start,
            Meal.service_day <= end,
            MealSubsidy.service_day >= start,  # so both tables read only these days' months
            MealSubsidy.service_day <= end,
        )
        .scalar_subquery()
    )


_FUNDINGS = (  # the agreements paying at a point on a day, and this diner's subsidized meals under
    # each this week and this month (the same statement: no round trip more per scan)
    select(
        FundingAgreement,
        _subsidized_between(_MONDAY, _SUNDAY),
        _subsidized_between(_FIRST, _LAST),
        ScheduleVersion,
    )
    .join(AgreementPoint, AgreementPoint.agreement_id == FundingAgreement.id)
    .outerjoin(ScheduleVersion, ScheduleVersion.id == _VERSION_ON_DAY)
    .where(
        AgreementPoint.meal_point_id == bindparam("point"),
        FundingAgreement.starts_on <= bindparam("day"),
        FundingAgreement.ends_on >= bindparam("day"),
    )
    .order_by(FundingAgreement.id)
    .execution_options(populate_existing=True)
)
_INSERT_SUBSIDY = MealSubsidy.__table__.insert()
_TAKE = (  # a funder's part from its budget; the table's check (budget_used <= budget_cap) refuses
    # it where the budget no longer holds it
    update(FundingAgreement)
    .where(FundingAgreement.id == bindparam("agreement"))
    .values(budget_used=FundingAgreement.budget_used + bindparam("amount", type_=BigInteger))
    .execution_options(synchronize_session=False)
)


def point_rows(session: Session, station_id: int, day: date, diner_id: int | None = None) -> list:
    """Per slot of the meal point whose counter this station is: the point, its organization's
    path, the slot as it stands on `day` and, with `diner_id`, the diner's row, locked (none if
    there is no such diner)."""
    if diner_id is not None:
        rows = session.execute(_POINT_AND_DINER, {"station": station_id, "diner": diner_id, "day": day})
        return [(p, path, slot_on_day(s, price), d) for p, path, s, price, d in rows]
    rows = session.execute(_POINT, {"station": station_id, "day": day})
    return [(p, path, slot_on_day(s, price), None) for p, path, s, price in rows]


def lock_diner(session: Session, diner_id: int) -> Diner | None:
    return session.scalar(select(Diner).where(Diner.id == diner_id).with_for_update())


def lock_point(session: Session, point_id: int, read: bool = False) -> None:
    """Lock the meal point's row (`read`: shared): see `counter_day` for who takes it and why."""
    session.execute(select(MealPoint.id).where(MealPoint.id == point_id).with_for_update(read=read))


def first_look(session: Session, diner_id: int, day: date, slot: str, point_id: int) -> tuple:
    """This diner's subsidized meal in this slot today (its id or None), the point's meals today,
    whether the day is closed and whether a booking waits to be served."""
    return session.execute(
        _FIRST_LOOK, {"diner": diner_id, "day": day, "slot": slot, "point": point_id}
    ).one()


def fundings(
    session: Session,
    point_id: int,
    diner_id: int,
    day: date,
    monday: date,
    sunday: date,
    first: date | None = None,
    last: date | None = None,
) -> list:
    """The agreements paying at a point on a day, each with this diner's subsidized meals under it
    from `monday` to `sunday` and from `first` to `last` (the month; `day`'s alone if not given),
    and its schedule version in force that day (or None)."""
    return session.execute(
        _FUNDINGS,
        {
            "point": point_id,
            "diner": diner_id,
            "day": day,
            "monday": monday,
            "sunday": sunday,
            "first": first or day,
            "last": last or day,
        },
    ).all()


def point_slots(session: Session, point_id: int, day: date) -> list[SlotOnDay]:
    """A point's slots as they stand on `day` (the price in force that day)."""
    rows = session.execute(
        select(MealSlot, PRICE_ON_DAY).where(MealSlot.meal_point_id == point_id), {"day": day}
    )
    return [slot_on_day(s, price) for s, price in rows]


def served_by_slot(session: Session, point_id: int, day: date) -> dict[str, int]:
    return dict(
        session.execute(
            select(Meal.slot, func.count())
            .where(Meal.meal_point_id == point_id, Meal.service_day == day, Meal.status == "served")
            .group_by(Meal.slot)
        ).all()
    )


def booked_by_slot(session: Session, point_id: int, day: date) -> dict[str, int]:
    return dict(
        session.execute(
            select(Booking.slot, func.count())
            .where(
                Booking.meal_point_id == point_id,
                Booking.service_day == day,
                Booking.status.in_(("booked", "served")),
            )
            .group_by(Booking.slot)
        ).all()
    )


# A meal's subsidies and the funders' budgets


def insert_subsidies(session: Session, rows: list[dict]) -> None:
    session.connection().execute(
        _INSERT_SUBSIDY, rows
    )  # Core, not the ORM's bulk insert: half the cost in Python


def take_budgets(session: Session, parts: list[tuple[int, int]], *, commit: bool) -> bool:
    """Take each funder's part from its budget, in agreement id order; with `commit`, as the
    transaction's last statements, sent with its commit (`db.commit_after`). False if a budget no
    longer holds its part (nothing is taken then; the caller rolls back)."""
    rows = [{"agreement": a, "amount": n} for a, n in sorted(parts)]
    try:
        if commit:
            commit_after(session, _TAKE, rows)
        else:
            for row in rows:
                session.execute(_TAKE, row)
    except IntegrityError:  # the check on budget_used <= budget_cap
        return False
    return True


def give_back_budget(session: Session, agreement_id: int, amount: int) -> None:
    """Return an amount to a funder's budget (a voided meal's part; the agreement updated if loaded)."""
    session.execute(
        update(FundingAgreement)
        .where(FundingAgreement.id == agreement_id)
        .values(budget_used=FundingAgreement.budget_used - amount)
    )


def void_subsidies(session: Session, meal_id: int) -> None:
    session.execute(
        update(MealSubsidy)
        .where(MealSubsidy.meal_id == meal_id)
        .values(voided=True, held=False)
        .execution_options(synchronize_session=False)
    )


def hold_subsidies(session: Session, meal_id: int, *, held: bool) -> None:
    session.execute(
        update(MealSubsidy)
        .where(MealSubsidy.meal_id == meal_id)
        .values(held=held)
        .execution_options(synchronize_session=False)
    )


def parts(session: Session, meal_id: int) -> list[tuple[int, str, int]]:
    """A meal's subsidy split: agreement id, funder's name, amount, in stacking order."""
    return [
        (a, name, n)
        for a, name, n in session.execute(
            select(MealSubsidy.agreement_id, FundingAgreement.name, MealSubsidy.amount)
            .join(FundingAgreement, FundingAgreement.id == MealSubsidy.agreement_id)
            .where(MealSubsidy.meal_id == meal_id)
            .order_by(FundingAgreement.stack_order, FundingAgreement.id)
        )
    ]


def subsidies_of(session: Session, meal_id: int) -> list[MealSubsidy]:
    return list(
        session.scalars(
            select(MealSubsidy).where(MealSubsidy.meal_id == meal_id).order_by(MealSubsidy.agreement_id)
        )
    )


# Voids, reversals and a day's close


def lock_meal(session: Session, meal_id: int) -> Meal | None:
    return session.get(Meal, meal_id, with_for_update=True, populate_existing=True)


def reversed_already(session: Session, meal_id: int) -> bool:
    return session.scalar(select(MealAdjustment.id).where(MealAdjustment.meal_id == meal_id)) is not None


def adjustment_of(session: Session, meal_id: int) -> MealAdjustment | None:
    return session.scalar(select(MealAdjustment).where(MealAdjustment.meal_id == meal_id))


def day_close(session: Session, point_id: int, day: date) -> DayClose | None:
    return session.scalar(
        select(DayClose).where(DayClose.meal_point_id == point_id, DayClose.service_day == day)
    )


def day_closed(session: Session, point_id: int, day: date) -> bool:
    return (
        session.scalar(
            select(DayClose.id).where(DayClose.meal_point_id == point_id, DayClose.service_day == day)
        )
        is not None
    )


def day_totals(session: Session, point_id: int, day: date) -> tuple[tuple, dict[str, int], int]:
    """A point's day: (meals, subsidized, diners, price, paid, subsidy) of the meals served, the
    subsidy per agreement, and the meals voided."""
    served = (Meal.meal_point_id == point_id) & (Meal.service_day == day)
    totals = session.execute(
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
            .join(Meal, _SAME_MEAL)
            .where(served, Meal.status == "served", MealSubsidy.service_day == day)
            .group_by(MealSubsidy.agreement_id)
        )
    }
    voided = session.scalar(select(func.count()).select_from(Meal).where(served, Meal.status == "voided"))
    return tuple(totals), by_funder, voided


def adjustments_made(session: Session, point_id: int, day: date) -> list[MealAdjustment]:
    return list(
        session.scalars(
            select(MealAdjustment).where(
                MealAdjustment.meal_point_id == point_id, MealAdjustment.made_on == day
            )
        )
    )


def unclosed_days(session: Session, through: date) -> set[tuple[int, date]]:
    """(meal point, day) up to `through` with meals or adjustments and no close yet, and `through`
    itself at every meal point."""
    with_meals = select(Meal.meal_point_id, Meal.service_day).where(
        Meal.service_day <= through,
        ~select(DayClose.id)
        .where(DayClose.meal_point_id == Meal.meal_point_id, DayClose.service_day == Meal.service_day)
        .exists(),
    )
    adjusted = select(MealAdjustment.meal_point_id, MealAdjustment.made_on).where(  # a reversal
        MealAdjustment.made_on <= through,  # dated a day with no meals must be closed too
        ~select(DayClose.id)
        .where(
            DayClose.meal_point_id == MealAdjustment.meal_point_id,
            DayClose.service_day == MealAdjustment.made_on,
        )
        .exists(),
    )
    days = {tuple(r) for r in session.execute(with_meals.distinct())}
    days |= {tuple(r) for r in session.execute(adjusted.distinct())}
    return days | {(p, through) for p in session.scalars(select(MealPoint.id))}


def last_slot_ends(session: Session) -> dict[int, str]:
    """Every meal point's latest slot end ("HH:MM", local)."""
    return dict(
        session.execute(
            select(MealSlot.meal_point_id, func.max(MealSlot.ends)).group_by(MealSlot.meal_point_id)
        ).all()
    )


def day_closes(session: Session, point_id: int, *, before: date | None, limit: int) -> list[DayClose]:
    query = select(DayClose).where(DayClose.meal_point_id == point_id)
    if before is not None:
        query = query.where(DayClose.service_day < before)
    return list(session.scalars(query.order_by(DayClose.service_day.desc()).limit(limit)))


def get_day_close(session: Session, close_id: int) -> DayClose | None:
    return session.get(DayClose, close_id)


def agreement_names(session: Session, ids: list[int]) -> list[tuple[int, str]]:
    """(id, name) of these agreements, in stacking order."""
    return list(
        session.execute(
            select(FundingAgreement.id, FundingAgreement.name)
            .where(FundingAgreement.id.in_(ids))
            .order_by(FundingAgreement.stack_order, FundingAgreement.id)
        ).all()
    )
