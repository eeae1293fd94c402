"""Volunteer registration and filing with teams (志愿者注册与备案)."""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from sqlalchemy.orm import Session

from accounts import service as accounts_service
from accounts.principal import Principal
from accounts.schemas import Registered
from api.deps import (
    AUTH,
    Cursor,
    Id,
    IdFilter,
    Limit,
    client_ip,
    local_today,
    next_cursor,
    page,
    require_staff,
    require_volunteer,
)
from api.problems import problems
from linli import ratelimit
from linli.errors import LinliError
from linli.pii import mask_phone
from linli.runtime import Runtime
from orgs import service as orgs_service
from orgs.schemas import OrganizationPage, OrganizationRead
from volunteer import joining, service
from volunteer.models import FILING_STATUSES
from volunteer.schemas import (
    ApproveBody,
    DecisionRead,
    FilingDetail,
    FilingPage,
    FilingRead,
    InvitationCreate,
    InvitationPage,
    InvitationRead,
    OpenActivityPage,
    OpenActivityRead,
    RejectBody,
    VolunteerCreate,
    VolunteerRead,
)


class VolunteerController(Controller):
    path = "/api/v1"
    tags = ["志愿者 volunteers"]

    @post(
        "/volunteers",
        operation_id="registerVolunteer",
        status_code=201,
        sync_to_thread=True,
        summary="Register as a volunteer (name, phone, the code sent to it, optional resident ID, consent)",
        responses=problems(_401="invalid_code", _409="phone_taken", _429="rate_limited"),
    )
    def register(
        self,
        data: JSONBody[VolunteerCreate],
        request: Request,
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Registered:
        now = rt.clock.now()
        # registrations with a wrong code are limited per address (shared by every server process):
        # probing who is registered ends here; people who register, however many, are not slowed
        key = f"register-ip:{client_ip(request)}"
        ratelimit.refuse_if_spent(
            rt.redis,
            key,
            ratelimit.FAILED_REGISTRATIONS_PER_ADDRESS,
            now,
            "注册失败次数过多，请稍后再试 Too many failed registrations; try again shortly",
        )
        reg = service.Registration(
            name=data.name, phone=data.phone, id_number=data.id_number, consent=data.consent
        )
        try:
            volunteer, issued = accounts_service.register_volunteer(
                session,
                rt.signer,
                reg,
                code=data.code,
                now=now,
                today=local_today(rt),
                ttl=rt.settings.token_ttl_seconds,
            )
        except LinliError as exc:
            if exc.status == 401:  # a wrong code: guessing, or probing who is registered
                ratelimit.count(rt.redis, key, ratelimit.FAILED_REGISTRATIONS_PER_ADDRESS, now)
            raise
        return Registered(
            **msgspec.structs.asdict(VolunteerRead.of(volunteer)),
            token=issued.token,
            token_type="Bearer",
            expires_at=issued.expires_at,
        )

    @get(
        "/me/filings",
        operation_id="myFilings",
        sync_to_thread=True,
        dependencies=AUTH,
        responses=problems(_403="volunteers_only"),
    )
    def my_filings(
        self, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> FilingPage:
        volunteer_id = require_volunteer(principal)
        items = [FilingRead.of(f, team) for f, team in service.my_filings(session, volunteer_id)]
        return FilingPage(items=items, next=None)

    @get(
        "/me/invitations",
        operation_id="myInvitations",
        sync_to_thread=True,
        dependencies=AUTH,
        summary="Invitations to invitation-only teams waiting for my phone",
        responses=problems(_403="volunteers_only"),
    )
    def my_invitations(
        self, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> InvitationPage:
        volunteer_id = require_volunteer(principal)
        items = [
            InvitationRead(id=i.id, team_id=i.team_id, phone=mask_phone(i.phone), created_at=i.created_at)
            for i in service.my_invitations(session, volunteer_id)
        ]
        return InvitationPage(items=items, next=None)

    @get(
        "/me/activities",
        operation_id="myOpenActivities",
        sync_to_thread=True,
        dependencies=AUTH,
        summary="Upcoming activities I may join, by start time, and the ones I signed up for",
        description="Activities not over yet of the organizations above the teams I am filed with, "
        "and those I hold a sign-up for (only these with `signed_up=true`), each with its place, "
        "organization, places left, my sign-up and whether (or why not) I may sign up.",
        responses=problems(_403="volunteers_only"),
    )
    def my_activities(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        signed_up: FromQuery[bool] = False,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> OpenActivityPage:
        volunteer_id = require_volunteer(principal)
        offset, limit = page(cursor, limit)  # the cursor counts the items before: the list is by time
        found = joining.upcoming(
            session, volunteer_id, now=rt.clock.now(), signed_up_only=signed_up, offset=offset, limit=limit
        )
        items = [OpenActivityRead.of_open(o) for o in found]
        return OpenActivityPage(items=items, next=next_cursor(items, limit, offset + len(items)))


class TeamController(Controller):
    path = "/api/v1/teams"
    tags = ["备案 filing"]

    @get(
        "",
        operation_id="listTeams",
        sync_to_thread=True,
        summary="Teams a volunteer can apply to",
        responses=problems(_404="organization_not_found"),
    )
    def list_teams(
        self,
        session: NamedDependency[Session],
        under: IdFilter = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> OrganizationPage:
        after, limit = page(cursor, limit)
        teams = orgs_service.list_teams(session, under=under, after_id=after, limit=limit)
        items = [OrganizationRead.of(t) for t in teams]
        return OrganizationPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @post(
        "/{team_id:int}/filings",
        operation_id="applyToTeam",
        status_code=201,
        sync_to_thread=True,
        dependencies=AUTH,
        summary="Apply to join a team (备案); open teams approve at once",
        responses=problems(
            _403="volunteers_only, invitation_only", _404="team_not_found", _409="already_filed"
        ),
    )
    def apply(
        self,
        team_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> FilingRead:
        volunteer_id = require_volunteer(principal)
        filing = service.apply(session, volunteer_id=volunteer_id, team_id=team_id, now=rt.clock.now())
        return FilingRead.of(filing, orgs_service.get(session, team_id))

    @post(
        "/{team_id:int}/invitations",
        operation_id="inviteToTeam",
        status_code=201,
        sync_to_thread=True,
        dependencies=AUTH,
        summary="Invite a phone number to an invitation-only team",
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="team_not_found"),
    )
    def invite(
        self,
        team_id: Id,
        data: JSONBody[InvitationCreate],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> InvitationRead:
        staff_id = require_staff(principal, "admin")
        inv = service.invite(
            session,
            team_id=team_id,
            phone=data.phone,
            staff_user_id=staff_id,
            admin_paths=principal.admin_paths,
            now=rt.clock.now(),
        )
        return InvitationRead(
            id=inv.id, team_id=inv.team_id, phone=mask_phone(inv.phone), created_at=inv.created_at
        )


class FilingController(Controller):
    path = "/api/v1/filings"
    tags = ["备案 filing"]
    dependencies = AUTH

    @get(
        "",
        operation_id="listFilings",
        sync_to_thread=True,
        summary="Filings in the staff member's part of the organization tree",
        responses=problems(_403="staff_only"),
    )
    def list_filings(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        status: FromQuery[Literal[FILING_STATUSES] | None] = None,
        team_id: IdFilter = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> FilingPage:
        require_staff(principal, "admin", "coordinator")
        after, limit = page(cursor, limit)
        rows = service.filings_for_staff(
            session,
            staff_paths=principal.staff_paths,
            status=status,
            team_id=team_id,
            after_id=after,
            limit=limit,
        )
        items = [FilingRead.of(f, team, v) for f, team, v in rows]
        return FilingPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @get(
        "/{filing_id:int}",
        operation_id="getFiling",
        sync_to_thread=True,
        summary="One filing with every decision on it (who, when, why)",
        responses=problems(_403="outside_your_scope", _404="filing_not_found"),
    )
    def get_filing(
        self, filing_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> FilingDetail:
        filing, team, volunteer = service.filing_visible_to(
            session,
            filing_id=filing_id,
            volunteer_id=principal.volunteer_id,
            staff_paths=principal.staff_paths,
        )
        return FilingDetail(
            filing=FilingRead.of(filing, team, volunteer if principal.kind == "staff" else None),
            decisions=[DecisionRead.of(d) for d in service.decisions(session, filing.id)],
        )

    @post(
        "/{filing_id:int}/approve",
        operation_id="approveFiling",
        status_code=200,
        sync_to_thread=True,
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="filing_not_found",
            _409="filing_already_decided",
        ),
    )
    def approve(
        self,
        filing_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        data: JSONBody[ApproveBody | None] = None,
    ) -> FilingRead:
        return self._decide(filing_id, "approved", data.reason if data else None, principal, session, rt)

    @post(
        "/{filing_id:int}/reject",
        operation_id="rejectFiling",
        status_code=200,
        sync_to_thread=True,
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="filing_not_found",
            _409="filing_already_decided",
            _422="validation_failed (reason required)",
        ),
    )
    def reject(
        self,
        filing_id: Id,
        data: JSONBody[RejectBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> FilingRead:
        return self._decide(filing_id, "rejected", data.reason, principal, session, rt)

    def _decide(
        self,
        filing_id: Id,
        decision: str,
        reason: str | None,
        principal: Principal,
        session: Session,
        rt: Runtime,
    ):
        staff_id = require_staff(principal, "admin")
        filing = service.decide(
            session,
            filing_id=filing_id,
            decision=decision,
            staff_user_id=staff_id,
            admin_paths=principal.admin_paths,
            reason=reason,
            now=rt.clock.now(),
        )
        return FilingRead.of(filing, orgs_service.get(session, filing.team_id))
