"""Decisions and the public notice (决定与公示): the hub approves a proposal with an amount or
rejects it with a reason (who, when and why kept on the proposal; the entry point audits it too)
once the review is closed; publishing starts the notice (default 7 days), after which decisions
are closed; anyone may raise an objection on the notice page while it runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from grants import proposals as proposals_service
from grants import repository_rounds as repo
from grants import rounds
from grants.models import GrantRound, Proposal
from grants.models_rounds import GrantObjection
from linli.errors import FieldError, conflict, invalid, not_found
from orgs import service as orgs_service

REASON_MAX = 500
OBJECTION_MAX = 1000
CONTACT_MAX = 60


@dataclass
class Decided:
    proposal: Proposal
    hub_path: str  # for the audit log


def _decidable(
    session: Session, proposal_id: int, admin_paths: list[str], now: datetime
) -> tuple[Proposal, GrantRound, str]:
    p = repo.proposal(session, proposal_id)
    if p is None:
        raise not_found("申报书 Proposal", "proposal_not_found")
    row = rounds.get(
        session, p.round_id, for_update=True
    )  # decisions of a round one at a time: its totals hold
    p = repo.proposal(session, proposal_id, for_update=True)
    path = rounds.require_hub_admin(session, row, admin_paths)
    if row.state in ("notice", "granted", "cancelled"):
        raise conflict(
            "decisions_closed", "公示已开始，不能再作决定 The notice has started: decisions are closed"
        )
    if row.review_closed_at is None:
        raise conflict("review_open", "评审结束后才能决定 Decide once the review is closed")
    if p.submitted_at is None or p.status in ("draft", "withdrawn"):
        raise conflict("not_submitted", "申报书尚未提交 The proposal was not submitted")
    proposals_service.require_inside(session, row, orgs_service.get(session, p.org_id).path)
    return p, row, path


def approve(
    session: Session,
    proposal_id: int,
    amount: int,
    reason: str,
    *,
    admin_paths: list[str],
    staff_user_id: int,
    now: datetime,
) -> Decided:
    p, row, path = _decidable(session, proposal_id, admin_paths, now)
    if not 1 <= amount <= p.budget_total:
        raise invalid(
            [FieldError("amount", "over_budget", f"金额应为1到预算{p.budget_total}分 1 fen up to the budget")]
        )
    if row.grant_limit is not None and amount > row.grant_limit:
        raise invalid(
            [FieldError("amount", "over_grant_limit", "超过单个项目上限 Over the round's grant limit")]
        )
    if len(reason) > REASON_MAX:
        raise invalid([FieldError("reason", "length", "理由最多500字 At most 500 characters")])
    count, total = repo.approved_totals(session, row.id, besides=p.id)
    if row.max_grants is not None and count + 1 > row.max_grants:
        raise conflict(
            "max_grants_reached",
            f"本轮最多资助{row.max_grants}个项目 The round's number of grants is reached",
        )
    if row.total_limit is not None and total + amount > row.total_limit:
        raise conflict(
            "over_round_total",
            "超过本轮资助总额 Over the round's total",
            left=max(0, row.total_limit - total),
        )
    p.status, p.decided_amount, p.decision_reason = "approved", amount, reason.strip() or None
    p.decided_by, p.decided_at, p.updated_at = staff_user_id, now, now
    session.flush()
    return Decided(p, path)


def reject(
    session: Session,
    proposal_id: int,
    reason: str,
    *,
    admin_paths: list[str],
    staff_user_id: int,
    now: datetime,
) -> Decided:
    p, _, path = _decidable(session, proposal_id, admin_paths, now)
    reason = reason.strip()
    if not 1 <= len(reason) <= REASON_MAX:
        raise invalid(
            [FieldError("reason", "required", "请填写理由（1到500字） A reason of 1 to 500 characters")]
        )
    p.status, p.decided_amount, p.decision_reason = "rejected", None, reason
    p.decided_by, p.decided_at, p.updated_at = staff_user_id, now, now
    session.flush()
    return Decided(p, path)


def publish(
    session: Session, round_id: int, *, admin_paths: list[str], now: datetime
) -> tuple[GrantRound, str]:
    row = rounds.get(session, round_id, for_update=True)
    path = rounds.require_hub_admin(session, row, admin_paths)
    if row.state in ("notice", "granted", "cancelled"):
        raise conflict("already_published", "本轮已公示 The round is already published")
    if row.review_closed_at is None:
        raise conflict("review_open", "评审结束后才能公示 Publish once the review is closed")
    if not repo.approved(session, row.id):
        raise conflict("nothing_approved", "没有通过的项目 No proposal is approved")
    row.state, row.notice_starts_at = "notice", now
    row.notice_ends_at = now + timedelta(days=row.notice_days)
    session.flush()
    return row, path


def object_to(
    session: Session, round_id: int, text: str, contact: str | None, now: datetime
) -> GrantObjection:
    """Anyone's objection while the notice runs."""
    row = rounds.get(session, round_id)
    if row.state != "notice" or (row.notice_ends_at is not None and now >= row.notice_ends_at):
        raise conflict("notice_not_open", "不在公示期内 The round is not in its notice period")
    errors = []
    if not 1 <= len(text.strip()) <= OBJECTION_MAX:
        errors.append(FieldError("text", "length", "异议内容1到1000字 1 to 1000 characters"))
    if contact is not None and len(contact.strip()) > CONTACT_MAX:
        errors.append(FieldError("contact", "length", "联系方式最多60字 At most 60 characters"))
    if errors:
        raise invalid(errors)
    return repo.add(
        session,
        GrantObjection(
            round_id=row.id, text=text.strip(), contact=(contact or "").strip() or None, created_at=now
        ),
    )


def objections(
    session: Session, round_id: int, *, admin_paths: list[str], after_id: int, limit: int
) -> list[GrantObjection]:
    row = rounds.get(session, round_id)
    rounds.require_hub_admin(session, row, admin_paths)
    return repo.objections(session, round_id, after_id=after_id, limit=limit)
