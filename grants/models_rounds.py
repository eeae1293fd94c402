"""The tables a round's review and notice add (评审与公示): who reviews a round, their scores, and
the objections raised during the public notice. Scores are integers 0 to 10 per criterion."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime

SCALE = (0, 10)  # a criterion's score, whole numbers


class GrantReviewer(Base):
    """A reviewer grant (评审授权) for one round: a staff user, or a guest the hub invited (a staff
    user made for them, with no role grant: `guest`), with the organization they belong to if any."""

    __tablename__ = "grant_reviewers"
    __table_args__ = (UniqueConstraint("round_id", "staff_user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("grant_rounds.id"), index=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    guest: Mapped[bool] = mapped_column(Boolean, default=False)
    affiliation_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GrantScore(Base):
    """One reviewer's scores of one proposal: {criterion name: 0..10}; `weighted` is the sum of
    score × weight (0..1000, weights summing to 100). Changed until the review closes."""

    __tablename__ = "grant_scores"
    __table_args__ = (
        UniqueConstraint("proposal_id", "reviewer_id"),
        CheckConstraint("weighted BETWEEN 0 AND 1000", name="weighted"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("grant_rounds.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("grant_proposals.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    scores: Mapped[dict] = mapped_column(JSON)
    weighted: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GrantObjection(Base):
    """An objection (异议) anyone raised on the public notice page; the hub reads them."""

    __tablename__ = "grant_objections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("grant_rounds.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
