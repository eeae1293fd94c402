"""Queries on volunteers, filings, decisions and invitations."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, false, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from linli import scope
from linli.db import const as _const
from orgs.models import Organization
from volunteer.models import (
    Activity,
    Attendance,
    AttendanceCorrection,
    Filing,
    FilingDecision,
    GeneratedFile,
    Shift,
    Signup,
    TeamInvitation,
    Volunteer,
)


def get(session: Session, volunteer_id: int) -> Volunteer | None:
    return session.get(Volunteer, volunteer_id)


def reached_from(session: Session, volunteer_id: int, paths: list[str]) -> bool:
    """Whether the volunteer is filed (approved) with a team within `paths`, or has an attendance
    at an activity of an organization within them."""
    inside = scope.within(Organization.path, paths)
    filed = select(Filing.id).join(Organization, Organization.id == Filing.team_id)
    filed = filed.where(Filing.volunteer_id == volunteer_id, Filing.status == "approved", inside)
    served = select(Attendance.id).join(Activity, Activity.id == Attendance.activity_id)
    served = served.join(Organization, Organization.id == Activity.org_id)
    served = served.where(Attendance.volunteer_id == volunteer_id, inside)
    return bool(session.scalar(select(or_(filed.exists(), served.exists()))))


def by_phone(session: Session, phone: str) -> Volunteer | None:
    return session.scalar(select(Volunteer).where(Volunteer.phone == phone))


def id_holder(session: Session, hashes: list[str]) -> int | None:
    """The volunteer whose resident ID has one of these keyed hashes, if any."""
    return session.scalar(select(Volunteer.id).where(Volunteer.id_hash.in_(hashes)).limit(1))


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
        .where(scope.within(Organization.path, paths), Filing.id > after_id)
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


# --- activities, sign-ups, attendance ----------------------------------------------------------


def activity(session: Session, activity_id: int, *, for_update: bool = False) -> Activity | None:
    q = select(Activity).where(Activity.id == activity_id)
    return session.scalar(q.with_for_update() if for_update else q)


def clashing_activity(
    session: Session, station_id: int, starts_at: datetime, ends_at: datetime, exclude_id: int | None
) -> Activity | None:
    q = select(Activity).where(
        Activity.station_id == station_id, Activity.starts_at < ends_at, Activity.ends_at > starts_at
    ).where(Activity.cancelled_at.is_(None))  # a cancelled activity frees its station
    if exclude_id is not None:
        q = q.where(Activity.id != exclude_id)
    return session.scalar(q.order_by(Activity.starts_at).limit(1))


def activities(
    session: Session,
    *,
    station_id: int | None,
    starts_from: datetime | None,
    starts_before: datetime | None,
    after_id: int,
    limit: int,
    ends_after: datetime | None = None,
) -> list[Activity]:
    q = select(Activity).where(Activity.id > after_id)
    if station_id is not None:
        q = q.where(Activity.station_id == station_id)
    if starts_from is not None:
        q = q.where(Activity.starts_at >= starts_from)
    if starts_before is not None:
        q = q.where(Activity.starts_at < starts_before)
    if ends_after is not None:
        q = q.where(Activity.ends_at > ends_after)
    return list(session.scalars(q.order_by(Activity.id).limit(limit)))


def live_signup(session: Session, activity_id: int, volunteer_id: int) -> Signup | None:
    return session.scalar(
        select(Signup).where(
            Signup.activity_id == activity_id,
            Signup.volunteer_id == volunteer_id,
            Signup.status != "cancelled",
        )
    )


def confirmed_count(session: Session, activity_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(Signup.activity_id == activity_id, Signup.status == "confirmed")
    )


def first_waitlisted(session: Session, activity_id: int) -> Signup | None:
    return session.scalar(
        select(Signup)
        .where(Signup.activity_id == activity_id, Signup.status == "waitlisted")
        .order_by(Signup.id)
        .limit(1)
    )


def overlapping_signup(
    session: Session, volunteer_id: int, starts_at: datetime, ends_at: datetime, exclude: int
):
    return session.scalar(
        select(Activity)
        .join(Signup, Signup.activity_id == Activity.id)
        .where(
            Signup.volunteer_id == volunteer_id,
            Signup.status != "cancelled",
            Activity.cancelled_at.is_(None),
            Activity.id != exclude,
            Activity.starts_at < ends_at,
            Activity.ends_at > starts_at,
        )
        .limit(1)
    )


def signups_of(session: Session, activity_id: int) -> list[tuple[Signup, Volunteer]]:
    q = (
        select(Signup, Volunteer)
        .join(Volunteer, Volunteer.id == Signup.volunteer_id)
        .where(Signup.activity_id == activity_id, Signup.status != "cancelled")
        .order_by(Signup.id)
    )
    return [(s, v) for s, v in session.execute(q)]


def lock_volunteer(session: Session, volunteer_id: int) -> Volunteer | None:
    """Scans of one volunteer are judged one at a time (row lock; SQLite serialises writers anyway)."""
    return session.scalar(select(Volunteer).where(Volunteer.id == volunteer_id).with_for_update())


def attendance(session: Session, attendance_id: int, *, for_update: bool = False) -> Attendance | None:
    q = select(Attendance).where(Attendance.id == attendance_id)
    return session.scalar(q.with_for_update() if for_update else q)


def reopen(session: Session, attendance_ids: list[int], job_ids: list[str]) -> None:
    """Check-outs made earlier in this same transaction, undone with the ledger's event they wrote
    (nothing of them is committed yet)."""
    from linli.outbox import OutboxMessage

    if attendance_ids:
        session.execute(
            update(Attendance)
            .where(Attendance.id.in_(attendance_ids))
            .values(state="open", checked_out_at=None, minutes=None)
        )
        session.execute(delete(OutboxMessage).where(OutboxMessage.job_id.in_(job_ids)))


def flag_later_attendances(session: Session, volunteer_id: int, activity_id: int, after: datetime, why: str):
    """A volunteer's closed attendances at an activity that end after a moment: for a coordinator."""
    session.execute(
        update(Attendance)
        .where(
            Attendance.volunteer_id == volunteer_id,
            Attendance.activity_id == activity_id,
            Attendance.checked_out_at > after,
            Attendance.state.in_(("closed", "auto_closed")),
        )
        .values(flagged=True, flag_reason=why)
    )


