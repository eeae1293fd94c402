"""Subsidy categories per county and age bands by exact years (助餐类别、年龄段).

Every county has the defaults: rows of `meal_categories` with scope '' (`models.CATEGORIES` and
`models.AGE_BANDS` where none are stored). A county's own rows (scope: its base's path, `/1/`)
add categories of its own and rename, re-band or retire defaults for that county alone. What
applies at a meal point, or to a diner, is its county's list (`rules`).

An age band (`min_age`, and `max_age` or none for "and over") is computed on the day of the
meal in whole years, the birthday counted: born 1951-12-07, one is 74 on 2026-12-06 and 75 on
2026-12-07 (born 29 February: a year older on 1 March in other years). A diner may be in several
bands at once (65+ and 60-69). A retired category is offered no more (new diners, new schedules);
what names it already keeps working, so no subsidy changes behind anyone's back.

The counter reads a county's list from a per-process cache: one query per county every
CACHE_SECONDS, none per scan. A change made here is forgotten in this process once committed
(`forget`), and seen by the other processes within CACHE_SECONDS.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy.orm import Session

from linli import scope
from linli.errors import FieldError, conflict, invalid, not_found
from meals import repository
from meals.models import AGE_BANDS, AGE_RANGE, CATEGORIES, CATEGORY_CODE, Diner, MealCategory, MealPoint
from orgs import service as orgs_service

CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    min_age: int | None = None
    max_age: int | None = None
    retired: bool = False
    own: bool = False  # the county's own row: a category of its own, or a default changed there

    @property
    def automatic(self) -> bool:
        """An age band: follows the birth date on the day of the meal, never assigned by hand."""
        return self.min_age is not None


def age_on(born: date, day: date) -> int:
    """Whole years on `day`, the birthday counted."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class Rules:
    """A county's categories, by code."""

    county: str
    categories: tuple[Category, ...]

    def offered(self, *, automatic: bool | None = None) -> dict[str, str]:
        """Code → Chinese name of those not retired (`automatic`: only the age bands, or only the others)."""
        return {
            c.code: c.name
            for c in self.categories
            if not c.retired and (automatic is None or c.automatic == automatic)
        }

    def get(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def bands_on(self, born: date, day: date) -> set[str]:
        """The age bands someone born on `born` is in on `day`."""
        age = age_on(born, day)
        return {
            c.code
            for c in self.categories
            if c.min_age is not None and c.min_age <= age and (c.max_age is None or age <= c.max_age)
        }

    def of(self, diner: Diner, day: date) -> set[str]:
        """A diner's categories on a day: those assigned, and the age bands of that day."""
        return set(diner.categories) | self.bands_on(diner.birth_date, day)


_cache: dict[str, tuple[float, Rules]] = {}


def rules(session: Session, path: str) -> Rules:
    """The categories that apply in the county of the organization at `path` (cached)."""
    county = scope.county_of(path)
    now = time.monotonic()
    hit = _cache.get(county)
    if hit is not None and hit[0] > now:
        return hit[1]
    found = _read(session, county)
    _cache[county] = (now + CACHE_SECONDS, found)
    return found


def at_point(session: Session, point: MealPoint) -> Rules:
    return rules(session, orgs_service.get(session, point.org_id).path)


def forget(county: str | None = None) -> None:
    """Drop a county's cached list (every county's without one): after a committed change."""
    if county is None:
        _cache.clear()
    else:
        _cache.pop(county, None)


def _read(session: Session, county: str) -> Rules:
    rows = repository.category_rows(session, ["", county])
    defaults = {r.code: _category(r) for r in rows if r.scope == ""} or {
        code: Category(code, name, *AGE_BANDS.get(code, (None, None))) for code, name in CATEGORIES.items()
    }
    merged = defaults | {r.code: _category(r, own=True) for r in rows if r.scope == county}
    return Rules(county, tuple(merged[c] for c in sorted(merged)))


def _category(row: MealCategory, own: bool = False) -> Category:
    return Category(row.code, row.name, row.min_age, row.max_age, bool(row.retired), own)


def _checked_ages(errors: list[FieldError], min_age: int | None, max_age: int | None) -> None:
    low, high = AGE_RANGE
    if min_age is None and max_age is not None:
        errors.append(FieldError("min_age", "required", "年龄段须有下限 An age band needs min_age"))
    for field, value in (("min_age", min_age), ("max_age", max_age)):
        if value is not None and not low <= value <= high:
            errors.append(
                FieldError(field, "out_of_range", f"周岁为{low}到{high} Whole years, {low} to {high}")
            )
    if min_age is not None and max_age is not None and max_age < min_age:
        errors.append(FieldError("max_age", "before_start", "上限不能小于下限 max_age below min_age"))


def _checked_name(errors: list[FieldError], name: str | None) -> None:
    if name is not None and not 1 <= len(name.strip()) <= 50:
        errors.append(FieldError("name", "length", "名称应为1到50字 1 to 50 characters"))


def add(
    session: Session,
    county: str,
    *,
    code: str,
    name: str,
    min_age: int | None,
    max_age: int | None,
    by: int,
    now: datetime,
) -> Category:
    """A county's own category (an age band with `min_age`). 409 `category_exists` when the county
    has that code already (its own or a default: change that one instead)."""
    errors: list[FieldError] = []
    if not isinstance(code, str) or re.fullmatch(CATEGORY_CODE, code, re.ASCII) is None:
        errors.append(
            FieldError(
                "code", "invalid", "代码为2到30位小写字母、数字或下划线 2-30 of a-z, 0-9, _ (a letter first)"
            )
        )
    _checked_name(errors, name)
    _checked_ages(errors, min_age, max_age)
    if errors:
        raise invalid(errors)
    if _read(session, county).get(code) is not None:  # not the cache: what is stored now
        raise conflict("category_exists", f"本县已有类别“{code}” The county has this category already")
    row = MealCategory(
        scope=county,
        code=code,
        name=name.strip(),
        min_age=min_age,
        max_age=max_age,
        retired=False,
        updated_by=by,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return _category(row, own=True)


def change(
    session: Session,
    county: str,
    code: str,
    *,
    name: str | None,
    min_age: int | None,
    max_age: int | None,
    retired: bool | None,
    by: int,
    now: datetime,
) -> Category:
    """Rename, re-band (`min_age` given: the band becomes `min_age`..`max_age`, none for "and
    over") or retire (or bring back) a category in a county; a default changed becomes the county's
    own row. 404 `category_not_found`; 422 for ages on a category that is no age band."""
    current = _read(session, county).get(code)  # not the cache: what is stored now
    if current is None:
        raise not_found("助餐类别 Category", "category_not_found")
    errors: list[FieldError] = []
    _checked_name(errors, name)
    if min_age is not None or max_age is not None:
        if not current.automatic:
            errors.append(
                FieldError("min_age", "not_an_age_band", "该类别不是年龄段 This category is no age band")
            )
        else:
            _checked_ages(errors, min_age, max_age)
    if errors:
        raise invalid(errors)
    new = replace(
        current,
        name=name.strip() if name is not None else current.name,
        min_age=min_age if min_age is not None else current.min_age,
        max_age=max_age if min_age is not None else current.max_age,
        retired=retired if retired is not None else current.retired,
        own=True,
    )
    row = repository.category_row(session, county, code)
    if row is None:
        row = MealCategory(scope=county, code=code)
        session.add(row)
    row.name, row.min_age, row.max_age, row.retired = new.name, new.min_age, new.max_age, new.retired
    row.updated_by, row.updated_at = by, now
    session.flush()
    return new
