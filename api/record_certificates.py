"""Service-record certificates (志愿服务记录证明): a volunteer asks for one from the phone (the
organization that recorded the service issues it), downloads its PDF (the full ID number drawn in,
audited), and an admin of the issuing organization revokes one with a reason; /verify/{id}
(api/recognition.py) then says so."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, require_staff, require_volunteer
from api.problems import problems
from linli.errors import not_found
from linli.runtime import Runtime
from orgs import service as orgs_service
from records import certificates, issuing
from records.models_certificates import RecordCertificate
from records.schemas_certificates import AskBody, AskedRead, LeftOutRead, RecordCertificateRead, RevokeBody


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

    @get(
        "/{certificate_pdf:str}",
        operation_id="recordCertificatePdf",
        sync_to_thread=True,
        media_type="application/pdf",
        summary="The certificate as a PDF (`{id}.pdf`), drawn from what was issued with the full ID number"
        " (each download audited): for the volunteer it is for, or an admin of the issuing organization",
        responses=problems(_404="certificate_not_found", _409="certificate_revoked, identity_needed"),
    )
    def pdf(
        self,
        certificate_pdf: FromPath[str],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response[bytes]:
        code, dot, ext = certificate_pdf.rpartition(".")
        if not dot or ext != "pdf":
            raise not_found("证明 Certificate", "certificate_not_found")
        cert, content = issuing.pdf(
            session,
            principal,
            code,
            keys=rt.id_keys,
            base_url=rt.settings.base_url,
            now=rt.clock.now(),
            tz=rt.settings.tz,
        )
        return Response(
            content,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="record-certificate-{cert.id}.pdf"',
                "Cache-Control": "no-store",
            },
        )


class MyRecordCertificateController(Controller):
    path = "/api/v1/me/record/certificates"
    tags = ["证书 certificates"]
    dependencies = AUTH

    @post(
        "",
        operation_id="askRecordCertificate",
        status_code=201,
        sync_to_thread=True,
        summary="Ask the organization that recorded my service for a 志愿服务记录证明 over a period: my counted"
        " service there (or under it); rows that do not count are named in `left_out`",
        responses=problems(
            _403="volunteers_only",
            _404="org_not_found",
            _409="identity_needed (give it: PUT /api/v1/me/identity)",
            _422="validation_failed (before_start, period_too_long, future_day, out_of_range, "
            "not_served_here), no_service",
        ),
    )
    def ask(
        self,
        data: JSONBody[AskBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> AskedRead:
        volunteer_id = require_volunteer(principal)
        base = rt.settings.base_url.rstrip("/")
        done = issuing.ask(
            session,
            volunteer_id,
            org_id=data.org_id,
            period_start=data.period_start,
            period_end=data.period_end,
            base_url=base,
            now=rt.clock.now(),
            tz=rt.settings.tz,
        )
        cert = done.certificate
        return AskedRead(
            id=cert.id,
            verify_url=f"{base}/verify/{cert.id}",
            pdf_url=f"/api/v1/record-certificates/{cert.id}.pdf",
            total_minutes=cert.total_minutes,
            rows=len(cert.rows),
            issuer=cert.issuer,
            left_out=[LeftOutRead(**x) for x in done.left_out],
        )
