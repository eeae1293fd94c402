"""Use cases of volunteers: registration and filing with teams (注册与备案)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linli import scope
from linli.errors import FieldError, conflict, forbidden, invalid, not_found
from linli.outbox import emit
from linli.pii import (
    id_number_problem,
    mask_phone,
    name_problem,
    normalize_id_number,
    normalize_name,
    normalize_phone,
    phone_problem,
)
from linli.settings import TERMS_VERSION
from linli.signing import Signer
from orgs import service as orgs_service
from orgs.models import Organization
from volunteer import notices, repository, repository_joining
from volunteer.models import REASON_MAX, Filing, FilingDecision, TeamInvitation, Volunteer

ID_HASH_PURPOSE = "resident-id"


@dataclass(frozen=True)
class Registration:
    name: str
    phone: str
    id_number: str | None
    consent: bool


def registration_problems(reg: Registration, today) -> list[FieldError]:
    """Every bad field of a registration (empty if none); nothing is looked up."""
    name = normalize_name(reg.name or "")
    phone = normalize_phone(reg.phone or "")
    id_number = normalize_id_number(reg.id_number) if reg.id_number else None
    errors = []
    if problem := name_problem(name):
        errors.append(FieldError("name", *problem))
    if problem := phone_problem(phone):
        errors.append(FieldError("phone", *problem))
    if id_number is not None and (problem := id_number_problem(id_number, today)):
        errors.append(FieldError("id_number", *problem))
    if reg.consent is not True:
        errors.append(
            FieldError("consent", "required", "请阅读并同意隐私条款 You must agree to the privacy terms")
        )
    return errors


def register(session: Session, signer: Signer, reg: Registration, *, now: datetime, today) -> Volunteer:
    """Register a volunteer. All fields are checked before anything is written; 422 names each bad one.

    A resident ID number registered already (another phone's) is not told to the caller, who proved
    only the phone: the registration is accepted alike, without the ID bound to it (the last four
    shown as given, no hash, so it proves nothing), and the ID's holder is told by SMS (an
    outbox event), who may ask the hub to settle it. Two people may not both hold an ID, and no
    one learns whose ID is registered by trying.
    """
    if errors := registration_problems(reg, today):
        raise invalid(errors)
    phone = normalize_phone(reg.phone)
    id_number = normalize_id_number(reg.id_number) if reg.id_number else None
    if repository.by_phone(session, phone) is not None:
        raise _phone_taken()
    hashes = signer.keyed_hashes(ID_HASH_PURPOSE, id_number) if id_number else []
    holder = repository.id_holder(session, hashes) if hashes else None
    fields = dict(
        name=normalize_name(reg.name),
        phone=phone,
        id_hash=hashes[0] if hashes and holder is None else None,
        id_last4=id_number[-4:] if id_number else None,
        consent_terms_version=TERMS_VERSION,
        consented_at=now,
        created_at=now,
    )
    try:
        volunteer = _insert(session, fields)
    except IntegrityError:  # a concurrent registration of the same ID won
        holder = repository.id_holder(session, hashes)
        volunteer = _insert(session, fields | {"id_hash": None})
    if holder is not None:
        emit(
            session,
            event="volunteer.id_number_reused",
            job_id=f"id-number-reused-{volunteer.id}",
            args=[holder, mask_phone(phone)],
            now=now,
            known_new=True,
        )
    return volunteer


def _insert(session: Session, fields: dict) -> Volunteer:
    """The new volunteer, in a savepoint: a concurrent registration of the same phone answers
    `phone_taken`; of the same ID, raises the IntegrityError for the caller."""
    volunteer = Volunteer(**fields)
    try:
        with session.begin_nested():
            session.add(volunteer)
    except IntegrityError as exc:
        if "id_hash" in str(exc.orig):
            raise
        raise _phone_taken() from None
    return volunteer


def _phone_taken():
    return conflict(
        "phone_taken", "该手机号已注册，请直接登录 This phone is already registered; please log in"
    )


def id_reuse_notice(session: Session, holder_id: int, new_phone: str) -> tuple[str, str] | None:
    """(phone, text) telling an ID number's holder that a new registration gave it; None if gone."""
    phone = phone_of(session, holder_id)
    if phone is None:
        return None
    return phone, (
        f"您的身份证号被用于注册新的志愿者账号（手机 {new_phone}）。如非本人操作，请联系所在服务中心。"
        f" Your resident ID number was given in a new volunteer registration (phone {new_phone});"
        " if that was not you, please contact your hub."
    )


