"""Queries of what projects deliver (项目成效): activity links, served counts and scans, a project's
meal points, and the figures of projects counted by the rules the reports use (attendances
`closed` or `auto_closed`, meals `served` and never reversed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, undefer

from grants.models import GrantRound, Project, Proposal, RoundFunder
from grants.models_delivery import ActivityLink, ProjectMealPoint, ServedCount, ServedScan
from meals.models import Meal, MealAdjustment
from volunteer.models import Activity, Attendance

COUNTED = ("closed", "auto_closed")  # attendances that count: the reports' rule (reports.queries)


# Links ----------------------------------------------------------------------------------------


def live_link(session: Session, activity_id: int) -> ActivityLink | None:
    return session.scalar(
        select(ActivityLink).where(
            ActivityLink.activity_id == activity_id, ActivityLink.unlinked_at.is_(None)
        )
    )


def links_of(session: Session, activity_id: int) -> list[ActivityLink]:
    return list(
        session.scalars(
            select(ActivityLink).where(ActivityLink.activity_id == activity_id).order_by(ActivityLink.id)
        )
    )


# Served ---------------------------------------------------------------------------------------


def served_counts(session: Session, activity_id: int, after_id: int, limit: int) -> list[ServedCount]:
    return list(
        session.scalars(
            select(ServedCount)
            .where(ServedCount.activity_id == activity_id, ServedCount.id > after_id)
            .order_by(ServedCount.id)
            .limit(limit)
        )
    )


def latest_count_id(session: Session, activity_id: int) -> int | None:
    return session.scalar(select(func.max(ServedCount.id)).where(ServedCount.activity_id == activity_id))


def served_count_with_photo(session: Session, activity_id: int, entry_id: int) -> ServedCount | None:
    return session.scalar(
        select(ServedCount)
        .options(undefer(ServedCount.photo))
        .where(ServedCount.id == entry_id, ServedCount.activity_id == activity_id)
    )


def insert_scan(session: Session, row: dict) -> int | None:
    """The scan's id, or None when this diner was counted at this activity already (by this request
    or one racing it: the unique key decides, and the loser writes nothing)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return session.scalar(
        dialect.insert(ServedScan)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["activity_id", "diner_id"])
        .returning(ServedScan.id)
    )


def scan_of(session: Session, activity_id: int, diner_id: int) -> ServedScan | None:
    return session.scalar(
        select(ServedScan).where(ServedScan.activity_id == activity_id, ServedScan.diner_id == diner_id)
    )


def scans_at(session: Session, activity_id: int) -> int:
    return int(session.scalar(select(func.count()).where(ServedScan.activity_id == activity_id)) or 0)


# Meal points ----------------------------------------------------------------------------------


def meal_point_link(session: Session, project_id: int, meal_point_id: int) -> ProjectMealPoint | None:
    return session.get(ProjectMealPoint, (project_id, meal_point_id))


