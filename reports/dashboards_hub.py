"""A hub's dashboard (枢纽看板) and its wall screen: today live at every meal point under the
organization, the month day by day, star levels, filings waiting, the budgets of every agreement.

Scope is the reports' for hub staff (admins, and coordinators not bound to a station, over the
subtree). The wall screen is seen by a room, not by one person, so the figures about older people
follow the rule of a hub's shared report (`reports.suppression.protect`): a meal point's day or a
day of the month with 1 to 4 diners shows "<5", with the smallest other one of its line, and a
total of 1 to 4 likewise. Volunteer counts and budgets name nobody and are shown as they are.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from accounts.principal import Principal
from linli import scope as scopes
from linli.errors import not_found
from orgs.models import Organization
from reports import dashboard_queries as q
from reports.dashboards import Chart, board, figure, month_of
from reports.queries import Column, Scope, Sheet, utc_bounds
from reports.service import refuse
from reports.suppression import SUPPRESS_BELOW as SMALL
from reports.suppression import protect

SHARED = Scope((), (), None, suppress=True)  # the hub's shared report: small cells hidden


def allowed(session, principal: Principal, org_id: int) -> Organization:
    """The organization whose dashboard is asked for, if the caller may see it (hub staff over it,
    as for its reports), else 403 (404 for no such organization)."""
    paths = principal.staff_paths if principal.kind == "staff" else []
    if not paths:
        raise refuse(principal, "a hub dashboard", "staff_only")
    org = session.get(Organization, org_id)
    if org is None:
        raise not_found("组织 Organization", "org_not_found")
    if not scopes.covers(paths, org.path):
        raise refuse(principal, f"the dashboard of organization {org.id}")
    return org


def hub(
    session, principal: Principal, org: Organization, month: str | None, now: datetime, tz: ZoneInfo
) -> dict:
    allowed(session, principal, org.id)
    today = now.astimezone(tz).date()
    start, end = month_of(month, "month", today)
    points = q.points_in(session, org.path)
    ids = [p for p, _ in points]
    since, until = utc_bounds(today, today, tz)

    served, booked = q.meals_by_point(session, ids, today), q.bookings_by_point(session, ids, today)
    live = Sheet(
        "today",
        "",
        [Column("point", "", "text"), Column("meals", ""), Column("diners", ""), Column("booked", "")],
        [[name, *served.get(p, (0, 0)), booked.get(p, 0)] for p, name in points],
    )
    live.totals = ["", *q.meals_in(session, ids, today, today), sum(booked.values())]
    protect(live, SHARED, 2, 1, counts=(3,))
    today_chart = Chart(
        "today_by_point",
        "今日各助餐点 today at each meal point",
        "bar",
        "count",
        "助餐点 meal point",
        [r[0] for r in live.rows],
    )
    today_chart.add("served", "已供餐 served", [r[1] for r in live.rows])
    today_chart.add("booked", "预订 booked", [r[3] for r in live.rows])

    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    x = [d.isoformat() for d in days]
    bounds = [utc_bounds(d, d, tz)[0] for d in days] + [utc_bounds(end, end, tz)[1]]
    # meals and diners of each day, point by point from the day's closes (today from the meals)
    per_day: dict = {d: [0, 0, 0] for d in days}  # meals, diners point by point, most at one point
    for _p, d, n, people in q.meals_by_point_day(session, ids, start, end, today):
        m = per_day[d]
        m[0], m[1], m[2] = m[0] + n, m[1] + people, max(m[2], people)
    # who a day's figures describe: 5 or more when one point alone had 5; else counted exactly,
    # a diner eating at two points once (those days are small: few diners at every point)
    few = [d for d, m in per_day.items() if 0 < m[2] < SMALL]
    exact = q.diners_on(session, ids, few)
    month_sheet = Sheet(
        "month",
        "",
        [Column("day", "", "text"), Column("meals", ""), Column("diners", ""), Column("people", "")],
        [[d, m[0], m[1], exact.get(d, 0) if d in few else m[1]] for d, m in per_day.items()],
    )
    everyone = (
        sum(m[1] for m in per_day.values())
        if any(m[2] >= SMALL for m in per_day.values())
        else q.meals_in(session, ids, start, end)[1]
    )
    month_sheet.totals = [
        "",
        sum(m[0] for m in per_day.values()),
        sum(m[1] for m in per_day.values()),
        everyone,
    ]
    protect(month_sheet, SHARED, 3, 1)
    meals_chart = Chart(
        "month_meals", "本月每日用餐 meals per day this month", "line", "count", "日期 day", x
    )
    meals_chart.add("meals", "用餐人次 meals served", [r[1] for r in month_sheet.rows])
    meals_chart.add(
        "diners", "就餐长者（各点合计） diners (each meal point counted)", [r[2] for r in month_sheet.rows]
    )

    minutes = q.minutes_by_day(session, org.path, bounds)
    hours_chart = Chart(
        "month_volunteer_hours",
        "本月每日志愿服务时长 volunteer service time per day",
        "bar",
        "minutes",
        "日期 day",
        x,
    ).add("minutes", "服务时长 service time", [minutes.get(i, 0) for i in range(len(days))])
    earned = q.points_earned_by_day(session, org.path, start, end)
    redeemed = q.points_redeemed_by_day(session, org.path, bounds)
    points_chart = (
        Chart("month_points", "本月每日积分 points per day this month", "bar", "points", "日期 day", x)
        .add("earned", "发放 earned", [earned.get(d, 0) for d in days])
        .add("redeemed", "兑换 redeemed", [redeemed.get(i, 0) for i in range(len(days))])
    )

    levels = q.star_levels(session, org.path)
    top = max([5, *levels])
    stars_chart = Chart(
        "star_levels",
        "星级志愿者分布 volunteers by star level",
        "bar",
        "count",
        "星级 star level",
        [f"{n}星 {n} star" if n else "未定级 none yet" for n in range(top + 1)],
        x_bilingual=True,
    ).add("volunteers", "志愿者 volunteers", [levels.get(n, 0) for n in range(top + 1)])

    agreements = q.agreements_at(session, ids)
    budget_chart = Chart(
        "budget_use",
        "各协议预算 budget of every agreement",
        "stacked_bar",
        "fen",
        "出资方 funder",
        [a.name for a in agreements],
    )
    budget_chart.add("used", "已用 used", [a.budget_used for a in agreements])
    budget_chart.add("left", "剩余 left", [a.budget_cap - a.budget_used for a in agreements])
    ending = [{"name": a.name, "value": a.ends_on.isoformat()} for a in agreements if a.ends_on >= today]
    if ending:
        budget_chart.note, budget_chart.note_items = "协议截止 ends on", ending

    shift = q.on_shift(session, org.path, since, until, now)
    figures = [
        figure("meals_today", "今日供餐 meals today", live.totals[1]),
        figure("booked_today", "今日预订 booked today", live.totals[3]),
        figure("volunteers_on_shift", "今日在岗志愿者 volunteers on shift today", shift["on_shift"]),
        figure("checked_in", "正在服务 checked in now", shift["checked_in"]),
        figure("forgotten_checkouts", "忘记签退 forgotten check-outs", shift["forgotten"]),
        figure("filings_waiting", "待审备案 filings waiting", q.filings_waiting(session, org.path)),
        figure("meals_month", "本月用餐人次 meals this month", month_sheet.totals[1]),
        figure(
            "volunteer_minutes_month",
            "本月志愿服务时长 service time this month",
            sum(minutes.values()),
            "minutes",
        ),
    ]
    charts = [today_chart, meals_chart, hours_chart, points_chart, stars_chart, budget_chart]
    return board("枢纽看板 Hub dashboard", org.name, start, end, now, "hub", figures, charts)
