"""Proposals (项目申报): an organization's admin writes one for a round during its call, edits it
while the call is open, and submits it. Every mistake is told at once; nothing is written on a
refusal. An organization outside the round's hub (it never was, or it left) is refused with
`organization_outside_round`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from grants import repository_rounds as repo
from grants import rounds
from grants.models import FIELDS, GrantRound, Proposal
from linli import scope
from linli.errors import FieldError, conflict, invalid, not_found
from orgs import service as orgs_service

TITLE_MAX = 100
SUMMARY_MAX = 5000
GOAL_MAX = 1_000_000
LINES_MAX = 50
ITEM_MAX = 100
EDITABLE = ("draft", "submitted")


@dataclass
class ProposalInput:
    title: str
    field: str
    goal_activities: int
    goal_served: int
    goal_volunteer_times: int
    starts_on: date
    ends_on: date
    budget: list[dict]  # [{"item": ..., "amount": fen}]
    summary: str = ""


def _errors(data: ProposalInput, row: GrantRound) -> list[FieldError]:
    errors = []
    if not 1 <= len(data.title.strip()) <= TITLE_MAX:
        errors.append(FieldError("title", "length", "标题1到100字 A title of 1 to 100 characters"))
    if data.field not in FIELDS:
        errors.append(
            FieldError("field", "invalid_choice", "领域应为 elderly、children、environment、culture、other")
        )
    if len(data.summary) > SUMMARY_MAX:
        errors.append(FieldError("summary", "length", "简介最多5000字 At most 5000 characters"))
    for name in ("goal_activities", "goal_served", "goal_volunteer_times"):
        if not 0 <= getattr(data, name) <= GOAL_MAX:
            errors.append(FieldError(name, "out_of_range", "目标应为0到1000000 A goal of 0 to 1,000,000"))
    if data.ends_on < data.starts_on:
        errors.append(FieldError("ends_on", "before_start", "结束日期早于开始日期 Ends before it starts"))
    if not 1 <= len(data.budget) <= LINES_MAX:
        errors.append(FieldError("budget", "length", "预算应有1到50行 1 to 50 budget lines"))
    for i, line in enumerate(data.budget[:LINES_MAX]):
        if not 1 <= len(str(line.get("item", "")).strip()) <= ITEM_MAX:
            errors.append(
                FieldError(f"budget[{i}].item", "length", "预算项1到100字 An item of 1 to 100 characters")
            )
        amount = line.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= rounds.AMOUNT_MAX:
            errors.append(
                FieldError(
                    f"budget[{i}].amount", "out_of_range", "金额应为正整数（分） A positive amount in fen"
                )
            )
    if not errors and row.grant_limit is not None and sum(b["amount"] for b in data.budget) > row.grant_limit:
        errors.append(
            FieldError(
                "budget",
                "over_grant_limit",
                f"预算超过单个项目上限{row.grant_limit}分 Over the round's grant limit",
            )
        )
    return errors


def _require_open(row: GrantRound, now: datetime) -> None:
    if now < row.call_opens_at:
        raise conflict("call_not_open", "申报尚未开始 The call has not opened yet")
    if rounds.state_of(row, now) != "call":
        raise conflict("call_closed", "申报已截止 The call is closed")


def require_inside(session: Session, row: GrantRound, org_path: str) -> None:
    """409 unless the organization is (still) inside the round's hub."""
    hub = rounds.org_path(session, row)
    if org_path == hub or not scope.covers([hub], org_path):
        raise conflict(
            "organization_outside_round",
            "该组织不在（或已不在）本轮枢纽之下 The organization is not (or no longer) under the round's hub",
        )


def create(
    session: Session,
    round_id: int,
    org_id: int,
    data: ProposalInput,
    *,
    admin_paths: list[str],
    staff_user_id: int,
    now: datetime,
) -> Proposal:
    row = rounds.get(session, round_id)
    org = orgs_service.find(session, org_id)
    if org is None:
        raise invalid([FieldError("org_id", "not_found", "组织不存在 Organization not found")])
    hub = rounds.org_path(session, row)
    if not (scope.covers(admin_paths, hub) or any(scope.covers([hub], p) for p in admin_paths)):
        raise not_found("轮次 Round", "round_not_found")  # not the caller's hub's: not told
    orgs_service.require_admin_of(admin_paths, org)
    require_inside(session, row, org.path)
    _require_open(row, now)
    errors = _errors(data, row)
    if errors:
        raise invalid(errors)
    return repo.add(
        session,
        Proposal(
            round_id=row.id,
            org_id=org.id,
            status="draft",
            created_by=staff_user_id,
            created_at=now,
            updated_at=now,
            **_values(data),
        ),
    )


