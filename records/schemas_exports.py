"""What goes in and out of the national export's endpoints (records.exports)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from linli.bounds import by_service
from records.models_exports import FORMATS, KINDS, RecordExport


class ExportBody(msgspec.Struct, kw_only=True):
    kind: Annotated[str | None, by_service(choices=KINDS)] = None
    period_start: date | None = None  # inclusive, local days; at most 366 days in all
    period_end: date | None = None
    format: Annotated[str | None, by_service(choices=FORMATS)] = None
    reason: str | None = None  # the purpose, 4 to 200 characters (kept in the audit log)


class ExportRead(msgspec.Struct):
    id: int
    kind: str
    period_start: date
    period_end: date
    format: str
    reason: str
    status: str  # queued | running | ready | failed | expired
    error: str | None
    rows: int | None
    missing_identity: int | None  # volunteers whose rows go out without a number
    size: int | None
    sha256: str | None  # of the plain file
    created_at: datetime
    built_at: datetime | None
    expires_at: datetime | None
    downloaded_at: datetime | None
    downloaded_by: int | None
    file: str | None  # where to take it, while it can be taken (once)

    @classmethod
    def of(cls, e: RecordExport) -> ExportRead:
        ready = e.status == "ready" and e.file_enc is not None and e.downloaded_at is None
        return cls(
            id=e.id,
            kind=e.kind,
            period_start=e.period_start,
            period_end=e.period_end,
            format=e.format,
            reason=e.reason,
            status=e.status,
            error=e.error,
            rows=e.rows,
            missing_identity=e.missing_identity,
            size=e.size,
            sha256=e.sha256,
            created_at=e.created_at,
            built_at=e.built_at,
            expires_at=e.expires_at,
            downloaded_at=e.downloaded_at,
            downloaded_by=e.downloaded_by,
            file=f"/api/v1/exports/{e.id}/file" if ready else None,
        )


class ExportPage(msgspec.Struct):
    items: list[ExportRead]
    next: str | None
