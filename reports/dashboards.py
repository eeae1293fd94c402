"""Dashboards (看板): the partner's money at work, the hub's day and month, the volunteer's year.

Every dashboard answers one shape (`board`): big figures and charts, each chart its x labels and
series of numbers, a number hidden for privacy shown as "<5" (the pages draw it as a gap, never a
value). Scope is the reports' (`reports.service`): a partner sees its funded meal points, hub
staff their subtree, a volunteer only themselves. Built from SQL aggregates and cached briefly in
Redis (`cached`), so a wall screen at every hub does not load the database.

- Partner: one calendar month that has settled (ended two days ago: `reports.service.SETTLED`),
  the same figures as its `meal_usage` and `volunteer_contribution` reports of that month, built
  by the same queries with the same suppression: charts are those reports' cells, never sums of
  cells that may hide something. The finest a partner sees is then what its reports show.
- Hub (`reports.dashboards_hub`) and volunteer (`my_year`): see there.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from accounts.principal import Principal
from linli.errors import FieldError, forbidden, invalid, not_found
from orgs.service import find_partner
from points.standing import standing
from reports import dashboard_queries as q
from reports.queries import Scope, Sheet, meal_usage, resolve_scope, utc_bounds
from reports.queries_people import volunteer_contribution
from reports.render import render_table, yuan_text
from reports.rounds import round_summary
from reports.service import SETTLED, partner_of, refuse
from reports.suppression import SUPPRESSED

log = logging.getLogger("linli.dashboards")

TTL = {"partner": 300, "hub": 30, "me": 60}  # seconds a dashboard is kept in Redis; the pages refresh so
KEY = "linli:dashboard:"


@dataclass
class Chart:
    key: str
    title: str  # Chinese first, English after
    kind: str  # line | bar | stacked_bar
    unit: str  # count | fen | minutes | points
    x_title: str
    x: list[str]
    x_bilingual: bool = False  # x labels are the engine's words ("1星 1 star"), not names people gave
    series: list[dict] = field(default_factory=list)  # {"key", "name", "bilingual", "data": [...]}
    subject: str | None = None  # what the chart is about, a name as given (a round's)
    note: str | None = None  # the engine's words, about `note_items`
    note_items: list[dict] = field(default_factory=list)  # {"name": as given, "value": a date}

    def add(self, key: str, name: str, data: list, bilingual: bool = True) -> Chart:
        """A series: `name` is the engine's words ("已用 used", split by language on the pages)
        or, with bilingual=False, a name as given (a meal point's, shown whole)."""
        self.series.append({"key": key, "name": name, "bilingual": bilingual, "data": data})
        return self


def board(
    title: str,
    subject: str | None,
    start: date,
    end: date,
    now: datetime,
    kind: str,
    figures: list,
    charts: list,
) -> dict:
    """`title`: the engine's words (bilingual); `subject`: whose board it is, a name as given."""
    return {
        "title": title,
        "subject": subject,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "generated_at": now.isoformat().replace("+00:00", "Z"),
        "refresh_seconds": TTL[kind],
        "figures": figures,
        "charts": [asdict(c) for c in charts],
    }


def figure(key: str, title: str, value, unit: str = "count") -> dict:
    return {"key": key, "title": title, "value": value, "unit": unit}


def month_of(text: str | None, field_name: str, default: date) -> tuple[date, date]:
    """The first and last day of a month given as YYYY-MM (or the month `default` is in)."""
    if text is None:
        first = default.replace(day=1)
    else:
        try:
            year, month = (int(x) for x in text.split("-"))
            first = date(year, month, 1)
            if not 2000 <= year <= 2100 or len(text) != 7:
                raise ValueError
        except ValueError:
            raise invalid(
                [FieldError(field_name, "bad_month", "月份格式应为 YYYY-MM Month must be YYYY-MM")]
            ) from None
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise invalid([FieldError(name, "bad_choice", f"应为 must be one of: {', '.join(choices)}")])


def cached(redis: Redis | None, key: str, ttl: int, build) -> dict:
    """The dashboard kept under `key` for `ttl` seconds, or built now (and kept). Redis that is down
    or slow (its breaker, `linli.circuit`) only costs the build: the answer never waits for it."""
    if redis is not None:
        try:
            kept = redis.get(KEY + key)
            if kept is not None:
                return json.loads(kept)
        except RedisError as e:
            log.warning("dashboard cache unavailable: %s", e)
            redis = None
    fresh = build()
    if redis is not None:
        try:
            redis.set(KEY + key, json.dumps(fresh, ensure_ascii=False), ex=ttl)
        except RedisError as e:
            log.warning("dashboard cache unavailable: %s", e)
    return fresh


def chart_csv(dashboard: dict, key: str) -> tuple[bytes, str]:
    """One chart's numbers as CSV (yuan for money, "<5" kept), and its file name."""
    chart = next((c for c in dashboard["charts"] if c["key"] == key), None)
    if chart is None:
        raise not_found("图表 Chart", "chart_not_found")

    def cell(v):
        if isinstance(v, int) and chart["unit"] == "fen":
            return yuan_text(v)
        return v

    headings = [chart["x_title"], *(s["name"] for s in chart["series"])]
    rows = [[x, *(cell(s["data"][i]) for s in chart["series"])] for i, x in enumerate(chart["x"])]
    return render_table("csv", chart["title"], headings, rows), f"{key}-{dashboard['period_start']}.csv"


def column(sheet: Sheet, key: str) -> int:
    return next(i for i, c in enumerate(sheet.columns) if c.key == key)


# ---------------------------------------------------------------------------------------------
# the partner's dashboard


def settled_month(today: date) -> date:
    """The first day of the latest month that has settled by `today`."""
    first = (today - SETTLED).replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def partner(
    session: Session, principal: Principal, month: str | None, granularity: str, now: datetime, tz: ZoneInfo
) -> dict:
    partner_id = partner_of(principal)
    if partner_id is None:
        raise forbidden("合作企业看板仅供合作企业查看 The partner dashboard is for partners", "not_a_partner")
    today = now.astimezone(tz).date()
    start, end = month_of(month, "month", settled_month(today))
    if datetime.combine(end + timedelta(days=1), time(0), tz) + SETTLED > now:
        raise invalid(
            [
                FieldError(
                    "month",
                    "month_not_settled",
                    "该月尚未结算（月末两天后）：看板只显示已结算的月份 "
                    "The month has not settled (two days after it ends): the dashboard shows settled months",
                )
            ]
        )
    scope = resolve_scope(session, {"partner_id": partner_id, "meal_point_ids": []})
    # the month's sheets, and the meals per day (or week) from a build without budgets
    month_sheets = {s.key: s for s in meal_usage(session, scope, start, end, "month", today)}
    line = {s.key: s for s in meal_usage(session, scope, start, end, granularity, today, budgets=False)}
    people = {s.key: s for s in volunteer_contribution(session, scope, start, end, tz)}
    summary = month_sheets["summary"]
    funders = [c.key for c in summary.columns if c.key.startswith("funder_")]
    own = summary.totals[column(summary, funders[0])] if len(funders) == 1 else None
    figures = [
        figure("meals", "用餐人次 meals served", summary.totals[column(summary, "meals")]),
        figure("diners", "长者人数 distinct diners", summary.totals[column(summary, "diners")]),
        *([figure("subsidy", "本企业补贴 our subsidy", own, "fen")] if own is not None else []),
        figure(
            "volunteer_minutes",
            "志愿服务时长 volunteer service time",
            people["by_meal_point"].totals[1],
            "minutes",
        ),
    ]
    charts = [
        _by_period(line["summary"], start, end, granularity),
        _by_point(month_sheets["by_mode"], "by_mode", "按就餐方式 meals by mode", "mode", "meals"),
        _by_point(month_sheets["by_tier"], "by_tier", "按补贴档次 subsidized meals by tier", "tier", "meals"),
        *_budget_charts(month_sheets["budgets"], start, end, today),
        _volunteer_hours(people["by_meal_point"]),
        *_rounds(session, partner_id, now),
    ]
    return board(
        "合作企业看板 Partner dashboard",
        partner_name(session, partner_id),
        start,
        end,
        now,
        "partner",
        figures,
        charts,
    )


def partner_name(session: Session, partner_id: int) -> str | None:
    found = find_partner(session, partner_id)
    return found.name if found else None


def _days(start: date, end: date, granularity: str) -> list[str]:
    """The periods a sheet's rows name, all of them (a day without meals still has its place)."""
    out, d = [], start
    if granularity == "week":
        d = start - timedelta(days=start.weekday())
    while d <= end:
        out.append(d.isoformat())
        d = d + timedelta(days=7 if granularity == "week" else 1)
        if granularity == "month":
            break
    return out


def _by_period(summary: Sheet, start: date, end: date, granularity: str) -> Chart:
    """Meals per day (or week), one series per meal point: the report's cells as they are."""
    x = _days(start, end, granularity)
    chart = Chart(
        "meals_by_period",
        {"day": "每日用餐人次 meals per day", "week": "每周用餐人次 meals per week"}.get(
            granularity, "用餐人次 meals"
        ),
        "line",  # a line per meal point
        "count",
        "日期 day" if granularity == "day" else "周一 week from Monday",
        x,
    )
    meals, at = column(summary, "meals"), {p: i for i, p in enumerate(x)}
    for name in dict.fromkeys(r[0] for r in summary.rows):
        data: list = [0] * len(x)
        for r in summary.rows:
            if r[0] == name and r[1] in at:
                data[at[r[1]]] = r[meals]
        chart.add(f"point_{len(chart.series)}", name, data, bilingual=False)
    return chart


def _by_point(sheet: Sheet, key: str, title: str, label: str, measure: str) -> Chart:
    """A month's breakdown: meal points along x, one series per slot, mode or tier. A hidden row
    hides its label, so it is absent: it cannot be drawn under any name."""
    points = list(dict.fromkeys(r[0] for r in sheet.rows))
    chart = Chart(key, title, "stacked_bar", "count", "助餐点 meal point", points)
    li, mi = column(sheet, label), column(sheet, measure)
    fi = column(sheet, "funder") if label == "tier" else None
    names = [f"{r[fi]} · {r[li]}" if fi is not None else r[li] for r in sheet.rows if r[li] != SUPPRESSED]
    for name in dict.fromkeys(names):
        data: list = [None] * len(points)
        for r in sheet.rows:
            if (f"{r[fi]} · {r[li]}" if fi is not None else r[li]) == name:
                data[points.index(r[0])] = r[mi]
        chart.add(f"s{len(chart.series)}", name, data, bilingual=fi is None)
    return chart


def _budget_charts(budgets: Sheet, start: date, end: date, today: date) -> list[Chart]:
    """Used against left per agreement, and the run-out projection of the report's budgets sheet:
    left today, less the period's daily rate each day, to zero or to the agreement's end."""
    names = [r[0] for r in budgets.rows]
    use = Chart("budget_use", "预算使用 budget used and left", "stacked_bar", "fen", "出资方 funder", names)
    use.add("used", "已用 used", [r[column(budgets, "budget_used")] for r in budgets.rows])
    use.add("left", "剩余 left", [r[column(budgets, "budget_left")] for r in budgets.rows])
    horizon = max((date.fromisoformat(r[2]) for r in budgets.rows), default=today)
    months, m = [], today.replace(day=1)
    while m <= horizon and len(months) < 24:
        months.append(m)
        m = (m + timedelta(days=32)).replace(day=1)
    x = [m.strftime("%Y-%m") for m in months]
    projection = Chart(
        "budget_projection",
        "预算余额预测（按本期速度） budget left, projected at this period's rate",
        "line",
        "fen",
        "月末 month end",
        x,
    )
    days = (min(end, today) - start).days + 1
    outs = []
    for r in budgets.rows:
        left, rate = r[column(budgets, "budget_left")], r[column(budgets, "period_subsidy")]
        if SUPPRESSED in (left, rate) or days <= 0:
            continue  # hidden figures are not drawn, not even as a line through them
        ends = date.fromisoformat(r[2])
        data: list = []
        for first in months:
            last = min((first + timedelta(days=32)).replace(day=1) - timedelta(days=1), ends)
            data.append(None if first > ends else max(0, left - math.ceil(rate * (last - today).days / days)))
        projection.add(f"a{len(projection.series)}", r[0], data, bilingual=False)
        if r[-1]:
            outs.append({"name": r[0], "value": r[-1]})
    if outs:
        projection.note, projection.note_items = "按本期速度用完日期 runs out on", outs
    return [use, projection]


def _rounds(session: Session, partner_id: int, now: datetime) -> list[Chart]:
    """Goals against actuals of each granted round the partner funds (its latest three): the
    totals of the round's report as of now, volunteer figures hidden by the report's rule."""
    charts = []
    for round_id, name in q.rounds_funded(session, partner_id):
        projects = round_summary(session, Scope((), (), None, suppress=True), round_id, now)[0]
        t = {c.key: v for c, v in zip(projects.columns, projects.totals, strict=True)}
        chart = Chart(
            f"round_goals_{round_id}",
            f"{name} 目标与实际 goals against actuals",
            "bar",
            "count",
            "指标 measure",
            [
                "开展活动 activities held",
                "服务人次 person-times served",
                "志愿服务人次 volunteer person-times",
            ],
        )
        chart.add("goal", "目标 goal", [t["goal_activities"], t["goal_served"], t["goal_volunteer_times"]])
        chart.add("actual", "实际 actual", [t["activities"], t["served"], t["volunteer_times"]])
        charts.append(chart)
    return charts


def _volunteer_hours(by_point: Sheet) -> Chart:
    chart = Chart(
        "volunteer_hours",
        "各助餐点志愿服务时长 volunteer service time at the meal points",
        "bar",
        "minutes",
        "助餐点 meal point",
        [r[0] for r in by_point.rows],
    )
    return chart.add("minutes", "服务时长 service time", [r[1] for r in by_point.rows])


# ---------------------------------------------------------------------------------------------
# the volunteer's year


def my_year(session: Session, principal: Principal, now: datetime, tz: ZoneInfo) -> dict:
    """The last 12 months (this one included): service time and points earned and spent per
    month, and where the volunteer stands on the way to the next star level. Their own figures:
    nothing is hidden."""
    if principal.kind != "volunteer" or principal.volunteer_id is None:
        raise refuse(principal, "a volunteer's dashboard", "volunteers_only")
    vid = principal.volunteer_id
    today = now.astimezone(tz).date()
    firsts = [today.replace(day=1)]
    for _ in range(11):
        firsts.insert(0, (firsts[0] - timedelta(days=1)).replace(day=1))
    end = (firsts[-1] + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    bounds = [utc_bounds(f, f, tz)[0] for f in firsts] + [utc_bounds(end, end, tz)[1]]
    x = [f.strftime("%Y-%m") for f in firsts]
    by_month = q.my_minutes_and_points(session, vid, firsts[0], end)
    spent = q.my_spending(session, vid, bounds)
    minutes, earned = [0] * 12, [0] * 12
    for month_start, (m, p) in by_month.items():
        i = x.index(month_start.strftime("%Y-%m"))
        minutes[i], earned[i] = m, p
    me = standing(session, vid)
    nxt = me["next_level"]
    figures = [
        figure("star_level", "星级 star level", me["star_level"]),
        figure("service_minutes", "服务时长 service time", me["service_minutes"], "minutes"),
        figure("balance", "积分余额 points balance", me["balance"], "points"),
        figure("next_level_hours", "下一星级所需小时 hours for the next star", nxt["hours"] if nxt else None),
        figure(
            "minutes_to_go", "距下一星级 to the next star", nxt["minutes_to_go"] if nxt else None, "minutes"
        ),
    ]
    charts = [
        Chart("hours_by_month", "每月服务时长 service time per month", "bar", "minutes", "月份 month", x).add(
            "minutes", "服务时长 service time", minutes
        ),
        Chart("points_by_month", "每月积分 points per month", "bar", "points", "月份 month", x)
        .add("earned", "获得 earned", earned)
        .add("spent", "兑换 spent", [spent.get(i, 0) for i in range(12)]),
    ]
    return board("我的一年 My year", None, firsts[0], end, now, "me", figures, charts)
