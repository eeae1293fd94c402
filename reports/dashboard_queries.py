"""What the dashboards count (看板数据): SQL aggregates for a hub's day and month and a volunteer's
year, one GROUP BY per figure, never a Python loop over meals, attendances or transfers. Local
days and months are bucketed in SQL by their UTC bounds (`local_bucket`), the same on PostgreSQL
and SQLite. The partner's dashboard reads the reports' own queries (`reports.queries`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from grants.models import GrantRound, RoundFunder
from linli.scope import within
from meals.models import AgreementPoint, Booking, DayClose, FundingAgreement, Meal, MealPoint
from orgs.models import Organization
from points.models import Award, ShopOrder, StarLevel
from reports.queries import COUNTED, bucket
from volunteer.models import Activity, Attendance, Filing, Signup


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def local_bucket(column, bounds: list[datetime]):
    """The index of the local day or month a UTC instant falls in: `bounds` are the UTC instants
    where each bucket starts, then where the last one ends (None: before or after them all)."""
    return case(*((column < end, i) for i, end in enumerate(bounds[1:])), else_=None)


def points_in(session: Session, org_path: str) -> list[tuple[int, str]]:
    """(id, name) of the meal points under a subtree, by name."""
    return list(
        session.execute(
            select(MealPoint.id, MealPoint.name)
            .join(Organization, Organization.id == MealPoint.org_id)
            .where(within(Organization.path, [org_path]))
            .order_by(MealPoint.name, MealPoint.id)
        ).all()
    )


def meals_by_point(session: Session, point_ids: list[int], day: date) -> dict[int, tuple[int, int]]:
    """Each meal point's meals served (not voided) on a day and the distinct diners who ate them."""
    return {
        p: (int(n), int(d))
        for p, n, d in session.execute(
            select(Meal.meal_point_id, func.count(), func.count(Meal.diner_id.distinct()))
            .where(Meal.meal_point_id.in_(point_ids), Meal.service_day == day, Meal.status == "served")
            .group_by(Meal.meal_point_id)
        )
    }


def bookings_by_point(session: Session, point_ids: list[int], day: date) -> dict[int, int]:
    """Each meal point's bookings for a day that were not cancelled (served, waiting, no-shows)."""
    return {
        p: int(n)
        for p, n in session.execute(
            select(Booking.meal_point_id, func.count())
            .where(
                Booking.meal_point_id.in_(point_ids),
                Booking.service_day == day,
                Booking.status != "cancelled",
            )
            .group_by(Booking.meal_point_id)
        )
    }


def meals_by_point_day(
    session: Session, point_ids: list[int], start: date, end: date, through: date
) -> list[tuple]:
    """(meal point, day, meals, distinct diners) of every point and day with meals in the period:
    a closed day as its close says (`meal_day_closes`, whose numbers never change), the days not
    closed yet (today) from the meals. A month of a county is then a few thousand close rows and
    today's meals, not a month of meals. `through`: today (no meals after it)."""
    closed = [
        (p, _day(d), int(n), int(people))
        for p, d, n, people in session.execute(
            select(DayClose.meal_point_id, DayClose.service_day, DayClose.meals, DayClose.diners).where(
                DayClose.meal_point_id.in_(point_ids),
                DayClose.service_day >= start,
                DayClose.service_day <= end,
            )
        )
    ]
    done = {(p, d) for p, d, *_ in closed}
    # the rest, point by point (today, and any day not closed while the scheduler was down)
    open_days: dict[date, list[int]] = {}
    for i in range((min(end, through) - start).days + 1):
        d = start + timedelta(days=i)
        if points := [p for p in point_ids if (p, d) not in done]:
            open_days[d] = points
    if not open_days:
        return closed
    live = session.execute(
        select(Meal.meal_point_id, Meal.service_day, func.count(), func.count(Meal.diner_id.distinct()))
        .where(
            or_(*(and_(Meal.service_day == d, Meal.meal_point_id.in_(ps)) for d, ps in open_days.items())),
            Meal.status == "served",
        )
        .group_by(Meal.meal_point_id, Meal.service_day)
    )
    return closed + [(p, _day(d), int(n), int(people)) for p, d, n, people in live]


