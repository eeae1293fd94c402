"""Activities, recurring shifts and sign-ups (活动、班次与报名).

An activity holds a station for a time window: two activities may not overlap at one station,
whatever their organizations (409 activity_clash). A shared station (a community centre) is one any
organization may book, not one booked twice at once: the clash the case report tells of was two
organizations at the same time and place. Sign-ups fill the capacity, then a waitlist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linli import scope
from linli.errors import FieldError, LinliError, conflict, forbidden, invalid, not_found
from orgs import service as orgs_service
from volunteer import notices, repository
from volunteer.models import (
    ACTIVITY_CAPACITY,
    ACTIVITY_KINDS,
    CANCEL_REASON_MAX,
    DESCRIPTION_MAX,
    WEEKDAYS,
    Activity,
    Shift,
    Signup,
)


@dataclass(frozen=True)
class ActivityInput:
    org_id: int
    station_id: int
    title: str
    kind: str
    starts_at: datetime | None
    ends_at: datetime | None
    capacity: int
    walk_ins: bool = True
    team_ids: list[int] | None = None
    description: str = ""


def _check(session: Session, data: ActivityInput) -> None:
    errors = []
    if not 1 <= len(data.title.strip()) <= 100:
        errors.append(FieldError("title", "length", "名称应为1到100个字 Title must be 1 to 100 characters"))
    if data.kind not in ACTIVITY_KINDS:
        errors.append(FieldError("kind", "invalid_choice", "类型应为 " + "、".join(ACTIVITY_KINDS)))
    if len(data.description) > DESCRIPTION_MAX:
        errors.append(
            FieldError("description", "length", "说明最多500字 The description is at most 500 characters")
        )
    for name in ("starts_at", "ends_at"):
        value = getattr(data, name)
        if value is None:
            errors.append(FieldError(name, "required", "必填 Required"))
        elif value.tzinfo is None:
            errors.append(FieldError(name, "timezone_required", "时间须带时区 Give the time with its offset"))
        elif not (2000 <= value.year < 2100):
            errors.append(FieldError(name, "out_of_range", "时间不合理 Implausible time"))
    if (
        data.starts_at
        and data.ends_at
        and data.starts_at.tzinfo
        and data.ends_at.tzinfo
        and data.ends_at <= data.starts_at
    ):
        errors.append(
            FieldError("ends_at", "before_start", "结束时间须晚于开始时间 The end must be after the start")
        )
    if not ACTIVITY_CAPACITY[0] <= data.capacity <= ACTIVITY_CAPACITY[1]:
        errors.append(FieldError("capacity", "out_of_range", "人数应为1到10000 Capacity must be 1 to 10000"))
    if errors:
        raise invalid(errors)
    orgs_service.get(session, data.org_id)
    orgs_service.get_station(session, data.station_id)


def _require_station(session: Session, admin_paths: list[str], station_id: int) -> None:
    """A station is booked by admins of its organization, or by anyone's activity if it is shared."""
    station = orgs_service.get_station(session, station_id)
    if not station.shared:
        orgs_service.require_admin_of(admin_paths, orgs_service.get(session, station.org_id))


def _clash(session: Session, station_id: int, starts_at: datetime, ends_at: datetime, exclude_id: int | None):
    other = repository.clashing_activity(session, station_id, starts_at, ends_at, exclude_id)
    if other is not None:
        raise conflict(
            "activity_clash",
            f"与“{other.title}”时间冲突（同一场地）The station is already booked by “{other.title}”",
            clash={
                "id": other.id,
                "title": other.title,
                "org_id": other.org_id,
                "starts_at": other.starts_at.isoformat(),
                "ends_at": other.ends_at.isoformat(),
            },
        )


def create(
    session: Session,
    data: ActivityInput,
    *,
    admin_paths: list[str],
    created_by: int | None,
    now: datetime,
    shift_id: int | None = None,
) -> Activity:
    _check(session, data)
    org = orgs_service.get(session, data.org_id)
    orgs_service.require_admin_of(admin_paths, org)
    for team_id in data.team_ids or []:
        team = orgs_service.get_team(session, team_id)
        orgs_service.require_admin_of(admin_paths, team)  # a team of elsewhere: 403, as for the org
        if not scope.covers([org.path], team.path):
            raise invalid(
                [
                    FieldError(
                        "team_ids",
                        "outside_org",
                        f"“{team.name}”不属于该组织 Team is not in this organization",
                    )
                ]
            )
    _require_station(session, admin_paths, data.station_id)
    starts_at, ends_at = data.starts_at.astimezone(UTC), data.ends_at.astimezone(UTC)
    _clash(session, data.station_id, starts_at, ends_at, None)
    activity = Activity(
        org_id=data.org_id,
        station_id=data.station_id,
        title=data.title.strip(),
        kind=data.kind,
        description=data.description.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=data.capacity,
        walk_ins=data.walk_ins,
        team_ids=data.team_ids or None,
        shift_id=shift_id,
        created_by=created_by,
        created_at=now,
    )
    session.add(activity)
    session.flush()
    return activity


