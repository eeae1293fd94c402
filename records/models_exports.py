"""Exports for the national volunteer information system (全国志愿服务信息系统导出).

One row per request: who asked, for which county and period, and once built by the worker, the
file ENCRYPTED at rest (`linli.idcrypt.seal_file`, bound to this row: the file holds full identity
numbers, and no database dump may hold one in clear), the SHA-256 of the plain file and how many
rows and volunteers without a stored number it has. The file is kept `KEEP_DAYS` days and given
once, to the admin who asked; then it is wiped."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime

KINDS = ("service_records",)
FORMATS = ("xlsx", "csv")
STATUSES = ("queued", "running", "ready", "failed", "expired")
KEEP_DAYS = 7
MAX_DAYS = 366
REASON_LENGTH = (4, 200)


class RecordExport(Base):
    __tablename__ = "record_exports"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'ready', 'failed', 'expired')", name="status"),
        CheckConstraint("kind IN ('service_records')", name="kind"),
        CheckConstraint("format IN ('xlsx', 'csv')", name="format"),
        CheckConstraint("period_end >= period_start", name="period"),
        Index("ix_record_exports_county", "org_path", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_path: Mapped[str] = mapped_column(String(400))  # the county base's path
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    kind: Mapped[str] = mapped_column(String(30))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    format: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(REASON_LENGTH[1]))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    file_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted; None once taken or expired
    sha256: Mapped[str | None] = mapped_column(String(64))  # of the plain file
    size: Mapped[int | None] = mapped_column(Integer)  # of the plain file
    rows: Mapped[int | None] = mapped_column(Integer)
    missing_identity: Mapped[int | None] = mapped_column(Integer)  # volunteers without a number
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # built + KEEP_DAYS
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    downloaded_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
