"""The organization tree and partner API keys, for staff (组织管理)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from accounts import service as accounts_service
from accounts.principal import Principal
from api.deps import next_cursor, page, provide_principal, require_staff
from api.problems import problems
from linli.errors import forbidden
from linli.runtime import Runtime
from orgs import service
from orgs.schemas import ApiKeyCreate, ApiKeyCreated, OrganizationCreate, OrganizationPage, OrganizationRead


class OrganizationController(Controller):
    path = "/api/v1"
    tags = ["组织 organizations"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=True)}

    @get(
        "/organizations",
        operation_id="listOrganizations",
        sync_to_thread=True,
        summary="Organizations in the staff member's part of the tree",
        responses=problems(_401="missing_token, invalid_token", _403="staff_only", _422="validation_failed"),
    )
    def list_orgs(
        self,
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
        kind: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> OrganizationPage:
        require_staff(principal, "admin", "coordinator")
        after, limit = page(cursor, limit)
        with rt.tx() as session:
            orgs = service.list_for_staff(
                session, staff_paths=principal.staff_paths, kind=kind, after_id=after, limit=limit
            )
            items = [OrganizationRead.of(o) for o in orgs]
        return OrganizationPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @post(
        "/organizations",
        operation_id="createOrganization",
        status_code=201,
        sync_to_thread=True,
        summary="Create a hub, organization or team one level under an organization you administer",
        responses=problems(
            _401="missing_token, invalid_token",
            _403="staff_only, role_required, outside_your_scope",
            _404="organization_not_found",
            _422="validation_failed",
        ),
    )
    def create_org(
        self,
        data: JSONBody[OrganizationCreate],
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> OrganizationRead:
        require_staff(principal, "admin")
        with rt.tx() as session:
            service.require_admin_of(principal.admin_paths, service.get(session, data.parent_id))
            org = service.create_child(
                session,
                parent_id=data.parent_id,
                name=data.name,
                join_mode=data.join_mode,
                now=rt.clock.now(),
            )
            return OrganizationRead.of(org)

    @post(
        "/partners/{partner_id:int}/api-keys",
        operation_id="createPartnerApiKey",
        status_code=201,
        sync_to_thread=True,
        summary="A new API key for a partner enterprise (county administrators); shown once",
        responses=problems(
            _401="missing_token, invalid_token",
            _403="staff_only, role_required, county_admins_only",
            _404="partner_not_found",
        ),
    )
    def create_api_key(
        self,
        partner_id: FromPath[int],
        data: JSONBody[ApiKeyCreate],
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> ApiKeyCreated:
        staff_id = require_staff(principal, "admin")
        with rt.tx() as session:
            if not any(service.is_root_path(session, p) for p in principal.admin_paths):
                raise forbidden(
                    "仅县级管理员可发放合作企业密钥 County administrators only", "county_admins_only"
                )
            row, key = accounts_service.create_api_key(
                session, partner_id=partner_id, name=data.name, created_by=staff_id, now=rt.clock.now()
            )
            return ApiKeyCreated(
                id=row.id, partner_id=row.partner_id, name=row.name, key=key, created_at=row.created_at
            )
