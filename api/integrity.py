"""Integrity over HTTP (核查): the flags a hub sees, holds approved or rejected by a hub admin,
the hub's offline grace, and the audit log. See docs/integrity.md."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, next_cursor, page, require_staff
from api.problems import problems
from integrity import service
from integrity.models import KINDS, STATUSES, AuditEntry, IntegrityFlag
from linli.bounds import by_service
from linli.runtime import Runtime


class Flag(msgspec.Struct):
    id: int
    kind: str  # late_upload, device_online (held); card_two_points, coordinator_volume, paused_diner, long_attendance
    subject: str  # what it is about: "meal:12", "attendance:7", "diner:3:2026-12-01", "staff:4:2026-12-01"
    detected_at: str  # ISO 8601, UTC
    status: str  # held, open, approved, rejected, dismissed
    held: bool  # its meal's subsidy or attendance's points wait for a decision
    detail: dict
    decided_by: int | None
    decided_at: str | None
    note: str | None

    @classmethod
    def of(cls, f: IntegrityFlag) -> Flag:
        return cls(
            id=f.id,
            kind=f.kind,
            subject=f.subject,
            detected_at=f.detected_at.isoformat(),
            status=f.status,
            held=f.status == "held",
            detail=f.detail,
            decided_by=f.decided_by,
            decided_at=f.decided_at.isoformat() if f.decided_at else None,
            note=f.note,
        )


class FlagPage(msgspec.Struct):
    items: list[Flag]
    next: str | None


class Decision(msgspec.Struct):
    note: Annotated[str, msgspec.Meta(max_length=service.NOTE_MAX)] | None = None  # a rejection needs one


class Audit(msgspec.Struct):
    id: int
    action: str
    subject: str
    staff_user_id: int | None
    at: str
    detail: dict

    @classmethod
    def of(cls, a: AuditEntry) -> Audit:
        return cls(a.id, a.action, a.subject, a.staff_user_id, a.at.isoformat(), a.detail)


class AuditPage(msgspec.Struct):
    items: list[Audit]
    next: str | None


class IntegritySettingsBody(msgspec.Struct):
    offline_grace_minutes: Annotated[int, by_service(between=service.GRACE_RANGE)]


class IntegrityController(Controller):
    path = "/api/v1"
    tags = ["核查 integrity"]
    dependencies = AUTH

    @get(
        "/integrity/flags",
        operation_id="listIntegrityFlags",
        sync_to_thread=True,
        summary="What a hub admin should look at: offline scans held for review, and anomalies",
        responses=problems(_403="staff_only, role_required"),
    )
    def flags(
        self,
        principal: NamedDependency[Principal],
        reads: NamedDependency[Session],
        status: Annotated[str | None, QueryParameter(enum=list(STATUSES))] = None,
        kind: Annotated[str | None, QueryParameter(enum=list(KINDS))] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> FlagPage:
        require_staff(principal, "admin")
        after, limit = page(cursor, limit)
        rows = service.flags(
            reads, principal.admin_paths, status=status, kind=kind, after_id=after, limit=limit
        )
        return FlagPage(
            items=[Flag.of(f) for f in rows], next=next_cursor(rows, limit, rows[-1].id if rows else None)
        )

    @post(
        "/holds/{hold_id:int}/approve",
        operation_id="approveHold",
        status_code=200,
        sync_to_thread=True,
        summary="Approve a held meal or attendance: its subsidy is paid and reported, its time counts",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="hold_not_found",
            _409="hold_decided, not_held",
        ),
    )
    def approve(
        self,
        hold_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        data: JSONBody[Decision | None] = None,
    ) -> Flag:
        return self._decide(hold_id, "approve", data, principal, session, rt)

    @post(
        "/holds/{hold_id:int}/reject",
        operation_id="rejectHold",
        status_code=200,
        sync_to_thread=True,
        summary="Reject a held meal (voided, its subsidy back in the budgets) or attendance (annulled), with a reason",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="hold_not_found",
            _409="hold_decided, not_held",
        ),
    )
    def reject(
        self,
        hold_id: Id,
        data: JSONBody[Decision],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Flag:
        return self._decide(hold_id, "reject", data, principal, session, rt)

    @post(
        "/integrity/flags/{flag_id:int}/dismiss",
        operation_id="dismissIntegrityFlag",
        status_code=200,
        sync_to_thread=True,
        summary="An anomaly looked at: dismissed, with a note (a held one is approved or rejected instead)",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="hold_not_found",
            _409="hold_decided, not_held",
        ),
    )
    def dismiss(
        self,
        flag_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        data: JSONBody[Decision | None] = None,
    ) -> Flag:
        return self._decide(flag_id, "dismiss", data, principal, session, rt)

    @staticmethod
    def _decide(flag_id, action, data, principal, session, rt) -> Flag:
        staff_id = require_staff(principal, "admin")
        return Flag.of(
            service.decide(
                session,
                flag_id,
                action=action,
                note=data.note if data else None,
                staff_user_id=staff_id,
                admin_paths=principal.admin_paths,
                now=rt.clock.now(),
            )
        )

    @get(
        "/integrity/audit",
        operation_id="listAudit",
        sync_to_thread=True,
        summary="Sensitive acts in the admin's hubs: diner cards printed, holds decided, settings changed",
        responses=problems(_403="staff_only, role_required"),
    )
    def audit(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> AuditPage:
        require_staff(principal, "admin")
        after, limit = page(cursor, limit)
        rows = service.audit_log(session, principal.admin_paths, after_id=after, limit=limit)
        return AuditPage(
            items=[Audit.of(a) for a in rows], next=next_cursor(rows, limit, rows[-1].id if rows else None)
        )

    @get(
        "/hubs/{org_id:int}/integrity-settings",
        operation_id="getIntegritySettings",
        sync_to_thread=True,
        summary="How long after its slot or activity an offline scan is still paid without review",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope", _404="organization_not_found"
        ),
    )
    def get_settings(
        self, org_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> IntegritySettingsBody:
        require_staff(principal, "admin", "coordinator")
        return IntegritySettingsBody(
            offline_grace_minutes=service.settings_of(
                session, org_id, staff_paths=principal.staff_paths, station_ids=principal.bound_station_ids
            )
        )

    @put(
        "/hubs/{org_id:int}/integrity-settings",
        operation_id="putIntegritySettings",
        sync_to_thread=True,
        summary="Set the hub's offline grace (minutes, 0 to 1440; default 180)",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope", _404="organization_not_found"
        ),
    )
    def put_settings(
        self,
        org_id: Id,
        data: JSONBody[IntegritySettingsBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> IntegritySettingsBody:
        staff_id = require_staff(principal, "admin")
        minutes = service.set_grace(
            session,
            org_id,
            data.offline_grace_minutes,
            staff_user_id=staff_id,
            admin_paths=principal.admin_paths,
            now=rt.clock.now(),
        )
        return IntegritySettingsBody(offline_grace_minutes=minutes)
