"""Activities, shifts, sign-ups, QR codes, the scan door and attendance (活动与扫码签到)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

import msgspec
from litestar import Controller, MediaType, Request, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, JSONBody, QueryParameter, RawBody

from accounts.principal import Principal
from api.deps import (
    Cursor,
    Id,
    IdFilter,
    Limit,
    check_times,
    local_today,
    next_cursor,
    page,
    provide_principal,
    refuse_partners,
    require_staff,
    require_volunteer,
)
from api.problems import problems
from linli import qr, ratelimit
from linli.errors import FieldError, forbidden, invalid
from linli.outbox import emit
from linli.runtime import Runtime
from orgs import service as orgs_service
from volunteer import activities, checkin
from volunteer import service as volunteer_service
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
    FileStatus,
    RosterEntry,
    ScanBatch,
    ScanBatchResult,
    ScanBody,
    ScanResult,
    ShiftCreate,
    ShiftRead,
    SignupPage,
    SignupRead,
    StationCode,
)

AUTH = {"principal": Provide(provide_principal, sync_to_thread=False)}


def device_of(principal: Principal, request: Request) -> checkin.Device:
    label = request.headers.get("x-device-id", "")[:60]
    if principal.kind == "volunteer":
        return checkin.Device(
            "volunteer",
            f"phone:{principal.volunteer_id} {label}".strip(),
            volunteer_id=principal.volunteer_id,
        )
    require_staff(principal, "admin", "coordinator")
    bound = principal.bound_station_ids
    paths = tuple(principal.staff_paths)
    return checkin.Device(
        "staff",
        f"staff:{principal.staff_user_id} {label}".strip(),
        staff_user_id=principal.staff_user_id,
        station_ids=bound,
        org_paths=paths,
    )


def _require_station_staff(session, principal: Principal, request: Request, station_id: int):
    station = orgs_service.get_station(session, station_id)
    device = device_of(principal, request)
    if device.kind != "staff" or not device.may_use(
        orgs_service.get(session, station.org_id).path, station.id
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
        rt: NamedDependency[Runtime],
        station_id: IdFilter = None,
        starts_from: FromQuery[datetime | None] = None,
        starts_before: FromQuery[datetime | None] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ActivityPage:
        refuse_partners(principal)
        after, limit = page(cursor, limit)
        check_times(starts_from=starts_from, starts_before=starts_before)
        with rt.tx() as session:
            rows = activities.listing(
                session,
                station_id=station_id,
                org_paths=None,
                starts_from=starts_from,
                starts_before=starts_before,
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
        rt: NamedDependency[Runtime],
    ) -> ActivityRead:
        staff_id = require_staff(principal, "admin")
        with rt.tx() as session:
            activity = activities.create(
                session,
                activities.ActivityInput(
                    data.org_id,
                    data.station_id,
                    data.title,
                    data.kind,
                    data.starts_at,
                    data.ends_at,
                    data.capacity,
                    data.walk_ins,
                    data.team_ids,
                ),
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
            _409="activity_clash",
        ),
    )
    def move(
        self,
        activity_id: Id,
        data: JSONBody[ActivityMove],
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> ActivityRead:
        require_staff(principal, "admin")
        with rt.tx() as session:
            activity = activities.move(
                session,
                activity_id,
                starts_at=data.starts_at,
                ends_at=data.ends_at,
                station_id=data.station_id,
                admin_paths=principal.admin_paths,
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
            _409="already_signed_up, signup_overlap, activity_over",
        ),
    )
    def sign_up(
        self, activity_id: Id, principal: NamedDependency[Principal], rt: NamedDependency[Runtime]
    ) -> SignupRead:
        volunteer_id = require_volunteer(principal)
        with rt.tx() as session:
            s = activities.sign_up(
                session, activity_id=activity_id, volunteer_id=volunteer_id, now=rt.clock.now()
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
        self, activity_id: Id, principal: NamedDependency[Principal], rt: NamedDependency[Runtime]
    ) -> SignupCancelled:
        volunteer_id = require_volunteer(principal)
        with rt.tx() as session:
            promoted = activities.cancel_sign_up(session, activity_id=activity_id, volunteer_id=volunteer_id)
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
        self, activity_id: Id, principal: NamedDependency[Principal], rt: NamedDependency[Runtime]
    ) -> SignupPage:
        require_staff(principal, "admin", "coordinator")
        with rt.tx() as session:
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
        request: Request,
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> StationCode:
        with rt.tx() as session:
            _require_station_staff(session, principal, request, station_id)
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
        request: Request,
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> Response:
        with rt.tx() as session:
            _require_station_staff(session, principal, request, station_id)
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
        rt: NamedDependency[Runtime],
    ) -> ShiftRead:
        require_staff(principal, "admin")
        with rt.tx() as session:
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
        request: Request,
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> AttendancePage:
        with rt.tx() as session:
            _require_station_staff(session, principal, request, station_id)
            rows = checkin.attendances(
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
        request: Request,
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
        day: FromQuery[date | None] = None,
    ) -> list[RosterEntry]:
        check_times(day=day)
        day = day or local_today(rt)
        start = datetime.combine(day, time(0), rt.settings.tz)
        with rt.tx() as session:
            _require_station_staff(session, principal, request, station_id)
            entries = []
            for activity in activities.listing(
                session,
                station_id=station_id,
                org_paths=None,
                starts_from=start,
                starts_before=start + timedelta(days=1),
                after_id=0,
                limit=200,
            ):
                entries.append(
                    RosterEntry(
                        activity=ActivityRead.of(activity),
                        signups=[SignupRead.of(s, v) for s, v in activities.signups(session, activity.id)],
                        attendances=[
                            AttendanceRead.of(a, activity, v)
                            for a, v in checkin.attendances_of_activity(session, activity.id)
                        ],
                    )
                )
            return entries


MAX_FRAME_BYTES = 2 * 1024 * 1024


class SignupCancelled(msgspec.Struct):
    cancelled: bool
    promoted_volunteer_id: int | None  # the first on the waitlist, who now has the place


class CardReissued(msgspec.Struct):
    card_version: int
    payload: str  # the new card's code; the old one scans as revoked_card


class DecodedFrame(msgspec.Struct):
    payload: str | None  # the QR code's text, or null if the picture holds none


def _count_scan(rt: Runtime, principal: Principal) -> None:
    """Scans per device (its token): a tablet stuck in a loop, or a script, is slowed, not a counter."""
    ratelimit.check(
        rt.redis,
        f"scan:{principal.token_id or principal.volunteer_id}",
        (rt.settings.scans_per_minute, 60),  # a counter scans a card every few seconds; a batch counts once
        rt.clock.now(),
        "扫码过于频繁，请稍后再试 Too many scans from this device; try again shortly",
    )


class QrController(Controller):
    """For a tablet or phone whose browser cannot read QR codes itself (no BarcodeDetector)."""

    path = "/api/v1/qr"
    tags = ["扫码 scans"]
    dependencies = AUTH

    @post(
        "/decode",
        operation_id="decodeFrame",
        status_code=200,
        sync_to_thread=True,
        summary="Read the QR code in a camera frame (PNG or JPEG, up to 2 MB); the scan itself goes to /scans",
        request_max_body_size=MAX_FRAME_BYTES,
        responses=problems(_413="payload_too_large"),
    )
    def decode(self, body: RawBody, principal: NamedDependency[Principal]) -> DecodedFrame:
        import io

        import zxingcpp
        from PIL import Image, UnidentifiedImageError

        try:
            image = Image.open(io.BytesIO(body))
            image.load()
        except (UnidentifiedImageError, OSError, ValueError):
            raise invalid(
                [FieldError("body", "not_an_image", "不是图片 Not a PNG or JPEG picture")]
            ) from None
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        return DecodedFrame(payload=found[0].text if found else None)


class ScanController(Controller):
    path = "/api/v1/scans"
    tags = ["扫码 scans"]
    dependencies = AUTH

    @post(
        "",
        operation_id="scan",
        status_code=200,
        sync_to_thread=True,
        summary="One scan: a volunteer's phone scanning a station code, or a tablet scanning a card",
        description="The answer is always 200 with an `outcome`; a refused scan is `rejected` with a `reason`.",
        responses=problems(_403="staff_only, role_required", _429="rate_limited"),
    )
    def scan(
        self,
        data: JSONBody[ScanBody],
        request: Request,
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> ScanResult:
        device = device_of(principal, request)
        _count_scan(rt, principal)
        item = checkin.check_input(
            checkin.ScanInput(data.payload, data.station_id, data.scan_id, data.scanned_at, data.mode)
        )
        return ScanResult(**checkin.scan_online(rt, device, item, received_at=rt.clock.now()))

    @post(
        "/batch",
        operation_id="scanBatch",
        status_code=200,
        sync_to_thread=True,
        summary="Scans captured offline by a tablet: judged as of their scan time, in time order",
        description="One result per scan, in the order sent. Sending the same batch again changes nothing "
        "and returns the same results. Scans more than 24 hours late are stored and flagged, not applied.",
        responses=problems(_403="staff_only, role_required", _429="rate_limited"),
    )
    def batch(
        self,
        data: JSONBody[ScanBatch],
        request: Request,
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> ScanBatchResult:
        device = device_of(principal, request)
        if device.kind != "staff":
            raise forbidden(
                "离线批量上传仅限工作人员设备 Offline batches come from staff tablets", "staff_only"
            )
        _count_scan(rt, principal)
        items = [
            checkin.ScanInput(s.payload, s.station_id, s.scan_id, s.scanned_at, s.mode) for s in data.scans
        ]
        for i, item in enumerate(items):
            items[i] = item = checkin.check_input(item, i)
            if item.scan_id is None or item.scanned_at is None:
                raise invalid(
                    [
                        FieldError(
                            f"scans[{i}]",
                            "required",
                            "离线扫码须带 scan_id 和 scanned_at Offline scans need scan_id and scanned_at",
                        )
                    ]
                )
        received_at = rt.clock.now()
        results: dict[int, dict] = {}
        # a transaction per scan, or per volunteer's scans: a replay resumes where a cut-off upload stopped
        for group in checkin.batch_groups(rt.codes, items):
            with rt.tx() as session:
                for i in group:
                    results[i] = checkin.scan(
                        session,
                        rt.codes,
                        device,
                        items[i],
                        received_at=received_at,
                        offline=True,
                        settings=rt.settings,
                    )
        return ScanBatchResult(results=[ScanResult(**results[i]) for i in range(len(items))])


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
        rt: NamedDependency[Runtime],
        attendance_state: Annotated[Literal[ATTENDANCE_STATES] | None, QueryParameter(name="state")] = None,
        flagged: FromQuery[bool | None] = None,
        station_id: IdFilter = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> AttendancePage:
        require_staff(principal, "admin", "coordinator")
        after, limit = page(cursor, limit)
        with rt.tx() as session:
            rows = checkin.attendances(
                session,
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
            _403="staff_only, outside_your_scope",
            _404="attendance_not_found",
            _409="attendance_open, attendance_annulled",
        ),
    )
    def correct(
        self,
        attendance_id: Id,
        data: JSONBody[CorrectionBody],
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> CorrectionRead:
        return self._correct(attendance_id, data, False, principal, rt)

    @post(
        "/{attendance_id:int}/annul",
        operation_id="annulAttendance",
        status_code=201,
        sync_to_thread=True,
        summary="Annul an attendance, with a reason",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="attendance_not_found",
            _409="attendance_open, attendance_annulled",
        ),
    )
    def annul(
        self,
        attendance_id: Id,
        data: JSONBody[CorrectionBody],
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> CorrectionRead:
        return self._correct(attendance_id, data, True, principal, rt)

    def _correct(
        self, attendance_id: int, data: CorrectionBody, annul: bool, principal: Principal, rt: Runtime
    ):
        staff_id = require_staff(principal, "admin", "coordinator")
        with rt.tx() as session:
            c = checkin.correct(
                session,
                attendance_id=attendance_id,
                minutes=data.minutes,
                annul=annul,
                reason=data.reason,
                staff_user_id=staff_id,
                staff_paths=principal.staff_paths,
                bound_station_ids=principal.bound_station_ids,
                now=rt.clock.now(),
            )
            return CorrectionRead.of(c)


class CardController(Controller):
    path = "/api/v1"
    tags = ["志愿者卡 cards"]
    dependencies = AUTH

    @get(
        "/me/card.png",
        operation_id="myCardPng",
        sync_to_thread=True,
        media_type="image/png",
        responses=problems(_403="volunteers_only"),
    )
    def card_png(self, principal: NamedDependency[Principal], rt: NamedDependency[Runtime]) -> Response:
        return Response(qr.png(self._card(principal, rt)), media_type="image/png")

    @get(
        "/me/card.svg",
        operation_id="myCardSvg",
        sync_to_thread=True,
        media_type="image/svg+xml",
        responses=problems(_403="volunteers_only"),
    )
    def card_svg(self, principal: NamedDependency[Principal], rt: NamedDependency[Runtime]) -> Response:
        return Response(qr.svg(self._card(principal, rt)), media_type="image/svg+xml")

    @post(
        "/me/card/reissue",
        operation_id="reissueMyCard",
        status_code=200,
        sync_to_thread=True,
        summary="Lost card: a new card; the old one then scans as revoked_card",
        responses=problems(_403="volunteers_only"),
    )
    def reissue(self, principal: NamedDependency[Principal], rt: NamedDependency[Runtime]) -> CardReissued:
        volunteer_id = require_volunteer(principal)
        with rt.tx() as session:
            volunteer = checkin.reissue_card(session, volunteer_id)
            return CardReissued(
                card_version=volunteer.card_version,
                payload=rt.codes.volunteer_card(volunteer.id, volunteer.card_version),
            )

    def _card(self, principal: Principal, rt: Runtime) -> str:
        volunteer_id = require_volunteer(principal)
        with rt.tx() as session:
            volunteer = volunteer_service.get(session, volunteer_id)
            return rt.codes.volunteer_card(volunteer.id, volunteer.card_version)

    @post(
        "/teams/{team_id:int}/card-sheets",
        operation_id="requestCardSheet",
        status_code=202,
        sync_to_thread=True,
        summary="A printable A4 sheet of the team's volunteer cards, made in the background",
        responses=problems(_403="staff_only, outside_your_scope", _404="team_not_found"),
    )
    def request_sheet(
        self, team_id: Id, principal: NamedDependency[Principal], rt: NamedDependency[Runtime]
    ) -> FileStatus:
        staff_id = require_staff(principal, "admin", "coordinator")
        from linli.files import GeneratedFile

        with rt.tx() as session:
            team = orgs_service.get_team(session, team_id)
            orgs_service.require_staff_of(principal.staff_paths, team)
            now = rt.clock.now()
            f = GeneratedFile(
                kind="card_sheet",
                status="pending",
                requested_by=staff_id,
                subject=f"team:{team.id}",
                created_at=now,
            )
            session.add(f)
            session.flush()
            emit(
                session,
                func="workers.jobs.make_card_sheet",
                job_id=f"card-sheet-{f.id}",
                args=[f.id],
                now=now,
            )
            return FileStatus.of(f)

    @get(
        "/files/{file_id:int}",
        operation_id="getFile",
        sync_to_thread=True,
        summary="A generated file's status",
        responses=problems(_404="file_not_found"),
    )
    def file_status(
        self, file_id: Id, principal: NamedDependency[Principal], rt: NamedDependency[Runtime]
    ) -> FileStatus:
        with rt.tx() as session:
            f = _own_file(session, principal, file_id)
            return FileStatus.of(f)

    @get(
        "/files/{file_id:int}/content",
        operation_id="getFileContent",
        sync_to_thread=True,
        media_type=MediaType.HTML,
        responses=problems(_404="file_not_found", _409="file_not_ready"),
    )
    def file_content(
        self, file_id: Id, principal: NamedDependency[Principal], rt: NamedDependency[Runtime]
    ) -> Response:
        from linli.errors import conflict

        with rt.tx() as session:
            f = _own_file(session, principal, file_id)
            if f.status != "ready":
                raise conflict(
                    "file_not_ready", "文件尚未生成 The file is not ready yet", file_status=f.status
                )
            return Response(
                f.content,
                media_type=f.media_type,
                headers={"Content-Disposition": f'inline; filename="{f.filename}"'},
            )


def _own_file(session, principal: Principal, file_id: int):
    from linli import files
    from linli.errors import not_found

    f = files.get(session, file_id)
    if f is None or principal.kind != "staff" or f.requested_by != principal.staff_user_id:
        raise not_found("文件 File", "file_not_found")
    return f