def find_by_phone(session: Session, phone: str) -> Volunteer | None:
    return repository.by_phone(session, phone)


def get(session: Session, volunteer_id: int) -> Volunteer:
    volunteer = repository.get(session, volunteer_id)
    if volunteer is None:
        raise not_found("志愿者 Volunteer", "volunteer_not_found")
    return volunteer


def lock(session: Session, volunteer_id: int) -> None:
    """Hold the volunteer's row until the transaction ends (one count of their day at a time)."""
    repository.lock_volunteer(session, volunteer_id)


def require_reached(session: Session, volunteer_id: int, paths: list[str]) -> Volunteer:
    """A volunteer that staff over `paths` may name (add hours for, commend): one filed with a
    team there (approved) or who served at an activity there. A volunteer belongs to no single
    organization, so this is their `linli.scope` rule. 404 `volunteer_not_found` for no such
    volunteer, 403 `outside_your_scope` for one of elsewhere (their name is not told)."""
    volunteer = get(session, volunteer_id)
    if not repository.reached_from(session, volunteer_id, paths):
        raise forbidden("该志愿者不在您的管理范围 This volunteer is outside your scope", scope.OUTSIDE)
    return volunteer


def reached(session: Session, volunteer_id: int, paths: list[str]) -> bool:
    """Whether staff over `paths` reach the volunteer (`require_reached`'s rule), without raising."""
    return repository.reached_from(session, volunteer_id, paths)


def phone_of(session: Session, volunteer_id: int) -> str | None:
    """Where a notice to the volunteer goes (None if the volunteer is gone)."""
    volunteer = repository.get(session, volunteer_id)
    return volunteer.phone if volunteer else None


# --- filing (备案) -------------------------------------------------------------------------------


def apply(session: Session, *, volunteer_id: int, team_id: int, now: datetime) -> Filing:
    """Apply to join a team. Open teams approve at once; approval teams wait for staff;
    invitation-only teams accept only a volunteer whose phone was invited."""
    team = orgs_service.get_team(session, team_id)
    volunteer = get(session, volunteer_id)
    if repository.live_filing(session, volunteer_id, team_id) is not None:
        raise conflict("already_filed", f"您已申请加入“{team.name}” You have already applied to this team")
    invitation = None
    if team.join_mode == "invitation":
        invitation = repository.open_invitation(session, team_id, volunteer.phone)
        if invitation is None:
            raise forbidden(f"“{team.name}”仅限受邀加入 This team is by invitation only", "invitation_only")
    filing = Filing(volunteer_id=volunteer_id, team_id=team_id, status="pending", created_at=now)
    try:
        with session.begin_nested():
            session.add(filing)
    except IntegrityError:
        raise conflict(
            "already_filed", f"您已申请加入“{team.name}” You have already applied to this team"
        ) from None
    if team.join_mode == "open":
        _decide(
            session,
            filing,
            "approved",
            by=None,
            reason="开放加入，自动通过 Open team: approved at once",
            now=now,
        )
    elif invitation is not None:
        invitation.used_at = now
        _decide(session, filing, "approved", by=None, reason="受邀加入 Invited", now=now)
    return filing


def decide(
    session: Session,
    *,
    filing_id: int,
    decision: str,
    staff_user_id: int,
    admin_paths: list[str],
    reason: str | None,
    now: datetime,
) -> Filing:
    """A staff member of the team's part of the tree approves or rejects a pending filing."""
    filing = repository.filing(session, filing_id, for_update=True)
    if filing is None:
        raise not_found("备案申请 Filing", "filing_not_found")
    team = orgs_service.get(session, filing.team_id)
    orgs_service.require_admin_of(admin_paths, team)
    reason = (reason or "").strip()
    if decision == "rejected" and not reason:
        raise invalid([FieldError("reason", "required", "驳回时请填写理由 A rejection needs a reason")])
    if len(reason) > REASON_MAX:
        raise invalid([FieldError("reason", "length", "理由最多500字 Reason must be at most 500 characters")])
    if filing.status != "pending":
        raise conflict(
            "filing_already_decided",
            "该申请已处理 This filing has already been decided",
            filing_status=filing.status,
        )
    _decide(session, filing, decision, by=staff_user_id, reason=reason or "同意 Approved", now=now)
    notices.filing_decided(session, filing, team.name, decision, reason, now)  # the inbox commits with it
    return filing


