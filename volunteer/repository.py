"""Queries on volunteers, filings, decisions and invitations."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from orgs.models import Organization
from volunteer.models import Filing, FilingDecision, TeamInvitation, Volunteer


def get(session: Session, volunteer_id: int) -> Volunteer | None:
    return session.get(Volunteer, volunteer_id)


def by_phone(session: Session, phone: str) -> Volunteer | None:
    return session.scalar(select(Volunteer).where(Volunteer.phone == phone))


def id_hash_taken(session: Session, hashes: list[str]) -> bool:
    return session.scalar(select(Volunteer.id).where(Volunteer.id_hash.in_(hashes)).limit(1)) is not None


def live_filing(session: Session, volunteer_id: int, team_id: int) -> Filing | None:
    return session.scalar(
        select(Filing).where(
            Filing.volunteer_id == volunteer_id,
            Filing.team_id == team_id,
            Filing.status.in_(("pending", "approved")),
        )
    )


def filing(session: Session, filing_id: int, *, for_update: bool = False) -> Filing | None:
    q = select(Filing).where(Filing.id == filing_id)
    return session.scalar(q.with_for_update() if for_update else q)


def filings_of_volunteer(session: Session, volunteer_id: int) -> list[tuple[Filing, Organization]]:
    q = (
        select(Filing, Organization)
        .join(Organization, Organization.id == Filing.team_id)
        .where(Filing.volunteer_id == volunteer_id)
        .order_by(Filing.id.desc())
    )
    return [(f, o) for f, o in session.execute(q)]


def filings_in_subtrees(
    session: Session, paths: list[str], *, status: str | None, team_id: int | None, after_id: int, limit: int
) -> list[tuple[Filing, Organization, Volunteer]]:
    if not paths:
        return []
    q = (
        select(Filing, Organization, Volunteer)
        .join(Organization, Organization.id == Filing.team_id)
        .join(Volunteer, Volunteer.id == Filing.volunteer_id)
        .where(or_(*(Organization.path.startswith(p) for p in paths)), Filing.id > after_id)
    )
    if status:
        q = q.where(Filing.status == status)
    if team_id:
        q = q.where(Filing.team_id == team_id)
    return [(f, o, v) for f, o, v in session.execute(q.order_by(Filing.id).limit(limit))]


def decisions_of(session: Session, filing_id: int) -> list[FilingDecision]:
    return list(
        session.scalars(
            select(FilingDecision).where(FilingDecision.filing_id == filing_id).order_by(FilingDecision.id)
        )
    )


def open_invitation(session: Session, team_id: int, phone: str) -> TeamInvitation | None:
    return session.scalar(
        select(TeamInvitation)
        .where(
            TeamInvitation.team_id == team_id, TeamInvitation.phone == phone, TeamInvitation.used_at.is_(None)
        )
        .limit(1)
    )
