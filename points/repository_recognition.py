"""Queries of recognition (表彰与证明): commendation rounds, commendations and certificates."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgs.models import Organization
from points.models import Award, Certificate, Commendation, CommendationRound
from volunteer.models import Activity, Attendance


def deliveries_by_volunteer(session: Session, hub_id: int, start: date, end: date) -> dict[int, int]:
    """Home deliveries awarded in the period, by volunteer."""
    return dict(
        session.execute(
            select(Award.volunteer_id, func.count())
            .where(Award.hub_id == hub_id, Award.kind == "delivery", Award.day.between(start, end))
            .group_by(Award.volunteer_id)
        ).all()
    )


def minutes_by_org_path(session: Session, hub_id: int, kinds, start: date, end: date) -> list:
    """(volunteer, organization path, minutes) awarded in the period for service of these kinds.

    The one query of points that reads volunteer's tables (and orgs'): awards joined to their
    attendance's activity and organization, summed in the database. Asking volunteer's service
    for each attendance's organization instead would move every attendance of the period (a
    hub's year: tens of thousands) across in a second round trip."""
    return session.execute(
        select(Award.volunteer_id, Organization.path, func.sum(Award.minutes))
        .join(Attendance, Attendance.id == Award.attendance_id)
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(Organization, Organization.id == Activity.org_id)
        .where(Award.hub_id == hub_id, Award.kind.in_(kinds), Award.day.between(start, end))
        .group_by(Award.volunteer_id, Organization.path)
    ).all()


def minutes_of(session: Session, volunteer_id: int, kinds, start: date, end: date) -> int:
    """Minutes awarded to the volunteer in the period for service of these kinds."""
    return session.scalar(
        select(func.coalesce(func.sum(Award.minutes), 0)).where(
            Award.volunteer_id == volunteer_id, Award.kind.in_(kinds), Award.day.between(start, end)
        )
    )


def rounds_of(session: Session, hub_id: int, before_id: int, limit: int) -> list[CommendationRound]:
    q = select(CommendationRound).where(CommendationRound.hub_id == hub_id)
    if before_id:
        q = q.where(CommendationRound.id < before_id)
    return list(session.scalars(q.order_by(CommendationRound.id.desc()).limit(limit)))


def round_(session: Session, round_id: int, *, for_update: bool = False) -> CommendationRound | None:
    if for_update:  # read again under the lock
        return session.get(CommendationRound, round_id, with_for_update=True, populate_existing=True)
    return session.get(CommendationRound, round_id)


def commendations_in(session: Session, round_id: int) -> list[Commendation]:
    """A round's commendations, most minutes first."""
    return list(
        session.scalars(
            select(Commendation)
            .where(Commendation.round_id == round_id)
            .order_by(Commendation.minutes.desc(), Commendation.id)
        )
    )


def commendation(session: Session, round_id: int, volunteer_id: int) -> Commendation | None:
    return session.scalar(
        select(Commendation).where(
            Commendation.round_id == round_id, Commendation.volunteer_id == volunteer_id
        )
    )


def confirmed_commendations_of(
    session: Session, volunteer_id: int
) -> list[tuple[Commendation, CommendationRound]]:
    rows = session.execute(
        select(Commendation, CommendationRound)
        .join(CommendationRound, CommendationRound.id == Commendation.round_id)
        .where(Commendation.volunteer_id == volunteer_id, Commendation.status == "confirmed")
        .order_by(CommendationRound.period_end.desc(), Commendation.id.desc())
    )
    return [(c, r) for c, r in rows]


def certificates_of(session: Session, volunteer_id: int) -> list[Certificate]:
    return list(
        session.scalars(
            select(Certificate)
            .where(Certificate.volunteer_id == volunteer_id)
            .order_by(Certificate.id.desc())
        )
    )


def certificate(session: Session, certificate_id: int) -> Certificate | None:
    return session.get(Certificate, certificate_id)
