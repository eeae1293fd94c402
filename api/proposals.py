"""Proposals, scores, decisions and projects of micro-grant rounds over HTTP (申报、评分、决定、
项目). See docs/programmes.md; the rounds themselves: `api.rounds`."""

from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, next_cursor, page, require_staff
from api.problems import problems
from grants import decisions, delivery, proposals, review, rounds
from grants.schemas_rounds import (
    ApproveBody,
    ProjectRead,
    ProposalBody,
    ProposalPage,
    ProposalPatch,
    ProposalRead,
    RejectBody,
    ScoreBody,
    ScorePage,
    ScoreRead,
)
from integrity import service as integrity_service
from linli.runtime import Runtime

ORG_ADMIN = problems(
    _403="staff_only, role_required, outside_your_scope",
    _404="round_not_found, proposal_not_found",
    _409="call_not_open, call_closed, organization_outside_round, proposal_decided, not_a_draft",
)
DECIDE = problems(
    _403="staff_only, role_required, outside_your_scope",
    _404="proposal_not_found",
    _409="decisions_closed, review_open, not_submitted, organization_outside_round, max_grants_reached, over_round_total",
)


def _audit(session: Session, done: decisions.Decided, staff_id: int, now) -> ProposalRead:
    p = done.proposal
    integrity_service.audit(
        session,
        f"proposal.{p.status}",
        f"proposal:{p.id}",
        done.hub_path,
        staff_id,
        now,
        {"round_id": p.round_id, "amount": p.decided_amount, "reason": p.decision_reason},
    )
    return ProposalRead.of(p)