def overdue_open_attendances(session: Session, ended_before: datetime) -> list[tuple[Attendance, Activity]]:
    q = (
        select(Attendance, Activity)
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(Attendance.state == "open", Activity.ends_at < ended_before)
        .with_for_update(of=Attendance, skip_locked=True)
    )
    return [(a, act) for a, act in session.execute(q)]


def attendances_at(
    session: Session,
    *,
    station_ids: list[int] | None,
    org_paths: list[str],
    bound_station_ids: frozenset[int] = frozenset(),
    state: str | None,
    flagged: bool | None,
    after_id: int,
    limit: int,
) -> list[tuple[Attendance, Activity, Volunteer]]:
    q = (
        select(Attendance, Activity, Volunteer)
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(Volunteer, Volunteer.id == Attendance.volunteer_id)
        .join(Organization, Organization.id == Activity.org_id)
        .where(Attendance.id > after_id)
    )
    if station_ids is not None:
        q = q.where(Attendance.station_id.in_(station_ids))
    # the staff member's subtrees, or the stations a coordinator is bound to
    reach = [scope.within(Organization.path, org_paths)] if org_paths else []
    if bound_station_ids:
        reach.append(Attendance.station_id.in_(bound_station_ids))
    q = q.where(or_(*reach)) if reach else q.where(false())
    if state:
        q = q.where(Attendance.state == state)
    if flagged is not None:
        q = q.where(Attendance.flagged == flagged)
    return [(a, act, v) for a, act, v in session.execute(q.order_by(Attendance.id).limit(limit))]


def shift_activity_exists(session: Session, shift_id: int, starts_at: datetime) -> bool:
    q = select(Activity.id).where(Activity.shift_id == shift_id, Activity.starts_at == starts_at)
    return session.scalar(q) is not None


