"""Issuing and revoking service-record certificates (志愿服务记录证明出具与撤销). The organization
that recorded the service issues it; what the certificate said is kept as a snapshot
(`RecordCertificate`) with the ID masked, so /verify/{id} can answer for it later and a revoked one
says so with the reason. `issue` takes the renderer's `CertificateData` (or anything with its
fields): the route that issues after the records merge only gathers the data and calls it."""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict
from datetime import date, datetime

from sqlalchemy.orm import Session

from linli.errors import FieldError, conflict, invalid, not_found
from linli.pii import mask_name
from records import repository_certificates as repo
from records.certificate_pdf import CertificateData, ServiceRow
from records.models_certificates import CODE_LENGTH, RecordCertificate

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE = re.compile(rf"R[{ALPHABET}]{{{CODE_LENGTH - 1}}}")


def new_code() -> str:
    return "R" + "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH - 1))


def is_code(text: str) -> bool:
    return bool(CODE.fullmatch(text or ""))


def _cut(text: str, n: int) -> str:
    return (text or "").strip()[:n]


def issue(session: Session, *, volunteer_id: int, org_id: int, data, now: datetime) -> RecordCertificate:
    """Keep the certificate `data` describes (its `certificate_id`, or a new code when empty) and
    return it; `data.id_number` is reduced to its last four here and not stored."""
    errors = []
    if data.total_minutes < 0 or data.total_minutes != sum(r.minutes for r in data.rows):
        errors.append(
            FieldError("total_minutes", "mismatch", "合计时长须等于各条之和 Total must be the rows' sum")
        )
    if not data.rows:
        errors.append(FieldError("rows", "no_service", "该期间没有服务记录 No service in the period"))
    if len((data.id_number or "").strip()) < 4:
        errors.append(FieldError("id_number", "missing", "缺少证件号码 The ID number is required"))
    if errors:
        raise invalid(errors)
    start = data.period_start or min(r.start for r in data.rows)
    end = data.period_end or max(r.end for r in data.rows)
    code = data.certificate_id or new_code()
    if not is_code(code):
        raise invalid([FieldError("certificate_id", "invalid", "证明编号格式不对 Not a certificate number")])
    if repo.exists(session, code):
        raise conflict("certificate_exists", "该证明编号已使用 This certificate number is taken")
    cert = RecordCertificate(
        id=code,
        volunteer_id=volunteer_id,
        org_id=org_id,
        period_start=start,
        period_end=end,
        total_minutes=data.total_minutes,
        holder_name=_cut(data.name, 50),
        id_type=_cut(data.id_type, 20),
        id_last4=data.id_number.strip()[-4:],
        volunteer_number=_cut(data.volunteer_number, 40),
        issuer=_cut(data.issuer, 200),
        person_in_charge=_cut(data.person_in_charge, 50),
        handler=_cut(data.handler, 50),
        contact=_cut(data.contact_phone, 40),
        rows=[{**asdict(r), "start": r.start.isoformat(), "end": r.end.isoformat()} for r in data.rows],
        issued_at=now,
    )
    session.add(cert)
    session.flush()
    return cert


def get(session: Session, certificate_id: str) -> RecordCertificate:
    cert = repo.get(session, certificate_id) if is_code(certificate_id) else None
    if cert is None:
        raise not_found("证明 Certificate", "certificate_not_found")
    return cert


def find(session: Session, certificate_id: str) -> RecordCertificate | None:
    return repo.get(session, certificate_id) if is_code(certificate_id) else None


def revoke(
    session: Session, certificate_id: str, *, reason: str, staff_user_id: int | None, now: datetime
) -> RecordCertificate:
    """Revoke once, with a reason (1 to 200 characters); the caller checks the staff member
    administers `cert.org_id` (the issuing organization)."""
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= 200:
        raise invalid(
            [FieldError("reason", "length", "请写明撤销理由（1到200字） A reason of 1 to 200 characters")]
        )
    cert = repo.get(session, certificate_id, for_update=True) if is_code(certificate_id) else None
    if cert is None:
        raise not_found("证明 Certificate", "certificate_not_found")
    if cert.revoked_at is not None:
        raise conflict("certificate_revoked", "该证明已撤销 This certificate is already revoked")
    cert.revoked_at, cert.revoke_reason, cert.revoked_by = now, reason, staff_user_id
    session.flush()
    return cert


def data_of(cert: RecordCertificate, *, id_number: str, base_url: str, tz) -> CertificateData:
    """The renderer's input for an issued certificate (a copy), the full ID number from the caller."""
    return CertificateData(
        certificate_id=cert.id,
        base_url=base_url,
        name=cert.holder_name,
        id_type=cert.id_type,
        id_number=id_number,
        volunteer_number=cert.volunteer_number,
        total_minutes=cert.total_minutes,
        issuer=cert.issuer,
        person_in_charge=cert.person_in_charge,
        handler=cert.handler,
        contact_phone=cert.contact,
        issued_on=cert.issued_at.astimezone(tz).date(),
        period_start=cert.period_start,
        period_end=cert.period_end,
        rows=[
            ServiceRow(
                r["content"],
                r["organization"],
                date.fromisoformat(r["start"]),
                date.fromisoformat(r["end"]),
                r["minutes"],
            )
            for r in cert.rows
        ],
    )


def public_view(cert: RecordCertificate, tz) -> dict:
    """What /verify/{id} shows: the masked identity, the hours, the issuer, the date, and whether
    (and why) it was revoked. Nothing of the service rows or other certificates."""
    return {
        "kind": "record",
        "holder": mask_name(cert.holder_name),
        "identity": f"{cert.id_type} ************{cert.id_last4}",
        "title": "志愿服务记录证明",
        "period": f"{cert.period_start:%Y.%m.%d}–{cert.period_end:%Y.%m.%d}",
        "hours": round(cert.total_minutes / 60, 2),
        "issuer": cert.issuer,
        "issued": cert.issued_at.astimezone(tz).date().isoformat(),
        "revoked": cert.revoked_at.astimezone(tz).date().isoformat() if cert.revoked_at else None,
        "revoke_reason": cert.revoke_reason,
    }