def _values(data: ProposalInput) -> dict:
    budget = [{"item": str(b["item"]).strip(), "amount": b["amount"]} for b in data.budget]
    return {
        "title": data.title.strip(),
        "field": data.field,
        "summary": data.summary,
        "goal_activities": data.goal_activities,
        "goal_served": data.goal_served,
        "goal_volunteer_times": data.goal_volunteer_times,
        "starts_on": data.starts_on,
        "ends_on": data.ends_on,
        "budget": budget,
        "budget_total": sum(b["amount"] for b in budget),
    }


def _own(session: Session, proposal_id: int, admin_paths: list[str]) -> tuple[Proposal, GrantRound, str]:
    p = repo.proposal(session, proposal_id, for_update=True)
    if p is None:
        raise not_found("申报书 Proposal", "proposal_not_found")
    org = orgs_service.get(session, p.org_id)
    orgs_service.require_admin_of(admin_paths, org)
    return p, rounds.get(session, p.round_id), org.path


def edit(
    session: Session, proposal_id: int, changes: dict, *, admin_paths: list[str], now: datetime
) -> Proposal:
    """Change a draft or a submitted proposal while the call is open (`changes`: the fields given)."""
    p, row, path = _own(session, proposal_id, admin_paths)
    if p.status not in EDITABLE:
        raise conflict("proposal_decided", "申报书已有决定，不能修改 The proposal is decided")
    require_inside(session, row, path)
    _require_open(row, now)
    current = ProposalInput(
        title=p.title,
        field=p.field,
        goal_activities=p.goal_activities,
        goal_served=p.goal_served,
        goal_volunteer_times=p.goal_volunteer_times,
        starts_on=p.starts_on,
        ends_on=p.ends_on,
        budget=p.budget,
        summary=p.summary,
    )
    for name, value in changes.items():
        setattr(current, name, value)
    errors = _errors(current, row)
    if errors:
        raise invalid(errors)
    for name, value in _values(current).items():
        setattr(p, name, value)
    p.updated_at = now
    session.flush()
    return p


def submit(session: Session, proposal_id: int, *, admin_paths: list[str], now: datetime) -> Proposal:
    p, row, path = _own(session, proposal_id, admin_paths)
    if p.status != "draft":
        raise conflict("not_a_draft", "只有草稿可以提交 Only a draft is submitted")
    require_inside(session, row, path)
    _require_open(row, now)
    p.status, p.submitted_at, p.updated_at = "submitted", now, now
    session.flush()
    return p


def readable(session: Session, proposal_id: int, *, admin_paths: list[str], staff_user_id: int) -> Proposal:
    """For its organization's admins and the hub's (their grants cover it), and for the round's
    reviewers once submitted; 404 for anyone else."""
    p = repo.proposal(session, proposal_id)
    if p is None:
        raise not_found("申报书 Proposal", "proposal_not_found")
    if scope.covers(admin_paths, orgs_service.get(session, p.org_id).path):
        return p
    if p.submitted_at is not None and rounds.is_reviewer(session, p.round_id, staff_user_id):
        return p
    raise not_found("申报书 Proposal", "proposal_not_found")


def of_round(
    session: Session, round_id: int, *, admin_paths: list[str], staff_user_id: int, after_id: int, limit: int
) -> list[Proposal]:
    """The hub's admins see every proposal; reviewers the submitted ones; organizations their own."""
    row = rounds.get(session, round_id)
    if scope.covers(admin_paths, rounds.org_path(session, row)):
        return repo.proposals(session, round_id, paths=None, statuses=None, after_id=after_id, limit=limit)
    statuses = (
        ("submitted", "approved", "rejected")
        if rounds.is_reviewer(session, round_id, staff_user_id)
        else None
    )
    return repo.proposals(
        session, round_id, paths=admin_paths, statuses=statuses, after_id=after_id, limit=limit
    )