class ProposalController(Controller):
    path = "/api/v1"
    tags = ["微创投 grants"]
    dependencies = AUTH

    @post(
        "/rounds/{round_id:int}/proposals",
        operation_id="createProposal",
        status_code=201,
        sync_to_thread=True,
        summary="An organization's admin writes a proposal (a draft) for a round while its call is open",
        responses=ORG_ADMIN,
    )
    def create(
        self,
        round_id: Id,
        data: JSONBody[ProposalBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ProposalRead:
        staff_id = require_staff(principal, "admin")
        fields = {f: getattr(data, f) for f in ProposalBody.__struct_fields__ if f != "org_id"}
        fields["budget"] = [{"item": b.item, "amount": b.amount} for b in data.budget]
        p = proposals.create(
            session,
            round_id,
            data.org_id,
            proposals.ProposalInput(**fields),
            admin_paths=principal.admin_paths,
            staff_user_id=staff_id,
            now=rt.clock.now(),
        )
        return ProposalRead.of(p)

    @get(
        "/rounds/{round_id:int}/proposals",
        operation_id="listProposals",
        sync_to_thread=True,
        summary="A round's proposals: all for its hub, submitted ones for reviewers, their own for organizations",
        responses=problems(_403="staff_only", _404="round_not_found"),
    )
    def list_proposals(
        self,
        round_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ProposalPage:
        staff_id = require_staff(principal)
        after, limit = page(cursor, limit)
        rows = proposals.of_round(
            session,
            round_id,
            admin_paths=principal.admin_paths,
            staff_user_id=staff_id,
            after_id=after,
            limit=limit,
        )
        return ProposalPage(
            [ProposalRead.of(p) for p in rows], next_cursor(rows, limit, rows[-1].id if rows else None)
        )

    @get(
        "/proposals/{proposal_id:int}",
        operation_id="getProposal",
        sync_to_thread=True,
        summary="A proposal, for its organization's admins, the hub's, and the round's reviewers once submitted",
        responses=problems(_403="staff_only", _404="proposal_not_found"),
    )
    def get_proposal(
        self, proposal_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> ProposalRead:
        staff_id = require_staff(principal)
        return ProposalRead.of(
            proposals.readable(
                session, proposal_id, admin_paths=principal.admin_paths, staff_user_id=staff_id
            )
        )

    @patch(
        "/proposals/{proposal_id:int}",
        operation_id="editProposal",
        sync_to_thread=True,
        summary="Change a draft or submitted proposal while the call is open (the fields given)",
        responses=ORG_ADMIN,
    )
    def edit(
        self,
        proposal_id: Id,
        data: JSONBody[ProposalPatch],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ProposalRead:
        require_staff(principal, "admin")
        changes = {
            f: getattr(data, f) for f in ProposalPatch.__struct_fields__ if getattr(data, f) is not None
        }
        if "budget" in changes:
            changes["budget"] = [{"item": b.item, "amount": b.amount} for b in data.budget]
        p = proposals.edit(
            session, proposal_id, changes, admin_paths=principal.admin_paths, now=rt.clock.now()
        )
        return ProposalRead.of(p)

    @post(
        "/proposals/{proposal_id:int}/submit",
        operation_id="submitProposal",
        status_code=200,
        sync_to_thread=True,
        summary="Submit a draft proposal before the call closes",
        responses=ORG_ADMIN,
    )
    def submit(
        self,
        proposal_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ProposalRead:
        require_staff(principal, "admin")
        return ProposalRead.of(
            proposals.submit(session, proposal_id, admin_paths=principal.admin_paths, now=rt.clock.now())
        )

    @post(
        "/proposals/{proposal_id:int}/scores",
        operation_id="scoreProposal",
        status_code=200,
        sync_to_thread=True,
        summary="A reviewer scores a proposal on every criterion (0 to 10); scoring again replaces their scores",
        responses=problems(
            _403="staff_only, not_a_reviewer",
            _404="proposal_not_found",
            _409="not_submitted, review_not_open, review_closed, conflict_of_interest",
        ),
    )
    def score(
        self,
        proposal_id: Id,
        data: JSONBody[ScoreBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ScoreRead:
        staff_id = require_staff(principal)
        member = [g.org_path for g in principal.grants if g.org_path]
        s = review.score(
            session,
            proposal_id,
            data.scores,
            data.comment,
            staff_user_id=staff_id,
            member_paths=member,
            now=rt.clock.now(),
        )
        return ScoreRead.of(s)

    @get(
        "/proposals/{proposal_id:int}/scores",
        operation_id="listScores",
        sync_to_thread=True,
        summary="A proposal's scores: until the review closes, only the caller's own (how many others are hidden)",
        responses=problems(_403="staff_only", _404="proposal_not_found"),
    )
    def scores(
        self, proposal_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> ScorePage:
        staff_id = require_staff(principal)
        rows, hidden = review.scores_seen(
            session, proposal_id, admin_paths=principal.admin_paths, staff_user_id=staff_id
        )
        return ScorePage([ScoreRead.of(s) for s in rows], hidden)

    @post(
        "/proposals/{proposal_id:int}/approve",
        operation_id="approveProposal",
        status_code=200,
        sync_to_thread=True,
        summary="The hub approves a proposal with an amount (fen, at most its budget, within the round's limits)",
        responses=DECIDE,
    )
    def approve(
        self,
        proposal_id: Id,
        data: JSONBody[ApproveBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ProposalRead:
        staff_id = require_staff(principal, "admin")
        now = rt.clock.now()
        done = decisions.approve(
            session,
            proposal_id,
            data.amount,
            data.reason,
            admin_paths=principal.admin_paths,
            staff_user_id=staff_id,
            now=now,
        )
        return _audit(session, done, staff_id, now)

    @post(
        "/proposals/{proposal_id:int}/reject",
        operation_id="rejectProposal",
        status_code=200,
        sync_to_thread=True,
        summary="The hub rejects a proposal, with a reason",
        responses=DECIDE,
    )
    def reject(
        self,
        proposal_id: Id,
        data: JSONBody[RejectBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ProposalRead:
        staff_id = require_staff(principal, "admin")
        now = rt.clock.now()
        done = decisions.reject(
            session,
            proposal_id,
            data.reason,
            admin_paths=principal.admin_paths,
            staff_user_id=staff_id,
            now=now,
        )
        return _audit(session, done, staff_id, now)

    @get(
        "/projects/{project_id:int}",
        operation_id="getProject",
        sync_to_thread=True,
        summary="A granted project (after its round's notice): for its organization's staff and the hub's",
        responses=problems(_403="staff_only, outside_your_scope", _404="project_not_found"),
    )
    def project(
        self,
        project_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ProjectRead:
        require_staff(principal)
        project = rounds.project(session, project_id, staff_paths=principal.staff_paths, now=rt.clock.now())
        return ProjectRead.of(project, delivery.project_figures(session, project, rt.clock.now()))
