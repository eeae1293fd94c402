"""Attendance (考勤): what a volunteer's accepted scan does (check in or check out), closing
attendances (at check-out, or forgotten ones after the activity), and coordinators' corrections.

The scan door (`scans`) reads the code, the device and the volunteer's state and calls
`check_out` or `check_in` under the volunteer's lock; a refusal is `linli.errors.Refused`.
Closing and correcting write outbox events for the points ledger in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from linli.errors import FieldError, Refused, conflict, invalid, not_found
from linli.outbox import emit
from orgs import service as orgs_service
from volunteer import activities, repository
from volunteer.models import CORRECTED_MINUTES, REASON_MAX, Attendance, AttendanceCorrection

# the order a check-in's refusals are told in, when several activities refuse it
_REFUSAL_ORDER = ["not_filed", "not_allowed_here", "not_signed_up", "capacity_full", "activity_cancelled"]


def activity_ref(activity_id: int, title: str, starts_at: datetime, ends_at: datetime) -> dict:
    """The activity as a scan's answer names it, its times in UTC (a lock-free read gives them in
    the database session's time zone)."""
    return {
        "id": activity_id,
        "title": title,
        "starts_at": starts_at.astimezone(UTC).isoformat(),
        "ends_at": ends_at.astimezone(UTC).isoformat(),
    }


def check_out(
    session: Session, state, who: dict, station_id: int, at: datetime, received_at: datetime
) -> dict:
    """A checked-in volunteer's scan, under their lock: a check-out here (or a duplicate, for an
    offline scan from before the check-in). `state`: the open attendance and its activity."""
    if state.attendance_station_id != station_id:
        raise Refused("checked_in_elsewhere", volunteer=who)
    activity = activity_ref(state.activity_id, state.title, state.starts_at, state.ends_at)
    if at < state.checked_in_at:  # an offline scan from before the check-in: already in
        return {
            "outcome": "duplicate",
            "volunteer": who,
            "activity": activity,
            "attendance_id": state.attendance_id,
        }
    minutes = close(
        session, state.attendance_id, state.checked_in_at, state.ends_at, at, state="closed", now=received_at
    )
    assert minutes is not None  # the volunteer's lock keeps it open until here
    return {
        "outcome": "checked_out",
        "volunteer": who,
        "activity": activity,
        "attendance_id": state.attendance_id,
        "minutes": minutes,
    }


def check_in(
    session: Session,
    volunteer_id: int,
    who: dict,
    station_id: int,
    at: datetime,
    received_at: datetime,
    *,
    early_minutes: int,
    held: frozenset[int],
) -> dict:
    """A volunteer not checked in, under their lock: a check-in to an activity at the station now,
    or why not. `held`: activities whose later attendance closed before this (offline) scan
    arrived; a check-in there is held for review."""
    candidates = repository.window_rows(session, station_id, at, early_minutes * 60, volunteer_id)
    if not candidates:
        raise Refused("outside_window", volunteer=who)
    # named-team activities need the volunteer's teams; the rest only whether they filed in the subtree
    filed = (
        repository.approved_team_paths(session, volunteer_id) if any(a.team_ids for a in candidates) else None
    )
    # several at a shared station: the one signed up for first, then the first that admits the volunteer
    reasons = []
    for activity in candidates:
        if activity.cancelled_at is not None:
            reasons.append("activity_cancelled")
            continue
        if activity.team_ids:
            reason = activities.eligibility_problem(session, volunteer_id, activity, activity.path, filed)
        else:
            reason = None if activity.filed_here else "not_filed"
        if reason is None and activity.status != "confirmed":
            if not activity.walk_ins:
                reason = "not_signed_up"
            elif not repository.walk_in_has_place(session, activity.id, volunteer_id, activity.capacity):
                reason = "capacity_full"
        act = activity_ref(activity.id, activity.title, activity.starts_at, activity.ends_at)
        if reason is None and activity.id in held:
            repository.flag_later_attendances(session, volunteer_id, activity.id, at, "earlier_offline_scan")
            raise Refused("held_for_review", volunteer=who, activity=act)
        if reason is None:
            # the volunteer's row lock makes this the only open attendance (also a unique index)
            attendance_id = repository.insert_attendance(
                session,
                activity_id=activity.id,
                volunteer_id=volunteer_id,
                station_id=station_id,
                state="open",
                checked_in_at=max(at, activity.starts_at),
                flagged=False,
                created_at=received_at,
            )
            return {
                "outcome": "checked_in",
                "volunteer": who,
                "activity": act,
                "attendance_id": attendance_id,
            }
        reasons.append(reason)
    first = candidates[0]
    raise Refused(
        min(reasons, key=_REFUSAL_ORDER.index),
        volunteer=who,
        activity=activity_ref(first.id, first.title, first.starts_at, first.ends_at),
    )