def _decide(
    session: Session, filing: Filing, decision: str, *, by: int | None, reason: str, now: datetime
) -> None:
    filing.status = decision
    filing.decided_at = now
    session.add(
        FilingDecision(filing_id=filing.id, decision=decision, decided_by=by, reason=reason, decided_at=now)
    )
    session.flush()


def invite(
    session: Session, *, team_id: int, phone: str, staff_user_id: int, admin_paths: list[str], now: datetime
):
    team = orgs_service.get_team(session, team_id)
    orgs_service.require_admin_of(admin_paths, team)
    phone = normalize_phone(phone)
    if problem := phone_problem(phone):
        raise invalid([FieldError("phone", *problem)])
    invitation = TeamInvitation(team_id=team.id, phone=phone, invited_by=staff_user_id, created_at=now)
    session.add(invitation)
    session.flush()
    return invitation


def my_invitations(session: Session, volunteer_id: int) -> list[TeamInvitation]:
    """Unused invitations for the volunteer's phone: the invitation-only teams they may join."""
    return repository_joining.open_invitations_for(session, get(session, volunteer_id).phone)


def my_filings(session: Session, volunteer_id: int) -> list[tuple[Filing, Organization]]:
    return repository.filings_of_volunteer(session, volunteer_id)


def filings_for_staff(
    session: Session,
    *,
    staff_paths: list[str],
    status: str | None,
    team_id: int | None,
    after_id: int,
    limit: int,
):
    return repository.filings_in_subtrees(
        session, staff_paths, status=status, team_id=team_id, after_id=after_id, limit=limit
    )


def filing_visible_to(session: Session, *, filing_id: int, volunteer_id: int | None, staff_paths: list[str]):
    """A filing, its team and volunteer, if the caller is that volunteer or staff over the team."""
    filing = repository.filing(session, filing_id)
    if filing is None:
        raise not_found("备案申请 Filing", "filing_not_found")
    team = orgs_service.get(session, filing.team_id)
    if filing.volunteer_id != volunteer_id and not scope.covers(staff_paths, team.path):
        raise forbidden("您无权查看该申请 You may not see this filing", "outside_your_scope")
    return filing, team, get(session, filing.volunteer_id)


def decisions(session: Session, filing_id: int) -> list[FilingDecision]:
    return repository.decisions_of(session, filing_id)


def approved_members(session: Session, team_id: int) -> list[Volunteer]:
    return repository.approved_members(session, team_id)


def team_paths(session: Session, volunteer_id: int) -> list[str]:
    """The organization paths of the teams a volunteer is filed with (approved)."""
    return [path for _, path in repository.approved_team_paths(session, volunteer_id)]


def names_of(session: Session, volunteer_ids: set[int]) -> dict[int, str]:
    """Volunteers' names by id (none asked, none read)."""
    return repository.names_of(session, volunteer_ids) if volunteer_ids else {}


# Read by points (积分读取) ------------------------------------------------------------------------


def lock_volunteers_of_attendances(session: Session, attendance_ids) -> None:
    """Lock the volunteers of these attendances, in id order (settling their awards takes them
    before any ledger account, so each volunteer's attendances are settled one transaction at a time)."""
    repository.lock_volunteers_of_attendances(session, attendance_ids)


def attendances_with_kind_and_path(session: Session, attendance_ids) -> list:
    """(attendance, its activity's kind, the path of the activity's organization) for each of these
    attendances that exists."""
    return repository.attendances_with_kind_and_path(session, attendance_ids)


def attendance_of_correction(session: Session, correction_id: int) -> int | None:
    """The id of the attendance a correction corrects (None: no such correction)."""
    return repository.attendance_of_correction(session, correction_id)


def card_is_current(session: Session, volunteer_id: int, card_version: int) -> bool:
    """Whether the volunteer exists and this is their card now (not one replaced since)."""
    volunteer = repository.get(session, volunteer_id)
    return volunteer is not None and volunteer.card_version == card_version
