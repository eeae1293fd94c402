"""The tables of service records: training, evaluations, and late entries (补录标记)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime

ENTRY_DAYS = 20  # a record is entered within 20 days of the activity (the rules, article 10)
TRAINING_MINUTES = (1, 100 * 60)
TITLE_MAX = 100
COMMENT_MAX = 500
REASON_MAX = 500
RATINGS = ("excellent", "good", "pass", "fail")  # 优秀 良好 合格 不合格
LATE_KINDS = ("correction", "annulment", "manual_hours", "training")


class Training(Base):
    """A training a volunteer took, recorded by staff of the organization that gave it."""

    __tablename__ = "record_trainings"
    __table_args__ = (
        CheckConstraint("minutes > 0", name="minutes"),
        Index("ix_record_trainings_volunteer", "volunteer_id", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    minutes: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)  # the local day of the training
    recorded_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Evaluation(Base):
    """An organization's evaluation of a volunteer for a period (志愿服务评价)."""

    __tablename__ = "record_evaluations"
    __table_args__ = (
        CheckConstraint("rating IN ('excellent', 'good', 'pass', 'fail')", name="rating"),
        CheckConstraint("period_start <= period_end", name="period"),
        Index("ix_record_evaluations_volunteer", "volunteer_id", "period_end"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    rating: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(String(COMMENT_MAX))
    evaluated_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LateEntry(Base):
    """An entry made more than `ENTRY_DAYS` after the activity's day, by an admin with a reason:
    which entry (`kind` and `ref`: a correction's, an award's or a training's id), which attendance
    if any, who and why."""

    __tablename__ = "record_late_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('correction', 'annulment', 'manual_hours', 'training')", name="kind"),
        Index("ix_record_late_entries_volunteer", "volunteer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[int] = mapped_column(BigId)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    attendance_id: Mapped[int | None] = mapped_column(ForeignKey("attendance_keys.id"), index=True)
    activity_day: Mapped[date] = mapped_column(Date)
    days_late: Mapped[int] = mapped_column(Integer)  # days after the activity's day
    reason: Mapped[str] = mapped_column(String(REASON_MAX))
    entered_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
