"""What the people reports say (志愿贡献与项目汇总): the volunteer contribution and the hub's
programme summary, built like the meal usage report (`reports.queries`: sheets, scope, privacy)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from linli.scope import within
from meals.models import (
    Meal,
    MealPoint,
)
from orgs.models import Organization
from points.models import Award, ShopOrder
from reports.queries import (
    COUNTED,
    KIND_NAMES,
    Column,
    Scope,
    Sheet,
    _point_names,
    _served,
    _sum,
    utc_bounds,
)
from reports.suppression import SUPPRESSED, protect
from volunteer.models import Activity, Attendance

# ---------------------------------------------------------------------------------------------
# volunteer_contribution


def _attendance_scope(scope: Scope, since: datetime, until: datetime):
    """Counted attendances in the period: at the scope's meal points' counters (a partner), or at
    activities of organizations under the subtree (hub staff)."""
    where = [
        Attendance.state.in_(COUNTED),
        Attendance.checked_in_at >= since,
        Attendance.checked_in_at < until,
    ]
    if scope.org_path is None:
        counters = select(MealPoint.station_id).where(MealPoint.id.in_(scope.meal_point_ids))
        where.append(Activity.station_id.in_(counters))
    else:
        where.append(within(Organization.path, [scope.org_path]))
    return and_(*where)


def volunteer_contribution(
    session: Session, scope: Scope, start: date, end: date, tz: ZoneInfo
) -> list[Sheet]:
    since, until = utc_bounds(start, end, tz)
    where = _attendance_scope(scope, since, until)
    measures = (
        func.coalesce(func.sum(Attendance.minutes), 0),
        func.count(),
        func.count(Attendance.volunteer_id.distinct()),
    )
    columns = [
        Column("minutes", "服务时长（分钟） service minutes"),
        Column("person_times", "志愿服务人次 volunteer person-times"),
        Column("volunteers", "志愿者人数 distinct volunteers"),
    ]

    def joined(q):
        return q.join(Activity, Activity.id == Attendance.activity_id).join(
            Organization, Organization.id == Activity.org_id
        )

    total_minutes, total_times, total_volunteers = session.execute(
        joined(select(*measures)).where(where)
    ).one()

    delivered = and_(Meal.meal_point_id.in_(scope.meal_point_ids), _served(start, end))
    deliveries = {
        p: (int(n), int(v))
        for p, n, v in session.execute(
            select(Meal.meal_point_id, func.count(), func.count(Meal.delivered_by.distinct()))
            .where(delivered, Meal.delivered_by.is_not(None))
            .group_by(Meal.meal_point_id)
        )
    }
    at_points = {
        p: [int(x) for x in rest]
        for p, *rest in session.execute(
            joined(select(MealPoint.id, *measures))
            .join(MealPoint, MealPoint.station_id == Activity.station_id)
            .where(where, MealPoint.id.in_(scope.meal_point_ids))
            .group_by(MealPoint.id)
        )
    }
    names = _point_names(session, scope)
    by_point = Sheet(
        "by_meal_point",
        "按助餐点 by meal point",
        [
            Column("meal_point", "助餐点 meal point", "text"),
            *columns,
            Column("deliveries", "送餐上门次数 deliveries"),
            Column("delivery_volunteers", "送餐志愿者 delivering volunteers"),
        ],
    )
    for p in sorted(set(at_points) | set(deliveries), key=lambda p: (names[p], p)):
        by_point.rows.append([names[p], *at_points.get(p, [0, 0, 0]), *list(deliveries.get(p, (0, 0)))])
    delivery_volunteers = session.scalar(select(func.count(Meal.delivered_by.distinct())).where(delivered))
    by_point.totals = ["合计 total", _sum(by_point.rows, 1), _sum(by_point.rows, 2)]
    by_point.totals += [
        session.scalar(
            joined(select(func.count(Attendance.volunteer_id.distinct())))
            .join(MealPoint, MealPoint.station_id == Activity.station_id)
            .where(where, MealPoint.id.in_(scope.meal_point_ids))
        ),
        _sum(by_point.rows, 4),
        delivery_volunteers,
    ]
    protect(by_point, scope, 3, 1, counts=(5,))
    for row in [*by_point.rows, by_point.totals] if scope.suppress else ():  # deliveries by 1 to 4 volunteers
        if row[5] == SUPPRESSED:
            row[4] = SUPPRESSED

    sheets = [by_point]
    for key, title, column, label in (
        ("by_organization", "按组织和服务队 by organization or team", Organization.name, "组织 organization"),
        ("by_activity_type", "按活动类型 by activity type", Activity.kind, "活动类型 activity type"),
    ):
        rows = [
            [KIND_NAMES.get(v, v)] + [int(x) for x in rest]
            for v, *rest in session.execute(
                joined(select(column, *measures)).where(where).group_by(column).order_by(column)
            )
        ]
        sheet = Sheet(key, title, [Column(key[3:], label, "text"), *columns], rows)
        sheet.totals = ["合计 total", int(total_minutes), int(total_times), int(total_volunteers)]
        protect(sheet, scope, 3, 1)
        sheets.append(sheet)
    return sheets


# ---------------------------------------------------------------------------------------------
# programme_summary (hub staff)


def programme_summary(session: Session, scope: Scope, start: date, end: date, tz: ZoneInfo) -> list[Sheet]:
    """Per organization (project) under the subtree: the shape of a micro-grant round's summary."""
    since, until = utc_bounds(start, end, tz)
    Project = Organization.__table__.alias("project")
    ActivityOrg = Organization.__table__.alias("activity_org")
    PointOrg = Organization.__table__.alias("point_org")
    a_project = and_(Project.c.kind == "organization", within(Project.c.path, [scope.org_path]))
    projects = select(Project.c.id, Project.c.name, Project.c.path).where(a_project)
    counted = and_(
        Attendance.state.in_(COUNTED), Attendance.checked_in_at >= since, Attendance.checked_in_at < until
    )
    volunteering = {
        pid: [int(x) for x in rest]
        for pid, *rest in session.execute(
            select(
                Project.c.id,
                func.count(Activity.id.distinct()),
                func.count(),
                func.count(Attendance.volunteer_id.distinct()),
                func.coalesce(func.sum(Attendance.minutes), 0),
            )
            .select_from(Attendance)
            .join(Activity, Activity.id == Attendance.activity_id)
            .join(ActivityOrg, ActivityOrg.c.id == Activity.org_id)
            .join(Project, within(ActivityOrg.c.path, [Project.c.path]))
            .where(counted, a_project)
            .group_by(Project.c.id)
        )
    }
    served = dict(
        session.execute(
            select(Project.c.id, func.count())
            .select_from(Meal)
            .join(MealPoint, MealPoint.id == Meal.meal_point_id)
            .join(PointOrg, PointOrg.c.id == MealPoint.org_id)
            .join(Project, within(PointOrg.c.path, [Project.c.path]))
            .where(_served(start, end), a_project)
            .group_by(Project.c.id)
        ).all()
    )
    awarded = dict(
        session.execute(
            select(Project.c.id, func.sum(Award.points))
            .select_from(Award)
            .join(Attendance, Attendance.id == Award.attendance_id)
            .join(Activity, Activity.id == Attendance.activity_id)
            .join(ActivityOrg, ActivityOrg.c.id == Activity.org_id)
            .join(Project, within(ActivityOrg.c.path, [Project.c.path]))
            .where(Award.day >= start, Award.day <= end, a_project)
            .group_by(Project.c.id)
        ).all()
    )
    sheet = Sheet(
        "by_project",
        "按组织（项目） by organization (project)",
        [
            Column("organization", "组织（项目） organization (project)", "text"),
            Column("activities", "开展活动 activities held"),
            Column("served", "服务人次 person-times served"),
            Column("volunteer_times", "志愿服务人次 volunteer person-times"),
            Column("volunteers", "志愿者人数 distinct volunteers"),
            Column("minutes", "服务时长（分钟） service minutes"),
            Column("points_awarded", "发放积分 points awarded"),
        ],
    )
    for pid, name, _path in session.execute(projects.order_by(Project.c.path)):
        activities, times, volunteers, minutes = volunteering.get(pid, [0, 0, 0, 0])
        sheet.rows.append(
            [
                name,
                activities,
                int(served.get(pid, 0)),
                times,
                volunteers,
                minutes,
                int(awarded.get(pid) or 0),
            ]
        )
    everyone = session.execute(
        select(
            func.count(Activity.id.distinct()),
            func.count(),
            func.count(Attendance.volunteer_id.distinct()),
            func.coalesce(func.sum(Attendance.minutes), 0),
        )
        .select_from(Attendance)
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(ActivityOrg, ActivityOrg.c.id == Activity.org_id)
        .where(counted, within(ActivityOrg.c.path, [scope.org_path]))
    ).one()
    served_total = session.scalar(
        select(func.count())
        .select_from(Meal)
        .join(MealPoint, MealPoint.id == Meal.meal_point_id)
        .join(PointOrg, PointOrg.c.id == MealPoint.org_id)
        .where(_served(start, end), within(PointOrg.c.path, [scope.org_path]))
    )
    sheet.totals = [
        "合计 total",
        int(everyone[0]),
        int(served_total),
        int(everyone[1]),
        int(everyone[2]),
        int(everyone[3]),
        _sum(sheet.rows, 6),
    ]
    protect(sheet, scope, 4, 1)
    redeemed = session.scalar(
        select(func.coalesce(func.sum(ShopOrder.points), 0))
        .join(Organization, Organization.id == ShopOrder.hub_id)
        .where(
            ShopOrder.status == "fulfilled",
            ShopOrder.resolved_at >= since,
            ShopOrder.resolved_at < until,
            within(Organization.path, [scope.org_path]),
        )
    )
    hubwide = Sheet(
        "points",
        "积分 points",
        [Column("what", "项目 item", "text"), Column("points", "积分 points")],
        [["兑换积分（枢纽积分商城） points redeemed (hub shops)", int(redeemed)]],
    )
    return [sheet, hubwide]