def all_shifts(session: Session) -> list[Shift]:
    return list(session.scalars(select(Shift).order_by(Shift.id)))


def attendances_of_activity(session: Session, activity_id: int) -> list[tuple[Attendance, Volunteer]]:
    q = (
        select(Attendance, Volunteer)
        .join(Volunteer, Volunteer.id == Attendance.volunteer_id)
        .where(Attendance.activity_id == activity_id)
        .order_by(Attendance.id)
    )
    return [(a, v) for a, v in session.execute(q)]


def approved_members(session: Session, team_id: int) -> list[Volunteer]:
    q = (
        select(Volunteer)
        .join(Filing, Filing.volunteer_id == Volunteer.id)
        .where(Filing.team_id == team_id, Filing.status == "approved")
        .order_by(Volunteer.id)
    )
    return list(session.scalars(q))


def delete_open_attendances(session: Session, attendance_ids: list[int]) -> None:
    """Open attendances undone by an earlier offline scan arriving late (no scan names them any
    more: `scans.repository.rewind` cleared them first)."""
    if attendance_ids:
        # rare (a volunteer's session split across tablets that uploaded in reverse): the foreign
        # key's check reads scans without an index on attendance_id, which every scan would pay for
        session.execute(
            delete(Attendance).where(Attendance.id.in_(attendance_ids), Attendance.state == "open")
        )


# --- statements of a check-in, built once -------------------------------------------------------
# A scan runs several statements; building them anew each time cost more than running them.
# These return plain rows (attribute access like the models) and write with Core statements.
# The scan door's lock-free statements (`scans.repository`) compose WINDOW, INSERT_ATTENDANCE and
# CLOSE_ATTENDANCE into its one-statement check-ins and check-outs.


_Team = aliased(Organization)
_FILED_HERE = (
    select(Filing.id)
    .join(_Team, _Team.id == Filing.team_id)
    .where(
        Filing.volunteer_id == bindparam("volunteer_id"),
        Filing.status == _const("approved"),
        scope.within(_Team.path, [Organization.path]),
    )
    .exists()
)
WINDOW = (
    select(
        _FILED_HERE.label("filed_here"),
        Activity.id,
        Activity.title,
        Activity.starts_at,
        Activity.ends_at,
        Activity.capacity,
        Activity.walk_ins,
        Activity.team_ids,
        Activity.org_id,
        Organization.path,
        Signup.status,
        Activity.cancelled_at,
    )
    .join(Organization, Organization.id == Activity.org_id)
    .outerjoin(
        Signup,
        and_(
            Signup.activity_id == Activity.id,
            Signup.volunteer_id == bindparam("volunteer_id"),
            Signup.status != _const("cancelled"),
        ),
    )
    .where(
        Activity.station_id == bindparam("station_id"),
        Activity.starts_at <= bindparam("latest_start"),
        Activity.ends_at >= bindparam("at"),
    )
    # the order a check-in tries them (`attendance.check_in`): cancelled last, signed up for, starting first
    .order_by(Activity.cancelled_at.is_not(None), Signup.status.is_(None), Activity.starts_at, Activity.id)
)
_FILED = (
    select(Organization.id, Organization.path)
    .join(Filing, Filing.team_id == Organization.id)
    .where(Filing.volunteer_id == bindparam("volunteer_id"), Filing.status == _const("approved"))
)
_TAKEN = select(
    select(func.count())
    .select_from(Signup)
    .where(Signup.activity_id == bindparam("activity_id"), Signup.status == _const("confirmed"))
    .scalar_subquery(),
    select(func.count(Attendance.volunteer_id.distinct()))
    .where(
        Attendance.activity_id == bindparam("activity_id"),
        Attendance.state != _const("annulled"),
        Attendance.volunteer_id.not_in(
            select(Signup.volunteer_id).where(
                Signup.activity_id == bindparam("activity_id"), Signup.status == _const("confirmed")
            )
        ),
    )
    .scalar_subquery(),
)
_ATTENDED = (
    select(Attendance.id)
    .where(
        Attendance.activity_id == bindparam("activity_id"),
        Attendance.volunteer_id == bindparam("volunteer_id"),
        Attendance.state != _const("annulled"),
    )
    .limit(_const(1))
)
_LOCK_ACTIVITY = select(Activity.id).where(Activity.id == bindparam("activity_id")).with_for_update()
INSERT_ATTENDANCE = insert(Attendance).returning(Attendance.id)
CLOSE_ATTENDANCE = update(Attendance).where(  # the check-in time names the month: one month written
    Attendance.id == bindparam("attendance_id"), Attendance.state == _const("open"),
    Attendance.checked_in_at == bindparam("attendance_checked_in_at"),
)  # fmt: skip