def meal_points_of(session: Session, project_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {p: [] for p in project_ids}
    for project_id, point_id in session.execute(
        select(ProjectMealPoint.project_id, ProjectMealPoint.meal_point_id)
        .where(ProjectMealPoint.project_id.in_(project_ids))
        .order_by(ProjectMealPoint.project_id, ProjectMealPoint.meal_point_id)
    ):
        out[project_id].append(point_id)
    return out


# Figures --------------------------------------------------------------------------------------


def projects(session: Session, project_ids: list[int]) -> list[Project]:
    return list(session.scalars(select(Project).where(Project.id.in_(project_ids)).order_by(Project.id)))


def projects_of_round(session: Session, round_id: int) -> list[Project]:
    return list(session.scalars(select(Project).where(Project.round_id == round_id).order_by(Project.id)))


def _live(project_ids: list[int]):
    return and_(ActivityLink.project_id.in_(project_ids), ActivityLink.unlinked_at.is_(None))


def held(session: Session, project_ids: list[int], now: datetime) -> dict[int, int]:
    """Linked activities that have ended and were not cancelled, per project."""
    return dict(
        session.execute(
            select(ActivityLink.project_id, func.count())
            .join(Activity, Activity.id == ActivityLink.activity_id)
            .where(_live(project_ids), Activity.ends_at <= now, Activity.cancelled_at.is_(None))
            .group_by(ActivityLink.project_id)
        ).all()
    )


def entered(session: Session, project_ids: list[int]) -> dict[int, int]:
    """The latest count entered for each linked activity, added up per project."""
    latest = (
        select(func.max(ServedCount.id).label("id"))
        .join(ActivityLink, ActivityLink.activity_id == ServedCount.activity_id)
        .where(_live(project_ids))
        .group_by(ServedCount.activity_id)
        .subquery()
    )
    return dict(
        session.execute(
            select(ActivityLink.project_id, func.sum(ServedCount.count))
            .select_from(ServedCount)
            .join(latest, latest.c.id == ServedCount.id)
            .join(ActivityLink, ActivityLink.activity_id == ServedCount.activity_id)
            .where(_live(project_ids))
            .group_by(ActivityLink.project_id)
        ).all()
    )


def scanned(session: Session, project_ids: list[int]) -> dict[int, int]:
    """Diners scanned at linked activities (each once per activity), per project."""
    return dict(
        session.execute(
            select(ActivityLink.project_id, func.count())
            .select_from(ServedScan)
            .join(ActivityLink, ActivityLink.activity_id == ServedScan.activity_id)
            .where(_live(project_ids))
            .group_by(ActivityLink.project_id)
        ).all()
    )


def meals(session: Session, project_ids: list[int]) -> dict[int, int]:
    """Meals served (not voided, never reversed) at a project's meal points within its dates."""
    return dict(
        session.execute(
            select(ProjectMealPoint.project_id, func.count())
            .select_from(Meal)
            .join(ProjectMealPoint, ProjectMealPoint.meal_point_id == Meal.meal_point_id)
            .join(Project, Project.id == ProjectMealPoint.project_id)
            .outerjoin(MealAdjustment, MealAdjustment.meal_id == Meal.id)
            .where(
                ProjectMealPoint.project_id.in_(project_ids),
                Meal.status == "served",
                MealAdjustment.id.is_(None),
                Meal.service_day >= Project.starts_on,
                Meal.service_day <= Project.ends_on,
            )
            .group_by(ProjectMealPoint.project_id)
        ).all()
    )


def _attendances(project_ids: list[int]):
    return (
        select()
        .select_from(Attendance)
        .join(ActivityLink, ActivityLink.activity_id == Attendance.activity_id)
        .where(_live(project_ids), Attendance.state.in_(COUNTED))
    )


def volunteering(session: Session, project_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """(volunteer person-times, distinct volunteers, service minutes) per project: attendances of
    linked activities, closed (by a scan or automatically), never annulled."""
    q = _attendances(project_ids).add_columns(
        ActivityLink.project_id,
        func.count(),
        func.count(Attendance.volunteer_id.distinct()),
        func.coalesce(func.sum(Attendance.minutes), 0),
    )
    return {
        p: (int(times), int(people), int(minutes))
        for p, times, people, minutes in session.execute(q.group_by(ActivityLink.project_id))
    }


def distinct_volunteers(session: Session, project_ids: list[int]) -> int:
    """Volunteers who served at any of the projects' linked activities (each once)."""
    q = _attendances(project_ids).add_columns(func.count(Attendance.volunteer_id.distinct()))
    return int(session.scalar(q) or 0)


# A round, for its report ---------------------------------------------------------------------


def grant_round(session: Session, round_id: int) -> GrantRound | None:
    return session.get(GrantRound, round_id)


def funder_partners(session: Session, round_id: int) -> set[int]:
    return set(
        session.scalars(
            select(RoundFunder.partner_id).where(
                RoundFunder.round_id == round_id, RoundFunder.partner_id.is_not(None)
            )
        )
    )


def goals(session: Session, proposal_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """(activities, person-times served, volunteer person-times) each proposal set out to reach."""
    return {
        pid: (a, s, v)
        for pid, a, s, v in session.execute(
            select(
                Proposal.id, Proposal.goal_activities, Proposal.goal_served, Proposal.goal_volunteer_times
            ).where(Proposal.id.in_(proposal_ids))
        )
    }
