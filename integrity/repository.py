"""Integrity's statements (核查的查询)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from integrity.models import AuditEntry, IntegrityFlag, IntegritySettings, StaffPresence
from linli.scope import within
from meals.models import Diner, Meal, MealPoint
from orgs.models import Organization
from volunteer.models import Activity, Attendance


def _insert(session: Session, model):
    return (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(model)


def add_presence(session: Session, staff_user_id: int, minute: datetime) -> None:
    session.execute(
        _insert(session, StaffPresence)
        .values(staff_user_id=staff_user_id, minute=minute)
        .on_conflict_do_nothing(index_elements=["staff_user_id", "minute"])
    )


def heard_between(session: Session, staff_user_id: int, start: datetime, end: datetime) -> datetime | None:
    """The first minute in [start, end] the staff member was heard from online, if any."""
    return session.scalar(
        select(func.min(StaffPresence.minute)).where(
            StaffPresence.staff_user_id == staff_user_id,
            StaffPresence.minute >= start,
            StaffPresence.minute <= end,
        )
    )


def add_flag(session: Session, **values) -> int | None:
    """A new flag's id; None if this kind and subject is flagged already."""
    return session.scalar(
        _insert(session, IntegrityFlag)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["kind", "subject"])
        .returning(IntegrityFlag.id)
    )


def flag(session: Session, flag_id: int, *, for_update: bool = False) -> IntegrityFlag | None:
    q = select(IntegrityFlag).where(IntegrityFlag.id == flag_id)
    return session.scalar(q.with_for_update() if for_update else q)


def flags(
    session: Session, paths: list[str], *, status: str | None, kind: str | None, after_id: int, limit: int
) -> list[IntegrityFlag]:
    q = select(IntegrityFlag).where(within(IntegrityFlag.org_path, paths), IntegrityFlag.id > after_id)
    if status:
        q = q.where(IntegrityFlag.status == status)
    if kind:
        q = q.where(IntegrityFlag.kind == kind)
    return list(session.scalars(q.order_by(IntegrityFlag.id).limit(limit)))


def grace_minutes(session: Session, path: str) -> int | None:
    """The offline grace of the nearest organization above `path` (itself included) that set one."""
    return session.scalar(
        select(IntegritySettings.offline_grace_minutes)
        .join(Organization, Organization.id == IntegritySettings.org_id)
        .where(func.substr(path, 1, func.length(Organization.path)) == Organization.path)
        .order_by(func.length(Organization.path).desc())
        .limit(1)
    )


def settings(session: Session, org_id: int) -> IntegritySettings | None:
    return session.get(IntegritySettings, org_id)


def audit(session: Session, paths: list[str], *, after_id: int, limit: int) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(within(AuditEntry.org_path, paths), AuditEntry.id > after_id)
            .order_by(AuditEntry.id)
            .limit(limit)
        )
    )


def history(session: Session, subject: str, *, before_id: int, limit: int) -> list[AuditEntry]:
    """One row's entries (`subject` like "diner:7"), the latest first."""
    query = select(AuditEntry).where(AuditEntry.subject == subject)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


def held_flag(session: Session, subject: str) -> IntegrityFlag | None:
    return session.scalar(
        select(IntegrityFlag).where(IntegrityFlag.subject == subject, IntegrityFlag.status == "held").limit(1)
    )


# --- the day's sweep (integrity.detect) ----------------------------------------------------------
_LIVE = ("served", "held")


def meals_of_day(session: Session, day: date) -> list:
    """Every live meal of a day: (id, diner, point, served_at, served_by, point's path)."""
    return session.execute(
        select(Meal.id, Meal.diner_id, Meal.meal_point_id, Meal.served_at, Meal.served_by, Organization.path)
        .join(MealPoint, MealPoint.id == Meal.meal_point_id)
        .join(Organization, Organization.id == MealPoint.org_id)
        .where(Meal.service_day == day, Meal.status.in_(_LIVE))
        .order_by(Meal.served_at)
    ).all()


def meals_by_device(session: Session, start: date, end: date) -> list:
    """(device, day, meals) of live meals from `start` to `end`."""
    return session.execute(
        select(Meal.served_by, Meal.service_day, func.count())
        .where(Meal.service_day >= start, Meal.service_day <= end, Meal.status.in_(_LIVE))
        .group_by(Meal.served_by, Meal.service_day)
    ).all()


def meals_while_paused(session: Session, day: date) -> list:
    """(meal id, diner id, point's path) of live meals of a day served to a paused diner."""
    return session.execute(
        select(Meal.id, Meal.diner_id, Organization.path)
        .join(Diner, Diner.id == Meal.diner_id)
        .join(MealPoint, MealPoint.id == Meal.meal_point_id)
        .join(Organization, Organization.id == MealPoint.org_id)
        .where(
            Meal.service_day == day,
            Meal.status.in_(_LIVE),
            Diner.paused_from.is_not(None),
            Diner.paused_from <= day,
            or_(Diner.paused_until.is_(None), Diner.paused_until > day),
        )
    ).all()


def attendances_checked_in(session: Session, start: datetime, end: datetime) -> list:
    """(attendance id, minutes, activity starts_at, ends_at, activity's path) checked in between."""
    return session.execute(
        select(Attendance.id, Attendance.minutes, Activity.starts_at, Activity.ends_at, Organization.path)
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(Organization, Organization.id == Activity.org_id)
        .where(
            Attendance.checked_in_at >= start,
            Attendance.checked_in_at < end,
            Attendance.state.in_(("closed", "auto_closed")),
            Attendance.minutes.is_not(None),
        )
    ).all()


def insert_audits(session: Session, rows: list[dict]) -> None:
    session.execute(insert(AuditEntry), rows)
