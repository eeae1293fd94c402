"""The statements of service records (记录查询): a volunteer's service rows with what the points
ledger counted for each and the rule version that counted it, their corrections and late marks,
training and evaluations."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from linli import scope
from orgs.models import Organization, Station
from points.models import Award, PointsRule
from records.models import Evaluation, LateEntry, Training
from volunteer.models import Activity, Attendance, AttendanceCorrection, Filing

MAX_ROWS = 5000  # a volunteer's attendances read at once for the totals (years of daily service)


def service_rows(session: Session, volunteer_id: int) -> list:
    """Every attendance of the volunteer that is not open, newest first, with its activity, the
    organization and the station (the place)."""
    return list(
        session.execute(
            select(
                Attendance,
                Activity.title,
                Activity.kind,
                Activity.starts_at,
                Activity.ends_at,
                Organization.id.label("org_id"),
                Organization.name.label("org_name"),
                Station.name.label("place"),
            )
            .join(Activity, Activity.id == Attendance.activity_id)
            .join(Organization, Organization.id == Activity.org_id)
            .join(Station, Station.id == Attendance.station_id)
            .where(Attendance.volunteer_id == volunteer_id, Attendance.state != "open")
            .order_by(Attendance.checked_in_at.desc(), Attendance.id.desc())
            .limit(MAX_ROWS)
        )
    )


def counted(session: Session, attendance_ids: list[int]) -> dict[int, tuple[int, int]]:
    """What the ledger counted for each attendance: (minutes, points), every award of it summed
    (the close and each correction's adjustment)."""
    if not attendance_ids:
        return {}
    rows = session.execute(
        select(Award.attendance_id, func.sum(Award.minutes), func.sum(Award.points))
        .where(Award.attendance_id.in_(attendance_ids))
        .group_by(Award.attendance_id)
    )
    return {a: (int(m), int(p)) for a, m, p in rows}


def rules_used(session: Session, attendance_ids: list[int]) -> dict[int, tuple[Award, PointsRule | None]]:
    """The closing award of each attendance ("attendance:<id>") and the rule version it used
    (None: the defaults, before the hub's first version)."""
    if not attendance_ids:
        return {}
    rows = session.execute(
        select(Award, PointsRule)
        .outerjoin(PointsRule, PointsRule.id == Award.rule_id)
        .where(Award.attendance_id.in_(attendance_ids), Award.kind == "service")
    )
    return {award.attendance_id: (award, rule) for award, rule in rows}


def corrections(session: Session, attendance_ids: list[int]) -> list[AttendanceCorrection]:
    if not attendance_ids:
        return []
    return list(
        session.scalars(
            select(AttendanceCorrection)
            .where(AttendanceCorrection.attendance_id.in_(attendance_ids))
            .order_by(AttendanceCorrection.id)
        )
    )


def late_entries(session: Session, volunteer_id: int) -> list[LateEntry]:
    return list(
        session.scalars(
            select(LateEntry).where(LateEntry.volunteer_id == volunteer_id).order_by(LateEntry.id)
        )
    )


def manual_minutes(session: Session, volunteer_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Award.minutes), 0)).where(
                Award.volunteer_id == volunteer_id, Award.kind == "manual"
            )
        )
    )


def filings(session: Session, volunteer_id: int) -> list:
    """The volunteer's approved filings (备案) with their teams."""
    return list(
        session.execute(
            select(Filing.team_id, Organization.name, Filing.decided_at)
            .join(Organization, Organization.id == Filing.team_id)
            .where(Filing.volunteer_id == volunteer_id, Filing.status == "approved")
            .order_by(Filing.id)
        )
    )


def trainings(
    session: Session, volunteer_id: int, *, paths: list[str] | None, before_id: int, limit: int
) -> list[tuple[Training, str]]:
    """The volunteer's training, newest first; `paths`: only organizations these reach (None: all)."""
    q = (
        select(Training, Organization.name)
        .join(Organization, Organization.id == Training.org_id)
        .where(Training.volunteer_id == volunteer_id, Training.id < before_id)
    )
    if paths is not None:
        q = q.where(scope.within(Organization.path, paths))
    return list(session.execute(q.order_by(Training.id.desc()).limit(limit)))


def evaluations(
    session: Session, volunteer_id: int, *, paths: list[str] | None, before_id: int, limit: int
) -> list[tuple[Evaluation, str]]:
    q = (
        select(Evaluation, Organization.name)
        .join(Organization, Organization.id == Evaluation.org_id)
        .where(Evaluation.volunteer_id == volunteer_id, Evaluation.id < before_id)
    )
    if paths is not None:
        q = q.where(scope.within(Organization.path, paths))
    return list(session.execute(q.order_by(Evaluation.id.desc()).limit(limit)))


def attendance_with_day(session: Session, attendance_id: int):
    """An attendance with its activity's start and organization (for the 20-day rule)."""
    return session.execute(
        select(Attendance, Activity.starts_at, Activity.ends_at, Organization)
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(Organization, Organization.id == Activity.org_id)
        .where(Attendance.id == attendance_id)
    ).first()
