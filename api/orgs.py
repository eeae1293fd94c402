"""The organization tree and partner API keys, for staff (组织管理)."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from sqlalchemy.orm import Session

from accounts import service as accounts_service
from accounts.principal import Principal
from api.deps import (
    AUTH,
    Cursor,
    Id,
    Limit,
    forget_api_keys,
    next_cursor,
    page,
    require_staff,
)
from api.problems import problems
from linli.errors import forbidden
from linli.runtime import Runtime
from orgs import service
from orgs.models import ORG_KINDS
from orgs.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyRead,
    OrganizationContacts,
    OrganizationCreate,
    OrganizationPage,
    OrganizationRead,
    StationPage,
    StationRead,
)
from reports.service import partner_of


class OrganizationController(Controller):
    path = "/api/v1"
    tags = ["组织 organizations"]
    dependencies = AUTH

    @get(
        "/organizations",
        operation_id="listOrganizations",
        sync_to_thread=True,
        summary="Organizations in the staff member's part of the tree",
        responses=problems(_403="staff_only"),
    )
    def list_orgs(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        kind: FromQuery[Literal[ORG_KINDS] | None] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> OrganizationPage:
        require_staff(principal, "admin", "coordinator")
        after, limit = page(cursor, limit)
        orgs = service.list_for_staff(
            session, staff_paths=principal.staff_paths, kind=kind, after_id=after, limit=limit
        )
        items = [OrganizationRead.of(o) for o in orgs]
        return OrganizationPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @get(
        "/stations",
        operation_id="listStations",
        sync_to_thread=True,
        summary="Stations staff may name on an activity: their part of the tree's, and every shared one",
        responses=problems(_403="staff_only"),
    )
    def list_stations(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> StationPage:
        require_staff(principal, "admin", "coordinator")
        after, limit = page(cursor, limit)
        rows = service.stations_for_staff(
            session, staff_paths=principal.staff_paths, after_id=after, limit=limit
        )
        items = [StationRead.of(s) for s in rows]
        return StationPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @post(
        "/organizations",
        operation_id="createOrganization",
        status_code=201,
        sync_to_thread=True,
        summary="Create a hub, organization or team one level under an organization you administer",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope", _404="organization_not_found"
        ),
    )
    def create_org(
        self,
        data: JSONBody[OrganizationCreate],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> OrganizationRead:
        require_staff(principal, "admin")
        service.require_admin_of(principal.admin_paths, service.get(session, data.parent_id))
        org = service.create_child(
            session,
            parent_id=data.parent_id,
            name=data.name,
            join_mode=data.join_mode,
            now=rt.clock.now(),
        )
        return OrganizationRead.of(org)

    @patch(
        "/organizations/{org_id:int}",
        operation_id="updateOrganizationContacts",
        sync_to_thread=True,
        summary="Set who is in charge of an organization you administer and its contact phone "
        "(printed on the certificates it issues)",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="organization_not_found",
            _422="validation_failed (person_in_charge: length; contact_phone: invalid_phone)",
        ),
    )
    def update_contacts(
        self,
        org_id: Id,
        data: JSONBody[OrganizationContacts],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
    ) -> OrganizationRead:
        require_staff(principal, "admin")
        org = service.get(session, org_id)
        service.require_admin_of(principal.admin_paths, org)
        return OrganizationRead.of(
            service.set_contacts(
                session, org, person_in_charge=data.person_in_charge, contact_phone=data.contact_phone
            )
        )

    @post(
        "/partners/{partner_id:int}/api-keys",
        operation_id="createPartnerApiKey",
        status_code=201,
        sync_to_thread=True,
        summary="A new API key for a partner enterprise (its own users, or county administrators); shown once",
        responses=problems(_403="staff_only, county_admins_only", _404="partner_not_found"),
    )
    def create_api_key(
        self,
        partner_id: Id,
        data: JSONBody[ApiKeyCreate],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ApiKeyCreated:
        staff_id = _key_keeper(session, principal, partner_id)
        row, key = accounts_service.create_api_key(
            session, partner_id=partner_id, name=data.name, created_by=staff_id, now=rt.clock.now()
        )
        return ApiKeyCreated(
            id=row.id, partner_id=row.partner_id, name=row.name, key=key, created_at=row.created_at
        )

    @get(
        "/partners/{partner_id:int}/api-keys",
        operation_id="listPartnerApiKeys",
        sync_to_thread=True,
        summary="A partner enterprise's API keys: names and prefixes, never the keys",
        responses=problems(_403="staff_only, county_admins_only"),
    )
    def list_api_keys(
        self,
        partner_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ApiKeyPage:
        _key_keeper(session, principal, partner_id)
        before, limit = page(cursor, limit)
        keys = accounts_service.api_keys(session, partner_id, before_id=before, limit=limit)
        items = [ApiKeyRead.of(k) for k in keys]
        return ApiKeyPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @post(
        "/partners/{partner_id:int}/api-keys/{key_id:int}/revoke",
        operation_id="revokePartnerApiKey",
        status_code=200,
        sync_to_thread=True,
        summary="Revoke a partner's API key: it stops working at once",
        responses=problems(_403="staff_only, county_admins_only", _404="api_key_not_found"),
    )
    def revoke_api_key(
        self,
        partner_id: Id,
        key_id: Id,
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> ApiKeyRead:
        with rt.tx() as session:
            _key_keeper(session, principal, partner_id)
            key = ApiKeyRead.of(accounts_service.revoke_api_key(session, partner_id, key_id, rt.clock.now()))
        forget_api_keys(partner_id)
        return key


def _key_keeper(session, principal: Principal, partner_id: int) -> int:
    """Who may manage a partner's API keys: the partner's own users, or county administrators."""
    staff_id = require_staff(principal)
    if partner_of(principal) == partner_id:
        return staff_id
    if principal.has_role("admin") and any(service.is_root_path(session, p) for p in principal.admin_paths):
        return staff_id
    raise forbidden(
        "仅该企业用户或县级管理员 The partner's own users or county administrators only", "county_admins_only"
    )
