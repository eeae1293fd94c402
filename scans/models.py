"""Every scan (扫码记录), accepted or not, with the answer it was given."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime


class ScanKey(Base):
    """Every scan id ever stored (扫码编号), kept when its scan's month is archived: a replay is
    recognised forever. `scans` is partitioned by month on PostgreSQL, which cannot keep a key
    unique over all months unless it holds the month; this narrow table does, and remembers the
    scan's month key (`effective_at`) to find it in one partition. Written by the same statement
    as the scan (`scans.repository`)."""

    __tablename__ = "scan_keys"

    scan_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the scan's, its partition key


class Scan(Base):
    """Every scan, accepted or not, with its reason, device, device time and server time. On
    PostgreSQL partitioned by month of `effective_at` (set once, never changed; every reader
    bounds it), primary key (id, effective_at) there (`linli.partitions`, migration 0030)."""

    __tablename__ = "scans"
    __table_args__ = (Index("ix_scans_volunteer_effective", "volunteer_id", "effective_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # the client's UUID, unique through scan_keys
    scan_id: Mapped[str] = mapped_column(ForeignKey("scan_keys.scan_id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    device: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(String(300))
    code_kind: Mapped[str | None] = mapped_column(String(20))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))
    attendance_id: Mapped[int | None] = mapped_column(ForeignKey("attendance_keys.id"))
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[dict] = mapped_column(JSON)  # the answer given, returned again for a duplicate
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the device's time (or received_at)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the time the scan was judged as of
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # e.g. uploaded more than 24 hours late
    # from an offline tablet's batch: its answer was given at upload, and may be judged again when an
    # earlier scan of the same volunteer arrives (an online scan's answer was seen, and stands)
    offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
