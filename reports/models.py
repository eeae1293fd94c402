"""Report requests and their files (报表), and the partners' webhooks for monthly notices."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime

KINDS = ("meal_usage", "volunteer_contribution", "programme_summary", "round_summary")
MONTHLY_KINDS = KINDS[:3]  # a round's report is asked for, never monthly
FORMATS = ("json", "csv", "xlsx")
GRANULARITIES = ("day", "week", "month")


class Report(Base):
    """One report: what was asked (kind, period, format, scope) and, once built, its file. The same
    request for a period that has ended returns this row again (`request_key`)."""

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        CheckConstraint("period_end >= period_start", name="period"),
        Index("ix_reports_request_key", "request_key"),
        Index("ix_reports_partner", "partner_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    granularity: Mapped[str] = mapped_column(String(10))
    format: Mapped[str] = mapped_column(String(10))
    scope: Mapped[dict] = mapped_column(JSON)  # {"partner_id"|"org_path", "meal_point_ids", "internal"}
    request_key: Mapped[str] = mapped_column(String(64))  # sha256 of what was asked
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))  # hub staff's subtree
    internal: Mapped[bool] = mapped_column(Boolean, default=False)  # unsuppressed: admins only
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id")
    )  # None: monthly, or an API key
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(200))
    media_type: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the file is deleted after


class PartnerWebhook(Base):
    """Where a partner is told that a report is ready: a POST signed with the partner's secret."""

    __tablename__ = "partner_webhooks"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    secret_version: Mapped[int] = mapped_column(Integer, default=1)  # the secret is derived, never stored
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
