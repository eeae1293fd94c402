"""What a report says (报表数据): SQL aggregations over the records, one GROUP BY per breakdown,
never a Python loop over meals or attendances. Every breakdown is a `Sheet`: columns with Chinese
and English titles and a kind (text, int, fen), its rows, and a totals row computed exactly (the
distinct counts of a total by their own query, not by adding rows).

Privacy: a report for a partner (or any report not asked as internal) shows figures describing 1
to 4 distinct people as "<5", and as many more as it takes for no hidden figure to be the
difference of shown ones (`reports.suppression`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, String, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session

from linli.scope import within
from meals.models import (
    CATEGORIES,
    AgreementPoint,
    Booking,
    FundingAgreement,
    Meal,
    MealAdjustment,
    MealPoint,
    MealSubsidy,
)
from orgs.models import Organization
from reports.suppression import (
    budget_people,
    day_text,
    protect_budgets,
    protect_meal_usage,
    subsidy_counts,
)

COUNTED = ("closed", "auto_closed")  # attendances that count (open ones are not finished)
SLOT_NAMES = {"breakfast": "早餐 breakfast", "lunch": "午餐 lunch", "dinner": "晚餐 dinner"}
MODE_NAMES = {"dine_in": "堂食 dine-in", "pick_up": "自取 pick-up", "delivery": "送餐 delivery"}
KIND_NAMES = {
    "meal_service": "助餐服务 meal service",
    "home_delivery": "送餐上门 home delivery",
    "weekend_class": "周末课堂 weekend class",
    "elderly_visit": "探访老人 elderly visit",
    "environmental": "环保 environmental",
    "other": "其他 other",
}


@dataclass(frozen=True)
class Column:
    key: str
    title: str  # Chinese first, English after
    kind: str = "int"  # text | int | fen | date


@dataclass
class Sheet:
    key: str
    title: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    totals: list | None = None


@dataclass(frozen=True)
class Scope:
    """What a report covers, resolved when it is built: meal points and agreements, or a subtree."""

    meal_point_ids: tuple[int, ...]
    agreement_ids: tuple[int, ...]
    org_path: str | None  # hub staff: activities and organizations under this path
    suppress: bool
    partner: bool = False  # a partner sees only its own agreements' money


def resolve_scope(session: Session, stored: dict) -> Scope:
    """From what a report stored ({"partner_id"} or {"org_path"}, optionally "meal_point_ids") to
    the meal points and agreements it covers."""
    narrow = set(stored.get("meal_point_ids") or ())
    if stored.get("partner_id") is not None:
        agreements = tuple(
            session.scalars(
                select(FundingAgreement.id)
                .where(FundingAgreement.partner_id == stored["partner_id"])
                .order_by(FundingAgreement.id)
            )
        )
        points = set(
            session.scalars(
                select(AgreementPoint.meal_point_id).where(AgreementPoint.agreement_id.in_(agreements))
            )
        )
        org_path = None
    else:
        org_path = stored["org_path"]
        points = set(
            session.scalars(
                select(MealPoint.id)
                .join(Organization, Organization.id == MealPoint.org_id)
                .where(within(Organization.path, [org_path]))
            )
        )
        agreements = tuple(
            session.scalars(
                select(AgreementPoint.agreement_id)
                .where(AgreementPoint.meal_point_id.in_(points))
                .distinct()
                .order_by(AgreementPoint.agreement_id)
            )
        )
    if narrow:
        points &= narrow
    return Scope(
        tuple(sorted(points)),
        agreements,
        org_path,
        suppress=not stored.get("internal"),
        partner=stored.get("partner_id") is not None,
    )


def bucket(session: Session, column, granularity: str):
    """The first day of the day, week (Monday) or month a date column falls in."""
    if granularity == "day":
        return column
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc(granularity, column), Date)
    if granularity == "month":
        return func.date(column, "start of month")
    weekday = (cast(func.strftime("%w", column), Integer) + 6) % 7  # Monday 0
    return func.date(column, literal("-") + cast(weekday, String) + literal(" days"))


def _served(start: date, end: date):
    """Meals served (not voided) on the days of a period."""
    return and_(Meal.service_day >= start, Meal.service_day <= end, Meal.status == "served")


def _point_names(session: Session, scope: Scope) -> dict[int, str]:
    return dict(
        session.execute(
            select(MealPoint.id, MealPoint.name).where(MealPoint.id.in_(scope.meal_point_ids))
        ).all()
    )


def _sum(rows: list[list], index: int) -> int:
    return sum(r[index] for r in rows)


def utc_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of local midnight at the start and after the end (inclusive) of a period."""
    return (
        datetime.combine(start, time(0), tz).astimezone(ZoneInfo("UTC")),
        datetime.combine(end + timedelta(days=1), time(0), tz).astimezone(ZoneInfo("UTC")),
    )


