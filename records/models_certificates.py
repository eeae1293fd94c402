"""Service-record certificates (志愿服务记录证明) as issued: a snapshot of what the PDF says, so the
public check (/verify/{id}) and a later copy show the same facts whatever changes after. The ID
number is kept masked only (type and last four): the full number is printed on the PDF from the
caller (records.identity.reveal) and stored nowhere here. The id is the certificate number: a
random code ("R" and 15 characters of Crockford base32, 75 bits), so it cannot be guessed or walked.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, UTCDateTime

CODE_LENGTH = 16


class RecordCertificate(Base):
    __tablename__ = "record_certificates"
    __table_args__ = (
        CheckConstraint("total_minutes >= 0", name="total_minutes"),
        CheckConstraint("period_end >= period_start", name="period"),
        CheckConstraint(
            "(revoked_at IS NULL AND revoke_reason IS NULL) OR (revoked_at IS NOT NULL AND revoke_reason IS NOT NULL)",
            name="revoked",
        ),
    )

    id: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)  # who issued it
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    total_minutes: Mapped[int] = mapped_column(Integer)
    holder_name: Mapped[str] = mapped_column(String(50))
    id_type: Mapped[str] = mapped_column(String(20))
    id_last4: Mapped[str] = mapped_column(String(4))
    volunteer_number: Mapped[str] = mapped_column(String(40))
    issuer: Mapped[str] = mapped_column(String(200))  # the organization's name as issued
    person_in_charge: Mapped[str] = mapped_column(String(50))
    handler: Mapped[str] = mapped_column(String(50))
    contact: Mapped[str] = mapped_column(String(40))
    rows: Mapped[list] = mapped_column(JSON)  # the service table as printed (no identity in it)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(String(200))
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
