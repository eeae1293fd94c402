"""Projects' money in custody over HTTP (资金代管): tranches paid in by the round's hub, spendings
with their receipts recorded by the project's organization, and the project's account. Handlers
translate; `grants.money` holds the rules. See docs/ledger.md ("Grant money")."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, local_today, next_cursor, page, require_staff
from api.problems import problems
from grants import corrections, money
from grants.money import EXTENSIONS, MAX_RECEIPT_BYTES
from grants.schemas_money import (
    ProjectAccount,
    ReversalBody,
    ReversalRead,
    SpendingBody,
    SpendingPage,
    SpendingRead,
    TrancheBody,
    TranchePage,
    TrancheRead,
)
from linli.runtime import Runtime

REFUSED = "staff_only, role_required, outside_your_scope"
SPENDING_BODY_BYTES = (MAX_RECEIPT_BYTES * 4) // 3 + 64 * 1024  # the receipt in base64, and the rest


class ProjectMoneyController(Controller):
    path = "/api/v1/projects"
    tags = ["资助项目资金 project money"]
    dependencies = AUTH

    @get(
        "/{project_id:int}/account",
        operation_id="getProjectAccount",
        sync_to_thread=True,
        summary="A project's money in custody: granted, paid in, spent, balance (fen), spent by category",
        responses=problems(_403=REFUSED, _404="project_not_found"),
    )
    def account(
        self, project_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> ProjectAccount:
        require_staff(principal, "admin")
        project = money.project_for_admin(session, project_id, principal.admin_paths)
        return msgspec.convert(money.account(session, project), ProjectAccount)

    @post(
        "/{project_id:int}/tranches",
        operation_id="payTranche",
        status_code=201,
        sync_to_thread=True,
        summary="Pay a tranche into a project's custody (the round's hub admin); the same key records once",
        responses=problems(
            _403=REFUSED,
            _404="project_not_found",
            _409="exceeds_granted, key_reused, project_closed, organization_left_hub",
            _422="validation_failed",
        ),
    )
    def pay(
        self,
        project_id: Id,
        data: JSONBody[TrancheBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> TrancheRead:
        staff = require_staff(principal, "admin")
        project = money.project_for_custodian(session, project_id, principal.admin_paths)
        tranche, created = money.pay_tranche(
            session,
            project,
            money.TrancheInput(key=data.key, amount=data.amount, note=data.note),
            staff_user_id=staff,
            now=rt.clock.now(),
        )
        return TrancheRead.of(tranche, replayed=not created)

    @get(
        "/{project_id:int}/tranches",
        operation_id="listTranches",
        sync_to_thread=True,
        summary="The tranches paid into a project, oldest first",
        responses=problems(_403=REFUSED, _404="project_not_found"),
    )
    def tranches(
        self, project_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> TranchePage:
        require_staff(principal, "admin")
        project = money.project_for_admin(session, project_id, principal.admin_paths)
        return TranchePage(items=[TrancheRead.of(t) for t in money.tranches(session, project)])

    @post(
        "/{project_id:int}/spending",
        operation_id="recordSpending",
        status_code=201,
        sync_to_thread=True,
        request_max_body_size=SPENDING_BODY_BYTES,
        summary="Record a spending with its receipt (base64 JPEG, PNG or PDF, at most 2 MB); never beyond the balance",
        responses=problems(
            _403=REFUSED,
            _404="project_not_found",
            _409="insufficient_balance, key_reused, project_closed, organization_left_hub",
            _413="payload_too_large",
            _422="validation_failed",
        ),
    )
    def spend(
        self,
        project_id: Id,
        data: JSONBody[SpendingBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> SpendingRead:
        staff = require_staff(principal, "admin")
        project = money.project_for_admin(session, project_id, principal.admin_paths)
        spending, created = money.spend(
            session,
            project,
            money.SpendingInput(
                key=data.key,
                amount=data.amount,
                category=data.category,
                spent_on=data.spent_on,
                receipt=data.receipt,
                note=data.note,
            ),
            staff_user_id=staff,
            now=rt.clock.now(),
            today=local_today(rt),
        )
        return SpendingRead.of(spending, replayed=not created)

    @get(
        "/{project_id:int}/spending",
        operation_id="listSpending",
        sync_to_thread=True,
        summary="A project's spendings, oldest first",
        responses=problems(_403=REFUSED, _404="project_not_found"),
    )
    def spendings(
        self,
        project_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> SpendingPage:
        require_staff(principal, "admin")
        project = money.project_for_admin(session, project_id, principal.admin_paths)
        after, limit = page(cursor, limit)
        rows = money.spendings(session, project, after, limit)
        reversed_ = money.reversals_of(session, rows)
        return SpendingPage(
            items=[SpendingRead.of(s, reversal=reversed_.get(s.id)) for s in rows],
            next=next_cursor(rows, limit, rows[-1].id if rows else None),
        )

    @post(
        "/{project_id:int}/spending/{spending_id:int}/reverse",
        operation_id="reverseSpending",
        status_code=201,
        sync_to_thread=True,
        summary="Reverse a spending recorded by mistake (the round's hub admin, with a reason); once only",
        responses=problems(
            _403=REFUSED,
            _404="project_not_found, spending_not_found",
            _409="already_reversed",
            _422="validation_failed",
        ),
    )
    def reverse(
        self,
        project_id: Id,
        spending_id: Id,
        data: JSONBody[ReversalBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ReversalRead:
        staff = require_staff(principal, "admin")
        project = money.project_for_custodian(
            session,
            project_id,
            principal.admin_paths,
            "只有本轮所属枢纽的管理员可以冲销 Only admins of the round's hub reverse spendings",
        )
        row, created = corrections.reverse(
            session, project, spending_id, data.reason, staff_user_id=staff, now=rt.clock.now()
        )
        return ReversalRead.of(row, replayed=not created)

    @get(
        "/{project_id:int}/spending/{spending_id:int}/receipt",
        operation_id="getSpendingReceipt",
        sync_to_thread=True,
        media_type="*/*",
        summary="A spending's receipt: the JPEG, PNG or PDF as recorded",
        responses=problems(_403=REFUSED, _404="project_not_found, spending_not_found"),
    )
    def receipt(
        self,
        project_id: Id,
        spending_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
    ) -> Response[bytes]:
        require_staff(principal, "admin")
        project = money.project_for_admin(session, project_id, principal.admin_paths)
        spending = money.receipt_of(session, project, spending_id)
        name = f"receipt-{project.id}-{spending.id}.{EXTENSIONS[spending.receipt_type]}"
        return Response(
            spending.receipt,
            media_type=spending.receipt_type,
            headers={
                "content-disposition": f'attachment; filename="{name}"',
                "content-security-policy": "sandbox",
            },
        )