# ---------------------------------------------------------------------------------------------
# meal_usage


def meal_usage(
    session: Session,
    scope: Scope,
    start: date,
    end: date,
    granularity: str,
    today: date,
    budgets: bool = True,
) -> list[Sheet]:
    """The report's sheets: summary, by_slot, by_mode, by_tier and (unless `budgets` is False, for a
    dashboard that has them from another build) budgets."""
    points = _point_names(session, scope)
    agreements = {
        a.id: a
        for a in session.scalars(select(FundingAgreement).where(FundingAgreement.id.in_(scope.agreement_ids)))
    }
    served = and_(Meal.meal_point_id.in_(scope.meal_point_ids), _served(start, end))
    period = bucket(session, Meal.service_day, granularity).label("period")
    # a partner sees meals, people and prices, and only its own agreements' money (below); what
    # diners paid and all funders' subsidy together would tell it what the others paid
    money = (
        func.count().label("meals"),
        func.count(Meal.diner_id.distinct()).label("diners"),
        func.coalesce(func.sum(Meal.price), 0),
        *(
            ()
            if scope.partner
            else (func.coalesce(func.sum(Meal.paid), 0), func.coalesce(func.sum(Meal.subsidy), 0))
        ),
    )
    money_columns = [
        Column("meals", "人次 meals served"),
        Column("diners", "长者人数 distinct diners"),
        Column("price", "餐费合计 price total", "fen"),
        *(
            ()
            if scope.partner
            else (
                Column("paid", "个人支付 paid by diners", "fen"),
                Column("subsidy", "补贴合计 subsidy total", "fen"),
            )
        ),
    ]
    total_diners = session.scalar(select(func.count(Meal.diner_id.distinct())).where(served))

    # each in-scope funder's subsidy per meal point, period and the tier of its schedule that paid:
    # the by_tier sheet, and summed up, the funders' columns of the summary and their budgets
    funder_ids = sorted(agreements)
    paid_by = and_(  # the in-scope funders' parts of the period's meals: meal_subsidies alone
        MealSubsidy.agreement_id.in_(funder_ids),
        MealSubsidy.meal_point_id.in_(scope.meal_point_ids),
        MealSubsidy.service_day >= start,
        MealSubsidy.service_day <= end,
        MealSubsidy.voided.is_(False),
        MealSubsidy.held.is_(False),
    )
    subsidy_period = bucket(session, MealSubsidy.service_day, granularity).label("period")
    # the people behind each funder's figures too: a subsidy paid for 1 to 4 diners is hidden like them
    by_tier, funder_people, funder_total_people, tier_diners = subsidy_counts(
        session, paid_by, subsidy_period
    )
    per_funder: dict[tuple, int] = defaultdict(int)
    for p, b, a, _t, _n, _d, amount in by_tier:
        per_funder[(p, b, a)] += amount
    booking_period = bucket(session, Booking.service_day, granularity)
    bookings = {
        (p, day_text(b)): (int(booked), int(came), int(no_show))
        for p, b, booked, came, no_show in session.execute(
            select(
                Booking.meal_point_id,
                booking_period,
                func.sum(case((Booking.status != "cancelled", 1), else_=0)),
                func.sum(case((Booking.status == "served", 1), else_=0)),
                func.sum(case((Booking.status == "no_show", 1), else_=0)),
            )
            .where(
                Booking.meal_point_id.in_(scope.meal_point_ids),
                Booking.service_day >= start,
                Booking.service_day <= end,
            )
            .group_by(Booking.meal_point_id, booking_period)
        )
    }
    adjusted_period = bucket(session, MealAdjustment.made_on, granularity)
    reversals: dict[tuple, int] = defaultdict(int)  # reversals are few: read one by one
    reversed_for: dict[tuple, set] = defaultdict(set)  # whose meals they were
    for p, b, delta, parts, diner in session.execute(
        select(
            MealAdjustment.meal_point_id,
            adjusted_period,
            MealAdjustment.subsidy_delta,
            MealAdjustment.by_funder,
            Meal.diner_id,
        )
        .join(Meal, (Meal.id == MealAdjustment.meal_id) & (Meal.service_day == MealAdjustment.meal_day))  # one month
        .where(
            MealAdjustment.meal_point_id.in_(scope.meal_point_ids),
            MealAdjustment.made_on >= start,
            MealAdjustment.made_on <= end,
        )
    ):
        amount = sum(n for a, n in parts.items() if int(a) in agreements) if scope.partner else delta
        reversals[(p, day_text(b))] += amount
        if amount:
            reversed_for[(p, day_text(b))].add(diner)
    base = {
        (p, day_text(b)): [int(v) for v in rest]
        for p, b, *rest in session.execute(
            select(Meal.meal_point_id, period, *money).where(served).group_by(Meal.meal_point_id, period)
        )
    }
    keys = sorted(
        set(base) | set(bookings) | set(reversals), key=lambda k: (points.get(k[0], ""), k[0], k[1])
    )
    summary = Sheet(
        "summary",
        "总览 summary",
        [Column("meal_point", "助餐点 meal point", "text"), Column("period", "期间 period", "date")]
        + money_columns
        + [
            Column("booked", "预订 booked"),
            Column("booked_served", "预订已就餐 booked and served"),
            Column("no_shows", "预订未到 no-shows"),
            Column("reversed_subsidy", "冲减补贴 reversed subsidy", "fen"),
        ]
        + [Column(f"funder_{a}", f"{agreements[a].name} 补贴 subsidy", "fen") for a in funder_ids],
    )
    for p, b in keys:
        summary.rows.append(
            [points[p], b]
            + base.get((p, b), [0] * len(money_columns))
            + list(bookings.get((p, b), (0, 0, 0)))
            + [reversals.get((p, b), 0)]
            + [per_funder.get((p, b, a), 0) for a in funder_ids]
        )
    summary.totals = ["合计 total", ""] + [
        _sum(summary.rows, i) if i != 3 else total_diners for i in range(2, len(summary.columns))
    ]

    sheets = [summary]
    groups = {k: i for i, k in enumerate(keys)}  # each point and period: its summary row
    of_group: dict[str, list[int]] = {}  # breakdown sheet: the summary row of each of its rows
    for key, title, column, names in (
        ("by_slot", "按餐次 by slot", Meal.slot, SLOT_NAMES),
        ("by_mode", "按就餐方式 by mode", Meal.mode, MODE_NAMES),
    ):
        found = list(
            session.execute(
                select(Meal.meal_point_id, period, column, *money)
                .where(served)
                .group_by(Meal.meal_point_id, period, column)
                .order_by(Meal.meal_point_id, period, column)
            )
        )
        rows = [
            [points[p], day_text(b), names.get(v, v)] + [int(x) for x in rest] for p, b, v, *rest in found
        ]
        of_group[key] = [groups[(p, day_text(b))] for p, b, *_ in found]
        sheet = Sheet(
            key,
            title,
            [
                Column("meal_point", "助餐点 meal point", "text"),
                Column("period", "期间 period", "date"),
                Column(key[3:], title.split()[0][1:] + " " + key[3:], "text"),
                *money_columns,
            ],
            rows,
        )
        sheet.totals = ["合计 total", "", ""] + [
            _sum(rows, i) if i != 4 else total_diners for i in range(3, len(sheet.columns))
        ]
        sheets.append(sheet)

    rows = [
        [points[p], b, agreements[a].name, tier_name(t), n, d, amount] for p, b, a, t, n, d, amount in by_tier
    ]
    of_group["by_tier"] = [groups[(p, b)] for p, b, *_ in by_tier]
    tier_funders = [a for _p, _b, a, *_ in by_tier]
    tiers = Sheet(
        "by_tier",
        "按补贴档次 by tier",
        [
            Column("meal_point", "助餐点 meal point", "text"),
            Column("period", "期间 period", "date"),
            Column("funder", "出资方 funder", "text"),
            Column("tier", "补贴档次 tier", "text"),
            Column("meals", "补贴人次 subsidized meals"),
            Column("diners", "长者人数 distinct diners"),
            Column("subsidy", "补贴 subsidy", "fen"),
        ],
        rows,
    )
    tiers.totals = ["合计 total", "", "", "", _sum(rows, 4), tier_diners, _sum(rows, 6)]
    sheets.append(tiers)
    in_scope = defaultdict(int)
    for _p, _b, a, _t, _n, _d, amount in by_tier:
        in_scope[a] += amount
    covers: dict[int, set] = defaultdict(set)  # each agreement's meal points
    for a, p in session.execute(
        select(AgreementPoint.agreement_id, AgreementPoint.meal_point_id).where(
            AgreementPoint.agreement_id.in_(list(agreements))
        )
    ):
        covers[a].add(p)
    budget_sheet = (
        _budgets(session, agreements, covers, set(scope.meal_point_ids), in_scope, start, end, today)
        if budgets
        else None
    )
    if budget_sheet is not None:
        sheets.append(budget_sheet)
    if scope.suppress:
        protect_meal_usage(
            sheets,
            of_group,
            tier_funders,
            funder_ids,
            people={
                **{("summary", i): row[3] for i, row in enumerate(summary.rows)},
                **{
                    ("funder", i, a): funder_people.get((*k, a), 0)
                    for i, k in enumerate(keys)
                    for a in funder_ids
                },
                **{("funder", a): funder_total_people.get(a, 0) for a in funder_ids},
                "totals": total_diners,
                "by_tier": tier_diners,
            },
            together=not scope.partner,
            booked_at=2 + len(money_columns),
            reversed_people=[len(reversed_for.get(k, ())) for k in keys],
        )
        if budget_sheet is not None:
            protect_budgets(
                budget_sheet, summary, *budget_people(session, agreements, covers, scope, start, end)
            )
    return sheets


