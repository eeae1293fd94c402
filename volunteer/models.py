from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime

FILING_STATUSES = ("pending", "approved", "rejected")


class Volunteer(Base):
    """A registered volunteer. The resident ID number is never stored: only a keyed hash (for
    uniqueness, tagged with its key id) and the last four characters (for display)."""

    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    id_hash: Mapped[str | None] = mapped_column(String(100), unique=True)
    id_last4: Mapped[str | None] = mapped_column(String(4))
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
