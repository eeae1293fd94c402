from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime

FILING_STATUSES = ("pending", "approved", "rejected")
ATTENDANCE_STATES = ("open", "closed", "auto_closed", "annulled")  # as the check constraint on attendances


class Volunteer(Base):
    """A registered volunteer. The identity number is kept as a keyed hash (for uniqueness,
    tagged with its key id) and the last four characters (for display); given for service
    records (PUT /api/v1/me/identity), it is also stored encrypted, and only
    `records.identity.reveal` decrypts it."""

    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    id_hash: Mapped[str | None] = mapped_column(String(100), unique=True)
    id_last4: Mapped[str | None] = mapped_column(String(4))
    # the number itself, for service records only (volunteer.identity): its type, the value
    # encrypted (linli.idcrypt: "<key id>:<base64>", bound to this row) and the key's id
    id_type: Mapped[str | None] = mapped_column(String(20))
    id_number_enc: Mapped[str | None] = mapped_column(String(200))
    id_key_id: Mapped[str | None] = mapped_column(String(20), index=True)
    card_version: Mapped[int] = mapped_column(
        Integer, default=1, server_default="1"
    )  # reissue revokes older cards
    consent_terms_version: Mapped[str] = mapped_column(String(20))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Filing(Base):
    """A volunteer's filing with a team (备案). One live (pending or approved) filing per pair;
    a rejected volunteer may apply again."""

    __tablename__ = "filings"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        Index(
            "uq_filings_live",
            "volunteer_id",
            "team_id",
            unique=True,
            sqlite_where=text("status IN ('pending', 'approved')"),
            postgresql_where=text("status IN ('pending', 'approved')"),
        ),
        Index("ix_filings_team_status", "team_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FilingDecision(Base):
    """Every decision on a filing, kept for good: who (null: the rule of the team), when, why."""

    __tablename__ = "filing_decisions"
    __table_args__ = (CheckConstraint("decision IN ('approved', 'rejected')", name="decision"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("filings.id"), index=True)
    decision: Mapped[str] = mapped_column(String(20))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TeamInvitation(Base):
    """An invitation to an invitation-only team, for one phone number."""

    __tablename__ = "team_invitations"
    __table_args__ = (Index("ix_team_invitations_team_phone", "team_id", "phone"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    phone: Mapped[str] = mapped_column(String(11))
    invited_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


ACTIVITY_CAPACITY = (1, 10_000)  # places
REASON_MAX = 500  # characters of a decision's or correction's reason
CORRECTED_MINUTES = (0, 24 * 60)
WEEKDAYS = "^[1-7]+$"  # a shift's ISO weekdays, e.g. 12345
DESCRIPTION_MAX = 500  # characters of an activity's description
ACTIVITY_KINDS = ("meal_service", "home_delivery", "weekend_class", "elderly_visit", "environmental", "other")


class Activity(Base):
    """Something volunteers do at a station in a time window: a meal shift, a class, a visit."""

    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("capacity > 0", name="capacity"),
        CheckConstraint(
            "kind IN ('meal_service', 'home_delivery', 'weekend_class', 'elderly_visit', 'environmental', 'other')",
            name="kind",
        ),
        Index("ix_activities_station_starts", "station_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    title: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")  # what volunteers do there
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    walk_ins: Mapped[bool] = mapped_column(
        Boolean, default=True
    )  # check in without signing up, within capacity
    team_ids: Mapped[list | None] = mapped_column(JSON)  # None: any filed volunteer of the org's subtree
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("shifts.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # cancelled by a hub (取消): kept and shown as such; its sign-ups stay but count for nothing
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))


CANCEL_REASON_MAX = 200  # characters of an activity's cancellation reason


class Shift(Base):
    """A recurring shift at a meal point (e.g. lunch service 10:30-13:00 on weekdays), in local time;
    activities are generated from it ahead of time."""

    __tablename__ = "shifts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    weekdays: Mapped[str] = mapped_column(String(20))  # ISO weekdays, "12345" = Monday to Friday
    start_time: Mapped[str] = mapped_column(String(5))  # "10:30"
    end_time: Mapped[str] = mapped_column(String(5))
    capacity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Signup(Base):
    __tablename__ = "signups"
    __table_args__ = (
        CheckConstraint("status IN ('confirmed', 'waitlisted', 'cancelled')", name="status"),
        Index(
            "uq_signups_live",
            "activity_id",
            "volunteer_id",
            unique=True,
            sqlite_where=text("status <> 'cancelled'"),
            postgresql_where=text("status <> 'cancelled'"),
        ),
        Index("ix_signups_volunteer", "volunteer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AttendanceKey(Base):
    """Every attendance's id, its volunteer and whether it is open (签到记录编号). `attendances` is
    partitioned by month on PostgreSQL, which keeps a key unique over all months only if it holds
    the month: this narrow table holds what must hold over all of them: the id other tables'
    foreign keys name, and one open attendance per volunteer (`uq_attendance_keys_open`). Kept by
    the database's own triggers on `attendances` (migration 0032), whatever writes it: an insert
    adds the key, a change of state sets `open`, a delete removes it."""

    __tablename__ = "attendance_keys"
    __table_args__ = (
        Index(
            "uq_attendance_keys_open",
            "volunteer_id",
            unique=True,
            sqlite_where=text("open = 1"),  # as SQLAlchemy writes `AttendanceKey.open` there
            postgresql_where=text("open"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    volunteer_id: Mapped[int] = mapped_column(BigId)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the attendance's, its partition key
    open: Mapped[bool] = mapped_column(Boolean)


class Attendance(Base):
    """One volunteer at one activity, from check-in to check-out (签到/签退). At most one open
    attendance per volunteer, enforced by the database (through `attendance_keys`). On PostgreSQL
    partitioned by month of `checked_in_at` (set once, never changed; the month reports bound it),
    primary key (id, checked_in_at) there (`linli.partitions`, migration 0032)."""

    __tablename__ = "attendances"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'closed', 'auto_closed', 'annulled')", name="state"),
        Index("ix_attendances_activity", "activity_id"),
        Index("ix_attendances_station_state", "station_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    state: Mapped[str] = mapped_column(String(20))
    checked_in_at: Mapped[datetime] = mapped_column(
        UTCDateTime
    )  # counted from the activity start at the earliest
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    minutes: Mapped[int | None] = mapped_column(Integer)  # service time as it stands (after corrections)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AttendanceCorrection(Base):
    """A coordinator's correction or annulment: a new record with before and after, never an
    overwrite without trace."""

    __tablename__ = "attendance_corrections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attendance_id: Mapped[int] = mapped_column(ForeignKey("attendance_keys.id"), index=True)
    minutes_before: Mapped[int | None] = mapped_column(Integer)
    minutes_after: Mapped[int] = mapped_column(Integer)  # 0 when annulled
    annulled: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(500))
    corrected_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GeneratedFile(Base):
    """Files made by background jobs (生成的文件): card sheets. Kept in the database so every server
    process can hand them out; small (a sheet of cards is tens of kilobytes)."""

    __tablename__ = "generated_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # e.g. card_sheet
    status: Mapped[str] = mapped_column(String(20))  # pending | ready | failed
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    subject: Mapped[str] = mapped_column(String(100))  # what it is about, e.g. "team:17"
    filename: Mapped[str | None] = mapped_column(String(200))
    media_type: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Notices (通知): what happened to a volunteer, kept in their inbox and sent by SMS once -------------

NOTICE_KINDS = (
    "filing_approved",
    "filing_rejected",
    "signup_confirmed",
    "activity_reminder",
    "activity_moved",
    "activity_cancelled",
    "points_awarded",
    "shop_order_ready",
    "certificate_issued",
    "points_expiring",
)
# pending: to send (at sms_due_at or later); sending: claimed by a worker, the sender called;
# sent: the sender returned; unknown: a worker died while sending (never sent again);
# failed: the sender raised; off: no SMS (the volunteer switched the kind off)
SMS_STATES = ("pending", "sending", "sent", "unknown", "failed", "off")
QUIET_HOURS = ("21:00", "08:00")  # the default quiet window, local time; equal ends: none


class Notice(Base):
    """One notice to one volunteer, made in the transaction of its cause. `key` names the cause
    (e.g. "filing:12:approved"): the same cause never makes two notices."""

    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in NOTICE_KINDS) + ")",
            name="kind",
        ),
        CheckConstraint(
            "sms_state IN ('pending', 'sending', 'sent', 'unknown', 'failed', 'off')", name="sms_state"
        ),
        Index("ix_notices_volunteer", "volunteer_id", "id"),
        Index("ix_notices_sms_due", "sms_state", "sms_due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    kind: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    text: Mapped[str] = mapped_column(Text)  # Chinese
    text_en: Mapped[str] = mapped_column(Text)  # English alongside
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sms_state: Mapped[str] = mapped_column(String(10))
    sms_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # not before (quiet hours)
    sms_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sms_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sms_error: Mapped[str | None] = mapped_column(String(200))


class NoticeSettings(Base):
    """A volunteer's choices: the quiet window (local "HH:MM", may wrap midnight) and the kinds
    not sent by SMS. No row: the defaults (21:00-08:00, every kind by SMS)."""

    __tablename__ = "notice_settings"

    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), primary_key=True)
    quiet_start: Mapped[str] = mapped_column(String(5))
    quiet_end: Mapped[str] = mapped_column(String(5))
    sms_off: Mapped[list] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
