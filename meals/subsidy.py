"""Subsidy schedules (补贴规则): who pays how much of a meal's price. Pure functions, in fen.

An agreement's schedule is a list of tiers; for a diner and a slot the first tier that matches
applies:

    {"categories": ["tekun"], "slots": ["lunch"], "amount": 1100}          11 yuan off
    {"categories": ["*"], "slots": ["lunch"], "percent": 25, "cap": 300}   a quarter, at most 3 yuan
    optional: "min_self_pay": 100  (the diner pays at least 1 yuan)
              "min_price": 501     (only when the meal costs at least that)
              "residence": "local" (only diners of that registered residence, 户籍: local or other)

An agreement's weekly cap (Monday to Sunday) and monthly cap (the calendar month) count the
diner's subsidized meals under it; the first one reached refuses its subsidy.

Agreements stack in `stack_order`: each pays from what the earlier ones left, never below the
diner's minimum payment (the highest any applied tier sets). An agreement whose budget is used up
pays nothing and the answer names it; if no agreement can pay, the meal is refused
(`budget_exhausted`). No subsidy is ever applied, or dropped, silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from linli.errors import FieldError, invalid

SLOT_NAMES = ("breakfast", "lunch", "dinner")
RESIDENCE_VALUES = ("local", "other")  # meals.models.RESIDENCES


@dataclass(frozen=True)
class Funding:
    id: int
    stack_order: int
    schedule: list
    budget_left: int
    week_cap: int | None = None
    used_this_week: int = 0  # subsidized meals this diner had under it, Monday to now
    home_point_only: bool = False
    month_cap: int | None = None
    used_this_month: int = 0  # subsidized meals this diner had under it, the 1st of the month to now


def check_residence(errors: list[FieldError], field: str, value) -> None:
    """A registered residence (户籍) is `local` or `other`: a diner's, or a tier's condition."""
    if value not in RESIDENCE_VALUES:
        errors.append(
            FieldError(
                field,
                "invalid",
                "户籍应为 local（本地户籍）或 other（非本地户籍） Residence must be local or other",
            )
        )


def unknown_categories(
    unknown: Sequence[str], valid: Mapping[str, str], zh: str = "未知类别", en: str = "Unknown categories"
) -> str:
    """The message of a field naming category codes outside `valid` (code → Chinese name): what was
    wrong and every valid code, Chinese first (GET /api/v1/meal-categories lists them too)."""
    shown = [c[:30] for c in unknown[:5]]
    return (
        f"{zh}：{'、'.join(shown)}；可选：{'、'.join(f'{c}（{n}）' for c, n in valid.items())}"
        f" {en}: {', '.join(shown)}; valid codes: {', '.join(valid)}"
    )


def check_schedule(
    schedule, prices: list[tuple[str, int]], field: str = "schedule", known: Mapping[str, str] | None = None
) -> None:
    """422, tier by tier, for a schedule the engine could not apply, or one that would pay more
    than the price of a meal it covers (`prices`: the (slot, price) of the meal points it pays at;
    `known`: the category codes and names, when the database has them)."""
    errors = []
    if not isinstance(schedule, list) or not 1 <= len(schedule) <= 50:
        raise invalid([FieldError(field, "invalid", "补贴档次应为1到50项的列表 1 to 50 tiers")])

    def whole(v, low, high):
        return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high

    for i, tier in enumerate(schedule):
        name = f"{field}[{i}]"
        if not isinstance(tier, dict) or set(tier) - {
            "categories",
            "slots",
            "amount",
            "percent",
            "cap",
            "min_self_pay",
            "min_price",
            "residence",
        }:
            errors.append(FieldError(name, "invalid", "未知的字段 Unknown fields"))
            continue
        cats, slots = tier.get("categories"), tier.get("slots")
        if not isinstance(cats, list) or not cats or not all(isinstance(c, str) for c in cats):
            errors.append(
                FieldError(f"{name}.categories", "invalid", '请列出类别代码，或 "*" Category codes, or "*"')
            )
        elif known is not None and (unknown := [c for c in cats if c != "*" and c not in known]):
            errors.append(
                FieldError(
                    f"{name}.categories", "invalid", unknown_categories(unknown, {"*": "所有人", **known})
                )
            )
        if (
            not isinstance(slots, list)
            or not slots
            or not all(isinstance(x, str) for x in slots)
            or not set(slots) <= set(SLOT_NAMES)
        ):
            errors.append(
                FieldError(
                    f"{name}.slots",
                    "invalid",
                    "餐次应为 breakfast、lunch 或 dinner 之一 Slot must be breakfast, lunch or dinner",
                )
            )
        if "residence" in tier:
            check_residence(errors, f"{name}.residence", tier["residence"])
        if ("amount" in tier) == ("percent" in tier):
            errors.append(
                FieldError(name, "amount_or_percent", "须给定金额或比例之一 Give amount or percent, not both")
            )
        elif "amount" in tier and not whole(tier["amount"], 1, 100_000):
            errors.append(
                FieldError(f"{name}.amount", "out_of_range", "金额为1到100000分的整数 Whole fen, 1 to 100000")
            )
        elif "percent" in tier and not whole(tier["percent"], 1, 100):
            errors.append(
                FieldError(f"{name}.percent", "out_of_range", "比例为1到100的整数 Whole percent, 1 to 100")
            )
        for key in ("cap", "min_self_pay", "min_price"):
            if key in tier and not whole(tier[key], 0, 100_000):
                errors.append(
                    FieldError(f"{name}.{key}", "out_of_range", "为0到100000分的整数 Whole fen, 0 to 100000")
                )
        numbers_ok = whole(tier.get("amount", 1), 1, 100_000) and whole(
            tier.get("min_self_pay", 0), 0, 100_000
        )
        if numbers_ok and "amount" in tier and isinstance(slots, list):
            covered = [p for slot, p in prices if slot in slots]
            too_much = [p for p in covered if tier["amount"] > p - tier.get("min_self_pay", 0) >= 0]
            if too_much:
                errors.append(
                    FieldError(
                        f"{name}.amount",
                        "exceeds_price",
                        f"补贴超过餐价{min(too_much)}分 More than a price it covers",
                    )
                )
    if errors:
        raise invalid(errors)


def matching_tier(
    schedule: list, categories: set[str], slot: str, residence: str | None = None
) -> dict | None:
    """The first tier for this slot naming one of these categories (or "*") whose residence
    condition, if it has one, the diner's `residence` meets (an unrecorded one meets none)."""
    for tier in schedule:
        if (
            slot in tier["slots"]
            and ("*" in tier["categories"] or categories & set(tier["categories"]))
            and tier.get("residence", residence) == residence
        ):
            return tier
    return None


