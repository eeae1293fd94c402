"""What goes in and out of the record-certificate endpoints (msgspec Structs)."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from linli.bounds import RowId


class RevokeBody(msgspec.Struct):
    reason: str


class RecordCertificateRead(msgspec.Struct):
    id: str
    volunteer_id: int
    org_id: int
    period_start: date
    period_end: date
    total_minutes: int
    id_type: str
    id_last4: str
    issuer: str
    issued_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    verify_url: str


class AskBody(msgspec.Struct):
    """A volunteer asks the organization that recorded their service for a certificate."""

    org_id: RowId
    period_start: date
    period_end: date


class LeftOutRead(msgspec.Struct):
    attendance_id: int
    code: str  # attendance_annulled | attendance_pending | attendance_unverified


class AskedRead(msgspec.Struct):
    id: str
    verify_url: str
    pdf_url: str
    total_minutes: int
    rows: int
    issuer: str
    left_out: list[LeftOutRead]
