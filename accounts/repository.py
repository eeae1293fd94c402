"""Queries on staff users, grants, tokens, API keys and login codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from accounts.models import ApiKey, AuthToken, LoginCode, RoleGrant, StaffUser
from orgs.models import Organization


def staff_by_username(session: Session, username: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.username == username))


def guest_by_phone(session: Session, phone: str) -> StaffUser | None:
    """An active guest login (a staff user named by this phone with no role grant at all)."""
    granted = select(RoleGrant.id).where(RoleGrant.user_id == StaffUser.id).exists()
    return session.scalar(
        select(StaffUser).where(StaffUser.username == phone, StaffUser.active.is_(True), ~granted)
    )


def staff(session: Session, user_id: int) -> StaffUser | None:
    return session.get(StaffUser, user_id)


def token_with_grants(session: Session, token_hash: str, now: datetime) -> list[tuple]:
    """A live token with its staff user's grants, one row per grant (one row, no grant, for volunteers):
    (token id, staff user id, volunteer id, active, expires at, role, org id, partner id, station id, path)."""
    q = (
        select(
            AuthToken.id,
            AuthToken.staff_user_id,
            AuthToken.volunteer_id,
            StaffUser.active,
            AuthToken.expires_at,
            RoleGrant.role,
            RoleGrant.org_id,
            RoleGrant.partner_id,
            RoleGrant.station_id,
            Organization.path,
        )
        .outerjoin(StaffUser, StaffUser.id == AuthToken.staff_user_id)
        .outerjoin(RoleGrant, RoleGrant.user_id == AuthToken.staff_user_id)
        .outerjoin(Organization, Organization.id == RoleGrant.org_id)
        .where(AuthToken.token_hash == token_hash, AuthToken.revoked_at.is_(None), AuthToken.expires_at > now)
        .order_by(RoleGrant.id)
    )
    return [tuple(r) for r in session.execute(q)]


def live_api_key(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))


def api_keys(session: Session, partner_id: int, before_id: int, limit: int) -> list[ApiKey]:
    q = select(ApiKey).where(ApiKey.partner_id == partner_id)
    if before_id:
        q = q.where(ApiKey.id < before_id)
    return list(session.scalars(q.order_by(ApiKey.id.desc()).limit(limit)))


def api_key(session: Session, partner_id: int, key_id: int) -> ApiKey | None:
    """One of a partner's keys, locked."""
    return session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.partner_id == partner_id).with_for_update()
    )


def revoke_token(session: Session, token_id: int, now: datetime) -> None:
    session.execute(update(AuthToken).where(AuthToken.id == token_id).values(revoked_at=now))


def codes_since(session: Session, *, phone: str | None = None, client_ip: str | None = None, since: datetime):
    """(count, newest created_at) of login codes requested since a time: by address, every one;
    by phone, those not used (a code someone logged in with was the owner's, not an attacker's)."""
    q = select(func.count(LoginCode.id), func.max(LoginCode.created_at)).where(LoginCode.created_at >= since)
    if phone is not None:
        q = q.where(LoginCode.phone == phone, LoginCode.used_at.is_(None))
    else:
        q = q.where(LoginCode.client_ip == client_ip)
    count, newest = session.execute(q).one()
    return count, newest


def live_codes(session: Session, phone: str, now: datetime, max_failed: int) -> list[LoginCode]:
    """A phone's codes that may still be used (not used, not expired, not worn out by wrong tries), locked."""
    return list(
        session.scalars(
            select(LoginCode)
            .where(
                LoginCode.phone == phone,
                LoginCode.used_at.is_(None),
                LoginCode.expires_at > now,
                LoginCode.failed_attempts < max_failed,
            )
            .order_by(LoginCode.id)
            .with_for_update()
        )
    )


def delete_codes_before(session: Session, before: datetime) -> int:
    return session.execute(delete(LoginCode).where(LoginCode.created_at < before)).rowcount


def delete_tokens_expired_before(session: Session, before: datetime) -> int:
    return session.execute(delete(AuthToken).where(AuthToken.expires_at < before)).rowcount


def grant_paths(session: Session, user_id: int) -> list[str]:
    """The paths of the organizations a staff user holds an admin or coordinator grant over."""
    q = select(Organization.path).join(RoleGrant, RoleGrant.org_id == Organization.id)
    return list(session.scalars(q.where(RoleGrant.user_id == user_id)))


def roles_over(session: Session, user_id: int) -> list[tuple[str, str]]:
    """(role, organization path) of a staff user's grants over organizations."""
    q = select(RoleGrant.role, Organization.path).join(Organization, Organization.id == RoleGrant.org_id)
    return [(r[0], r[1]) for r in session.execute(q.where(RoleGrant.user_id == user_id))]


def grant_over(session: Session, user_id: int, role: str, org_id: int) -> RoleGrant | None:
    return session.scalar(
        select(RoleGrant).where(RoleGrant.user_id == user_id, RoleGrant.role == role, RoleGrant.org_id == org_id)
    )
