"""Queries of the record certificates (志愿服务记录证明)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.models_certificates import RecordCertificate


def get(session: Session, certificate_id: str, *, for_update: bool = False) -> RecordCertificate | None:
    if for_update:
        return session.scalars(
            select(RecordCertificate).where(RecordCertificate.id == certificate_id).with_for_update()
        ).first()
    return session.get(RecordCertificate, certificate_id)


def exists(session: Session, certificate_id: str) -> bool:
    return session.get(RecordCertificate, certificate_id) is not None
