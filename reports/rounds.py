"""A micro-grant round's report (微创投轮次报告, kind `round_summary`): per project and in total,
goals against actuals (activities held, person-times served, volunteer person-times, distinct
volunteers, service time) and the money (granted, paid in, spent, by category). The figures are
the grants package's own (`grants.delivery`, `grants.money`), so the report says what the project
pages say. See docs/reports.md and docs/programmes.md.

Who may ask: staff over the round's hub (its coordinators and admins, and admins above it), and
the partners funding the round (a partner user or API key); others 403 (`not_a_funder` for a
partner that does not fund it). Privacy as the programme summary: a project whose volunteers are
1 to 4 distinct people shows "<5" for its volunteer figures, and one more project's with it when
it would be read back from the totals (`reports.suppression.protect`); counts of people served
are not of distinct people and are shown; money is shown to the hub and the funders alike.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from accounts.principal import Principal
from grants import delivery, money
from grants.models_money import CATEGORIES
from linli import scope
from linli.errors import FieldError, invalid
from reports.queries import Column, Scope, Sheet
from reports.suppression import protect

KIND = "round_summary"


def with_period(session: Session, ask, now: datetime, tz: ZoneInfo):
    """The ask with the round's days as its period (its projects' first to last day): a round's
    report covers the whole round, whatever period was sent; and the round, for its scope. 422
    without `round_id`, 404 `round_not_found`."""
    if ask.round_id is None:
        raise invalid([FieldError("round_id", "required", "请指定轮次 Name the round (round_id)")])
    subject = delivery.round_subject(session, ask.round_id, now, tz)
    if ask.kind != KIND:
        return ask, subject
    return replace(ask, period_start=subject.first_day, period_end=subject.last_day), subject


def only_for_rounds(ask) -> None:
    """A round named for another kind of report: 422 (after its scope was checked, as every id)."""
    if ask.kind != KIND:
        raise invalid(
            [
                FieldError(
                    "round_id", "not_for_this_kind", "只有轮次报告需要轮次 Only a round_summary names a round"
                )
            ]
        )


def scope_for(principal: Principal, ask, subject, refuse, partner_id: int | None):
    """(what the report stores as its scope, its partner, its organization), or 403; 422 for an
    organization or meal points named (a round's report covers its projects, nothing else)."""
    if ask.kind == KIND and (ask.org_id is not None or ask.meal_point_ids):
        field = "org_id" if ask.org_id is not None else "meal_point_ids"
        raise invalid(
            [FieldError(field, "not_for_this_kind", "轮次报告按轮次范围 A round's report covers its round")]
        )
    if partner_id is not None:
        if partner_id not in subject.funder_partner_ids:
            raise refuse(principal, f"round {subject.round_id}", "not_a_funder")
        if ask.internal:
            raise refuse(principal, "an internal report")
        return (
            {"partner_id": partner_id, "round_id": subject.round_id, "meal_point_ids": []},
            partner_id,
            None,
        )
    paths = principal.staff_paths if principal.kind == "staff" else []
    if not paths:
        raise refuse(principal, "a report without staff or partner rights", "staff_only")
    if not scope.covers(paths, subject.hub_path):
        raise refuse(principal, f"round {subject.round_id}")
    if ask.internal and not scope.covers(principal.admin_paths, subject.hub_path):
        raise refuse(principal, "an internal report", "admin_required")
    stored = {
        "org_path": subject.hub_path,
        "round_id": subject.round_id,
        "meal_point_ids": [],
        "internal": ask.internal,
    }
    return stored, None, subject.hub_id


def _hours(minutes):
    return round(minutes / 60, 1) if isinstance(minutes, int) else minutes


VOLUNTEERING = slice(7, 11)  # volunteer_times, volunteers, minutes, hours: hidden together


def round_summary(session: Session, report_scope: Scope, round_id: int, now: datetime) -> list[Sheet]:
    projects, figures, everyone = delivery.round_figures(session, round_id, now)
    accounts = money.summary(session, [p.id for p in projects])
    sheet = Sheet(
        "by_project",
        "按项目 目标与实际 goals against actuals by project",
        [
            Column("project", "项目 project", "text"),
            Column("organization", "组织 organization", "text"),
            Column("goal_activities", "目标活动场次 goal: activities"),
            Column("activities", "开展活动 activities held"),
            Column("goal_served", "目标服务人次 goal: person-times served"),
            Column("served", "服务人次 person-times served"),
            Column("goal_volunteer_times", "目标志愿者人次 goal: volunteer person-times"),
            Column("volunteer_times", "志愿服务人次 volunteer person-times"),
            Column("volunteers", "志愿者人数 distinct volunteers"),
            Column("minutes", "服务时长（分钟） service minutes"),
            Column("hours", "服务时长（小时） service hours"),
            Column("granted", "资助金额 granted", "fen"),
            Column("paid_in", "已拨付 paid in", "fen"),
            Column("spent", "已支出 spent", "fen"),
            Column("balance", "余额 balance", "fen"),
        ],
    )
    for p in projects:
        f, m = figures[p.id], accounts[p.id]
        sheet.rows.append(
            [
                p.title,
                delivery.org_name(session, p.org_id),
                f["goal_activities"],
                f["activities_held"],
                f["goal_served"],
                f["served"],
                f["goal_volunteer_times"],
                f["volunteer_times"],
                f["volunteers"],
                f["service_minutes"],
                _hours(f["service_minutes"]),
                m["granted"],
                m["paid_in"],
                m["spent"],
                m["balance"],
            ]
        )
    totals = ["合计 total", f"{len(projects)}个项目 projects"]
    totals += [sum(r[c] for r in sheet.rows) for c in range(2, 8)]
    totals += [everyone, sum(r[9] for r in sheet.rows), _hours(sum(r[9] for r in sheet.rows))]
    totals += [sum(r[c] for r in sheet.rows) for c in range(11, 15)]
    sheet.totals = totals
    _protect_volunteering(sheet, report_scope)

    spending = Sheet(
        "spent_by_category",
        "按类别支出 spent by category",
        [
            Column("project", "项目 project", "text"),
            *(Column(code, f"{name} {code}", "fen") for code, name in CATEGORIES.items()),
            Column("spent", "合计 spent", "fen"),
        ],
    )
    for p in projects:
        by = accounts[p.id]["by_category"]
        spending.rows.append([p.title, *(by.get(code, 0) for code in CATEGORIES), accounts[p.id]["spent"]])
    spending.totals = [
        "合计 total",
        *(sum(r[c] for r in spending.rows) for c in range(1, len(CATEGORIES) + 2)),
    ]
    return [sheet, spending]


def _protect_volunteering(sheet: Sheet, report_scope: Scope) -> None:
    """The programme summary's rule on the volunteer figures only (goals, people served and money
    stay shown): rows of 1 to 4 distinct volunteers, one more row when a lone hidden one would be
    the totals minus the others, totals of 1 to 4."""
    part = Sheet(sheet.key, sheet.title, sheet.columns[VOLUNTEERING])
    part.rows = [[i, *r[VOLUNTEERING]] for i, r in enumerate(sheet.rows)]
    part.totals = ["total", *sheet.totals[VOLUNTEERING]]
    protect(part, report_scope, people=2, measures_from=1)
    for i, row in enumerate(part.rows):
        sheet.rows[i][VOLUNTEERING] = row[1:]
    sheet.totals[VOLUNTEERING] = part.totals[1:]
