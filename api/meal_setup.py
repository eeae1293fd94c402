"""The hub's set-up of the meal service, kept with its history (修改留痕): funding agreements listed
and made; diners, meal points and agreements edited (each edit with its reason, prices and
schedules from a day on); each one's history from the audit log."""

from __future__ import annotations

import msgspec
from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts import service as accounts_service
from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, local_today, next_cursor, page, require_staff
from api.meals import audit, diner_of, point_read, staff_at
from api.problems import problems
from integrity import service as integrity
from linli.runtime import Runtime
from meals import edits, service
from meals.models import FundingAgreement
from meals.schemas import (
    AgreementBody,
    AgreementListed,
    AgreementPage,
    AgreementPatch,
    AgreementRead,
    DinerPatch,
    DinerRead,
    HistoryEntry,
    HistoryPage,
    MealPointPatch,
    MealPointRead,
    ScheduleVersionRead,
)
from orgs import service as orgs_service
from reports.service import partner_of


def _given(data: msgspec.Struct) -> dict:
    """The fields a PATCH body gives (UNSET and None of optional ones: left as they are)."""
    skip = {"reason", "effective_from"}
    return {
        f: getattr(data, f)
        for f in data.__struct_fields__
        if f not in skip and getattr(data, f) is not msgspec.UNSET
    }


def _admin_of_point(session, principal: Principal, point_id: int) -> int:
    """A meal point the caller administers (404, 403 otherwise): its organization's id."""
    point = service.get_point(session, point_id)
    orgs_service.require_admin_of(principal.admin_paths, orgs_service.get(session, point.org_id))
    return point.org_id


def _agreement_here(session, principal: Principal, agreement_id: int) -> tuple[FundingAgreement, int, int]:
    """An agreement whose every meal point the caller administers (as to make one): the agreement,
    the caller's id and the organization its history is kept under (its first point's)."""
    staff_id = require_staff(principal, "admin")
    agreement = edits.get_agreement(session, agreement_id)
    orgs = [_admin_of_point(session, principal, p) for p in edits.agreement_point_ids(session, agreement.id)]
    return agreement, staff_id, orgs[0]


def _listed(session, a: FundingAgreement, point_ids: list[int], versions: list, today) -> AgreementListed:
    schedule, week_cap, month_cap, _ = edits.schedule_on(a, versions, today)
    return AgreementListed(
        **{
            f: getattr(a, f)
            for f in AgreementRead.__struct_fields__
            if f not in ("schedule", "week_cap", "month_cap")
        },
        schedule=schedule,
        week_cap=week_cap,
        month_cap=month_cap,
        meal_point_ids=sorted(point_ids),
        upcoming=[
            ScheduleVersionRead(v.id, v.effective_from, v.schedule, v.week_cap, v.month_cap)
            for v in versions
            if v.effective_from > today
        ],
        linked_by=accounts_service.staff_user(session, a.created_by).display_name
        if a.partner_id is not None and a.created_by is not None
        else None,
        linked_at=a.created_at if a.partner_id is not None else None,
    )


def _history(session, subject: str, cursor, limit: int) -> HistoryPage:
    before, limit = page(cursor, limit)
    rows = integrity.history(session, subject, before_id=before, limit=limit)
    names: dict[int, str] = {}
    for r in rows:
        if r.staff_user_id is not None and r.staff_user_id not in names:
            names[r.staff_user_id] = accounts_service.staff_user(session, r.staff_user_id).display_name
    items = [
        HistoryEntry(
            id=r.id,
            action=r.action,
            at=r.at,
            staff_user_id=r.staff_user_id,
            staff_name=names.get(r.staff_user_id),
            reason=r.detail.get("reason") or "",
            effective_from=r.detail.get("effective_from"),
            changes=r.detail.get("changes") or {},
        )
        for r in rows
    ]
    return HistoryPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))


EDIT_422 = "422 `validation_failed`: `reason` required; `effective_from` required or `in_the_past`"