def move(
    session: Session,
    activity_id: int,
    *,
    starts_at: datetime | None,
    ends_at: datetime | None,
    station_id: int | None,
    admin_paths: list[str],
    now: datetime,
    tz: ZoneInfo | None = None,
) -> Activity:
    """Move an activity in time or place; everyone signed up is told (a notice each)."""
    activity = get(session, activity_id, for_update=True)
    orgs_service.require_admin_of(admin_paths, orgs_service.get(session, activity.org_id))
    refuse_cancelled(activity)
    before = (activity.station_id, activity.starts_at, activity.ends_at)
    data = ActivityInput(
        org_id=activity.org_id,
        station_id=station_id or activity.station_id,
        title=activity.title,
        kind=activity.kind,
        starts_at=starts_at or activity.starts_at,
        ends_at=ends_at or activity.ends_at,
        capacity=activity.capacity,
    )
    _check(session, data)
    if data.station_id != activity.station_id:
        _require_station(session, admin_paths, data.station_id)
    _clash(session, data.station_id, data.starts_at, data.ends_at, activity.id)
    activity.station_id = data.station_id
    activity.starts_at, activity.ends_at = data.starts_at.astimezone(UTC), data.ends_at.astimezone(UTC)
    session.flush()
    if (activity.station_id, activity.starts_at, activity.ends_at) != before and activity.ends_at > now:
        signed_up = [signup.volunteer_id for signup, _ in repository.signups_of(session, activity.id)]
        notices.activity_moved(session, activity, signed_up, now, tz)
    return activity


def refuse_cancelled(activity: Activity) -> None:
    if activity.cancelled_at is not None:
        raise conflict(
            "activity_cancelled",
            f"活动已取消：{activity.cancel_reason} The activity was cancelled: {activity.cancel_reason}",
        )


def cancel(
    session: Session,
    activity_id: int,
    *,
    reason: str,
    admin_paths: list[str],
    staff_user_id: int,
    now: datetime,
    tz: ZoneInfo | None = None,
) -> Activity:
    """Cancel an activity that has not ended, with a reason; everyone signed up (confirmed or
    waiting) is told, once. The sign-ups stay as they were (the volunteer's "my upcoming" shows
    the activity as cancelled) but count for nothing: no one may sign up, be moved up or check in.
    The station is free again for another activity."""
    activity = get(session, activity_id, for_update=True)
    orgs_service.require_admin_of(admin_paths, orgs_service.get(session, activity.org_id))
    reason = reason.strip()
    if not 1 <= len(reason) <= CANCEL_REASON_MAX:
        raise invalid([FieldError("reason", "length", "理由应为1到200个字 The reason must be 1 to 200 characters")])
    refuse_cancelled(activity)
    if activity.ends_at <= now:
        raise conflict("activity_over", "活动已结束，不能取消 The activity is over and cannot be cancelled")
    activity.cancelled_at, activity.cancelled_by, activity.cancel_reason = now, staff_user_id, reason
    session.flush()
    signed_up = [signup.volunteer_id for signup, _ in repository.signups_of(session, activity.id)]
    notices.activity_cancelled(session, activity, signed_up, now, tz)
    return activity


def get(session: Session, activity_id: int, *, for_update: bool = False) -> Activity:
    activity = repository.activity(session, activity_id, for_update=for_update)
    if activity is None:
        raise not_found("活动 Activity", "activity_not_found")
    return activity


def listing(session: Session, **filters) -> list[Activity]:
    return repository.activities(session, **filters)


# --- who may take part ---------------------------------------------------------------------------


def eligibility_problem(
    session: Session,
    volunteer_id: int,
    activity: Activity,
    org_path: str | None = None,
    filed: list[tuple[int, str]] | None = None,
) -> str | None:
    """None if the volunteer may take part; else `not_filed` or `not_allowed_here`."""
    if org_path is None:
        org_path = orgs_service.get(session, activity.org_id).path
    if filed is None:
        filed = repository.approved_team_paths(session, volunteer_id)
    in_subtree = [team_id for team_id, path in filed if scope.covers([org_path], path)]
    if activity.team_ids:
        if any(team_id in activity.team_ids for team_id, _ in filed):
            return None
        return "not_allowed_here" if in_subtree else "not_filed"
    return None if in_subtree else "not_filed"


# --- sign-ups ------------------------------------------------------------------------------------


