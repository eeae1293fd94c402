"""The export for the national volunteer information system (全国志愿服务信息系统导出): asked for
by a county administrator holding the export grant, built by a worker job, taken once. See the
section "导出 Export for the national system" of docs/records.md."""

from __future__ import annotations

from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, next_cursor, page
from api.openapi import answered_as
from api.problems import problems
from linli.runtime import Runtime
from records import exports
from records.schemas_exports import ExportBody, ExportPage, ExportRead
from reports.render import MEDIA_TYPES

FILE_TYPES = {f: MEDIA_TYPES[f] for f in ("csv", "xlsx")}


class ExportController(Controller):
    path = "/api/v1/exports"
    tags = ["服务记录 records"]
    dependencies = AUTH

    @post(
        "",
        operation_id="requestExport",
        status_code=202,
        sync_to_thread=True,
        summary="Ask for the county's service records of a period for the national volunteer system"
        " (`kind` service_records, `format` xlsx or csv, `reason`): a county administrator holding the"
        " export grant; 202 while the worker builds it",
        responses=problems(
            _403="staff_only, export_grant_required",
            _422="validation_failed (invalid_choice, required, before_start, too_long, length)",
        ),
    )
    def request(
        self,
        data: JSONBody[ExportBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ExportRead:
        ask = exports.ExportAsk(data.kind, data.period_start, data.period_end, data.format, data.reason)
        return ExportRead.of(exports.request(session, principal, ask, now=rt.clock.now()))

    @get(
        "",
        operation_id="listExports",
        sync_to_thread=True,
        summary="Your county's exports (export-grant holders)",
        responses=problems(_403="staff_only, export_grant_required"),
    )
    def listing(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ExportPage:
        after, limit = page(cursor, limit)
        items = [ExportRead.of(e) for e in exports.listing(session, principal, after, limit)]
        return ExportPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @get(
        "/{export_id:int}",
        operation_id="getExport",
        sync_to_thread=True,
        summary="An export's status, rows, volunteers without a number, expiry and download",
        responses=problems(_403="staff_only, export_grant_required", _404="export_not_found"),
    )
    def one(
        self, export_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> ExportRead:
        return ExportRead.of(exports.get_visible(session, principal, export_id))

    @get(
        "/{export_id:int}/file",
        operation_id="getExportFile",
        sync_to_thread=True,
        media_type="application/octet-stream",
        operation_class=answered_as(*FILE_TYPES.values()),
        summary="The file, once, to the administrator who asked (while holding the grant), with its"
        " SHA-256 in X-Checksum-SHA256; then it is deleted",
        responses=problems(
            _403="staff_only, export_grant_required, export_requester_only",
            _404="export_not_found",
            _409="export_not_ready, export_unreadable",
            _410="already_downloaded, export_expired",
        ),
    )
    def file(
        self,
        export_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response:
        export, content = exports.take_file(
            session, principal, export_id, keys=rt.id_keys, now=rt.clock.now()
        )
        name = exports.filename(export)
        return Response(
            content,
            media_type=FILE_TYPES[export.format],
            headers={
                "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
                "X-Checksum-SHA256": export.sha256,
                "Cache-Control": "no-store",
            },
        )
