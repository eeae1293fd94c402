"""What a report says (报表数据): SQL aggregations over the records, one GROUP BY per breakdown,
never a Python loop over meals or attendances. Every breakdown is a `Sheet`: columns with Chinese
and English titles and a kind (text, int, fen), its rows, and a totals row computed exactly (the
distinct counts of a total by their own query, not by adding rows).

Privacy: a report for a partner (or any report not asked as internal) shows a breakdown row that
describes 1 to 4 distinct people as "<5" in every figure (none is shown as 0); totals stay exact.
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

SUPPRESS_BELOW = 5
SUPPRESSED = "<5"
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


def _day(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def protect(sheet: Sheet, scope: Scope, people: int, measures_from: int, group: int = 0, counts=()) -> None:
    """Small-cell suppression, in place (every report not asked as internal):
    - a row whose distinct people (column `people`) are 1 to 4 shows "<5" in every figure;
    - within a group (rows sharing their first `group` columns, whose sum another sheet or the
      totals show), one suppressed row alone would be read back by subtraction: the smallest
      other row of the group is suppressed too;
    - cells of `counts` (other counts of people, e.g. no-shows) of 1 to 4 show "<5";
    - totals describing 1 to 4 people are suppressed as well."""
    if not scope.suppress:
        return

    def hide(row):
        return row[:measures_from] + [SUPPRESSED] * (len(row) - measures_from)

    small = {i for i, r in enumerate(sheet.rows) if 0 < r[people] < SUPPRESS_BELOW}
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(sheet.rows):
        groups[tuple(r[:group])].append(i)
    for members in groups.values():
        hidden = [i for i in members if i in small]
        shown = [i for i in members if i not in small and sheet.rows[i][people] > 0]
        if len(hidden) == 1 and shown:
            small.add(min(shown, key=lambda i: sheet.rows[i][people]))
    rows = [hide(r) if i in small else list(r) for i, r in enumerate(sheet.rows)]
    totals = sheet.totals
    if totals is not None and isinstance(totals[people], int) and 0 < totals[people] < SUPPRESS_BELOW:
        totals = hide(totals)
    for row in [*rows, *([totals] if totals is not None else [])]:
        for c in counts:
            if isinstance(row[c], int) and 0 < row[c] < SUPPRESS_BELOW:
                row[c] = SUPPRESSED
    sheet.rows, sheet.totals = rows, totals


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
    session: Session, scope: Scope, start: date, end: date, granularity: str, today: date
) -> list[Sheet]:
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
    by_tier = [
        (p, _day(b), a, t, int(n), int(d), int(amount))
        for p, b, a, t, n, d, amount in session.execute(
            select(
                MealSubsidy.meal_point_id,
                subsidy_period,
                MealSubsidy.agreement_id,
                MealSubsidy.tier,
                func.count(),
                func.count(MealSubsidy.diner_id.distinct()),
                func.sum(MealSubsidy.amount),
            )
            .where(paid_by)
            .group_by(MealSubsidy.meal_point_id, subsidy_period, MealSubsidy.agreement_id, MealSubsidy.tier)
            .order_by(MealSubsidy.meal_point_id, subsidy_period, MealSubsidy.agreement_id, MealSubsidy.tier)
        )
    ]
    per_funder: dict[tuple, int] = defaultdict(int)
    for p, b, a, _t, _n, _d, amount in by_tier:
        per_funder[(p, b, a)] += amount
    booking_period = bucket(session, Booking.service_day, granularity)
    bookings = {
        (p, _day(b)): (int(booked), int(came), int(no_show))
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
    for p, b, delta, parts in session.execute(
        select(
            MealAdjustment.meal_point_id,
            adjusted_period,
            MealAdjustment.subsidy_delta,
            MealAdjustment.by_funder,
        ).where(
            MealAdjustment.meal_point_id.in_(scope.meal_point_ids),
            MealAdjustment.made_on >= start,
            MealAdjustment.made_on <= end,
        )
    ):
        reversals[(p, _day(b))] += (
            sum(n for a, n in parts.items() if int(a) in agreements) if scope.partner else delta
        )
    base = {
        (p, _day(b)): [int(v) for v in rest]
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
    booked_at = 2 + len(money_columns)
    protect(summary, scope, 3, 2, counts=(booked_at, booked_at + 1, booked_at + 2))

    sheets = [summary]
    for key, title, column, names in (
        ("by_slot", "按餐次 by slot", Meal.slot, SLOT_NAMES),
        ("by_mode", "按就餐方式 by mode", Meal.mode, MODE_NAMES),
    ):
        rows = [
            [points[p], _day(b), names.get(v, v)] + [int(x) for x in rest]
            for p, b, v, *rest in session.execute(
                select(Meal.meal_point_id, period, column, *money)
                .where(served)
                .group_by(Meal.meal_point_id, period, column)
                .order_by(Meal.meal_point_id, period, column)
            )
        ]
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
        protect(sheet, scope, 4, 3, group=2)  # the summary shows each point and period's sum
        sheets.append(sheet)

    rows = [
        [points[p], b, agreements[a].name, tier_name(t), n, d, amount] for p, b, a, t, n, d, amount in by_tier
    ]
    tier_diners = session.scalar(select(func.count(MealSubsidy.diner_id.distinct())).where(paid_by))
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
    protect(tiers, scope, 5, 4, group=3)  # the summary shows each funder's sum per point and period
    sheets.append(tiers)
    in_scope = defaultdict(int)
    for _p, _b, a, _t, _n, _d, amount in by_tier:
        in_scope[a] += amount
    sheets.append(_budgets(session, agreements, set(scope.meal_point_ids), in_scope, start, end, today))
    return sheets


def tier_name(label: str) -> str:
    if not label:
        return "无 none"
    if label == "*":
        return "全体 everyone"
    return "/".join(CATEGORIES.get(c, c) for c in label.split("+"))


def _budgets(
    session: Session, agreements: dict, points: set[int], in_scope: dict, start: date, end: date, today: date
) -> Sheet:
    """Each in-scope agreement's budget: used and left now, the period's subsidy (at all its meal
    points), and the day the budget runs out if the period's daily rate goes on (empty: not before
    the agreement ends). An agreement paying only inside the report's scope is summed already."""
    covers: dict[int, set] = defaultdict(set)
    for a, p in session.execute(
        select(AgreementPoint.agreement_id, AgreementPoint.meal_point_id).where(
            AgreementPoint.agreement_id.in_(list(agreements))
        )
    ):
        covers[a].add(p)
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
