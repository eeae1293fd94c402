"""Commendations and certificates (表彰与证书): rounds a hub reviews and confirms, a volunteer's
certificates as PDF, and the public page that verifies one."""

from __future__ import annotations

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Template
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, local_today, next_cursor, page, require_staff, require_volunteer
from api.pages import render
from api.points import _hub
from api.problems import problems
from linli.errors import not_found
from linli.runtime import Runtime
from orgs import service as orgs_service
from points import recognition
from points.models import Certificate
from points.schemas import (
    CertificatePage,
    CertificateRead,
    CommendationRead,
    MyCommendation,
    MyCommendationPage,
    ReviewBody,
    RoundBody,
    RoundPage,
    RoundRead,
    ServiceRecordBody,
)
from records import certificates as record_certificates


def _verify_url(rt: Runtime, code: str) -> str:
    return f"{rt.settings.base_url.rstrip('/')}/verify/{code}"


def _cert_read(rt: Runtime, cert: Certificate) -> CertificateRead:
    code = recognition.certificate_code(rt.signer, cert.id)
    return CertificateRead(
        code=code,
        kind=cert.kind,
        title=cert.title,
        period_start=cert.period_start,
        period_end=cert.period_end,
        minutes=cert.minutes,
        issued_at=cert.issued_at,
        verify_url=_verify_url(rt, code),
    )


def _round_read(rt: Runtime, session, round_) -> RoundRead:
    return RoundRead(
        id=round_.id,
        hub_id=round_.hub_id,
        title=round_.title,
        period=round_.period,
        period_start=round_.period_start,
        period_end=round_.period_end,
        rules=round_.rules,
        bonus_points=round_.bonus_points,
        status=round_.status,
        commendations=[
            CommendationRead(
                id=c.id,
                volunteer_id=c.volunteer_id,
                volunteer_name=name,
                org_id=c.org_id,
                minutes=c.minutes,
                deliveries=c.deliveries,
                reason=c.reason,
                status=c.status,
                certificate=recognition.certificate_code(rt.signer, c.certificate_id)
                if c.certificate_id
                else None,
            )
            for c, name in recognition.commendations_of(session, round_.id)
        ],
    )


