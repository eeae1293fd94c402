"""The offline counter's queries (离线取餐台与收款对账): what a tablet caches to quote a meal while
offline (the point's diners and the agreements paying there, with each diner's subsidized meals
this week), and a day's cash sheet per device with the cash counted. The rules are in
`counter_rules` and `cash_sheet`."""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from meals.models import AgreementPoint, CashCount, Diner, FundingAgreement, Meal, MealAdjustment, MealSubsidy

LIVE = ("served", "held")


def agreements_paying(session: Session, point_id: int, day: date) -> list[FundingAgreement]:
    """The agreements paying at a point on a day, in stack order."""
    return list(
        session.scalars(
            select(FundingAgreement)
            .join(AgreementPoint, AgreementPoint.agreement_id == FundingAgreement.id)
            .where(
                AgreementPoint.meal_point_id == point_id,
                FundingAgreement.starts_on <= day,
                FundingAgreement.ends_on >= day,
            )
            .order_by(FundingAgreement.stack_order, FundingAgreement.id)
        )
    )


def home_diners(session: Session, point_id: int) -> list[Diner]:
    return list(session.scalars(select(Diner).where(Diner.home_point_id == point_id).order_by(Diner.id)))


def week_counts(
    session: Session, point_id: int, agreement_ids: list[int], monday: date, sunday: date
) -> dict[tuple[int, int], int]:
    """{(diner, agreement): subsidized meals from `monday` to `sunday`} for the point's own diners,
    as the counter counts them towards a weekly (or, given a month's first and last day, monthly)
    cap: served or held, not reversed."""
    if not agreement_ids:
        return {}
    rows = session.execute(
        select(Meal.diner_id, MealSubsidy.agreement_id, func.count())
        .join(MealSubsidy, (MealSubsidy.meal_id == Meal.id) & (MealSubsidy.service_day == Meal.service_day))
        .join(Diner, Diner.id == Meal.diner_id)
        .where(
            Diner.home_point_id == point_id,
            MealSubsidy.agreement_id.in_(agreement_ids),
            Meal.status.in_(LIVE),
            ~select(MealAdjustment.id).where(MealAdjustment.meal_id == Meal.id).exists(),
            Meal.service_day >= monday,
            Meal.service_day <= sunday,
            MealSubsidy.service_day >= monday,  # both tables read only these days' months
            MealSubsidy.service_day <= sunday,
        )
        .group_by(Meal.diner_id, MealSubsidy.agreement_id)
    ).all()
    return {(d, a): int(n) for d, a, n in rows}


def served_today(session: Session, point_id: int, day: date) -> dict[int, list[str]]:
    """{diner: slots} of the point's own diners' subsidized meals on a day, wherever eaten: a second
    one in a slot is refused `already_served`."""
    rows = session.execute(
        select(Meal.diner_id, Meal.slot)
        .join(Diner, Diner.id == Meal.diner_id)
        .where(
            Diner.home_point_id == point_id,
            Meal.service_day == day,
            Meal.subsidized.is_(True),
            Meal.status.in_(LIVE),
        )
        .order_by(Meal.diner_id, Meal.slot)
    ).all()
    out: dict[int, list[str]] = {}
    for diner_id, slot in rows:
        out.setdefault(diner_id, []).append(slot)
    return out


def meals_by_device(session: Session, point_id: int, day: date) -> list[tuple]:
    """Per device (`served_by`) of a point's day: meals (served and held), subsidized, price, paid,
    subsidy, full-price meals and their money, held meals and their money, voided meals and what
    they would have collected."""
    live = Meal.status.in_(LIVE)

    def count(cond):
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    def total(cond, column):
        return func.coalesce(func.sum(case((cond, column), else_=0)), 0)

    return session.execute(
        select(
            Meal.served_by,
            count(live),
            count(live & Meal.subsidized),
            total(live, Meal.price),
            total(live, Meal.paid),
            total(Meal.status == "served", Meal.subsidy),
            count(live & ~Meal.subsidized),
            total(live & ~Meal.subsidized, Meal.paid),
            count(Meal.status == "held"),
            total(Meal.status == "held", Meal.paid),
            total(Meal.status == "held", Meal.subsidy),
            count(Meal.status == "voided"),
            total(Meal.status == "voided", Meal.paid),
        )
        .where(Meal.meal_point_id == point_id, Meal.service_day == day)
        .group_by(Meal.served_by)
        .order_by(Meal.served_by)
    ).all()


def reversals_made(session: Session, point_id: int, day: date) -> tuple[int, int]:
    """Reversals dated this day at the point: how many, and the diners' part (fen, <= 0)."""
    n, paid = session.execute(
        select(func.count(), func.coalesce(func.sum(MealAdjustment.paid_delta), 0)).where(
            MealAdjustment.meal_point_id == point_id, MealAdjustment.made_on == day
        )
    ).one()
    return int(n), int(paid)


def cash_counts(session: Session, point_id: int, day: date) -> list[CashCount]:
    """Every count of the day's cash at a point, the latest first."""
    return list(
        session.scalars(
            select(CashCount)
            .where(CashCount.meal_point_id == point_id, CashCount.service_day == day)
            .order_by(CashCount.counted_at.desc(), CashCount.id.desc())
        )
    )
