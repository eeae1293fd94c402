from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime

ORG_KINDS = ("base", "hub", "organization", "team")
# What may sit under what: a base holds hubs, a hub holds organizations, an organization holds teams.
CHILD_KIND = {"base": "hub", "hub": "organization", "organization": "team"}
JOIN_MODES = ("open", "approval", "invitation")


class Organization(Base):
    """One node of the tree. `path` is the ids from the root, e.g. "/1/4/17/": a subtree is a prefix."""

    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint("kind IN ('base', 'hub', 'organization', 'team')", name="kind"),
        CheckConstraint(
            "(kind = 'team' AND join_mode IN ('open', 'approval', 'invitation'))"
            " OR (kind <> 'team' AND join_mode IS NULL)",
            name="join_mode",
        ),
        # subtree queries are `path LIKE '/1/4/%'`: pattern ops let PostgreSQL use the index in any locale
        Index("ix_organizations_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(400))
    join_mode: Mapped[str | None] = mapped_column(String(20))
    # printed on the certificates it issues (负责人, 联系电话); set by its admins
    person_in_charge: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Partner(Base):
    """A partner enterprise (社会企业 / 合作伙伴): funds meal points, sees aggregates only."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Station(Base):
    """Where scans happen: an activity's venue or a meal point's counter (站点)."""

    __tablename__ = "stations"
    __table_args__ = (CheckConstraint("kind IN ('venue', 'counter')", name="kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    shared: Mapped[bool] = mapped_column(Boolean, default=False)  # several organizations may book it at once
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
