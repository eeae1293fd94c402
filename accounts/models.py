from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime

ROLES = ("admin", "coordinator", "partner")
# the export grant (导出授权): a county admin may decrypt identity numbers (records.identity);
# given over a county base, beside an admin grant, never on its own at user creation
EXPORT_ROLE = "records_export"


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    display_name: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoleGrant(Base):
    """A role over a part of the world: admin or coordinator over an organization's subtree
    (a coordinator optionally bound to one station), partner over one partner enterprise."""

    __tablename__ = "role_grants"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'coordinator', 'partner', 'records_export')", name="role"),
        CheckConstraint(
            "(role = 'partner' AND partner_id IS NOT NULL AND org_id IS NULL)"
            " OR (role <> 'partner' AND org_id IS NOT NULL AND partner_id IS NULL)",
            name="scope",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthToken(Base):
    """An opaque bearer token; only its SHA-256 is stored."""

    __tablename__ = "auth_tokens"
    __table_args__ = (
        CheckConstraint("(staff_user_id IS NULL) <> (volunteer_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """A partner enterprise's API key, shown once; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    prefix: Mapped[str] = mapped_column(String(20))  # shown in lists so people can tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginCode(Base):
    """A one-time login code sent to a phone: stored keyed-hashed, expires, single use."""

    __tablename__ = "login_codes"
    __table_args__ = (
        Index("ix_login_codes_phone_created", "phone", "created_at"),
        Index("ix_login_codes_ip_created", "client_ip", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(11))
    code_hash: Mapped[str] = mapped_column(String(100))
    client_ip: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
