from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from linli.bounds import RowId, by_service
from orgs.models import JOIN_MODES, Organization, Station


class OrganizationRead(msgspec.Struct):
    id: int
    parent_id: int | None
    kind: str  # base | hub | organization | team
    name: str
    join_mode: str | None  # teams only: open | approval | invitation
    person_in_charge: str | None = None  # 负责人, printed on its certificates
    contact_phone: str | None = None  # 联系电话, printed on its certificates

    @classmethod
    def of(cls, o: Organization) -> OrganizationRead:
        return cls(
            id=o.id,
            parent_id=o.parent_id,
            kind=o.kind,
            name=o.name,
            join_mode=o.join_mode,
            person_in_charge=o.person_in_charge,
            contact_phone=o.contact_phone,
        )


class OrganizationPage(msgspec.Struct):
    items: list[OrganizationRead]
    next: str | None


class StationRead(msgspec.Struct):
    id: int
    org_id: int
    name: str
    kind: str  # venue | counter
    shared: bool  # any organization may book it (one activity at a time, as everywhere)

    @classmethod
    def of(cls, s: Station) -> StationRead:
        return cls(id=s.id, org_id=s.org_id, name=s.name, kind=s.kind, shared=s.shared)


class StationPage(msgspec.Struct):
    items: list[StationRead]
    next: str | None


class OrganizationCreate(msgspec.Struct):
    parent_id: RowId
    name: str = ""
    join_mode: Annotated[str | None, by_service(choices=(*JOIN_MODES, None))] = None  # teams only


class OrganizationContacts(msgspec.Struct):
    """What its certificates print: each field sent is set ("" clears it), each left out is kept."""

    person_in_charge: str | None = None
    contact_phone: str | None = None


class ApiKeyCreate(msgspec.Struct):
    name: str = "default"


class ApiKeyRead(msgspec.Struct):
    id: int
    partner_id: int
    name: str
    prefix: str  # the key's first characters, to tell keys apart
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, k) -> ApiKeyRead:
        return cls(
            id=k.id,
            partner_id=k.partner_id,
            name=k.name,
            prefix=k.prefix,
            created_at=k.created_at,
            revoked_at=k.revoked_at,
        )


class ApiKeyPage(msgspec.Struct):
    items: list[ApiKeyRead]
    next: str | None


class ApiKeyCreated(msgspec.Struct):
    id: int
    partner_id: int
    name: str
    key: str  # shown this once; only its hash is kept
    created_at: datetime
