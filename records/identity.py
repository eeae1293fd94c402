"""Who may read an identity number, and the one place it is read (证件号码解密).

`reveal` is the only decrypt path (tests/test_architecture.py checks it): a county administrator
(an admin grant over a county base) who also holds the export grant (`records_export` over that
county, given by a county admin: `grant_export`) may decrypt the number of a volunteer of their
county (filed there or served there), giving a reason. Every decryption is audit-logged (who,
which volunteer, why), and so is every refusal for want of the grant.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from accounts import service as accounts_service
from accounts.models import EXPORT_ROLE, RoleGrant
from accounts.principal import Principal
from integrity import service as integrity
from linli.errors import FieldError, LinliError, conflict, forbidden, invalid, not_found
from linli.idcrypt import IdCryptError, IdKeyring, row_binding
from orgs import service as orgs_service
from volunteer import identity
from volunteer import service as volunteer_service

REASON_LENGTH = (4, 200)


def export_counties(principal: Principal) -> list[str]:
    """The county paths where the principal is admin and holds the export grant."""
    admin = set(principal.admin_paths)
    exports = {g.org_path for g in principal.grants if g.role == EXPORT_ROLE and g.org_path}
    return sorted(p for p in admin & exports if p.count("/") == 2)


def _county_admin_paths(session: Session, paths: list[str]) -> list[str]:
    return [p for p in paths if orgs_service.is_root_path(session, p)]


def grant_export(
    session: Session, *, giver: Principal, user_id: int, county_id: int, now: datetime
) -> RoleGrant:
    """A county admin gives the export grant over their county to one of its county admins
    (themselves included). 403 `county_admins_only`; 422 `county_id` not a county base,
    `staff_user_id` not_county_admin. Audited."""
    if giver.kind != "staff" or giver.staff_user_id is None:
        raise forbidden("仅限工作人员 Staff only", "staff_only")
    county = orgs_service.find(session, county_id)
    errors = []
    if county is None or not orgs_service.is_root_path(session, county.path):
        errors.append(FieldError("county_id", "not_a_county", "应为县级基地 Must be a county base"))
    elif county.path not in _county_admin_paths(session, giver.admin_paths):
        raise forbidden("仅限本县管理员 County administrators only", "county_admins_only")
    elif ("admin", county.path) not in accounts_service.roles_over(session, user_id):
        errors.append(
            FieldError(
                "staff_user_id",
                "not_county_admin",
                "只能授予本县县级管理员 Only an administrator of this county can hold it",
            )
        )
    if errors:
        raise invalid(errors)
    grant = accounts_service.add_export_grant(session, user_id=user_id, county_id=county.id, now=now)
    integrity.audit(
        session,
        "records_export.granted",
        f"staff_user:{user_id}",
        county.path,
        giver.staff_user_id,
        now,
        {"grant_id": grant.id},
    )
    return grant


def _granted(
    session: Session, actor: Principal, reason: str, subject: str, now: datetime
) -> tuple[str, list[str]]:
    """The reason, checked, and the counties where `actor` may decrypt: a staff member holding the
    export grant. 422 `reason` length; 403 `staff_only`, `export_grant_required` (the refusal is
    audited and stays in the log)."""
    reason = (reason or "").strip()
    if not REASON_LENGTH[0] <= len(reason) <= REASON_LENGTH[1]:
        raise invalid(
            [FieldError("reason", "length", "请说明用途（4到200字） Give the purpose, 4 to 200 characters")]
        )
    if actor.kind != "staff" or actor.staff_user_id is None:
        raise forbidden("仅限工作人员 Staff only", "staff_only")
    counties = export_counties(actor)
    if not counties:
        where = sorted(_county_admin_paths(session, actor.admin_paths)) or ["/"]
        integrity.audit(
            session,
            "identity.reveal_refused",
            subject,
            where[0],
            actor.staff_user_id,
            now,
            {"reason": reason, "why": "export_grant_required"},
        )
        error: LinliError = forbidden(
            "需要县级管理员的导出授权 Requires a county administrator's export grant",
            "export_grant_required",
        )
        error.commit = True  # the refusal stays in the audit log
        raise error
    return reason, counties


def reveal(
    session: Session,
    volunteer_id: int,
    *,
    actor: Principal,
    reason: str,
    now: datetime,
    keys: IdKeyring,
) -> str:
    """The volunteer's identity number, for a service record, a certificate or the national
    export. 422 `reason` required/length; 403 `export_grant_required` (audited), or
    `outside_your_scope` for a volunteer not of the county; 404 `volunteer_not_found`,
    `identity_not_given`; 409 `identity_unreadable` (a key removed too early)."""
    reason, counties = _granted(session, actor, reason, f"volunteer:{volunteer_id}", now)
    volunteer_service.require_reached(session, volunteer_id, counties)
    id_type, value = identity.sealed(session, volunteer_id)
    if value is None:
        raise not_found("证件号码 Identity number", "identity_not_given")
    county = next(p for p in counties if volunteer_service.reached(session, volunteer_id, [p]))
    try:
        number = keys.decrypt(value, row_binding(volunteer_id))
    except IdCryptError:
        raise conflict(
            "identity_unreadable",
            "证件号码无法解密（密钥已移除？）The number does not decrypt (a key removed too early?)",
        ) from None
    integrity.audit(
        session,
        "identity.revealed",
        f"volunteer:{volunteer_id}",
        county,
        actor.staff_user_id,
        now,
        {"reason": reason, "id_type": id_type, "key_id": value.partition(":")[0]},
    )
    return number


def reveal_own(
    session: Session,
    volunteer_id: int,
    *,
    keys: IdKeyring,
    purpose: str,
    now: datetime,
    staff_user_id: int | None = None,
    org_path: str = "/",
) -> str:
    """The volunteer's own number for a copy of their own certificate (the only other decrypt
    path: the certificate PDF is where the full number belongs). The caller has checked that the
    certificate is the volunteer's and that the reader is the volunteer (`staff_user_id` None) or an
    admin of the issuing organization (`staff_user_id`, `org_path` that organization's). Audited
    `identity.revealed_to_self` (or `identity.revealed_for_certificate` for staff): who, which
    volunteer, why. 404 `identity_not_given`; 409 `identity_unreadable`."""
    id_type, value = identity.sealed(session, volunteer_id)
    if value is None:
        raise not_found("证件号码 Identity number", "identity_not_given")
    try:
        number = keys.decrypt(value, row_binding(volunteer_id))
    except IdCryptError:
        raise conflict(
            "identity_unreadable",
            "证件号码无法解密（密钥已移除？）The number does not decrypt (a key removed too early?)",
        ) from None
    integrity.audit(
        session,
        "identity.revealed_to_self" if staff_user_id is None else "identity.revealed_for_certificate",
        f"volunteer:{volunteer_id}",
        org_path,
        staff_user_id,
        now,
        {
            "purpose": purpose,
            "by": "volunteer" if staff_user_id is None else "staff",
            "id_type": id_type,
            "key_id": value.partition(":")[0],
        },
    )
    return number


def reveal_many(
    session: Session,
    volunteer_ids: list[int],
    *,
    keys: IdKeyring,
    actor: Principal,
    reason: str,
    now: datetime,
) -> dict[int, str]:
    """The identity numbers of many volunteers at once, for the national export
    (`records.exports`): {volunteer id: number} for those who gave one and whose value decrypts
    (the others are left out: the caller counts them). The actor must hold the export grant, as
    for `reveal` (403 `export_grant_required`, audited, else); the caller gives volunteers of the
    actor's county (the export takes those who served there). Each volunteer's decryption is
    audit-logged (`identity.revealed`, one INSERT for all), a value that does not decrypt too
    (`identity.unreadable`)."""
    reason, counties = _granted(session, actor, reason, f"volunteers:{len(set(volunteer_ids))}", now)
    numbers: dict[int, str] = {}
    audits = []
    for volunteer_id, (id_type, value) in sorted(identity.sealed_many(session, volunteer_ids).items()):
        if value is None:
            continue
        try:
            numbers[volunteer_id] = keys.decrypt(value, row_binding(volunteer_id))
            action = "identity.revealed"
        except IdCryptError:
            action = "identity.unreadable"
        audits.append(
            {
                "action": action,
                "subject": f"volunteer:{volunteer_id}",
                "org_path": counties[0],
                "staff_user_id": actor.staff_user_id,
                "at": now,
                "detail": {"reason": reason, "id_type": id_type, "key_id": value.partition(":")[0]},
            }
        )
    integrity.audit_many(session, audits)
    return numbers