class CommendationController(Controller):
    path = "/api/v1"
    tags = ["表彰 commendations"]
    dependencies = AUTH

    @post(
        "/hubs/{hub_id:int}/commendation-rounds",
        operation_id="proposeCommendationRound",
        status_code=201,
        sync_to_thread=True,
        summary="Start a round for a period: volunteers are proposed by its rules, for staff to review",
        responses=problems(_403="staff_only, outside_your_scope", _404="hub_not_found"),
    )
    def propose(
        self,
        hub_id: Id,
        data: JSONBody[RoundBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RoundRead:
        staff_id = require_staff(principal, "admin")
        hub = _hub(session, hub_id)
        orgs_service.require_admin_of(principal.admin_paths, hub)
        round_ = recognition.propose_round(
            session,
            hub_id=hub.id,
            title=data.title,
            period=data.period,
            period_start=data.period_start,
            rules=data.rules or {},
            bonus_points=data.bonus_points,
            created_by=staff_id,
            now=rt.clock.now(),
        )
        return _round_read(rt, session, round_)

    @get(
        "/hubs/{hub_id:int}/commendation-rounds",
        operation_id="listCommendationRounds",
        sync_to_thread=True,
        summary="A hub's commendation rounds, newest first, each with its list",
        responses=problems(_403="staff_only, outside_your_scope", _404="hub_not_found"),
    )
    def list_rounds(
        self,
        hub_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> RoundPage:
        require_staff(principal, "admin")
        hub = _hub(session, hub_id)
        orgs_service.require_admin_of(principal.admin_paths, hub)
        before, limit = page(cursor, limit)
        rounds = recognition.rounds_of(session, hub.id, before_id=before, limit=limit)
        items = [_round_read(rt, session, r) for r in rounds]
        return RoundPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @get(
        "/commendation-rounds/{round_id:int}",
        operation_id="getCommendationRound",
        sync_to_thread=True,
        responses=problems(_403="staff_only, outside_your_scope", _404="round_not_found"),
    )
    def get_round(
        self,
        round_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RoundRead:
        require_staff(principal, "admin")  # names and hours of people under review: admins only
        round_ = recognition.get_round(session, round_id)
        orgs_service.require_admin_of(principal.admin_paths, _hub(session, round_.hub_id))
        return _round_read(rt, session, round_)

    @post(
        "/commendation-rounds/{round_id:int}/review",
        operation_id="reviewCommendation",
        status_code=200,
        sync_to_thread=True,
        summary="Take a volunteer off the proposed list, or add one with a reason",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="round_not_found, commendation_not_found, volunteer_not_found",
            _409="round_confirmed",
        ),
    )
    def review(
        self,
        round_id: Id,
        data: JSONBody[ReviewBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RoundRead:
        require_staff(principal, "admin")
        round_ = recognition.get_round(session, round_id)
        orgs_service.require_admin_of(principal.admin_paths, _hub(session, round_.hub_id))
        recognition.set_included(session, round_.id, data.volunteer_id, data.include, data.reason)
        return _round_read(rt, session, round_)

    @post(
        "/commendation-rounds/{round_id:int}/confirm",
        operation_id="confirmCommendationRound",
        status_code=200,
        sync_to_thread=True,
        summary="Confirm after the period: bonus points are posted and each commendation gets a certificate",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="round_not_found",
            _409="round_confirmed, round_not_over (the period has not ended: `period_end`)",
        ),
    )
    def confirm(
        self,
        round_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RoundRead:
        staff_id = require_staff(principal, "admin")
        round_ = recognition.get_round(session, round_id)
        orgs_service.require_admin_of(principal.admin_paths, _hub(session, round_.hub_id))
        recognition.confirm_round(
            session, round_.id, staff_user_id=staff_id, now=rt.clock.now(), tz=rt.settings.tz
        )
        return _round_read(rt, session, round_)


class MyCommendationsController(Controller):
    path = "/api/v1/me/commendations"
    tags = ["表彰 commendations"]
    dependencies = AUTH

    @get(
        "",
        operation_id="myCommendations",
        sync_to_thread=True,
        summary="My confirmed commendations, newest first",
        responses=problems(_403="volunteers_only"),
    )
    def mine(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> MyCommendationPage:
        volunteer_id = require_volunteer(principal)
        items = [
            MyCommendation(
                round_title=r.title,
                period_start=r.period_start,
                period_end=r.period_end,
                reason=c.reason,
                minutes=c.minutes,
                bonus_points=r.bonus_points,
                certificate=recognition.certificate_code(rt.signer, c.certificate_id)
                if c.certificate_id
                else None,
            )
            for c, r in recognition.commendations_for(session, volunteer_id)
        ]
        return MyCommendationPage(items=items, next=None)


class MyCertificatesController(Controller):
    path = "/api/v1/me/certificates"
    tags = ["证书 certificates"]
    dependencies = AUTH

    @get(
        "",
        operation_id="myCertificates",
        sync_to_thread=True,
        summary="My certificates: commendations and service records",
        responses=problems(_403="volunteers_only"),
    )
    def mine(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> CertificatePage:
        volunteer_id = require_volunteer(principal)
        return CertificatePage(
            items=[_cert_read(rt, c) for c in recognition.certificates_of(session, volunteer_id)],
            next=None,
        )

    @post(
        "",
        operation_id="requestServiceRecord",
        status_code=201,
        sync_to_thread=True,
        summary="A certificate of my verified service time over a period",
        responses=problems(_403="volunteers_only"),
    )
    def service_record(
        self,
        data: JSONBody[ServiceRecordBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> CertificateRead:
        volunteer_id = require_volunteer(principal)
        cert = recognition.issue_service_record(
            session, volunteer_id, data.period_start, data.period_end, rt.clock.now(), local_today(rt)
        )
        return _cert_read(rt, cert)

    @get(
        "/{code:str}/pdf",
        operation_id="myCertificatePdf",
        sync_to_thread=True,
        media_type="application/pdf",
        responses=problems(_403="volunteers_only", _404="certificate_not_found"),
    )
    def pdf(
        self,
        code: FromPath[str],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response[bytes]:
        volunteer_id = require_volunteer(principal)
        cert = recognition.find_by_code(session, rt.signer, code)
        if cert is None or cert.volunteer_id != volunteer_id:
            raise not_found("证书 Certificate", "certificate_not_found")
        hub_name = orgs_service.get(session, cert.hub_id).name if cert.hub_id else None
        content = recognition.pdf(cert, _verify_url(rt, code), hub_name, rt.settings.tz)
        return Response(
            content,
            media_type="application/pdf",
            headers={"content-disposition": f'attachment; filename="certificate-{code}.pdf"'},
        )


@get("/verify/{certificate_id:str}", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=True)
def verify_page(
    request: Request,
    certificate_id: FromPath[str],
    session: NamedDependency[Session],
    rt: NamedDependency[Runtime],
) -> Template:
    """Public: anyone holding a certificate (an employer, a school) can check it is real. A
    commendation certificate's code is signed; any other id is looked up as a service-record
    certificate (records.certificates), which may say it was revoked."""
    cert = recognition.find_by_code(session, rt.signer, certificate_id)
    view = recognition.public_view(cert) if cert else None
    if view is not None:
        view = {**view, "issued": view["issued"].astimezone(rt.settings.tz).date().isoformat()}
    else:
        record = record_certificates.find(session, certificate_id)
        view = record_certificates.public_view(record, rt.settings.tz) if record else None
    page = render(request, "verify.html", cert=view)
    if view is None:
        page.status_code = 404
    return page