def tier_name(label: str) -> str:
    if not label:
        return "无 none"
    if label == "*":
        return "全体 everyone"
    return "/".join(CATEGORIES.get(c, c) for c in label.split("+"))


def _budgets(
    session: Session,
    agreements: dict,
    covers: dict[int, set],
    points: set[int],
    in_scope: dict,
    start: date,
    end: date,
    today: date,
) -> Sheet:
    """Each in-scope agreement's budget: used and left now, the period's subsidy (at all its meal
    points), and the day the budget runs out if the period's daily rate goes on (empty: not before
    the agreement ends). An agreement paying only inside the report's scope is summed already."""
    wider = [a for a in agreements if not covers[a] <= points]
    spent = {a: in_scope.get(a, 0) for a in agreements if a not in wider}
    spent |= dict(
        session.execute(
            select(MealSubsidy.agreement_id, func.sum(MealSubsidy.amount))
            .where(
                MealSubsidy.agreement_id.in_(wider),
                MealSubsidy.voided.is_(False),
                MealSubsidy.held.is_(False),
                MealSubsidy.service_day >= start,
                MealSubsidy.service_day <= end,
            )
            .group_by(MealSubsidy.agreement_id)
        ).all()
    )
    days = (min(end, today) - start).days + 1  # the days of the period so far (none: not begun)
    sheet = Sheet(
        "budgets",
        "预算 budgets",
        [
            Column("funder", "出资方 funder", "text"),
            Column("starts_on", "开始 starts", "date"),
            Column("ends_on", "结束 ends", "date"),
            Column("budget_cap", "预算 budget", "fen"),
            Column("budget_used", "已用 used", "fen"),
            Column("budget_left", "剩余 left", "fen"),
            Column("period_subsidy", "本期补贴 this period", "fen"),
            Column("runs_out_on", "按本期速度用完日期 runs out on", "date"),
        ],
    )
    for a in sorted(agreements.values(), key=lambda a: (a.stack_order, a.id)):
        used_now = int(spent.get(a.id, 0))
        left = a.budget_cap - a.budget_used
        runs_out = ""
        if used_now > 0 and days > 0:  # days: none yet when the server's clock is before the period
            lasts = math.ceil(left * days / used_now)  # days; a large budget barely used: beyond any date
            if lasts <= (a.ends_on - min(end, today)).days:
                runs_out = (min(end, today) + timedelta(days=lasts)).isoformat()
        sheet.rows.append(
            [
                a.name,
                a.starts_on.isoformat(),
                a.ends_on.isoformat(),
                a.budget_cap,
                a.budget_used,
                left,
                used_now,
                runs_out,
            ]
        )
    sheet.totals = ["合计 total", "", ""] + [_sum(sheet.rows, i) for i in range(3, 7)] + [""]
    return sheet
