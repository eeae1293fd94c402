"""Use cases of accounts: staff users, logins by code or password, tokens, API keys (认证)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from accounts import repository
from accounts.models import EXPORT_ROLE, ROLES, ApiKey, AuthToken, LoginCode, RoleGrant, StaffUser
from accounts.principal import Grant, Principal
from linli.errors import FieldError, LinliError, invalid, not_found, too_many, unauthorized
from linli.outbox import emit
from linli.pii import normalize_phone, phone_problem
from linli.signing import Signer, sha256_hex
from orgs import service as orgs_service
from volunteer import service as volunteer_service
from volunteer.models import Volunteer

_hasher = PasswordHasher()

TOKEN_PREFIX = "lt_"
API_KEY_PREFIX = "lk_"

# Login codes: how long one lives, how often one may be asked for, how many wrong tries it survives.
CODE_RESEND_SECONDS = 60
CODE_RESEND_MAX_SECONDS = 600
CODES_PER_ADDRESS_PER_HOUR = 20
CODE_MAX_FAILED_ATTEMPTS = 5


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    kind: str  # volunteer | staff


# --- staff users -------------------------------------------------------------------------------


def create_staff_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    org_id: int | None = None,
    partner_id: int | None = None,
    station_id: int | None = None,
    display_name: str | None = None,
    now: datetime,
) -> StaffUser:
    errors = []
    if not 3 <= len(username) <= 60:
        errors.append(
            FieldError("username", "length", "用户名应为3到60个字符 Username must be 3 to 60 characters")
        )
    if len(password) < 8:
        errors.append(
            FieldError("password", "too_short", "密码至少8位 Password must be at least 8 characters")
        )
    if role not in ROLES:
        errors.append(
            FieldError(
                "role",
                "invalid_choice",
                "角色应为 admin、coordinator 或 partner 之一 Role must be admin, coordinator or partner",
            )
        )
    elif role == "partner" and (partner_id is None or orgs_service.find_partner(session, partner_id) is None):
        errors.append(FieldError("partner_id", "not_found", "合作企业不存在 Partner enterprise not found"))
    elif role != "partner" and (org_id is None or orgs_service.find(session, org_id) is None):
        errors.append(FieldError("org_id", "not_found", "组织不存在 Organization not found"))
    if errors:
        raise invalid(errors)
    user = repository.staff_by_username(session, username)
    if user is None:
        user = StaffUser(
            username=username,
            password_hash=_hasher.hash(password),
            display_name=display_name or username,
            active=True,
            created_at=now,
        )
        session.add(user)
        session.flush()
    session.add(
        RoleGrant(
            user_id=user.id,
            role=role,
            org_id=None if role == "partner" else org_id,
            partner_id=partner_id if role == "partner" else None,
            station_id=station_id,
            created_at=now,
        )
    )
    session.flush()
    return user


def create_guest(
    session: Session, *, phone: str, display_name: str, now: datetime
) -> tuple[StaffUser, str | None]:
    """A guest (an outside reviewer a hub invites): a staff user named by their phone, with no
    role grant, so they reach nothing but what they are invited to. Returns the user and a new
    password to pass on once (None if the phone already has a staff login, which is kept)."""
    phone = normalize_phone(phone)
    problem = phone_problem(phone)
    if problem:
        raise invalid([FieldError("phone", *problem)])
    user = repository.staff_by_username(session, phone)
    if user is not None:
        return user, None
    password = secrets.token_urlsafe(9)
    user = StaffUser(
        username=phone,
        password_hash=_hasher.hash(password),
        display_name=display_name.strip()[:60] or phone,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user, password


def grant_paths(session: Session, user_id: int) -> list[str]:
    return repository.grant_paths(session, user_id)


def roles_over(session: Session, user_id: int) -> list[tuple[str, str]]:
    """(role, organization path) of a staff user's grants over organizations."""
    return repository.roles_over(session, user_id)


def add_export_grant(session: Session, *, user_id: int, county_id: int, now: datetime) -> RoleGrant:
    """The export grant (`records_export`) over a county base; the same grant again is the one
    already held. Who may give it, and to whom, is `records.identity.grant_export`'s to check."""
    grant = repository.grant_over(session, user_id, EXPORT_ROLE, county_id)
    if grant is None:
        grant = RoleGrant(user_id=user_id, role=EXPORT_ROLE, org_id=county_id, created_at=now)
        session.add(grant)
        session.flush()
    return grant


def find_staff(session: Session, username: str) -> StaffUser | None:
    return repository.staff_by_username(session, username)


def staff_user(session: Session, user_id: int) -> StaffUser:
    user = repository.staff(session, user_id)
    if user is None:
        raise not_found("工作人员 Staff user", "staff_user_not_found")
    return user


# --- tokens ------------------------------------------------------------------------------------


