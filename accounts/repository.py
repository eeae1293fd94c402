"""Queries on staff users, grants, tokens, API keys and login codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from accounts.models import ApiKey, AuthToken, LoginCode, RoleGrant, StaffUser
from orgs.models import Organization


def staff_by_username(session: Session, username: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.username == username))


def staff(session: Session, user_id: int) -> StaffUser | None:
    return session.get(StaffUser, user_id)


def grants_of(session: Session, user_id: int) -> list[tuple[RoleGrant, str | None]]:
    q = (
        select(RoleGrant, Organization.path)
        .outerjoin(Organization, Organization.id == RoleGrant.org_id)
        .where(RoleGrant.user_id == user_id)
        .order_by(RoleGrant.id)
    )
    return [(g, path) for g, path in session.execute(q)]


def live_token(session: Session, token_hash: str, now: datetime) -> AuthToken | None:
    return session.scalar(
        select(AuthToken).where(
            AuthToken.token_hash == token_hash, AuthToken.revoked_at.is_(None), AuthToken.expires_at > now
        )
    )


def live_api_key(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))


def revoke_token(session: Session, token_id: int, now: datetime) -> None:
    session.execute(update(AuthToken).where(AuthToken.id == token_id).values(revoked_at=now))


def codes_since(session: Session, *, phone: str | None = None, client_ip: str | None = None, since: datetime):
    """(count, newest created_at) of login codes requested since a time, by phone or by address."""
    q = select(func.count(LoginCode.id), func.max(LoginCode.created_at)).where(LoginCode.created_at >= since)
    q = q.where(LoginCode.phone == phone) if phone is not None else q.where(LoginCode.client_ip == client_ip)
    count, newest = session.execute(q).one()
    return count, newest


def latest_code(session: Session, phone: str) -> LoginCode | None:
    return session.scalar(
        select(LoginCode)
        .where(LoginCode.phone == phone)
        .order_by(LoginCode.id.desc())
        .limit(1)
        .with_for_update()
    )
