"""Subsidy categories (助餐类别): the codes a diner's `categories` and an agreement's tiers may name,
with their Chinese names, as the county keeps them in `meal_categories` (meals.service.categories)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, require_staff
from api.problems import problems
from meals import service
from meals.schemas import CategoryPage, CategoryRead


class MealCategoryController(Controller):
    path = "/api/v1"
    tags = ["助餐 meals"]
    dependencies = AUTH

    @get(
        "/meal-categories",
        operation_id="listMealCategories",
        sync_to_thread=True,
        summary="Subsidy categories by code, with their Chinese names: what a diner's `categories` and"
        " an agreement's tiers may name; age bands are automatic (they follow the birth date)",
        responses=problems(_403="staff_only, role_required"),
    )
    def list_categories(
        self, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> CategoryPage:
        require_staff(principal, "admin", "coordinator")
        items = [
            CategoryRead(code, name, service.automatic(code))
            for code, name in service.categories(session).items()
        ]
        return CategoryPage(items=items, next=None)
