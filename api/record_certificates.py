"""Service-record certificates (志愿服务记录证明): an admin of the issuing organization revokes one
with a reason; /verify/{id} (api/recognition.py) then says so. Issuing comes with the records
(records.certificates.issue)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, require_staff
from api.problems import problems
from linli.runtime import Runtime
from orgs import service as orgs_service
from records import certificates
from records.models_certificates import RecordCertificate
from records.schemas_certificates import RecordCertificateRead, RevokeBody


def read(rt: Runtime, cert: RecordCertificate) -> RecordCertificateRead:
    return RecordCertificateRead(
        id=cert.id,
        volunteer_id=cert.volunteer_id,
        org_id=cert.org_id,
        period_start=cert.period_start,
        period_end=cert.period_end,
        total_minutes=cert.total_minutes,
        id_type=cert.id_type,
        id_last4=cert.id_last4,
        issuer=cert.issuer,
        issued_at=cert.issued_at,
        revoked_at=cert.revoked_at,
        revoke_reason=cert.revoke_reason,
        verify_url=f"{rt.settings.base_url.rstrip('/')}/verify/{cert.id}",
    )


class RecordCertificateController(Controller):
    path = "/api/v1/record-certificates"
    tags = ["证书 certificates"]
    dependencies = AUTH

    @post(
        "/{certificate_id:str}/revoke",
        operation_id="revokeRecordCertificate",
        status_code=200,
        sync_to_thread=True,
        summary="Revoke a service-record certificate, with a reason: the public check then shows it revoked",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="certificate_not_found",
            _409="certificate_revoked",
            _422="validation_failed (`reason` of 1 to 200 characters)",
        ),
    )
    def revoke(
        self,
        certificate_id: FromPath[str],
        data: JSONBody[RevokeBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RecordCertificateRead:
        staff_id = require_staff(principal, "admin")
        cert = certificates.get(session, certificate_id)
        orgs_service.require_admin_of(principal.admin_paths, orgs_service.get(session, cert.org_id))
        cert = certificates.revoke(
            session, cert.id, reason=data.reason, staff_user_id=staff_id, now=rt.clock.now()
        )
        return read(rt, cert)
