"""Usage reports (报表): asked for here, built by a worker job, downloaded when done; partners'
webhooks for the monthly notices. See `docs/reports.md`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from urllib.parse import quote

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, next_cursor, page
from api.openapi import answered_as
from api.problems import problems
from linli import ratelimit
from linli.bounds import RowId, by_service
from linli.runtime import Runtime
from reports import service, webhooks
from reports.models import FORMATS, GRANULARITIES, KINDS, Report
from reports.render import MEDIA_TYPES


class ReportBody(msgspec.Struct, kw_only=True):
    kind: Annotated[str, by_service(choices=KINDS)]
    # inclusive; required but for round_summary, which covers its round's days
    period_start: date | None = None
    period_end: date | None = None
    format: Annotated[str, by_service(choices=FORMATS)]
    # meal_usage rows per day, week (Monday) or month
    granularity: Annotated[str, by_service(choices=GRANULARITIES)] = "month"
    org_id: RowId | None = None  # hub staff: part of their subtree
    meal_point_ids: list[RowId] = []
    internal: bool = False  # hub admins: small cells not suppressed
    round_id: RowId | None = None  # round_summary: the micro-grant round


class ReportRead(msgspec.Struct):
    id: int
    kind: str
    period_start: date
    period_end: date
    granularity: str
    format: str
    status: str  # queued | running | done | failed
    attempts: int
    error: str | None
    size: int | None
    sha256: str | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    file: str | None  # where to download it, once done
    round_id: int | None = None  # round_summary: its round

    @classmethod
    def of(cls, r: Report) -> ReportRead:
        return cls(
            id=r.id,
            kind=r.kind,
            period_start=r.period_start,
            period_end=r.period_end,
            granularity=r.granularity,
            format=r.format,
            status=r.status,
            attempts=r.attempts,
            error=r.error,
            size=r.size,
            sha256=r.sha256,
            created_at=r.created_at,
            finished_at=r.finished_at,
            expires_at=r.expires_at,
            file=f"/api/v1/reports/{r.id}/file" if r.status == "done" and r.content is not None else None,
            round_id=(r.scope or {}).get("round_id"),
        )


class ReportPage(msgspec.Struct):
    items: list[ReportRead]
    next: str | None


class WebhookBody(msgspec.Struct):
    url: str


class WebhookRead(msgspec.Struct):
    partner_id: int
    url: str
    secret: str  # shown this once: HMAC-SHA256 key for X-Linli-Signature
    secret_version: int


class ReportController(Controller):
    path = "/api/v1"
    tags = ["报表 reports"]
    dependencies = AUTH

    @post(
        "/reports",
        operation_id="requestReport",
        status_code=202,
        sync_to_thread=True,
        summary="Ask for a report: 202 and an id while it is built; 200 with the existing one (an ended period's, or the same ask being built or just built)",
        responses={
            200: ResponseSpec(
                data_container=ReportRead,
                description="The report asked for before (the same kind, period and scope), as it stands",
                generate_examples=False,
            ),
            **problems(
                _403="outside_your_scope, not_for_partners, not_a_funder, admin_required, staff_only",
                _404="org_not_found, round_not_found",
                _429="rate_limited",
            ),
        },
    )
    def request(
        self,
        data: JSONBody[ReportBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response[ReportRead]:
        ask = service.ReportAsk(
            kind=data.kind,
            period_start=data.period_start,
            period_end=data.period_end,
            format=data.format,
            granularity=data.granularity,
            round_id=data.round_id,
            org_id=data.org_id,
            meal_point_ids=tuple(data.meal_point_ids),
            internal=data.internal,
        )
        caller = principal.staff_user_id if principal.kind == "staff" else f"key{principal.token_id}"
        ratelimit.check(
            rt.redis,
            f"reports:{caller}",
            (service.REQUESTS_PER_HOUR, 3600),
            rt.clock.now(),
            "报表请求过多，请稍后再试 Too many report requests; try again later",
        )
        report, existed = service.request(session, principal, ask, now=rt.clock.now(), tz=rt.settings.tz)
        return Response(ReportRead.of(report), status_code=200 if existed else 202)

    @get(
        "/reports",
        operation_id="listReports",
        sync_to_thread=True,
        summary="Reports you may see: your enterprise's (monthly ones included), or your subtree's",
        responses=problems(_403="staff_only"),
    )
    def listing(
        self,
        principal: NamedDependency[Principal],
        reads: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ReportPage:
        after, limit = page(cursor, limit)
        items = [ReportRead.of(r) for r in service.list_visible(reads, principal, after, limit)]
        return ReportPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @get(
        "/reports/{report_id:int}",
        operation_id="getReport",
        sync_to_thread=True,
        summary="A report's status (queued, running, done, failed with the reason)",
        responses=problems(_403="outside_your_scope", _404="report_not_found"),
    )
    def one(
        self, report_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> ReportRead:
        return ReportRead.of(service.get_visible(session, principal, report_id))

    @get(
        "/reports/{report_id:int}/file",
        operation_id="getReportFile",
        sync_to_thread=True,
        media_type="application/octet-stream",
        operation_class=answered_as(*MEDIA_TYPES.values()),
        summary="The report's file (JSON, CSV or XLSX), with its SHA-256 in X-Checksum-SHA256",
        responses=problems(
            _403="outside_your_scope", _404="report_not_found", _409="report_not_ready", _410="report_expired"
        ),
    )
    def file(
        self,
        report_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response:
        report = service.file_of(service.get_visible(session, principal, report_id), rt.clock.now())
        return Response(
            report.content,
            media_type=report.media_type,
            headers={
                "Content-Disposition": f"attachment; filename=\"{report.filename}\"; filename*=UTF-8''{quote(report.filename)}",
                "X-Checksum-SHA256": report.sha256,
            },
        )

    @put(
        "/partners/{partner_id:int}/webhook",
        operation_id="setPartnerWebhook",
        sync_to_thread=True,
        summary="Where your enterprise is told a report is ready (POST, signed with the secret shown once)",
        responses=problems(_403="outside_your_scope"),
    )
    def webhook(
        self,
        partner_id: Id,
        data: JSONBody[WebhookBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> WebhookRead:
        if service.partner_of(principal) != partner_id:
            raise service.refuse(principal, f"the webhook of partner {partner_id}")
        hook, secret = webhooks.register(
            session, rt.signer, partner_id, data.url, rt.clock.now(), allow_private=rt.settings.demo
        )
        return WebhookRead(
            partner_id=partner_id, url=hook.url, secret=secret, secret_version=hook.secret_version
        )
