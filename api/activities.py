"""Activities, shifts and sign-ups, stations' rotating codes and rosters, and attendance with its
corrections (活动、站点与考勤)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import (
    AUTH,
    Cursor,
    Id,
    IdFilter,
    Limit,
    check_times,
    local_today,
    next_cursor,
    page,
    refuse_partners,
    require_staff,
    require_volunteer,
)
from api.problems import problems
from linli import qr, scope
from linli.errors import forbidden
from linli.runtime import Runtime
from orgs import service as orgs_service
from records import service as records_service
from volunteer import activities, attendance
from volunteer.models import ATTENDANCE_STATES
from volunteer.schemas import (
    ActivityCreate,
    ActivityMove,
    ActivityPage,
    ActivityRead,
    AttendancePage,
    AttendanceRead,
    CorrectionBody,
    CorrectionRead,
    RosterEntry,
    RosterPage,
    ShiftCreate,
    ShiftRead,
    SignupCancelled,
    SignupPage,
    SignupRead,
    StationCode,
)


def _require_station_staff(session, principal: Principal, station_id: int):
    """Staff who may act at the station: bound to it, or over its organization's subtree."""
    station = orgs_service.get_station(session, station_id)
    if principal.kind != "volunteer":
        require_staff(principal, "admin", "coordinator")
    if principal.kind == "volunteer" or not scope.may_use_station(
        principal.staff_paths,
        principal.bound_station_ids,
        station.id,
        orgs_service.get(session, station.org_id).path,
    ):
        raise forbidden("您无权使用该站点 You do not work at this station", "outside_your_scope")
    return station