def diners_on(session: Session, point_ids: list[int], days: list[date]) -> dict[date, int]:
    """Distinct diners of each of `days` at the meal points together (asked for days of few diners
    at every point, where a diner eating at two points must not be counted twice)."""
    if not days:
        return {}
    return {
        _day(d): int(n)
        for d, n in session.execute(
            select(Meal.service_day, func.count(Meal.diner_id.distinct()))
            .where(Meal.meal_point_id.in_(point_ids), Meal.service_day.in_(days), Meal.status == "served")
            .group_by(Meal.service_day)
        )
    }


def meals_in(session: Session, point_ids: list[int], start: date, end: date) -> tuple[int, int]:
    """Meals served and distinct diners over a period (a distinct count of its own, not a sum)."""
    n, people = session.execute(
        select(func.count(), func.count(Meal.diner_id.distinct())).where(
            Meal.meal_point_id.in_(point_ids),
            Meal.service_day >= start,
            Meal.service_day <= end,
            Meal.status == "served",
        )
    ).one()
    return int(n), int(people)


def _activities_under(org_path: str):
    return (
        select(Activity.id)
        .join(Organization, Organization.id == Activity.org_id)
        .where(within(Organization.path, [org_path]))
    )


def minutes_by_day(session: Session, org_path: str, bounds: list[datetime]) -> dict[int, int]:
    """Service minutes of counted attendances at activities under the subtree, by the local day
    (index into `bounds`) they were checked in on: the volunteer contribution report's rule."""
    day = local_bucket(Attendance.checked_in_at, bounds).label("day")
    return {
        i: int(m)
        for i, m in session.execute(
            select(day, func.coalesce(func.sum(Attendance.minutes), 0))
            .where(
                Attendance.activity_id.in_(_activities_under(org_path)),
                Attendance.state.in_(COUNTED),
                Attendance.checked_in_at >= bounds[0],
                Attendance.checked_in_at < bounds[-1],
            )
            .group_by(day)
        )
        if i is not None
    }


def points_earned_by_day(session: Session, org_path: str, start: date, end: date) -> dict[date, int]:
    """Points awarded for service at activities under the subtree, by the day of the service (the
    programme summary's rule)."""
    return {
        _day(d): int(n)
        for d, n in session.execute(
            select(Award.day, func.sum(Award.points))
            .join(Attendance, Attendance.id == Award.attendance_id)
            .where(
                Attendance.activity_id.in_(_activities_under(org_path)),
                Award.day >= start,
                Award.day <= end,
            )
            .group_by(Award.day)
        )
    }


def points_redeemed_by_day(session: Session, org_path: str, bounds: list[datetime]) -> dict[int, int]:
    """Points of shop orders handed over at the hubs' shops under the subtree, by local day."""
    day = local_bucket(ShopOrder.resolved_at, bounds).label("day")
    return {
        i: int(n)
        for i, n in session.execute(
            select(day, func.sum(ShopOrder.points))
            .join(Organization, Organization.id == ShopOrder.hub_id)
            .where(
                ShopOrder.status == "fulfilled",
                ShopOrder.resolved_at >= bounds[0],
                ShopOrder.resolved_at < bounds[-1],
                within(Organization.path, [org_path]),
            )
            .group_by(day)
        )
        if i is not None
    }