class MealSetupController(Controller):
    path = "/api/v1"
    tags = ["助餐 meals"]
    dependencies = AUTH

    @get(
        "/funding-agreements",
        operation_id="listFundingAgreements",
        sync_to_thread=True,
        summary="Funding agreements paying at meal points under the administrator, with budgets used"
        " and the schedule in force today (later ones in `upcoming`); for a partner (its users, its"
        " API keys), its own, with who linked it and when",
        responses=problems(_403="staff_only, role_required"),
    )
    def list_agreements(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> AgreementPage:
        before, limit = page(cursor, limit)
        partner_id = partner_of(principal)
        if partner_id is not None and not principal.has_role("admin"):
            listed = service.agreements_of_partner(session, partner_id, before_id=before, limit=limit)
        else:
            require_staff(principal, "admin")
            points = [p.id for p in service.points_under(session, principal.admin_paths)]
            listed = service.agreements_at(session, points, before_id=before, limit=limit)
        versions = edits.schedule_versions(session, [a.id for a, _ in listed])
        today = local_today(rt)
        items = [_listed(session, a, ids, versions[a.id], today) for a, ids in listed]
        return AgreementPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @post(
        "/funding-agreements",
        operation_id="createFundingAgreement",
        status_code=201,
        sync_to_thread=True,
        summary="A funder's agreement: period, budget, subsidy schedule, meal points; naming a partner"
        " needs a scope over every meal point the partner already funds (a county's admins)",
        responses=problems(
            _403="staff_only, outside_your_scope", _404="meal_point_not_found, partner_not_found"
        ),
    )
    def agreement(
        self,
        data: JSONBody[AgreementBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> AgreementRead:
        staff_id = require_staff(principal, "admin")
        orgs = [_admin_of_point(session, principal, p) for p in sorted(set(data.meal_point_ids))]
        if data.partner_id is not None:
            service.require_partner_linkable(session, principal.admin_paths, data.partner_id)
        a = service.create_agreement(
            session,
            service.AgreementInput(**{f: getattr(data, f) for f in data.__struct_fields__}),
            rt.clock.now(),
            created_by=staff_id,
        )
        audit(session, rt, "funding_agreement.created", f"funding_agreement:{a.id}", orgs[0], staff_id, {})
        return AgreementRead(**{f: getattr(a, f) for f in AgreementRead.__struct_fields__})

    @patch(
        "/diners/{diner_id:int}",
        operation_id="editDiner",
        sync_to_thread=True,
        summary="Edit a diner (staff of the home point, and of the new one): name, phone, community,"
        " address, delivery, categories with their evidence, notes, home point, pause; never the"
        " birth date or sex. Kept in the diner's history with the reason. " + EDIT_422,
        responses=problems(
            _403="staff_only, outside_your_scope", _404="diner_not_found, meal_point_not_found"
        ),
    )
    def edit_diner(
        self,
        diner_id: Id,
        data: JSONBody[DinerPatch],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> DinerRead:
        diner = diner_of(session, principal, diner_id)
        staff_id = require_staff(principal, "admin", "coordinator")
        given = _given(data)
        if "home_point_id" in given:
            staff_at(session, principal, service.get_point(session, given["home_point_id"]))
        edit = edits.edit_diner(session, diner.id, given, data.reason)
        if edit.changes:
            point = service.get_point(session, diner.home_point_id)
            audit(session, rt, "diner.edited", edit.subject, point.org_id, staff_id, edit.detail())
        return DinerRead.of(diner)

    @patch(
        "/meal-points/{point_id:int}",
        operation_id="editMealPoint",
        sync_to_thread=True,
        summary="Edit a meal point (its administrators): name, address, capacity at once; slots' hours"
        " at once, their prices from `effective_from`, so meals served before keep theirs. " + EDIT_422,
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="meal_point_not_found"),
    )
    def edit_point(
        self,
        point_id: Id,
        data: JSONBody[MealPointPatch],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> MealPointRead:
        staff_id = require_staff(principal, "admin")
        org_id = _admin_of_point(session, principal, point_id)
        given = {k: v for k, v in _given(data).items() if v is not None}
        if "slots" in given:
            given["slots"] = [service.SlotInput(s.slot, s.starts, s.ends, s.price) for s in data.slots]
        edit = edits.edit_point(
            session,
            point_id,
            given,
            data.reason,
            data.effective_from,
            today=local_today(rt),
            staff_user_id=staff_id,
            now=rt.clock.now(),
        )
        if edit.changes:
            audit(session, rt, "meal_point.edited", edit.subject, org_id, staff_id, edit.detail())
        return point_read(session, service.get_point(session, point_id), local_today(rt))

    @patch(
        "/funding-agreements/{agreement_id:int}",
        operation_id="editFundingAgreement",
        sync_to_thread=True,
        summary="Edit an agreement (administrators of its meal points): name, budget top-up (never"
        " below what is used: `below_used`), end date (not before today nor the last day it paid for:"
        " `before_last_paid`), meal points at once; schedule and week cap from `effective_from`. " + EDIT_422,
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="agreement_not_found, meal_point_not_found, partner_not_found",
        ),
    )
    def edit_agreement(
        self,
        agreement_id: Id,
        data: JSONBody[AgreementPatch],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> AgreementListed:
        agreement, staff_id, org_id = _agreement_here(session, principal, agreement_id)
        given = _given(data)
        if "meal_point_ids" in given:
            added = set(given["meal_point_ids"]) - set(edits.agreement_point_ids(session, agreement.id))
            for p in sorted(added):
                _admin_of_point(session, principal, p)
            if added and agreement.partner_id is not None:  # its reports would take them in
                service.require_partner_linkable(session, principal.admin_paths, agreement.partner_id)
        today = local_today(rt)
        edit = edits.edit_agreement(
            session,
            agreement.id,
            given,
            data.reason,
            data.effective_from,
            today=today,
            staff_user_id=staff_id,
            now=rt.clock.now(),
        )
        if edit.changes:
            audit(session, rt, "funding_agreement.edited", edit.subject, org_id, staff_id, edit.detail())
        versions = edits.schedule_versions(session, [agreement.id])[agreement.id]
        return _listed(session, agreement, edits.agreement_point_ids(session, agreement.id), versions, today)

    @get(
        "/diners/{diner_id:int}/history",
        operation_id="dinerHistory",
        sync_to_thread=True,
        summary="A diner's history: registered, each edit (who, when, why, before and after; phone,"
        " name and address masked)",
        responses=problems(_403="staff_only, outside_your_scope", _404="diner_not_found"),
    )
    def diner_history(
        self,
        diner_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> HistoryPage:
        diner = diner_of(session, principal, diner_id)
        return _history(session, f"diner:{diner.id}", cursor, limit)

    @get(
        "/meal-points/{point_id:int}/history",
        operation_id="mealPointHistory",
        sync_to_thread=True,
        summary="A meal point's history: made, each edit (who, when, why, before and after, from when)",
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="meal_point_not_found"),
    )
    def point_history(
        self,
        point_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> HistoryPage:
        require_staff(principal, "admin")
        _admin_of_point(session, principal, point_id)
        return _history(session, f"meal_point:{point_id}", cursor, limit)

    @get(
        "/funding-agreements/{agreement_id:int}/history",
        operation_id="fundingAgreementHistory",
        sync_to_thread=True,
        summary="An agreement's history: made, each edit (who, when, why, before and after, from when)",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="agreement_not_found, meal_point_not_found",
        ),
    )
    def agreement_history(
        self,
        agreement_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> HistoryPage:
        agreement, _, _ = _agreement_here(session, principal, agreement_id)
        return _history(session, f"funding_agreement:{agreement.id}", cursor, limit)
