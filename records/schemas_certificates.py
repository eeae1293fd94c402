"""What goes in and out of the record-certificate endpoints (msgspec Structs)."""

from __future__ import annotations

from datetime import date, datetime

import msgspec


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