def on_shift(session: Session, org_path: str, since: datetime, until: datetime, now: datetime) -> dict:
    """Today at activities under the subtree: volunteers signed up (confirmed), checked in now, and
    check-outs forgotten (closed by the engine today, or still open after the activity ended)."""
    today = _activities_under(org_path).where(Activity.starts_at < until, Activity.ends_at > since)
    signed = session.scalar(
        select(func.count(Signup.volunteer_id.distinct())).where(
            Signup.activity_id.in_(today), Signup.status == "confirmed"
        )
    )
    checked_in, forgotten = session.execute(
        select(
            func.coalesce(func.sum(case((Attendance.state == "open", 1), else_=0)), 0),
            func.coalesce(
                func.sum(
                    case(
                        (Attendance.state == "auto_closed", 1),
                        (and_(Attendance.state == "open", Activity.ends_at < now), 1),
                        else_=0,
                    )
                ),
                0,
            ),
        )
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(
            Attendance.activity_id.in_(_activities_under(org_path)),
            Attendance.checked_in_at >= since,
            Attendance.checked_in_at < until,
        )
    ).one()
    return {"on_shift": int(signed or 0), "checked_in": int(checked_in), "forgotten": int(forgotten)}


def filings_waiting(session: Session, org_path: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Filing)
            .join(Organization, Organization.id == Filing.team_id)
            .where(Filing.status == "pending", within(Organization.path, [org_path]))
        )
        or 0
    )


def star_levels(session: Session, org_path: str) -> dict[int, int]:
    """How many volunteers filed (approved) with teams under the subtree stand at each star level
    (0: none yet); a volunteer of two teams counts once."""
    filed = (
        select(Filing.volunteer_id)
        .join(Organization, Organization.id == Filing.team_id)
        .where(Filing.status == "approved", within(Organization.path, [org_path]))
        .distinct()
        .subquery()
    )
    level = (
        select(filed.c.volunteer_id, func.coalesce(func.max(StarLevel.level), 0).label("level"))
        .select_from(filed)
        .outerjoin(StarLevel, StarLevel.volunteer_id == filed.c.volunteer_id)
        .group_by(filed.c.volunteer_id)
        .subquery()
    )
    return {
        int(lv): int(n)
        for lv, n in session.execute(select(level.c.level, func.count()).group_by(level.c.level))
    }


def agreements_at(session: Session, point_ids: list[int]) -> list[FundingAgreement]:
    """The funding agreements paying at any of the meal points, in their stacking order."""
    return list(
        session.scalars(
            select(FundingAgreement)
            .where(
                FundingAgreement.id.in_(
                    select(AgreementPoint.agreement_id).where(AgreementPoint.meal_point_id.in_(point_ids))
                )
            )
            .order_by(FundingAgreement.stack_order, FundingAgreement.id)
        )
    )


def my_minutes_and_points(
    session: Session, volunteer_id: int, start: date, end: date
) -> dict[date, tuple[int, int]]:
    """A volunteer's awards by the month of the service (its first day): (minutes, points),
    signed (a correction takes back)."""
    month = bucket(session, Award.day, "month").label("month")
    return {
        _day(d): (int(m), int(p))
        for d, m, p in session.execute(
            select(month, func.sum(Award.minutes), func.sum(Award.points))
            .where(Award.volunteer_id == volunteer_id, Award.day >= start, Award.day <= end)
            .group_by(month)
        )
    }


def my_spending(session: Session, volunteer_id: int, bounds: list[datetime]) -> dict[int, int]:
    """Points a volunteer spent in the shops (orders handed over), by local month index."""
    month = local_bucket(ShopOrder.resolved_at, bounds).label("month")
    return {
        i: int(n)
        for i, n in session.execute(
            select(month, func.sum(ShopOrder.points))
            .where(
                ShopOrder.volunteer_id == volunteer_id,
                ShopOrder.status == "fulfilled",
                ShopOrder.resolved_at >= bounds[0],
                ShopOrder.resolved_at < bounds[-1],
            )
            .group_by(month)
        )
        if i is not None
    }


def rounds_funded(session: Session, partner_id: int, limit: int = 3) -> list[tuple[int, str]]:
    """(id, name) of the granted micro-grant rounds a partner funds, the latest first."""
    return list(
        session.execute(
            select(GrantRound.id, GrantRound.name)
            .where(
                GrantRound.state == "granted",
                GrantRound.id.in_(select(RoundFunder.round_id).where(RoundFunder.partner_id == partner_id)),
            )
            .order_by(GrantRound.id.desc())
            .limit(limit)
        ).all()
    )
