"""Integrity tables (核查): flags and holds, when each staff member was heard from, a hub's
settings, and the audit log of sensitive acts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime

# a flag's life: `held` (its meal or attendance pays nothing until decided) → `approved` or
# `rejected`; `open` (only seen: nothing is held) → `dismissed`
STATUSES = ("held", "open", "approved", "rejected", "dismissed")
# what a flag is about (docs/integrity.md): the first two hold their meal or attendance
KINDS = (
    "device_online",
    "late_upload",
    "card_two_points",
    "coordinator_volume",
    "paused_diner",
    "long_attendance",
)


class IntegrityFlag(Base):
    """Something a hub should look at (异常): an offline meal or attendance held for review, or an
    anomaly seen in the day's records. One flag per kind and subject."""

    __tablename__ = "integrity_flags"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        UniqueConstraint("kind", "subject"),
        Index("ix_integrity_flags_status", "status", "detected_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # integrity.kinds.KINDS
    subject: Mapped[str] = mapped_column(String(80))  # "meal:12", "attendance:7", "diner:3:2026-12-01"
    org_path: Mapped[str] = mapped_column(String(400))  # whose hub sees it (scope)
    status: Mapped[str] = mapped_column(String(10))
    detail: Mapped[dict] = mapped_column(JSON)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(500))


class StaffPresence(Base):
    """The minutes in which a staff member's device talked to the server online: an offline scan
    claimed for a later minute, uploaded after it, was not made offline."""

    __tablename__ = "staff_presence"

    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)


class IntegritySettings(Base):
    """A hub's choices: how long after its slot (or activity) an offline scan is still paid
    without review."""

    __tablename__ = "integrity_settings"

    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    offline_grace_minutes: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """A sensitive act, kept (审计): a diner's card printed, a hold decided, a diner, meal point or
    agreement made or edited (`detail`: why, and each changed field's before and after)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_path_at", "org_path", "at"),
        Index("ix_audit_log_subject", "subject", "id"),  # one row's history
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    action: Mapped[str] = mapped_column(String(40))  # e.g. diner_card.printed
    subject: Mapped[str] = mapped_column(String(80))
    org_path: Mapped[str] = mapped_column(String(400))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[dict] = mapped_column(JSON)
