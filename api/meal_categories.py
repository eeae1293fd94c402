"""Subsidy categories (助餐类别): the codes a diner's `categories` and an agreement's tiers may name,
with their Chinese names, per county (meals.categories): the defaults every county has and the
county's own, which its administrators add, rename, re-band and retire."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, MAX_ID, require_staff
from api.meals import staff_at
from api.problems import problems
from linli import scope
from linli.errors import FieldError, forbidden, invalid
from linli.runtime import Runtime
from meals import categories, service
from meals.schemas import CategoryBody, CategoryChange, CategoryPage, CategoryRead
from orgs import service as orgs_service

OptionalId = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]


def _read(c: categories.Category) -> CategoryRead:
    return CategoryRead(c.code, c.name, c.automatic, c.min_age, c.max_age, c.retired, c.own)


def _listed_county(session, principal: Principal, meal_point_id: int | None, org_id: int | None) -> str:
    """Whose list a staff member asks for: a meal point's county (they work at it), an
    organization's (a hub: they work in it), or else their own (the county of their grants)."""
    require_staff(principal, "admin", "coordinator")
    if meal_point_id is not None:
        point = service.get_point(session, meal_point_id)
        staff_at(session, principal, point)
        return scope.county_of(orgs_service.get(session, point.org_id).path)
    if org_id is not None:
        org = orgs_service.get(session, org_id)
        stations = orgs_service.station_paths(session, principal.bound_station_ids)
        if not scope.works_in(principal.staff_paths, stations, org.path):
            raise forbidden(f"您无权查看“{org.name}” You do not work for this organization", scope.OUTSIDE)
        return scope.county_of(org.path)
    counties = {scope.county_of(g.org_path) for g in principal.grants if g.org_path}
    if len(counties) != 1:
        raise invalid(
            [
                FieldError(
                    "meal_point_id",
                    "required",
                    "您的授权涉及多个县，请指定助餐点 Your grants span counties: name a meal point",
                )
            ]
        )
    return counties.pop()


def _county_kept_by(session, principal: Principal, county_id: int | None) -> tuple[str, int]:
    """The county whose categories this administrator keeps (an admin of its base), and their id:
    403 `county_admins_only` for anyone else."""
    staff_id = require_staff(principal, "admin")
    kept = [p for p in principal.admin_paths if orgs_service.is_root_path(session, p)]
    if county_id is not None:
        path = orgs_service.get(session, county_id).path
        kept = [p for p in kept if p == path]
    if len(kept) > 1:
        raise invalid(
            [FieldError("county_id", "required", "您管理多个县，请指定 You keep several counties: name one")]
        )
    if not kept:
        raise forbidden("仅限县级管理员 County administrators only", "county_admins_only")
    return kept[0], staff_id


class MealCategoryController(Controller):
    path = "/api/v1"
    tags = ["助餐 meals"]
    dependencies = AUTH

    @get(
        "/meal-categories",
        operation_id="listMealCategories",
        sync_to_thread=True,
        summary="Subsidy categories of a county by code, with their Chinese names: what a diner's"
        " `categories` and an agreement's tiers may name there. The caller's county, or that of"
        " `meal_point_id` or `org_id` (a hub); age bands (`automatic`, `min_age`..`max_age` whole years"
        " on the day of the meal) follow the birth date; retired ones are offered no more",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="meal_point_not_found, organization_not_found",
        ),
    )
    def list_categories(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        meal_point_id: OptionalId = None,
        org_id: OptionalId = None,
    ) -> CategoryPage:
        county = _listed_county(session, principal, meal_point_id, org_id)
        found = categories.rules(session, county)
        return CategoryPage(items=[_read(c) for c in found.categories], next=None)

    @post(
        "/meal-categories",
        operation_id="addMealCategory",
        status_code=201,
        sync_to_thread=True,
        summary="A county's own category (county administrators): `min_age` (and `max_age`) make it an"
        " age band, e.g. 65 and over; `county_id` only for an administrator of several counties",
        responses=problems(
            _403="staff_only, role_required, county_admins_only",
            _404="organization_not_found",
            _409="category_exists",
        ),
    )
    def add(
        self,
        data: JSONBody[CategoryBody],
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
        county_id: OptionalId = None,
    ) -> CategoryRead:
        with rt.tx() as session:
            county, staff_id = _county_kept_by(session, principal, county_id)
            made = categories.add(
                session,
                county,
                code=data.code,
                name=data.name,
                min_age=data.min_age,
                max_age=data.max_age,
                by=staff_id,
                now=rt.clock.now(),
            )
        categories.forget(county)  # committed: this process's counters see it now
        return _read(made)

    @patch(
        "/meal-categories/{code:str}",
        operation_id="changeMealCategory",
        sync_to_thread=True,
        summary="Rename, re-band (`min_age`, `max_age`) or retire (`retired`) a category in the"
        " county (county administrators); a default changed so is changed for this county alone",
        responses=problems(
            _403="staff_only, role_required, county_admins_only",
            _404="category_not_found, organization_not_found",
        ),
    )
    def change(
        self,
        code: FromPath[str],
        data: JSONBody[CategoryChange],
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
        county_id: OptionalId = None,
    ) -> CategoryRead:
        with rt.tx() as session:
            county, staff_id = _county_kept_by(session, principal, county_id)
            changed = categories.change(
                session,
                county,
                code,
                name=data.name,
                min_age=data.min_age,
                max_age=data.max_age,
                retired=data.retired,
                by=staff_id,
                now=rt.clock.now(),
            )
        categories.forget(county)
        return _read(changed)