def sign_up(
    session: Session, *, activity_id: int, volunteer_id: int, now: datetime, tz: ZoneInfo | None = None
) -> Signup:
    activity = get(session, activity_id, for_update=True)  # one sign-up at a time per activity
    refuse_cancelled(activity)
    if activity.ends_at <= now:
        raise conflict("activity_over", "活动已结束 The activity is over")
    problem = eligibility_problem(session, volunteer_id, activity)
    if problem == "not_filed":
        raise forbidden(
            "请先加入该组织的志愿服务队（备案） File with a team of this organization first", "not_filed"
        )
    if problem == "not_allowed_here":
        raise forbidden("该活动仅限指定服务队 This activity is for named teams only", "not_allowed_here")
    if repository.live_signup(session, activity_id, volunteer_id) is not None:
        raise conflict("already_signed_up", "您已报名 You have already signed up")
    other = repository.overlapping_signup(
        session, volunteer_id, activity.starts_at, activity.ends_at, activity.id
    )
    if other is not None:
        raise conflict(
            "signup_overlap",
            f"与已报名的“{other.title}”时间重叠 Overlaps “{other.title}” you signed up for",
            overlapping={"id": other.id, "title": other.title},
        )
    status = (
        "confirmed" if repository.confirmed_count(session, activity_id) < activity.capacity else "waitlisted"
    )
    signup = Signup(activity_id=activity_id, volunteer_id=volunteer_id, status=status, created_at=now)
    try:
        with session.begin_nested():
            session.add(signup)
    except IntegrityError:
        raise conflict("already_signed_up", "您已报名 You have already signed up") from None
    if status == "confirmed":
        notices.signup_confirmed(session, signup, activity, now, tz)
    return signup


def cancel_sign_up(
    session: Session, *, activity_id: int, volunteer_id: int, now: datetime, tz: ZoneInfo | None = None
) -> Signup | None:
    """Cancel; the first on the waitlist moves up (and is told). Returns the promoted sign-up, if any."""
    activity = get(session, activity_id, for_update=True)
    signup = repository.live_signup(session, activity_id, volunteer_id)
    if signup is None:
        raise not_found("报名 Sign-up", "signup_not_found")
    was_confirmed = signup.status == "confirmed"
    signup.status = "cancelled"
    session.flush()
    if was_confirmed and activity.cancelled_at is None and (promoted := repository.first_waitlisted(session, activity_id)) is not None:
        promoted.status = "confirmed"
        session.flush()
        notices.signup_confirmed(session, promoted, activity, now, tz)
        return promoted
    return None


def signups(session: Session, activity_id: int):
    return repository.signups_of(session, activity_id)


# --- recurring shifts ----------------------------------------------------------------------------


def _hhmm(value: str, field: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise invalid([FieldError(field, "invalid_time", "时间格式应为 HH:MM Time must be HH:MM")]) from None


def create_shift(
    session: Session,
    *,
    org_id: int,
    station_id: int,
    title: str,
    kind: str,
    weekdays: str,
    start_time: str,
    end_time: str,
    capacity: int,
    admin_paths: list[str],
    now: datetime,
) -> Shift:
    start, end = _hhmm(start_time, "start_time"), _hhmm(end_time, "end_time")
    errors = []
    if not re.fullmatch(WEEKDAYS, weekdays):
        errors.append(
            FieldError("weekdays", "invalid", "星期用1-7表示，如 12345 Weekdays as digits 1-7, e.g. 12345")
        )
    if end <= start:
        errors.append(
            FieldError("end_time", "before_start", "结束须晚于开始 The end must be after the start")
        )
    if errors:
        raise invalid(errors)
    _check(session, ActivityInput(org_id, station_id, title, kind, now, now + timedelta(hours=1), capacity))
    orgs_service.require_admin_of(admin_paths, orgs_service.get(session, org_id))
    _require_station(session, admin_paths, station_id)
    shift = Shift(
        org_id=org_id,
        station_id=station_id,
        title=title.strip(),
        kind=kind,
        weekdays="".join(sorted(set(weekdays))),
        start_time=start.strftime("%H:%M"),
        end_time=end.strftime("%H:%M"),
        capacity=capacity,
        created_at=now,
    )
    session.add(shift)
    session.flush()
    return shift


def generate_shift_activities(
    session: Session, shift: Shift, *, tz: ZoneInfo, first_day: date, days: int, now: datetime
) -> list[Activity]:
    """Activities for a shift over `days` days from `first_day` (local dates); existing ones and
    days that would clash at the station are skipped. Safe to run again."""
    made = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        if str(day.isoweekday()) not in shift.weekdays:
            continue
        starts_at = datetime.combine(day, time.fromisoformat(shift.start_time), tz)
        ends_at = datetime.combine(day, time.fromisoformat(shift.end_time), tz)
        if starts_at <= now or repository.shift_activity_exists(session, shift.id, starts_at):
            continue
        data = ActivityInput(
            shift.org_id, shift.station_id, shift.title, shift.kind, starts_at, ends_at, shift.capacity
        )
        try:
            with session.begin_nested():
                made.append(
                    create(session, data, admin_paths=["/"], created_by=None, now=now, shift_id=shift.id)
                )
        except LinliError as exc:
            if exc.code != "activity_clash":
                raise
    return made


def generate_for_all_shifts(session: Session, *, tz: ZoneInfo, days: int, now: datetime) -> int:
    """The daily run: activities for every recurring shift for the next `days` local days (safe
    to run again). Returns how many were made."""
    today = now.astimezone(tz).date()
    return sum(
        len(generate_shift_activities(session, shift, tz=tz, first_day=today, days=days, now=now))
        for shift in repository.all_shifts(session)
    )
