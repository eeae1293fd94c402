"""What goes in and out of the volunteer endpoints (msgspec Structs; ORM objects never leak)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from linli.bounds import RowId, by_service
from linli.pii import mask_phone
from orgs.models import Organization
from volunteer.models import (
    ACTIVITY_CAPACITY,
    ACTIVITY_KINDS,
    CORRECTED_MINUTES,
    NOTICE_KINDS,
    SMS_STATES,
    WEEKDAYS,
    Filing,
    FilingDecision,
    Notice,
    Volunteer,
)

Capacity = Annotated[int, by_service(between=ACTIVITY_CAPACITY)]
ActivityKind = Annotated[str, by_service(choices=ACTIVITY_KINDS)]


class VolunteerCreate(msgspec.Struct, forbid_unknown_fields=False):
    name: str = ""
    phone: str = ""
    id_number: str | None = None
    consent: bool = False
    code: str = ""  # the login code sent to `phone` (POST /api/v1/auth/codes): it proves the phone


class VolunteerRead(msgspec.Struct):
    id: int
    name: str
    phone: str  # masked: 138****5678
    id_number_last4: str | None
    consent_terms_version: str
    consented_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, v: Volunteer) -> VolunteerRead:
        return cls(
            id=v.id,
            name=v.name,
            phone=mask_phone(v.phone),
            id_number_last4=v.id_last4,
            consent_terms_version=v.consent_terms_version,
            consented_at=v.consented_at,
            created_at=v.created_at,
        )


class FilingRead(msgspec.Struct):
    id: int
    team_id: int
    team_name: str
    status: str  # pending | approved | rejected
    created_at: datetime
    decided_at: datetime | None
    volunteer_id: int
    volunteer_name: str | None = None  # shown to staff only
    volunteer_phone: str | None = None  # masked

    @classmethod
    def of(cls, f: Filing, team: Organization, volunteer: Volunteer | None = None) -> FilingRead:
        return cls(
            id=f.id,
            team_id=team.id,
            team_name=team.name,
            status=f.status,
            created_at=f.created_at,
            decided_at=f.decided_at,
            volunteer_id=f.volunteer_id,
            volunteer_name=volunteer.name if volunteer else None,
            volunteer_phone=mask_phone(volunteer.phone) if volunteer else None,
        )


class FilingPage(msgspec.Struct):
    items: list[FilingRead]
    next: str | None


class DecisionRead(msgspec.Struct):
    decision: str
    decided_by: int | None  # staff user id; null when the team's rule decided (open team, invitation)
    reason: str
    decided_at: datetime

    @classmethod
    def of(cls, d: FilingDecision) -> DecisionRead:
        return cls(decision=d.decision, decided_by=d.decided_by, reason=d.reason, decided_at=d.decided_at)


class FilingDetail(msgspec.Struct):
    filing: FilingRead
    decisions: list[DecisionRead]


class RejectBody(msgspec.Struct):
    reason: str = ""  # required; at most REASON_MAX (500) characters


class ApproveBody(msgspec.Struct):
    reason: str | None = None


class InvitationCreate(msgspec.Struct):
    phone: str = ""


class InvitationRead(msgspec.Struct):
    id: int
    team_id: int
    phone: str  # masked
    created_at: datetime


class InvitationPage(msgspec.Struct):
    items: list[InvitationRead]
    next: str | None


# --- activities, sign-ups, scans, attendance -----------------------------------------------------


class ActivityCreate(msgspec.Struct):
    org_id: RowId
    station_id: RowId
    starts_at: datetime | None = None  # required (the service names every missing field at once)
    ends_at: datetime | None = None
    capacity: Capacity = 0
    title: str = ""
    kind: ActivityKind = "other"
    walk_ins: bool = True
    team_ids: list[RowId] | None = None  # only these teams; default: any filed volunteer of the org's subtree
    description: str = ""  # what volunteers do there, at most 500 characters


class ActivityMove(msgspec.Struct):
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    station_id: RowId | None = None


class ActivityCancel(msgspec.Struct):
    reason: str = ""  # required, 1 to 200 characters (checked by the service, field by field)


class ActivityRead(msgspec.Struct):
    id: int
    org_id: int
    station_id: int
    title: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    walk_ins: bool
    team_ids: list[int] | None
    shift_id: int | None
    description: str
    cancelled_at: datetime | None = None  # cancelled by the hub (已取消): shown, not joinable
    cancel_reason: str | None = None

    @classmethod
    def of(cls, a) -> ActivityRead:
        return cls(
            id=a.id,
            org_id=a.org_id,
            station_id=a.station_id,
            title=a.title,
            kind=a.kind,
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            capacity=a.capacity,
            walk_ins=a.walk_ins,
            team_ids=a.team_ids,
            shift_id=a.shift_id,
            description=a.description,
            cancelled_at=a.cancelled_at,
            cancel_reason=a.cancel_reason,
        )


class ActivityPage(msgspec.Struct):
    items: list[ActivityRead]
    next: str | None


class OpenActivityRead(ActivityRead, kw_only=True):
    """An upcoming activity as a volunteer finds it (`GET /api/v1/me/activities`): the fields of
    `ActivityRead` and what the phone shows and offers."""

    station_name: str
    org_name: str
    spots_left: int  # places left before sign-ups go to the waitlist
    signup: str | None  # the caller's sign-up: confirmed | waitlisted; null: not signed up
    may_sign_up: bool  # a sign-up would be taken (waitlisted when spots_left is 0)
    why_not: str | None  # not signed up and may not: not_allowed_here (other teams') | signup_overlap

    @classmethod
    def of_open(cls, o) -> OpenActivityRead:
        return cls(
            **msgspec.structs.asdict(ActivityRead.of(o.activity)),
            station_name=o.station_name,
            org_name=o.org_name,
            spots_left=o.spots_left,
            signup=o.signup,
            may_sign_up=o.may_sign_up,
            why_not=o.why_not,
        )


class OpenActivityPage(msgspec.Struct):
    items: list[OpenActivityRead]
    next: str | None


class ShiftCreate(msgspec.Struct):
    org_id: RowId
    title: str = ""
    kind: ActivityKind = "meal_service"
    weekdays: Annotated[str, by_service(pattern=WEEKDAYS)] = "12345"  # ISO weekdays: 1 Monday … 7 Sunday
    start_time: str = "10:30"  # local time (LINLI_TIMEZONE), HH:MM
    end_time: str = "13:00"
    capacity: Capacity = 4
    days_ahead: Annotated[int, msgspec.Meta(ge=0, le=62)] = 14  # activities made now for this many days


class ShiftRead(msgspec.Struct):
    id: int
    station_id: int
    title: str
    weekdays: str
    start_time: str
    end_time: str
    capacity: int
    generated: list[ActivityRead]


class SignupRead(msgspec.Struct):
    id: int
    activity_id: int
    volunteer_id: int
    status: str  # confirmed | waitlisted | cancelled
    volunteer_name: str | None = None

    @classmethod
    def of(cls, s, volunteer=None) -> SignupRead:
        return cls(
            id=s.id,
            activity_id=s.activity_id,
            volunteer_id=s.volunteer_id,
            status=s.status,
            volunteer_name=volunteer.name if volunteer else None,
        )


class SignupPage(msgspec.Struct):
    items: list[SignupRead]
    next: str | None


class StationCode(msgspec.Struct):
    payload: str
    expires_at: datetime  # show the next code before this


class AttendanceRead(msgspec.Struct):
    id: int
    activity_id: int
    activity_title: str
    station_id: int
    volunteer_id: int
    volunteer_name: str
    state: str  # open | closed | auto_closed | annulled
    checked_in_at: datetime
    checked_out_at: datetime | None
    minutes: int | None
    flagged: bool
    flag_reason: str | None

    @classmethod
    def of(cls, a, activity, volunteer) -> AttendanceRead:
        return cls(
            id=a.id,
            activity_id=a.activity_id,
            activity_title=activity.title,
            station_id=a.station_id,
            volunteer_id=a.volunteer_id,
            volunteer_name=volunteer.name,
            state=a.state,
            checked_in_at=a.checked_in_at,
            checked_out_at=a.checked_out_at,
            minutes=a.minutes,
            flagged=a.flagged,
            flag_reason=a.flag_reason,
        )


class AttendancePage(msgspec.Struct):
    items: list[AttendanceRead]
    next: str | None


class CorrectionBody(msgspec.Struct):
    reason: str = ""  # required; at most REASON_MAX (500) characters
    minutes: Annotated[int, by_service(between=CORRECTED_MINUTES)] | None = None  # corrections: required


class CorrectionRead(msgspec.Struct):
    id: int
    attendance_id: int
    minutes_before: int | None
    minutes_after: int
    annulled: bool
    reason: str
    corrected_by: int
    corrected_at: datetime

    @classmethod
    def of(cls, c) -> CorrectionRead:
        return cls(
            id=c.id,
            attendance_id=c.attendance_id,
            minutes_before=c.minutes_before,
            minutes_after=c.minutes_after,
            annulled=c.annulled,
            reason=c.reason,
            corrected_by=c.corrected_by,
            corrected_at=c.corrected_at,
        )


class RosterEntry(msgspec.Struct):
    activity: ActivityRead
    signups: list[SignupRead]
    attendances: list[AttendanceRead]


class RosterPage(msgspec.Struct):
    items: list[RosterEntry]
    next: str | None


class FileStatus(msgspec.Struct):
    id: int
    kind: str
    status: str  # pending | ready | failed
    filename: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, f) -> FileStatus:
        return cls(
            id=f.id,
            kind=f.kind,
            status=f.status,
            filename=f.filename,
            created_at=f.created_at,
            finished_at=f.finished_at,
        )


class SignupCancelled(msgspec.Struct):
    cancelled: bool
    promoted_volunteer_id: int | None  # the first on the waitlist, who now has the place


class CardReissued(msgspec.Struct):
    card_version: int
    payload: str  # the new card's code; the old one scans as revoked_card


# Notices (通知) ----------------------------------------------------------------------------------

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"  # as volunteer.notices.HHMM checks
NoticeKind = Annotated[str, by_service(choices=NOTICE_KINDS)]


class NoticeRead(msgspec.Struct):
    id: int
    kind: Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(NOTICE_KINDS)})]
    text: str  # Chinese
    text_en: str
    created_at: datetime
    read_at: datetime | None
    sms_state: Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(SMS_STATES)})]

    @classmethod
    def of(cls, n: Notice) -> NoticeRead:
        return cls(
            id=n.id,
            kind=n.kind,
            text=n.text,
            text_en=n.text_en,
            created_at=n.created_at,
            read_at=n.read_at,
            sms_state=n.sms_state,
        )


class NoticePage(msgspec.Struct):
    items: list[NoticeRead]
    next: str | None
    unread: int  # of all the volunteer's notices, not only this page's


class NoticesRead(msgspec.Struct):
    marked: int  # notices marked read now
    unread: int


class NoticeSettingsBody(msgspec.Struct, forbid_unknown_fields=False):
    quiet_start: Annotated[str, by_service(pattern=HHMM)] = "21:00"  # local time; equal ends: no quiet hours
    quiet_end: Annotated[str, by_service(pattern=HHMM)] = "08:00"
    sms_off: list[NoticeKind] = []  # kinds kept in the inbox only


class NoticeSettingsRead(msgspec.Struct):
    quiet_start: str
    quiet_end: str
    sms_off: list[str]
    kinds: list[str]  # every kind there is