def try_lock_volunteer(session: Session, volunteer_id: int) -> bool:
    """The volunteer's scan lock if free now (PostgreSQL skips a locked row; SQLite has one writer)."""
    q = select(Volunteer.id).where(Volunteer.id == volunteer_id).with_for_update(skip_locked=True)
    return session.connection().execute(q).first() is not None


def window_rows(session: Session, station_id: int, at: datetime, early_seconds: int, volunteer_id: int):
    """Activities at a station whose window (with the early allowance) holds a moment, with their
    organization's path and the volunteer's live sign-up status: the signed-up ones first, then by
    start."""
    params = {
        "station_id": station_id,
        "at": at,
        "latest_start": at + timedelta(seconds=early_seconds),
        "volunteer_id": volunteer_id,
    }
    return list(session.connection().execute(WINDOW, params))


def approved_team_paths(session: Session, volunteer_id: int) -> list[tuple[int, str]]:
    return [(i, p) for i, p in session.connection().execute(_FILED, {"volunteer_id": volunteer_id})]


def walk_in_has_place(session: Session, activity_id: int, volunteer_id: int, capacity: int) -> bool:
    """Whether a volunteer without a confirmed sign-up may check in: someone who already attended
    this activity keeps the place; otherwise confirmed sign-ups plus distinct walk-ins must leave
    room. The activity row is locked so two walk-ins cannot take the last place together."""
    session.connection().execute(_LOCK_ACTIVITY, {"activity_id": activity_id})
    if (
        session.connection()
        .execute(_ATTENDED, {"activity_id": activity_id, "volunteer_id": volunteer_id})
        .first()
    ):
        return True
    confirmed, walk_ins = session.connection().execute(_TAKEN, {"activity_id": activity_id}).one()
    return confirmed + walk_ins < capacity


def insert_attendance(session: Session, **values) -> int:
    return session.connection().execute(INSERT_ATTENDANCE, values).scalar_one()


def close_attendance(session: Session, attendance_id: int, checked_in_at: datetime, **values) -> bool:
    """Close an open attendance (its check-in time names its month); False if it was no longer open."""
    params = {"attendance_id": attendance_id, "attendance_checked_in_at": checked_in_at, **values}
    return session.connection().execute(CLOSE_ATTENDANCE, params).rowcount == 1


def generated_file(session: Session, file_id: int) -> GeneratedFile | None:
    return session.get(GeneratedFile, file_id)


# --- read by points (积分读取) ------------------------------------------------------------------


def lock_volunteers_of_attendances(session: Session, attendance_ids) -> None:
    session.execute(
        select(Volunteer.id)
        .where(Volunteer.id.in_(select(Attendance.volunteer_id).where(Attendance.id.in_(attendance_ids))))
        .order_by(Volunteer.id)
        .with_for_update()
    )


def attendances_with_kind_and_path(session: Session, attendance_ids) -> list:
    return session.execute(
        select(Attendance, Activity.kind, Organization.path)
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(Organization, Organization.id == Activity.org_id)
        .where(Attendance.id.in_(attendance_ids))
    ).all()


def attendance_of_correction(session: Session, correction_id: int) -> int | None:
    return session.scalar(
        select(AttendanceCorrection.attendance_id).where(AttendanceCorrection.id == correction_id)
    )


def names_of(session: Session, volunteer_ids) -> dict[int, str]:
    return dict(
        session.execute(select(Volunteer.id, Volunteer.name).where(Volunteer.id.in_(volunteer_ids))).all()
    )