def close(
    session: Session,
    attendance_id: int,
    checked_in_at: datetime,
    ends_at: datetime,
    at: datetime,
    *,
    state: str,
    now: datetime,
    flag: str | None = None,
) -> int | None:
    """Close an open attendance: minutes from check-in to check-out, counted within the activity's
    window; the event for the points ledger is written in the same transaction. Returns the
    minutes, or None if it was no longer open."""
    checked_out_at, minutes = checked_out(checked_in_at, ends_at, at)
    values = {"checked_out_at": checked_out_at, "minutes": minutes, "state": state}
    if flag:
        values |= {"flagged": True, "flag_reason": flag}
    if not repository.close_attendance(session, attendance_id, checked_in_at, **values):
        return None  # closed meanwhile (the forgotten check-out job): nothing more to do
    # an attendance closes once (an offline scan may undo it before commit: `reopen`)
    emit(session, **closed_event(attendance_id, now), known_new=True)
    closed_here(session).add(attendance_id)
    return minutes


def checked_out(checked_in_at: datetime, ends_at: datetime, at: datetime) -> tuple[datetime, int]:
    """An attendance checked out at `at`: its check-out time and its minutes, counted within the
    activity's window."""
    out = min(max(at, checked_in_at), ends_at)
    return max(at, checked_in_at), max(0, int((out - checked_in_at).total_seconds() // 60))


def closed_event(attendance_id: int, now: datetime) -> dict:
    """The event for the points ledger when an attendance closes (`emit`'s arguments)."""
    return {
        "event": "attendance.closed",
        "job_id": _closed_job_id(attendance_id),
        "args": [attendance_id],
        "queue": "points",
        "now": now,
    }


def _closed_job_id(attendance_id: int) -> str:
    return f"attendance-closed-{attendance_id}"


def closed_here(session: Session) -> set[int]:
    """Attendances closed in the session's transaction, not yet committed."""
    return session.info.setdefault("closed_attendances", set())


def reopen(session: Session, attendance_ids: list[int]) -> None:
    """Check-outs made earlier in this same transaction, undone with the ledger's events they
    wrote (nothing of them is committed yet)."""
    repository.reopen(session, attendance_ids, [_closed_job_id(i) for i in attendance_ids])


def drop_open(session: Session, attendance_ids: list[int]) -> None:
    """Open attendances undone (their check-in is judged again; no scan names them any more)."""
    repository.delete_open_attendances(session, attendance_ids)


def close_forgotten(session: Session, *, now: datetime, grace_minutes: int) -> int:
    """Attendances still open `grace` after their activity ended: closed at the scheduled end
    (so capped at the scheduled length) and flagged for a coordinator."""
    rows = repository.overdue_open_attendances(session, now - timedelta(minutes=grace_minutes))
    closed = 0
    for attendance, activity in rows:
        # the volunteer's lock, as a scan takes it; a volunteer being scanned right now waits for the next run
        if not repository.try_lock_volunteer(session, attendance.volunteer_id):
            continue
        minutes = close(
            session,
            attendance.id,
            attendance.checked_in_at,
            activity.ends_at,
            activity.ends_at,
            state="auto_closed",
            now=now,
            flag="forgot_checkout",
        )
        closed += minutes is not None
    return closed


def correct(
    session: Session,
    *,
    attendance_id: int,
    minutes: int | None,
    annul: bool,
    reason: str,
    staff_user_id: int,
    staff_paths: list[str],
    bound_station_ids: frozenset[int] = frozenset(),
    now: datetime,
) -> AttendanceCorrection:
    """A coordinator corrects the minutes, or annuls, with a reason: a new record, and an event for
    the points ledger to adjust."""
    attendance = repository.attendance(session, attendance_id, for_update=True)
    if attendance is None:
        raise not_found("考勤记录 Attendance", "attendance_not_found")
    activity = activities.get(session, attendance.activity_id)
    if attendance.station_id not in bound_station_ids:
        orgs_service.require_staff_of(staff_paths, orgs_service.get(session, activity.org_id))
    reason = (reason or "").strip()
    errors = []
    if not reason:
        errors.append(FieldError("reason", "required", "请填写理由 A reason is required"))
    elif len(reason) > REASON_MAX:
        errors.append(FieldError("reason", "length", "理由最多500字 At most 500 characters"))
    length = int((activity.ends_at - activity.starts_at).total_seconds() // 60)
    if not annul and (minutes is None or not CORRECTED_MINUTES[0] <= minutes <= CORRECTED_MINUTES[1]):
        errors.append(FieldError("minutes", "out_of_range", "分钟数应为0到1440 Minutes must be 0 to 1440"))
    elif not annul and minutes > length:  # a certificate would print more hours than the activity had
        errors.append(
            FieldError(
                "minutes",
                "exceeds_activity",
                f"不能超过活动时长{length}分钟 At most the activity's {length} minutes",
            )
        )
    if errors:
        raise invalid(errors)
    if attendance.state == "open":
        raise conflict("attendance_open", "请先签退再更正 Check out before correcting")
    if attendance.state == "annulled":
        raise conflict("attendance_annulled", "该记录已作废 This attendance is annulled")
    correction = AttendanceCorrection(
        attendance_id=attendance.id,
        minutes_before=attendance.minutes,
        minutes_after=0 if annul else minutes,
        annulled=annul,
        reason=reason,
        corrected_by=staff_user_id,
        corrected_at=now,
    )
    session.add(correction)
    attendance.minutes = correction.minutes_after
    if annul:
        attendance.state = "annulled"
    attendance.flagged = False
    session.flush()
    emit(
        session,
        event="attendance.corrected",
        job_id=f"attendance-corrected-{correction.id}",
        args=[correction.id],
        now=now,
        queue="points",
    )
    return correction


def attendances(session: Session, **filters):
    return repository.attendances_at(session, **filters)


def attendances_of_activity(session: Session, activity_id: int):
    return repository.attendances_of_activity(session, activity_id)


def hold(session: Session, attendance_id: int, reason: str) -> None:
    """An attendance from an offline scan held for a hub's review (integrity): flagged, it earns
    nothing until `release`."""
    attendance = repository.attendance(session, attendance_id, for_update=True)
    attendance.flagged, attendance.flag_reason = True, f"held:{reason}"
    session.flush()


def release(session: Session, attendance_id: int, review_id: int, *, now: datetime) -> None:
    """A held attendance approved: it counts, and the points ledger settles it again."""
    attendance = _held(session, attendance_id)
    attendance.flagged, attendance.flag_reason = False, None
    _reviewed(session, attendance, review_id, now)


def reject_held(session: Session, attendance_id: int, review_id: int, *, now: datetime) -> None:
    """A held attendance rejected: annulled, no minutes, no points."""
    attendance = _held(session, attendance_id)
    attendance.flagged, attendance.state, attendance.minutes = False, "annulled", 0
    _reviewed(session, attendance, review_id, now)


def _held(session: Session, attendance_id: int) -> Attendance:
    attendance = repository.attendance(session, attendance_id, for_update=True)
    if attendance is None:
        raise not_found("考勤记录 Attendance", "attendance_not_found")
    if not (attendance.flagged and (attendance.flag_reason or "").startswith("held:")):
        raise conflict("not_held", "该记录不在待审核状态 This attendance is not held for review")
    return attendance


def _reviewed(session: Session, attendance: Attendance, review_id: int, now: datetime) -> None:
    session.flush()
    if attendance.state != "open":  # an open one is settled when it closes
        emit(
            session,
            event="attendance.reviewed",
            job_id=f"attendance-reviewed-{review_id}",
            args=[attendance.id, review_id],
            now=now,
            queue="points",
        )
