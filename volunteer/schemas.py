"""What goes in and out of the volunteer endpoints (msgspec Structs; ORM objects never leak)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from linli.pii import mask_phone
from orgs.models import Organization
from volunteer.models import Filing, FilingDecision, Volunteer


class VolunteerCreate(msgspec.Struct, forbid_unknown_fields=False):
    name: str = ""
    phone: str = ""
    id_number: str | None = None
    consent: bool = False


class VolunteerRead(msgspec.Struct):
    id: int
    name: str
    phone: str  # masked: 138****5678
    id_number_last4: str | None
    consent_terms_version: str
    consented_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, v: Volunteer) -> VolunteerRead:
        return cls(
            id=v.id,
            name=v.name,
            phone=mask_phone(v.phone),
            id_number_last4=v.id_last4,
            consent_terms_version=v.consent_terms_version,
            consented_at=v.consented_at,
            created_at=v.created_at,
        )


class FilingRead(msgspec.Struct):
    id: int
    team_id: int
    team_name: str
    status: str  # pending | approved | rejected
    created_at: datetime
    decided_at: datetime | None
    volunteer_id: int
    volunteer_name: str | None = None  # shown to staff only
    volunteer_phone: str | None = None  # masked

    @classmethod
    def of(cls, f: Filing, team: Organization, volunteer: Volunteer | None = None) -> FilingRead:
        return cls(
            id=f.id,
            team_id=team.id,
            team_name=team.name,
            status=f.status,
            created_at=f.created_at,
            decided_at=f.decided_at,
            volunteer_id=f.volunteer_id,
            volunteer_name=volunteer.name if volunteer else None,
            volunteer_phone=mask_phone(volunteer.phone) if volunteer else None,
        )


class FilingPage(msgspec.Struct):
    items: list[FilingRead]
    next: str | None


class DecisionRead(msgspec.Struct):
    decision: str
    decided_by: int | None  # staff user id; null when the team's rule decided (open team, invitation)
    reason: str
    decided_at: datetime

    @classmethod
    def of(cls, d: FilingDecision) -> DecisionRead:
        return cls(decision=d.decision, decided_by=d.decided_by, reason=d.reason, decided_at=d.decided_at)


class FilingDetail(msgspec.Struct):
    filing: FilingRead
    decisions: list[DecisionRead]


class RejectBody(msgspec.Struct):
    reason: str = ""


class ApproveBody(msgspec.Struct):
    reason: str | None = None


class InvitationCreate(msgspec.Struct):
    phone: str = ""


class InvitationRead(msgspec.Struct):
    id: int
    team_id: int
    phone: str  # masked
    created_at: datetime
