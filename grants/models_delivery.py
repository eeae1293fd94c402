"""What granted projects deliver (项目成效): activities linked to a project, the people an activity
served (counts entered by its coordinator, with history, and residents' diner cards scanned), and
the meal points whose meals count for a project. Rules in `grants.delivery`, queries in
`grants.repository_delivery`; see docs/programmes.md ("Delivery").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from linli.db import Base, BigId, UTCDateTime

PHOTO_TYPES = ("image/jpeg", "image/png")


class ActivityLink(Base):
    """An activity's link to a project (活动归属项目), with who linked it and when; unlinking keeps
    the row (`unlinked_at`, `unlinked_by`). At most one live link per activity."""

    __tablename__ = "grant_activity_links"
    __table_args__ = (
        Index(
            "uq_grant_activity_links_live",
            "activity_id",
            unique=True,
            sqlite_where=text("unlinked_at IS NULL"),
            postgresql_where=text("unlinked_at IS NULL"),
        ),
        Index("ix_grant_activity_links_project", "project_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("grant_projects.id"))
    linked_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unlinked_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ServedCount(Base):
    """How many people an activity served (服务人次), as entered by its coordinator, with an
    optional photo (JPEG or PNG, kept in the database like receipts; loaded only when asked for).
    A correction is a new row: the latest counts, the older ones stay with who and when."""

    __tablename__ = "grant_served_counts"
    __table_args__ = (
        CheckConstraint("count BETWEEN 0 AND 100000", name="count"),
        CheckConstraint("photo_type IS NULL OR photo_type IN ('image/jpeg', 'image/png')", name="photo_type"),
        Index("ix_grant_served_counts_activity", "activity_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    count: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200))
    photo_type: Mapped[str | None] = mapped_column(String(30))  # read from the file's first bytes
    photo_size: Mapped[int | None] = mapped_column(Integer)
    photo_sha256: Mapped[str | None] = mapped_column(String(64))
    photo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    entered_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ServedScan(Base):
    """A resident's diner card scanned at an activity (扫长者卡计人次): a diner counts once per
    activity, whoever scans and however often (the database's unique key says so)."""

    __tablename__ = "grant_served_scans"
    __table_args__ = (UniqueConstraint("activity_id", "diner_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    diner_id: Mapped[int] = mapped_column(ForeignKey("diners.id"), index=True)
    scanned_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProjectMealPoint(Base):
    """A meal point whose served meals count as a project's person-times served (项目助餐点)."""

    __tablename__ = "grant_project_meal_points"

    project_id: Mapped[int] = mapped_column(ForeignKey("grant_projects.id"), primary_key=True)
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"), primary_key=True, index=True)
    added_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
