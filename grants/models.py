"""Micro-grant tables (公益微创投): rounds, proposals and the projects granted from them.

A round (`grant_rounds`) is opened by a hub or the county base; organizations in its subtree send
proposals (`grant_proposals`) during the call; an approved proposal becomes a project
(`grant_projects`) once the public notice has passed. Money is in integer fen.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime

FIELDS = {  # a proposal's field of work
    "elderly": "为老服务",
    "children": "儿童服务",
    "environment": "环境保护",
    "culture": "文化活动",
    "other": "其他",
}
FUNDER_KINDS = ("government", "enterprise", "charity")
# call: proposals are taken; review: reviewers score; notice: the approved are shown publicly;
# granted: the notice has passed and the projects are in effect; cancelled
ROUND_STATES = ("call", "review", "notice", "granted", "cancelled")
PROPOSAL_STATES = ("draft", "submitted", "approved", "rejected", "withdrawn")
PROJECT_STATES = ("active", "closed")


class GrantRound(Base):
    """A micro-grant round (一轮公益微创投) of a hub or the county base (`org_id`)."""

    __tablename__ = "grant_rounds"
    __table_args__ = (
        CheckConstraint("state IN ('call', 'review', 'notice', 'granted', 'cancelled')", name="state"),
        CheckConstraint("call_closes_at > call_opens_at", name="call"),
        CheckConstraint("notice_days BETWEEN 1 AND 60", name="notice_days"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    call_opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    call_closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # the hub's review criteria (评审细则): [{"name": "需求分析", "weight": 30}, ...], weights sum to 100
    criteria: Mapped[list] = mapped_column(JSON)
    max_grants: Mapped[int | None] = mapped_column(Integer)  # how many projects at most
    total_limit: Mapped[int | None] = mapped_column(BigInteger)  # fen: all grants together at most
    grant_limit: Mapped[int | None] = mapped_column(BigInteger)  # fen: one proposal's budget at most
    notice_days: Mapped[int] = mapped_column(Integer, default=7)
    state: Mapped[str] = mapped_column(String(20), default="call")
    review_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notice_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoundFunder(Base):
    """Who puts money into a round, and how much: a partner enterprise or public money."""

    __tablename__ = "grant_round_funders"
    __table_args__ = (
        CheckConstraint("kind IN ('government', 'enterprise', 'charity')", name="kind"),
        CheckConstraint("amount > 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("grant_rounds.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)  # fen


class Proposal(Base):
    """A project proposal (项目申报书) of an organization for a round: a draft until submitted,
    editable until the call closes; decided by the hub (approved with an amount, or rejected)."""

    __tablename__ = "grant_proposals"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'rejected', 'withdrawn')", name="status"
        ),
        CheckConstraint("field IN ('elderly', 'children', 'environment', 'culture', 'other')", name="field"),
        CheckConstraint("ends_on >= starts_on", name="period"),
        CheckConstraint("budget_total >= 0", name="budget_total"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("grant_rounds.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    field: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text, default="")
    goal_activities: Mapped[int] = mapped_column(Integer)  # activities to hold
    goal_served: Mapped[int] = mapped_column(Integer)  # person-times served (服务人次)
    goal_volunteer_times: Mapped[int] = mapped_column(Integer)  # volunteer person-times (志愿者人次)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    budget: Mapped[list] = mapped_column(JSON)  # [{"item": "物料", "amount": fen}, ...]
    budget_total: Mapped[int] = mapped_column(BigInteger)  # fen, the lines' sum
    status: Mapped[str] = mapped_column(String(20), default="draft")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_amount: Mapped[int | None] = mapped_column(BigInteger)  # fen, when approved
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Project(Base):
    """A granted project (资助项目): an approved proposal whose public notice has passed. Its money
    is held by the round's hub in custody (资金代管: `grants.money`)."""

    __tablename__ = "grant_projects"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'closed')", name="status"),
        CheckConstraint("granted > 0", name="granted"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("grant_rounds.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("grant_proposals.id"), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    granted: Mapped[int] = mapped_column(BigInteger)  # fen
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
