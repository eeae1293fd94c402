"""What goes in and out of the round, proposal, review and notice endpoints (msgspec Structs)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from grants import decisions, proposals, review, rounds
from grants.models import FIELDS, FUNDER_KINDS, GrantRound, Project, Proposal, RoundFunder
from grants.models_rounds import SCALE, GrantObjection, GrantScore
from grants.schemas_delivery import DeliveryRead
from linli.bounds import RowId, by_service

Fen = Annotated[int, by_service(between=(1, rounds.AMOUNT_MAX))]
Text100 = Annotated[str, msgspec.Meta(max_length=200)]


class Criterion(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=rounds.CRITERION_NAME_MAX)]
    weight: Annotated[int, by_service(between=(1, 100))]  # the weights of a round sum to 100


class Funder(msgspec.Struct):
    kind: Annotated[str, by_service(choices=FUNDER_KINDS)]
    name: Text100
    amount: Fen  # fen
    partner_id: RowId | None = None

    @classmethod
    def of(cls, f: RoundFunder) -> Funder:
        return cls(f.kind, f.name, f.amount, f.partner_id)


class RoundBody(msgspec.Struct):
    org_id: RowId  # the hub (or county base) opening the round
    name: Text100
    call_opens_at: datetime
    call_closes_at: datetime
    criteria: Annotated[list[Criterion], msgspec.Meta(max_length=rounds.CRITERIA_MAX)]
    funders: Annotated[list[Funder], msgspec.Meta(max_length=rounds.FUNDERS_MAX)]
    description: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    max_grants: Annotated[int, by_service(between=(1, rounds.GRANTS_MAX))] | None = None
    total_limit: Fen | None = None
    grant_limit: Fen | None = None
    notice_days: Annotated[int, by_service(between=rounds.NOTICE_DAYS)] = 7


class RoundRead(msgspec.Struct):
    id: int
    org_id: int
    name: str
    description: str
    state: str  # call, review, notice, granted, cancelled (a call past its closing time: review)
    call_opens_at: datetime
    call_closes_at: datetime
    criteria: list[Criterion]
    funders: list[Funder]
    funds: int  # fen, the funders' sum
    max_grants: int | None
    total_limit: int | None
    grant_limit: int | None
    notice_days: int
    review_closed_at: datetime | None
    notice_starts_at: datetime | None
    notice_ends_at: datetime | None
    created_by: int | None
    created_at: datetime

    @classmethod
    def of(cls, r: GrantRound, funders: list[RoundFunder], state: str) -> RoundRead:
        return cls(
            r.id,
            r.org_id,
            r.name,
            r.description,
            state,
            r.call_opens_at,
            r.call_closes_at,
            [Criterion(c["name"], c["weight"]) for c in r.criteria],
            [Funder.of(f) for f in funders],
            sum(f.amount for f in funders),
            r.max_grants,
            r.total_limit,
            r.grant_limit,
            r.notice_days,
            r.review_closed_at,
            r.notice_starts_at,
            r.notice_ends_at,
            r.created_by,
            r.created_at,
        )


class RoundPage(msgspec.Struct):
    items: list[RoundRead]
    next: str | None


class BudgetLine(msgspec.Struct):
    item: Annotated[str, msgspec.Meta(max_length=proposals.ITEM_MAX * 2)]
    amount: Fen  # fen


Goal = Annotated[int, by_service(between=(0, proposals.GOAL_MAX))]
Field = Annotated[str, by_service(choices=tuple(FIELDS))]
Lines = Annotated[list[BudgetLine], msgspec.Meta(max_length=proposals.LINES_MAX)]


class ProposalBody(msgspec.Struct):
    org_id: RowId  # the applying organization (or team), inside the round's hub
    title: Text100
    field: Field
    goal_activities: Goal
    goal_served: Goal  # person-times served (服务人次)
    goal_volunteer_times: Goal  # volunteer person-times (志愿者人次)
    starts_on: date
    ends_on: date
    budget: Lines
    summary: Annotated[str, msgspec.Meta(max_length=proposals.SUMMARY_MAX)] = ""


class ProposalPatch(msgspec.Struct):
    title: Text100 | None = None
    field: Field | None = None
    goal_activities: Goal | None = None
    goal_served: Goal | None = None
    goal_volunteer_times: Goal | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    budget: Lines | None = None
    summary: Annotated[str, msgspec.Meta(max_length=proposals.SUMMARY_MAX)] | None = None


class ProposalRead(msgspec.Struct):
    id: int
    round_id: int
    org_id: int
    title: str
    field: str
    summary: str
    goal_activities: int
    goal_served: int
    goal_volunteer_times: int
    starts_on: date
    ends_on: date
    budget: list[BudgetLine]
    budget_total: int  # fen, the lines' sum
    status: str  # draft, submitted, approved, rejected, withdrawn
    submitted_at: datetime | None
    decided_amount: int | None
    decision_reason: str | None
    decided_by: int | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Proposal) -> ProposalRead:
        return cls(
            p.id,
            p.round_id,
            p.org_id,
            p.title,
            p.field,
            p.summary,
            p.goal_activities,
            p.goal_served,
            p.goal_volunteer_times,
            p.starts_on,
            p.ends_on,
            [BudgetLine(b["item"], b["amount"]) for b in p.budget],
            p.budget_total,
            p.status,
            p.submitted_at,
            p.decided_amount,
            p.decision_reason,
            p.decided_by,
            p.decided_at,
            p.created_at,
            p.updated_at,
        )


class ProposalPage(msgspec.Struct):
    items: list[ProposalRead]
    next: str | None


class ReviewerBody(msgspec.Struct):
    staff_user_id: RowId | None = None  # an existing staff user, or:
    phone: Annotated[str, msgspec.Meta(max_length=30)] | None = None  # a guest, invited by phone
    name: Annotated[str, msgspec.Meta(max_length=60)] = ""
    affiliation_org_id: RowId | None = None  # the organization the guest belongs to (they never score it)


class ReviewerRead(msgspec.Struct):
    id: int
    round_id: int
    staff_user_id: int
    guest: bool
    username: str  # a guest's is their phone, masked here
    password: str | None  # a new guest's, shown once: pass it on to them
    affiliation_org_id: int | None


class ScoreBody(msgspec.Struct):
    # {criterion name: score}; whole numbers SCALE (0 to 10), every criterion of the round once
    scores: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=50)], int],
        msgspec.Meta(max_length=rounds.CRITERIA_MAX * 2),
    ]
    comment: Annotated[str, msgspec.Meta(max_length=review.COMMENT_MAX)] = ""


class ScoreRead(msgspec.Struct):
    id: int
    proposal_id: int
    reviewer_id: int
    scores: dict[str, int]
    weighted: float  # score × weight / 100, 0 to 10
    comment: str
    updated_at: datetime

    @classmethod
    def of(cls, s: GrantScore) -> ScoreRead:
        return cls(s.id, s.proposal_id, s.reviewer_id, s.scores, s.weighted / 100, s.comment, s.updated_at)


class ScorePage(msgspec.Struct):
    items: list[ScoreRead]
    hidden: int  # others' scores, hidden until the review closes
    next: str | None = None  # every score on one page: a proposal has a few reviewers


class RankingItem(msgspec.Struct):
    rank: int
    proposal_id: int
    org_id: int
    title: str
    budget_total: int
    status: str
    reviews: int
    weighted_average: float | None  # 0 to 10
    criteria: dict[str, float]
    tie_broken_by: str | None  # top_criterion, budget, submitted_at, tied; None: no tie


class Ranking(msgspec.Struct):
    round_id: int
    scale: list[int]
    rule: str
    items: list[RankingItem]
    next: str | None = None  # the whole ranking on one page

    @classmethod
    def of(cls, round_id: int, items: list[review.Ranked]) -> Ranking:
        return cls(
            round_id,
            list(SCALE),
            "加权平均分从高到低；相同时比最高权重标准的平均分，再比预算（少者在前），再比提交时间（早者在前） "
            "weighted average, then the heaviest criterion, then the smaller budget, then the earlier submission",
            [
                RankingItem(
                    r.rank,
                    r.proposal.id,
                    r.proposal.org_id,
                    r.proposal.title,
                    r.proposal.budget_total,
                    r.proposal.status,
                    r.reviews,
                    r.weighted_average,
                    r.criteria,
                    r.tie_broken_by,
                )
                for r in items
            ],
        )


class ApproveBody(msgspec.Struct):
    amount: Fen  # fen, at most the budget
    reason: Annotated[str, msgspec.Meta(max_length=decisions.REASON_MAX)] = ""


class RejectBody(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(max_length=decisions.REASON_MAX)]


class ObjectionBody(msgspec.Struct):
    text: Annotated[str, msgspec.Meta(max_length=decisions.OBJECTION_MAX)]
    contact: Annotated[str, msgspec.Meta(max_length=decisions.CONTACT_MAX)] | None = None


class ObjectionRead(msgspec.Struct):
    id: int
    round_id: int
    text: str
    contact: str | None
    created_at: datetime

    @classmethod
    def of(cls, o: GrantObjection) -> ObjectionRead:
        return cls(o.id, o.round_id, o.text, o.contact, o.created_at)


class ObjectionPage(msgspec.Struct):
    items: list[ObjectionRead]
    next: str | None


class ProjectRead(msgspec.Struct):
    id: int
    round_id: int
    proposal_id: int
    org_id: int
    title: str
    granted: int  # fen
    starts_on: date
    ends_on: date
    status: str
    created_at: datetime
    delivery: DeliveryRead | None = None  # what it delivered so far (GET /api/v1/projects/{id})

    @classmethod
    def of(cls, p: Project, delivery: dict | None = None) -> ProjectRead:
        return cls(
            p.id,
            p.round_id,
            p.proposal_id,
            p.org_id,
            p.title,
            p.granted,
            p.starts_on,
            p.ends_on,
            p.status,
            p.created_at,
            msgspec.convert(delivery, DeliveryRead) if delivery is not None else None,
        )


class ProjectPage(msgspec.Struct):
    items: list[ProjectRead]
    next: str | None


class SheetItem(msgspec.Struct):
    proposal: ProposalRead
    org_name: str
    conflict_of_interest: bool  # the reviewer belongs to the applicant: scoring it is refused
    mine: ScoreRead | None  # the reviewer's own scores so far

    @classmethod
    def of(cls, line: review.SheetLine) -> SheetItem:
        return cls(
            ProposalRead.of(line.proposal),
            line.org_name,
            line.conflict_of_interest,
            ScoreRead.of(line.mine) if line.mine else None,
        )


class ReviewSheet(msgspec.Struct):
    round_id: int
    items: list[SheetItem]  # every submitted proposal of the round: a round has a few dozen
    next: str | None = None
