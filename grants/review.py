"""Review (评审): the hub grants reviewers for a round; each scores every submitted proposal on
each criterion (whole numbers 0 to 10); a reviewer never scores a proposal of an organization they
belong to; scores are seen only by their reviewer until the hub closes the review; the ranking
is by weighted average, ties explained (`rank`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from accounts import service as accounts_service
from grants import repository_rounds as repo
from grants import rounds
from grants.models import GrantRound, Proposal
from grants.models_rounds import SCALE, GrantReviewer, GrantScore
from linli import scope
from linli.errors import FieldError, conflict, forbidden, invalid, not_found
from orgs import service as orgs_service

COMMENT_MAX = 500


@dataclass
class Invited:
    reviewer: GrantReviewer
    username: str
    password: str | None  # a guest's new password, shown once


def invite(
    session: Session,
    round_id: int,
    *,
    staff_user_id: int | None,
    phone: str | None,
    name: str,
    affiliation_org_id: int | None,
    admin_paths: list[str],
    granted_by: int,
    now: datetime,
) -> Invited:
    """A reviewer grant: an existing staff user (`staff_user_id`), or a guest by `phone` (a staff
    login made for them, no role grant; its password returned once for the hub to pass on)."""
    row = rounds.get(session, round_id)
    hub = rounds.require_hub_admin(session, row, admin_paths)
    if row.state in ("notice", "granted", "cancelled") or row.review_closed_at is not None:
        raise conflict("review_closed", "评审已结束 The review is closed")
    if (staff_user_id is None) == (phone is None):
        raise invalid(
            [FieldError("phone", "one_of", "请填写工作人员或嘉宾手机号之一 A staff user or a guest's phone")]
        )
    if affiliation_org_id is not None:  # only an applicant's membership matters: one inside the hub
        org = orgs_service.find(session, affiliation_org_id)
        if org is None:
            raise invalid(
                [FieldError("affiliation_org_id", "not_found", "组织不存在 Organization not found")]
            )
        scope.require([hub], org.path, "该组织不在本轮枢纽之下 Not an organization of the round's hub")
    password = None
    if staff_user_id is not None:  # the hub's own staff (or the county's); outsiders are guests
        user = accounts_service.staff_user(session, staff_user_id)
        if not scope.works_in(accounts_service.grant_paths(session, user.id), [], hub):
            raise forbidden(
                "该工作人员不属于本枢纽，请以嘉宾邀请 Not the hub's staff: invite them as a guest",
                scope.OUTSIDE,
            )
    else:
        user, password = accounts_service.create_guest(session, phone=phone, display_name=name, now=now)
    grant = repo.reviewer(session, row.id, user.id)
    if grant is None:
        grant = repo.add(
            session,
            GrantReviewer(
                round_id=row.id,
                staff_user_id=user.id,
                guest=phone is not None,
                affiliation_org_id=affiliation_org_id,
                granted_by=granted_by,
                created_at=now,
            ),
        )
    return Invited(grant, user.username, password)


def _member_of(session: Session, grant: GrantReviewer, member_paths: list[str], org_path: str) -> bool:
    """Whether the reviewer belongs to the organization at `org_path`: a role grant on it or inside
    it (a hub's admin is above it, not in it), or the affiliation the hub gave a guest."""
    paths = list(member_paths)
    if grant.affiliation_org_id is not None:
        paths.append(orgs_service.get(session, grant.affiliation_org_id).path)
    return any(scope.covers([org_path], p) for p in paths)


def score(
    session: Session,
    proposal_id: int,
    given: dict[str, int],
    comment: str,
    *,
    staff_user_id: int,
    member_paths: list[str],
    now: datetime,
) -> GrantScore:
    """A reviewer's scores of one proposal, every criterion once; scored again, they replace."""
    p = repo.proposal(session, proposal_id)
    if p is None:
        raise not_found("申报书 Proposal", "proposal_not_found")
    row = rounds.get(session, p.round_id)
    grant = repo.reviewer(session, row.id, staff_user_id)
    if grant is None:
        raise forbidden("您不是本轮评审 You do not review this round", "not_a_reviewer")
    if p.submitted_at is None or p.status == "withdrawn":
        raise conflict("not_submitted", "申报书尚未提交 The proposal was not submitted")
    state = rounds.state_of(row, now)
    if state == "call":
        raise conflict("review_not_open", "申报截止后才能评审 Scoring starts when the call closes")
    if state != "review" or row.review_closed_at is not None:
        raise conflict("review_closed", "评审已结束 The review is closed")
    if _member_of(session, grant, member_paths, orgs_service.get(session, p.org_id).path):
        raise conflict(
            "conflict_of_interest", "您属于申报组织，须回避 You belong to the applicant: you may not score it"
        )
    weights = {c["name"]: c["weight"] for c in row.criteria}
    errors = [
        FieldError("scores", "unknown_criterion", f"没有这项标准 No criterion “{n}”")
        for n in given
        if n not in weights
    ]
    errors += [
        FieldError("scores", "criterion_missing", f"缺少“{n}”的评分 A score for “{n}” is missing")
        for n in weights
        if n not in given
    ]
    errors += [
        FieldError(
            f"scores.{n}", "out_of_scale", f"评分应为{SCALE[0]}到{SCALE[1]}的整数 A whole number 0 to 10"
        )
        for n, v in given.items()
        if not SCALE[0] <= v <= SCALE[1]
    ]
    if len(comment) > COMMENT_MAX:
        errors.append(FieldError("comment", "length", "评语最多500字 At most 500 characters"))
    if errors:
        raise invalid(errors)
    weighted = sum(given[n] * w for n, w in weights.items())
    mine = repo.score(session, p.id, staff_user_id)
    if mine is None:
        return repo.add(
            session,
            GrantScore(
                round_id=row.id,
                proposal_id=p.id,
                reviewer_id=staff_user_id,
                scores=dict(given),
                weighted=weighted,
                comment=comment,
                created_at=now,
                updated_at=now,
            ),
        )
    mine.scores, mine.weighted, mine.comment, mine.updated_at = dict(given), weighted, comment, now
    session.flush()
    return mine


@dataclass
class SheetLine:
    proposal: Proposal
    org_name: str
    conflict_of_interest: bool  # the reviewer belongs to the applicant: they may not score it
    mine: GrantScore | None  # the reviewer's own scores, if any


def sheet(session: Session, round_id: int, *, staff_user_id: int, member_paths: list[str]) -> list[SheetLine]:
    """A reviewer's sheet (评分表): the round's submitted proposals, each with whether the reviewer
    must stand aside (the rule `score` applies) and their own scores so far; nobody else's."""
    row = rounds.get(session, round_id)
    grant = repo.reviewer(session, row.id, staff_user_id)
    if grant is None:
        raise forbidden("您不是本轮评审 You do not review this round", "not_a_reviewer")
    items = [p for p in repo.submitted(session, row.id) if p.status != "withdrawn"]
    names = repo.org_names(session, {p.org_id for p in items})
    return [
        SheetLine(
            p,
            names.get(p.org_id, ""),
            _member_of(session, grant, member_paths, orgs_service.get(session, p.org_id).path),
            repo.score(session, p.id, staff_user_id),
        )
        for p in items
    ]


def scores_seen(
    session: Session, proposal_id: int, *, admin_paths: list[str], staff_user_id: int
) -> tuple[list[GrantScore], int]:
    """The scores the caller may see, and how many are hidden: until the review closes a reviewer
    (and the hub) see only their own."""
    p = repo.proposal(session, proposal_id)
    if p is None:
        raise not_found("申报书 Proposal", "proposal_not_found")
    row = rounds.get(session, p.round_id)
    hub = scope.covers(admin_paths, rounds.org_path(session, row))
    if not hub and not rounds.is_reviewer(session, row.id, staff_user_id):
        raise not_found("申报书 Proposal", "proposal_not_found")
    every = repo.scores_of(session, p.id)
    if row.review_closed_at is not None:
        return every, 0
    mine = [s for s in every if s.reviewer_id == staff_user_id]
    return mine, len(every) - len(mine)


def close(session: Session, round_id: int, *, admin_paths: list[str], now: datetime) -> GrantRound:
    row = rounds.get(session, round_id, for_update=True)
    rounds.require_hub_admin(session, row, admin_paths)
    state = rounds.state_of(row, now)
    if state == "call":
        raise conflict("call_open", "申报尚未截止 The call is still open")
    if state != "review" or row.review_closed_at is not None:
        raise conflict("review_closed", "评审已结束 The review is closed")
    row.state, row.review_closed_at = "review", now
    session.flush()
    return row


@dataclass
class Ranked:
    proposal: Proposal
    reviews: int
    weighted_average: float | None  # 0 to 10
    criteria: dict[str, float]  # each criterion's average
    rank: int
    tie_broken_by: str | None  # top_criterion, budget, submitted_at; "tied" if nothing broke it


def ranking(session: Session, round_id: int, *, admin_paths: list[str], staff_user_id: int) -> list[Ranked]:
    """Once the review is closed, for the hub and the reviewers: by weighted average (highest
    first); equal averages by the average on the heaviest criterion (the first listed if weights
    are equal), then the smaller budget, then the earlier submission."""
    row = rounds.get(session, round_id)
    if not (
        scope.covers(admin_paths, rounds.org_path(session, row))
        or rounds.is_reviewer(session, row.id, staff_user_id)
    ):
        raise not_found("轮次 Round", "round_not_found")
    if row.review_closed_at is None:
        raise conflict("review_open", "评审尚未结束 The review is not closed yet")
    top = max(row.criteria, key=lambda c: c["weight"])["name"]
    by_proposal: dict[int, list[GrantScore]] = {}
    for s in repo.round_scores(session, row.id):
        by_proposal.setdefault(s.proposal_id, []).append(s)
    items = []
    for p in repo.submitted(session, row.id):
        got = by_proposal.get(p.id, [])
        avg = round(sum(s.weighted for s in got) / len(got) / 100, 2) if got else None
        criteria = (
            {c["name"]: round(sum(s.scores[c["name"]] for s in got) / len(got), 2) for c in row.criteria}
            if got
            else {}
        )
        items.append(Ranked(p, len(got), avg, criteria, 0, None))

    def key(r: Ranked):
        return (
            r.weighted_average is None,
            -(r.weighted_average or 0),
            -r.criteria.get(top, 0),
            r.proposal.budget_total,
            r.proposal.submitted_at,
        )

    items.sort(key=key)
    for i, r in enumerate(items):
        r.rank = i + 1
        neighbours = [items[j] for j in (i - 1, i + 1) if 0 <= j < len(items)]
        ties = [n for n in neighbours if n.weighted_average == r.weighted_average]
        if ties:
            r.tie_broken_by = _breaker(r, ties[0], top)
    return items


def _breaker(a: Ranked, b: Ranked, top: str) -> str:
    if a.criteria.get(top) != b.criteria.get(top):
        return "top_criterion"
    if a.proposal.budget_total != b.proposal.budget_total:
        return "budget"
    if a.proposal.submitted_at != b.proposal.submitted_at:
        return "submitted_at"
    return "tied"