class ActivityController(Controller):
    path = "/api/v1/activities"
    tags = ["活动 activities"]
    dependencies = AUTH

    @get(
        "",
        operation_id="listActivities",
        sync_to_thread=True,
        responses=problems(_403="partners_see_reports_only"),
    )
    def list_activities(
        self,
        principal: NamedDependency[Principal],
        reads: NamedDependency[Session],
        station_id: IdFilter = None,
        starts_from: FromQuery[datetime | None] = None,
        starts_before: FromQuery[datetime | None] = None,
        ends_after: FromQuery[datetime | None] = None,  # with starts_before: those overlapping a window
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ActivityPage:
        refuse_partners(principal)
        after, limit = page(cursor, limit)
        check_times(starts_from=starts_from, starts_before=starts_before, ends_after=ends_after)
        rows = activities.listing(
            reads,
            station_id=station_id,
            starts_from=starts_from,
            starts_before=starts_before,
            ends_after=ends_after,
            after_id=after,
            limit=limit,
        )
        items = [ActivityRead.of(a) for a in rows]
        return ActivityPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @post(
        "",
        operation_id="createActivity",
        status_code=201,
        sync_to_thread=True,
        summary="Create an activity; 409 activity_clash if the station is taken at that time",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="organization_not_found, station_not_found, team_not_found",
            _409="activity_clash (names the other activity in `clash`)",
        ),
    )
    def create(
        self,
        data: JSONBody[ActivityCreate],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ActivityRead:
        staff_id = require_staff(principal, "admin")
        activity = activities.create(
            session,
            activities.ActivityInput(**msgspec.structs.asdict(data)),  # the same fields
            admin_paths=principal.admin_paths,
            created_by=staff_id,
            now=rt.clock.now(),
        )
        return ActivityRead.of(activity)

    @patch(
        "/{activity_id:int}",
        operation_id="moveActivity",
        sync_to_thread=True,
        summary="Move an activity in time or to another station (clash-checked)",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="activity_not_found, station_not_found",
            _409="activity_clash, activity_cancelled",
        ),
    )
    def move(
        self,
        activity_id: Id,
        data: JSONBody[ActivityMove],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ActivityRead:
        require_staff(principal, "admin")
        activity = activities.move(
            session,
            activity_id,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            station_id=data.station_id,
            admin_paths=principal.admin_paths,
            now=rt.clock.now(), tz=rt.settings.tz,
        )
        return ActivityRead.of(activity)

    @post(
        "/{activity_id:int}/signups",
        operation_id="signUp",
        status_code=201,
        sync_to_thread=True,
        summary="Sign up (waitlisted when full)",
        responses=problems(
            _403="volunteers_only, not_filed, not_allowed_here",
            _404="activity_not_found",
            _409="already_signed_up, signup_overlap, activity_over, activity_cancelled",
        ),
    )
    def sign_up(
        self,
        activity_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> SignupRead:
        volunteer_id = require_volunteer(principal)
        s = activities.sign_up(
            session, activity_id=activity_id, volunteer_id=volunteer_id, now=rt.clock.now(), tz=rt.settings.tz
        )
        return SignupRead.of(s)

    @post(
        "/{activity_id:int}/signups/cancel",
        operation_id="cancelSignUp",
        sync_to_thread=True,
        summary="Cancel my sign-up; the first on the waitlist moves up",
        responses=problems(_403="volunteers_only", _404="activity_not_found, signup_not_found"),
    )
    def cancel(
        self, activity_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> SignupCancelled:
        volunteer_id = require_volunteer(principal)
        promoted = activities.cancel_sign_up(
            session, activity_id=activity_id, volunteer_id=volunteer_id, now=rt.clock.now(), tz=rt.settings.tz
        )
        return SignupCancelled(
            cancelled=True, promoted_volunteer_id=promoted.volunteer_id if promoted else None
        )

    @get(
        "/{activity_id:int}/signups",
        operation_id="listSignUps",
        sync_to_thread=True,
        responses=problems(_403="staff_only, outside_your_scope", _404="activity_not_found"),
    )
    def list_signups(
        self, activity_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> SignupPage:
        require_staff(principal, "admin", "coordinator")
        activity = activities.get(session, activity_id)
        orgs_service.require_staff_of(principal.staff_paths, orgs_service.get(session, activity.org_id))
        items = [SignupRead.of(s, v) for s, v in activities.signups(session, activity_id)]
        return SignupPage(items=items, next=None)


class StationController(Controller):
    path = "/api/v1/stations"
    tags = ["站点 stations"]
    dependencies = AUTH

    @get(
        "/{station_id:int}/code",
        operation_id="stationCode",
        sync_to_thread=True,
        summary="The station's rotating code (30-second steps) for volunteers to scan",
        responses=problems(_403="staff_only, outside_your_scope", _404="station_not_found"),
    )
    def code(
        self,
        station_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> StationCode:
        _require_station_staff(session, principal, station_id)
        now = rt.clock.now()
        step_end = (qr.step_of(now) + 1) * qr.STATION_STEP_SECONDS
        return StationCode(
            payload=rt.codes.station_code(station_id, now), expires_at=datetime.fromtimestamp(step_end, UTC)
        )

    @get(
        "/{station_id:int}/code.png",
        operation_id="stationCodePng",
        sync_to_thread=True,
        media_type="image/png",
        responses=problems(_404="station_not_found", _403="outside_your_scope"),
    )
    def code_png(
        self,
        station_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response:
        _require_station_staff(session, principal, station_id)
        return Response(
            qr.png(rt.codes.station_code(station_id, rt.clock.now())),
            media_type="image/png",
            headers={"Cache-Control": "no-store"},
        )

    @post(
        "/{station_id:int}/shifts",
        operation_id="createShift",
        status_code=201,
        sync_to_thread=True,
        summary="A recurring shift (local times); activities are generated ahead",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="station_not_found, organization_not_found",
        ),
    )
    def create_shift(
        self,
        station_id: Id,
        data: JSONBody[ShiftCreate],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ShiftRead:
        require_staff(principal, "admin")
        now = rt.clock.now()
        shift = activities.create_shift(
            session,
            org_id=data.org_id,
            station_id=station_id,
            title=data.title,
            kind=data.kind,
            weekdays=data.weekdays,
            start_time=data.start_time,
            end_time=data.end_time,
            capacity=data.capacity,
            admin_paths=principal.admin_paths,
            now=now,
        )
        made = activities.generate_shift_activities(
            session, shift, tz=rt.settings.tz, first_day=local_today(rt), days=data.days_ahead, now=now
        )
        return ShiftRead(
            id=shift.id,
            station_id=shift.station_id,
            title=shift.title,
            weekdays=shift.weekdays,
            start_time=shift.start_time,
            end_time=shift.end_time,
            capacity=shift.capacity,
            generated=[ActivityRead.of(a) for a in made],
        )

    @get(
        "/{station_id:int}/present",
        operation_id="presentAtStation",
        sync_to_thread=True,
        summary="Who is checked in at this station now",
        responses=problems(_403="staff_only, outside_your_scope", _404="station_not_found"),
    )
    def present(
        self,
        station_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
    ) -> AttendancePage:
        _require_station_staff(session, principal, station_id)
        rows = attendance.attendances(
            session,
            station_ids=[station_id],
            org_paths=["/"],
            state="open",
            flagged=None,
            after_id=0,
            limit=500,
        )
        return AttendancePage(items=[AttendanceRead.of(*r) for r in rows], next=None)

    @get(
        "/{station_id:int}/roster",
        operation_id="stationRoster",
        sync_to_thread=True,
        summary="A day's activities at this station with sign-ups and attendance states",
        responses=problems(_403="staff_only, outside_your_scope", _404="station_not_found"),
    )
    def roster(
        self,
        station_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        day: FromQuery[date | None] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> RosterPage:
        check_times(day=day)
        after, limit = page(cursor, limit)
        day = day or local_today(rt)
        start = datetime.combine(day, time(0), rt.settings.tz)
        _require_station_staff(session, principal, station_id)
        entries = []
        for activity in activities.listing(
            session,
            station_id=station_id,
            starts_from=start,
            starts_before=start + timedelta(days=1),
            after_id=after,
            limit=limit,
        ):
            entries.append(
                RosterEntry(
                    activity=ActivityRead.of(activity),
                    signups=[SignupRead.of(s, v) for s, v in activities.signups(session, activity.id)],
                    attendances=[
                        AttendanceRead.of(a, activity, v)
                        for a, v in attendance.attendances_of_activity(session, activity.id)
                    ],
                )
            )
        last = entries[-1].activity.id if entries else None
        return RosterPage(items=entries, next=next_cursor(entries, limit, last))


class AttendanceController(Controller):
    path = "/api/v1/attendances"
    tags = ["考勤 attendance"]
    dependencies = AUTH

    @get(
        "",
        operation_id="listAttendances",
        sync_to_thread=True,
        summary="Attendances in the staff member's subtree: open ones, flagged ones (forgotten check-outs)",
        responses=problems(_403="staff_only"),
    )
    def list_attendances(
        self,
        principal: NamedDependency[Principal],
        reads: NamedDependency[Session],
        attendance_state: Annotated[Literal[ATTENDANCE_STATES] | None, QueryParameter(name="state")] = None,
        flagged: FromQuery[bool | None] = None,
        station_id: IdFilter = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> AttendancePage:
        require_staff(principal, "admin", "coordinator")
        after, limit = page(cursor, limit)
        rows = attendance.attendances(
            reads,
            station_ids=[station_id] if station_id else None,
            org_paths=principal.staff_paths,
            bound_station_ids=principal.bound_station_ids,
            state=attendance_state,
            flagged=flagged,
            after_id=after,
            limit=limit,
        )
        items = [AttendanceRead.of(*r) for r in rows]
        return AttendancePage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @post(
        "/{attendance_id:int}/correct",
        operation_id="correctAttendance",
        status_code=201,
        sync_to_thread=True,
        summary="Correct the minutes, with a reason (a new record; the points ledger adjusts)",
        responses=problems(
            _403="staff_only, outside_your_scope, late_entry_admin_only",
            _404="attendance_not_found",
            _409="attendance_open, attendance_annulled",
            _422="validation_failed (late_reason_required)",
        ),
    )
    def correct(
        self,
        attendance_id: Id,
        data: JSONBody[CorrectionBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> CorrectionRead:
        return self._correct(attendance_id, data, False, principal, session, rt)

    @post(
        "/{attendance_id:int}/annul",
        operation_id="annulAttendance",
        status_code=201,
        sync_to_thread=True,
        summary="Annul an attendance, with a reason",
        responses=problems(
            _403="staff_only, outside_your_scope, late_entry_admin_only",
            _404="attendance_not_found",
            _409="attendance_open, attendance_annulled",
            _422="validation_failed (late_reason_required)",
        ),
    )
    def annul(
        self,
        attendance_id: Id,
        data: JSONBody[CorrectionBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> CorrectionRead:
        return self._correct(attendance_id, data, True, principal, session, rt)

    def _correct(
        self,
        attendance_id: int,
        data: CorrectionBody,
        annul: bool,
        principal: Principal,
        session: Session,
        rt: Runtime,
    ):
        staff_id = require_staff(principal, "admin", "coordinator")
        # the 20-day rule of service records: later, an admin with a reason, marked late
        c = records_service.correct_attendance(
            session,
            principal,
            attendance_id=attendance_id,
            minutes=data.minutes,
            annul=annul,
            reason=data.reason,
            staff_user_id=staff_id,
            now=rt.clock.now(),
            tz=rt.settings.tz,
        )
        return CorrectionRead.of(c)
