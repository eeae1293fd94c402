"""Dashboards (看板): the numbers the partner, hub and volunteer pages draw as charts, each chart's
numbers also as CSV (`format=csv&chart=<key>`). See `reports/dashboards.py` and `docs/reports.md`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Id
from api.openapi import answered_as
from api.problems import problems
from linli import ratelimit
from linli.bounds import by_service
from linli.runtime import Runtime
from reports import dashboards, dashboards_hub
from reports.service import partner_of

Month = Annotated[str | None, by_service(pattern=r"^\d{4}-\d{2}$")]
Format = Annotated[str, by_service(choices=("json", "csv"))]
ChartKey = Annotated[str | None, msgspec.Meta(max_length=40)]
ASKS_PER_HOUR = 600  # a page refreshing every 30 s is 120


class Figure(msgspec.Struct):
    key: str
    title: str  # Chinese first, English after
    value: int | str | None  # "<5": hidden for privacy; None: no figure
    unit: str  # count | fen | minutes | points


class Series(msgspec.Struct):
    key: str
    name: str
    bilingual: bool  # name is the engine's words, "中文 English"; else a name as given (a meal point's)
    data: list[int | str | None]  # one per x label; "<5" hidden for privacy, never drawn


class NoteItem(msgspec.Struct):
    name: str  # as given: an agreement's
    value: str  # a date


class ChartRead(msgspec.Struct):
    key: str
    title: str
    kind: str  # line | bar | stacked_bar
    unit: str  # count | fen | minutes | points
    x_title: str
    x: list[str]
    x_bilingual: bool  # x labels are the engine's words; else dates or names as given
    series: list[Series]
    subject: str | None  # what the chart is about, a name as given (a round's)
    note: str | None  # the engine's words about note_items
    note_items: list[NoteItem]


class DashboardRead(msgspec.Struct):
    title: str  # the engine's words, "中文 English"
    subject: str | None  # whose board: an organization's or partner's name as given
    period_start: str
    period_end: str
    generated_at: datetime
    refresh_seconds: int
    figures: list[Figure]
    charts: list[ChartRead]


def _answer(board: dict, fmt: str, chart: str | None) -> Response:
    if fmt == "csv" or chart is not None:
        content, name = dashboards.chart_csv(board, chart or "")
        return Response(
            content,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )
    return Response(msgspec.convert(board, DashboardRead))


def _limit(rt: Runtime, principal: Principal) -> None:
    who = principal.staff_user_id or principal.volunteer_id or f"key{principal.token_id}"
    ratelimit.check(
        rt.redis,
        f"dashboards:{principal.kind}:{who}",
        (ASKS_PER_HOUR, 3600),
        rt.clock.now(),
        "看板请求过多，请稍后再试 Too many dashboard requests; try again later",
    )


class DashboardController(Controller):
    path = "/api/v1/dashboards"
    tags = ["看板 dashboards"]
    dependencies = AUTH

    @get(
        "/partner",
        operation_id="partnerDashboard",
        sync_to_thread=True,
        operation_class=answered_as("application/json", "text/csv"),
        summary="A partner's month at the meal points it funds (a settled month; the last by default), "
        "with its reports' figures and privacy; one chart as CSV with format=csv&chart=<key>",
        responses=problems(
            _403="not_a_partner", _404="chart_not_found", _422="validation_failed", _429="rate_limited"
        ),
    )
    def partner(
        self,
        principal: NamedDependency[Principal],
        reads: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        month: FromQuery[Month] = None,
        granularity: FromQuery[Annotated[str, by_service(choices=("day", "week"))]] = "day",
        format: FromQuery[Format] = "json",
        chart: FromQuery[ChartKey] = None,
    ) -> Response[DashboardRead]:
        now, tz = rt.clock.now(), rt.settings.tz
        partner_id = partner_of(principal)
        dashboards.check_choice("granularity", granularity, ("day", "week"))
        dashboards.check_choice("format", format, ("json", "csv"))
        _limit(rt, principal)
        month = month or dashboards.settled_month(now.astimezone(tz).date()).strftime("%Y-%m")
        board = dashboards.cached(
            rt.redis if partner_id is not None else None,
            f"partner:{partner_id}:{month}:{granularity}",
            dashboards.TTL["partner"],
            lambda: dashboards.partner(reads, principal, month, granularity, now, tz),
        )
        return _answer(board, format, chart)

    @get(
        "/hubs/{org_id:int}",
        operation_id="hubDashboard",
        sync_to_thread=True,
        operation_class=answered_as("application/json", "text/csv"),
        summary="A hub's dashboard: today live at its meal points, the month day by day, star levels, "
        "filings waiting, budgets (the wall screen's numbers, refreshed every 30 s)",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="org_not_found, chart_not_found",
            _422="validation_failed",
            _429="rate_limited",
        ),
    )
    def hub(
        self,
        org_id: Id,
        principal: NamedDependency[Principal],
        reads: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        month: FromQuery[Month] = None,
        format: FromQuery[Format] = "json",
        chart: FromQuery[ChartKey] = None,
    ) -> Response[DashboardRead]:
        now, tz = rt.clock.now(), rt.settings.tz
        dashboards.check_choice("format", format, ("json", "csv"))
        org = dashboards_hub.allowed(reads, principal, org_id)
        _limit(rt, principal)
        today = now.astimezone(tz).date()
        board = dashboards.cached(
            rt.redis,
            f"hub:{org.id}:{month or today.strftime('%Y-%m')}:{today}",
            dashboards.TTL["hub"],
            lambda: dashboards_hub.hub(reads, principal, org, month, now, tz),
        )
        return _answer(board, format, chart)

    @get(
        "/me",
        operation_id="myDashboard",
        sync_to_thread=True,
        operation_class=answered_as("application/json", "text/csv"),
        summary="A volunteer's year: service time and points per month for 12 months, and the way to "
        "the next star level",
        responses=problems(_403="volunteers_only", _404="chart_not_found", _429="rate_limited"),
    )
    def me(
        self,
        principal: NamedDependency[Principal],
        reads: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        format: FromQuery[Format] = "json",
        chart: FromQuery[ChartKey] = None,
    ) -> Response[DashboardRead]:
        now, tz = rt.clock.now(), rt.settings.tz
        dashboards.check_choice("format", format, ("json", "csv"))
        _limit(rt, principal)
        board = dashboards.cached(
            rt.redis if principal.volunteer_id is not None else None,
            f"me:{principal.volunteer_id}:{now.astimezone(tz).date()}",
            dashboards.TTL["me"],
            lambda: dashboards.my_year(reads, principal, now, tz),
        )
        return _answer(board, format, chart)
