"""Micro-grant rounds over HTTP (公益微创投): opening a round, its reviewers, closing the review,
the ranking, publishing the notice and the objections to it; the public notice page. See
docs/programmes.md. Proposals, scores, decisions and projects: `api.proposals`."""

from __future__ import annotations

from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Template
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, client_ip, next_cursor, page, require_staff
from api.pages import render
from api.problems import problems
from grants import decisions, review, rounds
from grants.schemas_rounds import (
    ObjectionBody,
    ObjectionPage,
    ObjectionRead,
    ProjectPage,
    ProjectRead,
    Ranking,
    ReviewerBody,
    ReviewerRead,
    ReviewSheet,
    RoundBody,
    RoundPage,
    RoundRead,
    SheetItem,
)
from integrity import service as integrity_service
from linli import ratelimit
from linli.pii import mask_phone
from linli.runtime import Runtime

OBJECTIONS_PER_ADDRESS = (5, 3600)  # objections from one address an hour


def _read(session: Session, row, now) -> RoundRead:
    return RoundRead.of(row, rounds.funders(session, row.id), rounds.state_of(row, now))


class RoundController(Controller):
    path = "/api/v1/rounds"
    tags = ["微创投 grants"]  # every handler but the public objection takes the caller (AUTH)

    @post(
        "/",
        dependencies=AUTH,
        operation_id="openRound",
        status_code=201,
        sync_to_thread=True,
        summary="A hub admin (or the county base's) opens a micro-grant round: funders, call, criteria, limits",
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="partner_not_found"),
    )
    def open_round(
        self,
        data: JSONBody[RoundBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RoundRead:
        staff_id = require_staff(principal, "admin")
        now = rt.clock.now()
        row = rounds.open_round(
            session,
            rounds.RoundInput(
                org_id=data.org_id,
                name=data.name,
                call_opens_at=data.call_opens_at,
                call_closes_at=data.call_closes_at,
                criteria=[{"name": c.name, "weight": c.weight} for c in data.criteria],
                funders=[rounds.FunderInput(f.kind, f.name, f.amount, f.partner_id) for f in data.funders],
                description=data.description,
                max_grants=data.max_grants,
                total_limit=data.total_limit,
                grant_limit=data.grant_limit,
                notice_days=data.notice_days,
            ),
            admin_paths=principal.admin_paths,
            staff_user_id=staff_id,
            now=now,
        )
        return _read(session, row, now)

    @get(
        "/",
        dependencies=AUTH,
        operation_id="listRounds",
        sync_to_thread=True,
        summary="Rounds of the caller's hubs, the rounds their organizations may apply to, the rounds they review",
        responses=problems(_403="staff_only"),
    )
    def list_rounds(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> RoundPage:
        staff_id = require_staff(principal)
        after, limit = page(cursor, limit)
        rows = rounds.listing(
            session, staff_paths=principal.staff_paths, staff_user_id=staff_id, after_id=after, limit=limit
        )
        now = rt.clock.now()
        return RoundPage(
            [_read(session, r, now) for r in rows], next_cursor(rows, limit, rows[-1].id if rows else None)
        )

    @get(
        "/{round_id:int}",
        dependencies=AUTH,
        operation_id="getRound",
        sync_to_thread=True,
        summary="A round: its state, funders, criteria, limits and notice period",
        responses=problems(_403="staff_only", _404="round_not_found"),
    )
    def get_round(
        self,
        round_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RoundRead:
        staff_id = require_staff(principal)
        now = rt.clock.now()
        row = rounds.visible(
            session,
            round_id,
            staff_paths=principal.staff_paths,
            admin_paths=principal.admin_paths,
            staff_user_id=staff_id,
            now=now,
        )
        return _read(session, row, now)

    @post(
        "/{round_id:int}/reviewers",
        dependencies=AUTH,
        operation_id="grantReviewer",
        status_code=201,
        sync_to_thread=True,
        summary="The hub grants a reviewer: a staff user, or a guest by phone (a login made, its password shown once)",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="round_not_found, staff_user_not_found",
            _409="review_closed",
        ),
    )
    def grant_reviewer(
        self,
        round_id: Id,
        data: JSONBody[ReviewerBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ReviewerRead:
        staff_id = require_staff(principal, "admin")
        done = review.invite(
            session,
            round_id,
            staff_user_id=data.staff_user_id,
            phone=data.phone,
            name=data.name,
            affiliation_org_id=data.affiliation_org_id,
            admin_paths=principal.admin_paths,
            granted_by=staff_id,
            now=rt.clock.now(),
        )
        g = done.reviewer
        username = mask_phone(done.username) if g.guest else done.username
        return ReviewerRead(
            g.id, g.round_id, g.staff_user_id, g.guest, username, done.password, g.affiliation_org_id
        )

    @get(
        "/{round_id:int}/review-sheet",
        dependencies=AUTH,
        operation_id="getReviewSheet",
        sync_to_thread=True,
        summary="A reviewer's sheet: the submitted proposals, each with a conflict of interest and their own scores",
        responses=problems(_403="staff_only, not_a_reviewer", _404="round_not_found"),
    )
    def review_sheet(
        self, round_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> ReviewSheet:
        staff_id = require_staff(principal)
        member = [g.org_path for g in principal.grants if g.org_path]
        lines = review.sheet(session, round_id, staff_user_id=staff_id, member_paths=member)
        return ReviewSheet(round_id, [SheetItem.of(line) for line in lines])

    @get(
        "/{round_id:int}/projects",
        dependencies=AUTH,
        operation_id="listRoundProjects",
        sync_to_thread=True,
        summary="A round's granted projects: all for its hub's staff, their own for an organization's",
        responses=problems(_403="staff_only", _404="round_not_found"),
    )
    def projects(
        self,
        round_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ProjectPage:
        staff_id = require_staff(principal)
        after, limit = page(cursor, limit)
        rows = rounds.projects_of(
            session,
            round_id,
            staff_paths=principal.staff_paths,
            admin_paths=principal.admin_paths,
            staff_user_id=staff_id,
            now=rt.clock.now(),
            after_id=after,
            limit=limit,
        )
        return ProjectPage(
            [ProjectRead.of(p) for p in rows], next_cursor(rows, limit, rows[-1].id if rows else None)
        )

    @post(
        "/{round_id:int}/close-review",
        dependencies=AUTH,
        operation_id="closeReview",
        status_code=200,
        sync_to_thread=True,
        summary="The hub closes the review: scores are shown to every reviewer, the ranking is final",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="round_not_found",
            _409="call_open, review_closed",
        ),
    )
    def close_review(
        self,
        round_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RoundRead:
        require_staff(principal, "admin")
        now = rt.clock.now()
        return _read(
            session, review.close(session, round_id, admin_paths=principal.admin_paths, now=now), now
        )

    @get(
        "/{round_id:int}/ranking",
        dependencies=AUTH,
        operation_id="getRanking",
        sync_to_thread=True,
        summary="The proposals by weighted average once the review is closed, with the rule that broke each tie",
        responses=problems(_403="staff_only", _404="round_not_found", _409="review_open"),
    )
    def ranking(
        self, round_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> Ranking:
        staff_id = require_staff(principal)
        items = review.ranking(session, round_id, admin_paths=principal.admin_paths, staff_user_id=staff_id)
        return Ranking.of(round_id, items)

    @post(
        "/{round_id:int}/publish",
        dependencies=AUTH,
        operation_id="publishRound",
        status_code=200,
        sync_to_thread=True,
        summary="Start the public notice (公示) of the approved projects; decisions are closed from now",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="round_not_found",
            _409="already_published, review_open, nothing_approved",
        ),
    )
    def publish(
        self,
        round_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RoundRead:
        staff_id = require_staff(principal, "admin")
        now = rt.clock.now()
        row, path = decisions.publish(session, round_id, admin_paths=principal.admin_paths, now=now)
        integrity_service.audit(
            session,
            "round.published",
            f"round:{row.id}",
            path,
            staff_id,
            now,
            {"notice_ends_at": row.notice_ends_at.isoformat()},
        )
        return _read(session, row, now)

    @get(
        "/{round_id:int}/objections",
        dependencies=AUTH,
        operation_id="listObjections",
        sync_to_thread=True,
        summary="The objections raised on the round's public notice",
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="round_not_found"),
    )
    def list_objections(
        self,
        round_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ObjectionPage:
        require_staff(principal, "admin")
        after, limit = page(cursor, limit)
        rows = decisions.objections(
            session, round_id, admin_paths=principal.admin_paths, after_id=after, limit=limit
        )
        return ObjectionPage(
            [ObjectionRead.of(o) for o in rows], next_cursor(rows, limit, rows[-1].id if rows else None)
        )

    @post(
        "/{round_id:int}/objections",
        operation_id="raiseObjection",
        status_code=201,
        sync_to_thread=True,
        summary="Anyone raises an objection during the round's public notice (rate-limited per address)",
        responses=problems(_404="round_not_found", _409="notice_not_open", _429="rate_limited"),
    )
    def raise_objection(
        self,
        round_id: Id,
        data: JSONBody[ObjectionBody],
        request: Request,
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ObjectionRead:
        now = rt.clock.now()
        ratelimit.check(
            rt.redis,
            f"objections:{client_ip(request)}",
            OBJECTIONS_PER_ADDRESS,
            now,
            "提交过于频繁，请稍后再试 Too many objections from here; try again later",
        )
        return ObjectionRead.of(decisions.object_to(session, round_id, data.text, data.contact, now))


@get("/rounds/{round_id:int}", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=True)
def notice_page(
    request: Request, round_id: FromPath[int], session: NamedDependency[Session], rt: NamedDependency[Runtime]
) -> Template:
    """Public: the round's approved projects, organizations and amounts during and after its notice."""
    now = rt.clock.now()
    view = rounds.public_notice(session, round_id, now) if 1 <= round_id <= 2**62 else None
    if view is not None:
        tz = rt.settings.tz
        r = view["round"]
        view["starts"] = r.notice_starts_at.astimezone(tz).date().isoformat() if r.notice_starts_at else ""
        view["ends"] = r.notice_ends_at.astimezone(tz).date().isoformat() if r.notice_ends_at else ""
    page_ = render(request, "round_notice.html", view=view, round_id=round_id)
    if view is None:
        page_.status_code = 404
    return page_
