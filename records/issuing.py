"""A volunteer asks for a 志愿服务记录证明 from the phone (申请证明), and its PDF is drawn again from
the snapshot whenever it is downloaded.

Who records, certifies: the organization the volunteer names issues it, over the volunteer's
service at that organization (or under it) in the period, as `records.service.record` counted it
(the same minutes as the record, the stars and the commendations: nothing recomputed here). Rows
that do not count are left out and named in the answer (`left_out`: annulled, pending settlement,
or an unverified forgotten check-out). A volunteer with no identity number stored is asked for it
(409 `identity_needed`) and nothing is written. The snapshot keeps the number masked; the PDF
gets the full number through `records.identity.reveal_own` (audited) at each download."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from accounts.principal import Principal
from integrity import service as integrity
from linli import scope
from linli.errors import FieldError, LinliError, conflict, invalid, not_found
from linli.idcrypt import IdKeyring
from orgs import service as orgs_service
from records import certificates, service
from records import identity as records_identity
from records.certificate_pdf import CertificateData, ServiceRow, render
from records.models_certificates import RecordCertificate
from volunteer import identity
from volunteer import service as volunteer_service

MAX_PERIOD_DAYS = 3660  # about ten years
HANDLER = "系统出具 issued by Linli on the volunteer's request"
NOT_STORED = (
    "—"  # an organization that has not said who is in charge or its phone (PATCH /organizations/{id})
)
# a service row's state -> why it is left out of a certificate
LEFT_OUT = {
    "annulled": "attendance_annulled",
    "pending": "attendance_pending",
    "unverified": "attendance_unverified",
}


@dataclass(frozen=True)
class Issued:
    certificate: RecordCertificate
    left_out: list[dict]


def _period_problems(start: date, end: date, today: date) -> list[FieldError]:
    errors = []
    if start.year < 2000:
        errors.append(FieldError("period_start", "out_of_range", "开始日期须在2000年以后 From 2000 on"))
    if end < start:
        errors.append(FieldError("period_end", "before_start", "结束日期须不早于开始日期 End before start"))
    elif (end - start).days > MAX_PERIOD_DAYS:
        errors.append(
            FieldError("period_end", "period_too_long", "期间最长10年 A period of at most ten years")
        )
    if end > today:
        errors.append(FieldError("period_end", "future_day", "结束日期不能晚于今天 Must end by today"))
    return errors


def ask(
    session: Session,
    volunteer_id: int,
    *,
    org_id: int,
    period_start: date,
    period_end: date,
    base_url: str,
    now: datetime,
    tz: ZoneInfo,
) -> Issued:
    """Issue the volunteer's certificate for the organization and period. 422 field by field for
    the period; 404 `org_not_found`; 422 `org_id` `not_served_here` (no service there ever), 422
    `no_service` (none counted in the period; `left_out` in the answer); 409 `identity_needed`."""
    if errors := _period_problems(period_start, period_end, now.astimezone(tz).date()):
        raise invalid(errors)
    org = orgs_service.find(session, org_id)
    if org is None:
        raise not_found("组织 Organization", "org_not_found")
    record = service.record(session, volunteer_id, tz)
    paths = {i: orgs_service.get(session, i).path for i in {r["org_id"] for r in record["service"]}}
    there = [r for r in record["service"] if scope.covers([org.path], paths[r["org_id"]])]
    if not there:
        raise invalid(
            [
                FieldError(
                    "org_id",
                    "not_served_here",
                    "您没有在该组织服务的记录 You have no service recorded by this organization",
                )
            ]
        )
    rows, left_out = [], []
    for r in sorted(there, key=lambda r: (r["starts_at"], r["id"])):
        if not period_start <= r["day"] <= period_end:
            continue
        if r["state"] in LEFT_OUT:
            left_out.append({"attendance_id": r["id"], "code": LEFT_OUT[r["state"]]})
        elif r["minutes"] > 0:
            rows.append(r)
    if not rows:
        error = invalid(
            [
                FieldError(
                    "period", "no_service", "该期间没有可证明的服务时长 No counted service in the period"
                )
            ]
        )
        error.code = "no_service"
        error.extra = {"left_out": left_out}
        raise error
    mine = identity.view(session, volunteer_id)
    if not mine.present:
        raise conflict(
            "identity_needed",
            "出具证明需要您的证件号码，请先填写（PUT /api/v1/me/identity）后重试"
            " The certificate needs your ID number: give it (PUT /api/v1/me/identity) and ask again",
        )
    volunteer = volunteer_service.get(session, volunteer_id)
    total = sum(r["minutes"] for r in rows)
    data = CertificateData(
        certificate_id="",
        base_url=base_url,
        name=volunteer.name,
        id_type=identity.ID_TYPES.get(mine.id_type or "", ("居民身份证",))[0],
        id_number="*" * 8 + (mine.last4 or ""),  # only the last four are kept
        volunteer_number=str(volunteer.id),
        total_minutes=total,
        issuer=org.name,
        person_in_charge=org.person_in_charge or NOT_STORED,
        handler=HANDLER,
        contact_phone=org.contact_phone or NOT_STORED,
        issued_on=now.astimezone(tz).date(),
        period_start=period_start,
        period_end=period_end,
        rows=[
            ServiceRow(
                r["activity"],
                r["organization"],
                r["day"],
                (r["ends_at"] or r["starts_at"]).astimezone(tz).date(),
                r["minutes"],
            )
            for r in rows
        ],
    )
    cert = certificates.issue(session, volunteer_id=volunteer_id, org_id=org.id, data=data, now=now)
    integrity.audit(
        session,
        "record_certificate.issued",
        f"record_certificate:{cert.id}",
        org.path,
        None,
        now,
        {"volunteer_id": volunteer_id, "minutes": total, "rows": len(rows), "left_out": len(left_out)},
    )
    return Issued(cert, left_out)


def pdf(
    session: Session,
    principal: Principal,
    certificate_id: str,
    *,
    keys: IdKeyring,
    base_url: str,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[RecordCertificate, bytes]:
    """The certificate's PDF from its snapshot, the full number from `reveal_own`. For the
    volunteer it is for, or an admin of the issuing organization (or above it); anyone else gets
    404 `certificate_not_found`, as for an unknown number. 409 `certificate_revoked`."""
    cert = certificates.find(session, certificate_id)
    if cert is None:
        raise not_found("证明 Certificate", "certificate_not_found")
    org = orgs_service.get(session, cert.org_id)
    staff_id = None
    if principal.kind == "volunteer" and principal.volunteer_id == cert.volunteer_id:
        pass
    elif principal.kind == "staff" and scope.covers(principal.admin_paths, org.path):
        staff_id = principal.staff_user_id
    else:
        raise not_found("证明 Certificate", "certificate_not_found")
    if cert.revoked_at is not None:
        raise conflict(
            "certificate_revoked",
            f"该证明已撤销：{cert.revoke_reason} This certificate was revoked",
            revoked_at=cert.revoked_at.isoformat(),
        )
    try:
        number = records_identity.reveal_own(
            session,
            cert.volunteer_id,
            keys=keys,
            purpose=f"record_certificate:{cert.id}",
            now=now,
            staff_user_id=staff_id,
            org_path=org.path,
        )
    except LinliError as exc:
        if exc.code == "identity_not_given":  # removed since: ask for it again
            raise conflict("identity_needed", "请先填写证件号码 Give your ID number first") from None
        raise
    return cert, render(certificates.data_of(cert, id_number=number, base_url=base_url, tz=tz))