def issue_token(
    session: Session,
    *,
    now: datetime,
    ttl_seconds: int,
    staff_user_id: int | None = None,
    volunteer_id: int | None = None,
) -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = AuthToken(
        token_hash=sha256_hex(token),
        staff_user_id=staff_user_id,
        volunteer_id=volunteer_id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    session.add(row)
    session.flush()
    kind = "staff" if staff_user_id is not None else "volunteer"
    return IssuedToken(token=token, expires_at=row.expires_at, kind=kind)


def authenticate(session: Session, bearer: str, now: datetime) -> Principal:
    """The principal behind a bearer token or partner API key; 401 if none is live."""
    if bearer.startswith(API_KEY_PREFIX):
        key = repository.live_api_key(session, sha256_hex(bearer))
        if key is None:
            raise unauthorized("API 密钥无效或已吊销 The API key is invalid or revoked", "invalid_token")
        return Principal(kind="api_key", partner_id=key.partner_id)
    rows = repository.token_with_grants(session, sha256_hex(bearer), now)  # one round trip
    if not rows:
        raise unauthorized("登录已失效，请重新登录 The token is invalid, expired or revoked", "invalid_token")
    token_id, staff_user_id, volunteer_id, active, expires_at = rows[0][:5]
    if staff_user_id is None:
        return Principal(
            kind="volunteer", volunteer_id=volunteer_id, token_id=token_id, expires_at=expires_at
        )
    if not active:
        raise unauthorized("账号已停用 The account is disabled", "invalid_token")
    grants = tuple(
        Grant(role=role, org_id=org_id, org_path=path, partner_id=partner_id, station_id=station_id)
        for *_, role, org_id, partner_id, station_id, path in rows
        if role is not None
    )
    return Principal(
        kind="staff", staff_user_id=staff_user_id, token_id=token_id, expires_at=expires_at, grants=grants
    )


def revoke(session: Session, principal: Principal, now: datetime) -> None:
    if principal.token_id is not None:
        repository.revoke_token(session, principal.token_id, now)


_stand_in: dict = {}  # by hasher: a hash of no one's password, made with its parameters


def _stand_in_hash() -> str:
    if _hasher not in _stand_in:
        _stand_in.clear()
        _stand_in[_hasher] = _hasher.hash(secrets.token_urlsafe(16))
    return _stand_in[_hasher]


def login_with_password(
    session: Session, *, username: str, password: str, now: datetime, ttl: int
) -> IssuedToken:
    user = repository.staff_by_username(session, username)
    known = user is not None and user.active
    try:
        # an unknown or inactive name costs the same hash as a wrong password: the answer's time
        # must not tell who has an account
        ok = _hasher.verify(user.password_hash if known else _stand_in_hash(), password) and known
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise unauthorized("用户名或密码不正确 Wrong username or password", "invalid_credentials")
    return issue_token(session, now=now, ttl_seconds=ttl, staff_user_id=user.id)


def create_api_key(session: Session, *, partner_id: int, name: str, created_by: int | None, now: datetime):
    """A new API key for a partner enterprise: (row, the key in clear, shown this once)."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 60:
        raise invalid([FieldError("name", "length", "名称应为1到60个字 Name must be 1 to 60 characters")])
    if orgs_service.find_partner(session, partner_id) is None:
        raise not_found("合作企业 Partner enterprise", "partner_not_found")
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        partner_id=partner_id,
        name=name,
        prefix=key[:10],
        key_hash=sha256_hex(key),
        created_by=created_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, key


def api_keys(session: Session, partner_id: int, *, before_id: int, limit: int) -> list[ApiKey]:
    """A page of a partner's keys, newest first (their prefixes, never the keys)."""
    return repository.api_keys(session, partner_id, before_id, limit)


def revoke_api_key(session: Session, partner_id: int, key_id: int, now: datetime) -> ApiKey:
    key = repository.api_key(session, partner_id, key_id)
    if key is None:
        raise not_found("API 密钥 API key", "api_key_not_found")
    if key.revoked_at is None:  # revoking twice changes nothing
        key.revoked_at = now
    return key


# --- login codes -------------------------------------------------------------------------------
#
# Limits slow an attacker down without locking the owner out. A code goes to the phone whoever
# asks, so an attacker's requests put fresh codes in the owner's hands; every live code of a phone
# logs in (a newer one does not void an older); a code dies after 5 wrong tries (each wrong try
# counts against every live code of the phone), and a fresh one may be asked for after a cool-down
# that grows with the unused codes of the last hour (60 s twice, then doubling up to 10 minutes),
# never an hour's lock. Every failure answers the same `invalid_code`, whether the phone is
# registered or not, and whether its codes were wrong, used, expired or worn out.


def resend_wait(unused: int) -> int:
    """Seconds to wait before another code, with `unused` codes of the phone asked in the last hour."""
    if unused <= 0:
        return 0
    return min(CODE_RESEND_SECONDS * 2 ** max(0, unused - 2), CODE_RESEND_MAX_SECONDS)


def request_code(
    session: Session, signer: Signer, *, phone: str, client_ip: str, now: datetime, ttl: int
) -> int:
    """Send a one-time code to a phone, registered or not (registration proves the phone with it);
    returns the seconds before another may be asked.

    The work and the answer are the same whether or not the phone is registered, so the endpoint
    cannot be used to find out who volunteers; the limits count every request.
    """
    phone = normalize_phone(phone)
    problem = phone_problem(phone)
    if problem:
        raise invalid([FieldError("phone", *problem)])
    unused, newest = repository.codes_since(session, phone=phone, since=now - timedelta(hours=1))
    if newest is not None and (wait := resend_wait(unused) - int((now - newest).total_seconds())) > 0:
        raise too_many(f"请{wait}秒后再获取验证码 Wait {wait} s before asking for another code", wait)
    count, _ = repository.codes_since(session, client_ip=client_ip, since=now - timedelta(hours=1))
    if count >= CODES_PER_ADDRESS_PER_HOUR:
        raise too_many("本设备获取验证码过于频繁 Too many codes from this address this hour", 3600)

    code = f"{secrets.randbelow(10**6):06d}"
    row = LoginCode(
        phone=phone,
        code_hash=signer.keyed_hash("login-code", f"{phone}:{code}"),
        client_ip=client_ip,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        failed_attempts=0,
    )
    session.add(row)
    session.flush()
    emit(session, event="login_code.issued", job_id=f"login-code-{row.id}", args=[phone, code], now=now)
    return resend_wait(unused + 1)


def _wrong_code() -> LinliError:
    # commit: the wrong try counted against the live codes is kept although the request fails
    return LinliError(
        code="invalid_code",
        detail="验证码不正确或已失效，请重新获取 The code is wrong or no longer valid; ask for a new one",
        status=401,
        title="未登录 Unauthorized",
        commit=True,
    )


def _proven(session: Session, signer: Signer, phone: str, code: str, now: datetime) -> LoginCode:
    """The live code of `phone` that `code` is (not yet marked used); 401 invalid_code otherwise,
    one wrong try counted against every live code of the phone."""
    live = repository.live_codes(session, phone, now, CODE_MAX_FAILED_ATTEMPTS)
    hashes = signer.keyed_hashes("login-code", f"{phone}:{code.strip()}")
    for row in live:
        if row.code_hash in hashes:
            return row
    for row in live:
        row.failed_attempts += 1
    raise _wrong_code()


def login_with_code(
    session: Session,
    signer: Signer,
    *,
    phone: str,
    code: str,
    now: datetime,
    ttl: int,
    kind: str | None = None,
) -> IssuedToken:
    """A token for a phone proven by its code: the volunteer registered with it, or else the guest
    (an outside reviewer a hub invited, `create_guest`) named by it; `kind` picks one where the
    phone is both. Staff with a role grant log in with their password only."""
    phone = normalize_phone(phone)
    row = _proven(session, signer, phone, code, now)
    volunteer = volunteer_service.find_by_phone(session, phone) if kind != "staff" else None
    guest = repository.guest_by_phone(session, phone) if volunteer is None and kind != "volunteer" else None
    if guest is not None:
        row.used_at = now
        return issue_token(session, now=now, ttl_seconds=ttl, staff_user_id=guest.id)
    if volunteer is None:  # the caller proved the phone: it may know; the code stays for registering
        raise LinliError(
            code="not_registered",
            detail="该手机号尚未注册，请先注册 This phone is not registered; please register first",
            status=404,
            title="未找到 Not found",
        )
    row.used_at = now
    return issue_token(session, now=now, ttl_seconds=ttl, volunteer_id=volunteer.id)


def register_volunteer(
    session: Session,
    signer: Signer,
    reg: volunteer_service.Registration,
    *,
    code: str,
    now: datetime,
    today: date,
    ttl: int,
) -> tuple[Volunteer, IssuedToken]:
    """Register a volunteer whose phone is proven by a login code, and log them in.

    422 names every bad field (the code's absence too); then a wrong code answers `invalid_code`
    as a login does, the same for every phone. Only a caller who proved the phone learns that it is
    registered (409 `phone_taken`; the code is kept, so it logs in). A resident ID number already
    registered is never told to the caller: see `volunteer.service.register`.
    """
    errors = volunteer_service.registration_problems(reg, today)
    if not (code or "").strip():
        errors.append(FieldError("code", "required", "请填写短信验证码 Enter the code sent to your phone"))
    if errors:
        raise invalid(errors)
    row = _proven(session, signer, normalize_phone(reg.phone), code, now)
    volunteer = volunteer_service.register(session, signer, reg, now=now, today=today)
    row.used_at = now
    return volunteer, issue_token(session, now=now, ttl_seconds=ttl, volunteer_id=volunteer.id)


def prune(session: Session, now: datetime) -> dict[str, int]:
    """Housekeeping: login codes older than a day, tokens dead for 30 days."""
    return {
        "login_codes": repository.delete_codes_before(session, now - timedelta(days=1)),
        "auth_tokens": repository.delete_tokens_expired_before(session, now - timedelta(days=30)),
    }
