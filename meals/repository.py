"""The meal service's queries (助餐): meal points, diners, funding agreements, bookings and meals
by id. The counter's statements are in `repository_counter`, home delivery's in
`repository_delivery`; the rules are in the service modules (`service`, `bookings`, `counter`,
`counter_day`, `delivery`)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from linli import scope
from meals.models import (
    AgreementPoint,
    Booking,
    Diner,
    FundingAgreement,
    Meal,
    MealCategory,
    MealPoint,
    MealSlot,
    MealSubsidy,
    ScheduleVersion,
    SlotPrice,
)
from orgs.models import Organization, Partner

# Meal points


def point(session: Session, point_id: int) -> MealPoint | None:
    return session.get(MealPoint, point_id)


def points_under(
    session: Session, paths: list[str], station_ids: frozenset[int], after_id: int, limit: int | None
) -> list[MealPoint]:
    return list(
        session.scalars(
            select(MealPoint)
            .join(Organization, Organization.id == MealPoint.org_id)
            .where(
                or_(scope.within(Organization.path, paths), MealPoint.station_id.in_(station_ids)),
                MealPoint.id > after_id,
            )
            .order_by(MealPoint.id)
            .limit(limit)
        )
    )


def slots_of(session: Session, point_id: int) -> list[MealSlot]:
    return list(
        session.scalars(select(MealSlot).where(MealSlot.meal_point_id == point_id).order_by(MealSlot.starts))
    )


def serves_slot(session: Session, point_id: int, slot: str) -> bool:
    return (
        session.scalar(select(MealSlot.id).where(MealSlot.meal_point_id == point_id, MealSlot.slot == slot))
        is not None
    )


def category_rows(session: Session, scopes: list[str]) -> list[MealCategory]:
    """The rows of `meal_categories` of these scopes ('' the defaults, a county's path its own)."""
    return list(
        session.scalars(
            select(MealCategory).where(MealCategory.scope.in_(scopes)).order_by(MealCategory.code)
        )
    )


def category_row(session: Session, scope: str, code: str) -> MealCategory | None:
    return session.get(MealCategory, (scope, code))


# Funding agreements


def agreements_at(
    session: Session, point_ids: list[int], before_id: int, limit: int
) -> list[tuple[FundingAgreement, int]]:
    """A page of the agreements paying at any of these points, newest first (ids below
    `before_id`, when given), a row per point each pays at."""
    return _agreement_page(
        session,
        select(AgreementPoint.agreement_id).where(AgreementPoint.meal_point_id.in_(point_ids)),
        before_id,
        limit,
    )


def agreements_of_partner(
    session: Session, partner_id: int, before_id: int, limit: int
) -> list[tuple[FundingAgreement, int]]:
    """A page of the partner's agreements, newest first, a row per point each pays at."""
    ids = (
        select(AgreementPoint.agreement_id)
        .join(FundingAgreement, FundingAgreement.id == AgreementPoint.agreement_id)
        .where(FundingAgreement.partner_id == partner_id)
    )
    return _agreement_page(session, ids, before_id, limit)


def _agreement_page(session: Session, ids, before_id: int, limit: int) -> list[tuple[FundingAgreement, int]]:
    page = ids.distinct().order_by(AgreementPoint.agreement_id.desc()).limit(limit)
    if before_id:
        page = page.where(AgreementPoint.agreement_id < before_id)
    return session.execute(
        select(FundingAgreement, AgreementPoint.meal_point_id)
        .join(AgreementPoint, AgreementPoint.agreement_id == FundingAgreement.id)
        .where(FundingAgreement.id.in_(page.scalar_subquery()))
        .order_by(FundingAgreement.id.desc(), AgreementPoint.meal_point_id)
    ).all()


def partner_exists(session: Session, partner_id: int) -> bool:
    return session.get(Partner, partner_id) is not None


def partner_point_paths(session: Session, partner_id: int) -> list[str]:
    """The organization paths of the meal points the partner's agreements pay at."""
    return list(
        session.scalars(
            select(Organization.path)
            .join(MealPoint, MealPoint.org_id == Organization.id)
            .join(AgreementPoint, AgreementPoint.meal_point_id == MealPoint.id)
            .join(FundingAgreement, FundingAgreement.id == AgreementPoint.agreement_id)
            .where(FundingAgreement.partner_id == partner_id)
            .distinct()
        )
    )


def agreement(session: Session, agreement_id: int, *, lock: bool = False) -> FundingAgreement | None:
    """An agreement by id; `lock`: its row locked (an edit waits for the meals taking its budget)."""
    if lock:
        return session.get(FundingAgreement, agreement_id, with_for_update=True, populate_existing=True)
    return session.get(FundingAgreement, agreement_id)


def agreement_point_ids(session: Session, agreement_id: int) -> list[int]:
    return list(
        session.scalars(
            select(AgreementPoint.meal_point_id)
            .where(AgreementPoint.agreement_id == agreement_id)
            .order_by(AgreementPoint.meal_point_id)
        )
    )


def set_agreement_points(session: Session, agreement_id: int, point_ids: list[int]) -> None:
    session.execute(delete(AgreementPoint).where(AgreementPoint.agreement_id == agreement_id))
    session.add_all(AgreementPoint(agreement_id=agreement_id, meal_point_id=p) for p in point_ids)
    session.flush()


def last_paid_day(session: Session, agreement_id: int) -> date | None:
    """The last service day the agreement paid a subsidy for (voids aside)."""
    return session.scalar(
        select(func.max(MealSubsidy.service_day)).where(
            MealSubsidy.agreement_id == agreement_id, MealSubsidy.voided.is_(False)
        )
    )


def schedule_versions(session: Session, agreement_ids: list[int]) -> list[ScheduleVersion]:
    """The agreements' schedule versions, by agreement, then day, then as they were made."""
    return list(
        session.scalars(
            select(ScheduleVersion)
            .where(ScheduleVersion.agreement_id.in_(agreement_ids))
            .order_by(ScheduleVersion.agreement_id, ScheduleVersion.effective_from, ScheduleVersion.id)
        )
    )


def slot_prices(session: Session, slot_ids: list[int]) -> list[SlotPrice]:
    """The slots' price versions, by slot, then day, then as they were made."""
    return list(
        session.scalars(
            select(SlotPrice)
            .where(SlotPrice.meal_slot_id.in_(slot_ids))
            .order_by(SlotPrice.meal_slot_id, SlotPrice.effective_from, SlotPrice.id)
        )
    )


def delete_slot(session: Session, slot: MealSlot) -> None:
    """A slot the point no longer serves: its meals keep their prices (they store them)."""
    session.execute(delete(SlotPrice).where(SlotPrice.meal_slot_id == slot.id))
    session.delete(slot)
    session.flush()


# Diners


def diner(session: Session, diner_id: int) -> Diner | None:
    return session.get(Diner, diner_id)


def id_hash_taken(session: Session, hashes: list[str]) -> bool:
    return session.scalar(select(Diner.id).where(Diner.id_hash.in_(hashes))) is not None


def find_diners(
    session: Session, point_ids: list[int] | None, q: str | None, phone_last4: str | None, limit: int
) -> list[Diner]:
    query = select(Diner)
    if point_ids is not None:
        query = query.where(Diner.home_point_id.in_(point_ids))
    if q:
        query = query.where(Diner.name.contains(q.strip(), autoescape=True))
    if phone_last4:
        query = query.where(or_(Diner.phone_last4 == phone_last4, Diner.id_last4 == phone_last4))
    return list(session.scalars(query.order_by(Diner.name, Diner.id).limit(limit)))


# Meals


def meal(session: Session, meal_id: int) -> Meal | None:
    return session.get(Meal, meal_id)


# Bookings


def booking(session: Session, booking_id: int) -> Booking | None:
    return session.get(Booking, booking_id)


def booked_already(session: Session, diner_id: int, day: date, slot: str) -> bool:
    return bool(
        session.scalar(
            select(Booking.id).where(
                Booking.diner_id == diner_id,
                Booking.service_day == day,
                Booking.slot == slot,
                Booking.status == "booked",
            )
        )
    )


def upcoming_bookings(session: Session, diner_id: int, today: date) -> list[Booking]:
    return list(
        session.scalars(
            select(Booking)
            .where(Booking.diner_id == diner_id, Booking.service_day >= today)
            .order_by(Booking.service_day, Booking.slot, Booking.id)
        )
    )


def kitchen_rows(session: Session, point_id: int, day: date) -> list:
    """A day's bookings (booked or served): slot, mode, the diner's name, notes and allergies."""
    return session.execute(
        select(Booking.slot, Booking.mode, Diner.name, Diner.dietary_notes, Diner.allergies)
        .join(Diner, Diner.id == Booking.diner_id)
        .where(
            Booking.meal_point_id == point_id,
            Booking.service_day == day,
            Booking.status.in_(("booked", "served")),
        )
        .order_by(Booking.slot, Diner.name)
    ).all()


def mark_booking_served(session: Session, diner_id: int, point_id: int, day: date, slot: str) -> None:
    _move_booking(session, diner_id, point_id, day, slot, "booked", "served")


def mark_booking_unserved(session: Session, diner_id: int, point_id: int, day: date, slot: str) -> None:
    """A voided meal: its booking is open again (a no-show if nothing else is served)."""
    _move_booking(session, diner_id, point_id, day, slot, "served", "booked")


def _move_booking(
    session: Session, diner_id: int, point_id: int, day: date, slot: str, status: str, to: str
) -> None:
    session.execute(
        update(Booking)
        .where(
            Booking.diner_id == diner_id,
            Booking.meal_point_id == point_id,
            Booking.service_day == day,
            Booking.slot == slot,
            Booking.status == status,
        )
        .values(status=to)
        .execution_options(synchronize_session=False)
    )


def mark_no_shows(session: Session, point_id: int, day: date) -> int:
    return session.execute(
        update(Booking)
        .where(Booking.meal_point_id == point_id, Booking.service_day == day, Booking.status == "booked")
        .values(status="no_show")
        .execution_options(synchronize_session=False)
    ).rowcount