def tier_label(tier: dict | None) -> str:
    """A tier as reports name it: its categories, e.g. "tekun" or "age_80_89+age_90_plus"."""
    return "+".join(tier["categories"])[:100] if tier else ""


def split(
    price: int,
    categories: set[str],
    slot: str,
    at_home_point: bool,
    fundings: list[Funding],
    residence: str | None = None,
) -> tuple[list[tuple[int, int]], str | None, list[int]]:
    """[(agreement id, fen), ...] in stack order; why there is no subsidy when there is none
    (`not_eligible`, `other_meal_point`, `weekly_limit_reached`, `monthly_limit_reached`,
    `budget_exhausted`); and the
    agreements that would have paid but whose budget is used up (the answer names them: the diner
    pays their part, and nobody is left to guess why)."""
    parts: list[tuple[int, int]] = []
    left = price
    floor = 0  # the diner's minimum payment: once an applied tier sets one, later funders keep to it
    problem = None
    exhausted: list[int] = []
    for f in sorted(fundings, key=lambda f: (f.stack_order, f.id)):
        tier = matching_tier(f.schedule, categories, slot, residence)
        if tier is None:
            continue
        if f.home_point_only and not at_home_point:
            problem = problem or "other_meal_point"
            continue
        if f.week_cap is not None and f.used_this_week >= f.week_cap:
            problem = problem or "weekly_limit_reached"
            continue
        if f.month_cap is not None and f.used_this_month >= f.month_cap:
            problem = problem or "monthly_limit_reached"
            continue
        if price < tier.get("min_price", 0):
            continue
        base = (
            tier["amount"]
            if "amount" in tier
            else min(price * tier["percent"] // 100, tier.get("cap", price))
        )
        with_floor = max(floor, tier.get("min_self_pay", 0))
        amount = max(0, min(base, left - with_floor))
        if amount == 0:
            continue
        if amount > f.budget_left:
            exhausted.append(f.id)
            continue
        parts.append((f.id, amount))
        left -= amount
        floor = with_floor
    if not parts:
        return [], ("budget_exhausted" if exhausted else problem or "not_eligible"), exhausted
    return parts, None, exhausted
