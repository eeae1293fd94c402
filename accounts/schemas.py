from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from volunteer.schemas import VolunteerRead


class CodeRequest(msgspec.Struct):
    phone: str = ""


class CodeRequested(msgspec.Struct):
    sent: bool  # always true: the answer does not tell whether the phone is registered
    expires_in: int
    resend_after: int  # seconds before another code may be asked for this phone


class Registered(VolunteerRead, kw_only=True):
    """A new volunteer (as `VolunteerRead`), logged in: the phone was proven by its code."""

    token: str
    token_type: str
    expires_at: datetime


class TokenRequest(msgspec.Struct):
    phone: str | None = None
    code: str | None = None
    # with phone+code: "staff" logs in a guest reviewer whose phone is also a volunteer's
    kind: Literal["volunteer", "staff"] | None = None
    username: str | None = None
    password: str | None = None


class TokenRead(msgspec.Struct):
    token: str
    token_type: str
    expires_at: datetime
    kind: str  # volunteer | staff


class GrantRead(msgspec.Struct):
    role: str
    org_id: int | None = None
    partner_id: int | None = None
    station_id: int | None = None


class MeRead(msgspec.Struct):
    kind: str  # volunteer | staff | api_key
    volunteer: VolunteerRead | None = None
    staff_user_id: int | None = None
    username: str | None = None
    display_name: str | None = None
    grants: list[GrantRead] = msgspec.field(default_factory=list)
    partner_id: int | None = None
