"""Queries for a volunteer finding what to join (找活动、入队): the upcoming activities of the
organizations they are filed under, with the place, the organization, the confirmed sign-ups and
their own sign-up; the teams that invited their phone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from linli import scope
from orgs.models import Organization, Station
from volunteer.models import Activity, Filing, Signup, TeamInvitation

_Team = aliased(Organization)
_Mine = aliased(Signup)


def upcoming(
    session: Session, volunteer_id: int, *, now: datetime, signed_up_only: bool, offset: int, limit: int
) -> list[tuple[Activity, str, str, str, int, str | None]]:
    """Activities not over yet, by start time: those of an organization above a team the volunteer
    is filed with (approved), and those they hold a live sign-up for (only these with
    `signed_up_only`). Each with its station's name, its organization's name and path, its
    confirmed sign-ups and the volunteer's sign-up status (None: none)."""
    confirmed = (
        select(func.count())
        .select_from(Signup)
        .where(Signup.activity_id == Activity.id, Signup.status == "confirmed")
        .correlate(Activity)
        .scalar_subquery()
    )
    filed_under = (
        select(Filing.id)
        .join(_Team, _Team.id == Filing.team_id)
        .where(
            Filing.volunteer_id == volunteer_id,
            Filing.status == "approved",
            scope.within(_Team.path, [Organization.path]),
        )
        .correlate(Organization)
        .exists()
    )
    q = (
        select(Activity, Station.name, Organization.name, Organization.path, confirmed, _Mine.status)
        .join(Station, Station.id == Activity.station_id)
        .join(Organization, Organization.id == Activity.org_id)
        .outerjoin(
            _Mine,
            and_(
                _Mine.activity_id == Activity.id,
                _Mine.volunteer_id == volunteer_id,
                _Mine.status != "cancelled",
            ),
        )
        .where(Activity.ends_at > now)
    )
    # cancelled: still shown to those signed up (as cancelled), no longer offered to others
    q = (
        q.where(_Mine.id.is_not(None))
        if signed_up_only
        else q.where(or_(_Mine.id.is_not(None), and_(filed_under, Activity.cancelled_at.is_(None))))
    )
    q = q.order_by(Activity.starts_at, Activity.id).offset(offset).limit(limit)
    return [tuple(row) for row in session.execute(q)]


def live_signup_windows(
    session: Session, volunteer_id: int, now: datetime
) -> list[tuple[int, datetime, datetime]]:
    """(activity id, starts_at, ends_at) of the volunteer's live sign-ups to activities not over
    (nor cancelled)."""
    q = (
        select(Activity.id, Activity.starts_at, Activity.ends_at)
        .join(Signup, Signup.activity_id == Activity.id)
        .where(
            Signup.volunteer_id == volunteer_id,
            Signup.status != "cancelled",
            Activity.ends_at > now,
            Activity.cancelled_at.is_(None),
        )
    )
    return [tuple(row) for row in session.execute(q)]


def open_invitations_for(session: Session, phone: str) -> list[TeamInvitation]:
    q = select(TeamInvitation).where(TeamInvitation.phone == phone, TeamInvitation.used_at.is_(None))
    return list(session.scalars(q.order_by(TeamInvitation.id)))
