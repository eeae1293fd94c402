"""Edits that keep history (修改留痕): a diner, a meal point, a funding agreement changed by the hub.

Every edit gives its reason. A slot's price and an agreement's schedule (and week cap) change from
a day on (`effective_from`: today or later, local), as a new version: the counter charges and
subsidizes by the version in force on the service day, so a meal served before never changes (it
stores its price and subsidy, each subsidy its schedule version). Hours, names, capacity, budgets,
end dates, a diner's categories and the meal points an agreement pays at change at once. Each
edit returns what it changed, field by field (a diner's name, phone and address masked), for the
audit log (`integrity.service.audit`, written by the caller: meals never imports integrity).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from linli import pii
from linli.errors import FieldError, invalid, not_found
from meals import categories, repository
from meals.models import (
    BUDGET_CAP,
    MONTH_CAP,
    WEEK_CAP,
    FundingAgreement,
    MealPoint,
    MealSlot,
    ScheduleVersion,
    SlotPrice,
)
from meals.service import (
    SlotInput,
    _text,
    check_point_fields,
    get_diner,
    get_point,
    offered_at_all,
    slots_of,
)
from meals.subsidy import check_residence, check_schedule, unknown_categories

REASON_LENGTH = 200


@dataclass
class Edit:
    """What an edit changed: `changes` {field: {"before": …, "after": …}}, personal data masked."""

    subject: str  # "diner:7", "meal_point:3", "funding_agreement:2"
    reason: str
    effective_from: date | None = None
    changes: dict = field(default_factory=dict)

    def note(self, name: str, before, after) -> None:
        if before != after:
            self.changes[name] = {"before": before, "after": after}

    def detail(self) -> dict:
        """As the audit log keeps it."""
        return {
            "reason": self.reason,
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "changes": self.changes,
        }


def _reason(errors: list[FieldError], reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        errors.append(FieldError("reason", "required", "请填写修改原因 Say why"))
    elif len(text) > REASON_LENGTH:
        errors.append(FieldError("reason", "length", "原因最多200字 At most 200 characters"))
    return text


def _effective(errors: list[FieldError], effective_from: date | None, today: date, needed: bool) -> None:
    if effective_from is None:
        if needed:
            errors.append(
                FieldError(
                    "effective_from",
                    "required",
                    "调价或调整补贴须给出生效日期 A price or schedule changes from a date: give effective_from",
                )
            )
    elif effective_from < today:
        errors.append(
            FieldError(
                "effective_from",
                "in_the_past",
                f"生效日期不能早于今天（{today.isoformat()}），已发生的餐次不改 "
                f"Not before today ({today.isoformat()}): meals already served keep their terms",
            )
        )
    elif effective_from.year >= 2100:
        errors.append(FieldError("effective_from", "out_of_range", "日期不合理 Implausible date"))


def _in_force(versions: list, day: date):
    """The latest version whose day has come (versions by day, then as made), or None."""
    found = None
    for v in versions:
        if v.effective_from <= day:
            found = v
    return found


def _masked_address(address: str | None) -> str | None:
    return None if address is None else (address[:4] + "…" if len(address) > 4 else "…")


# Diners

DINER_FIELDS = (
    "name",
    "phone",
    "community",
    "address",
    "delivery",
    "categories",
    "category_evidence",
    "residence",
    "dietary_notes",
    "allergies",
    "home_point_id",
    "paused_from",
    "paused_until",
)


def edit_diner(session: Session, diner_id: int, given: dict, reason: str | None) -> Edit:
    """Change what is `given` of a diner (the keys of DINER_FIELDS; never the birth date or sex,
    which come from the ID number). New categories need their evidence (`category_evidence`)."""
    diner = get_diner(session, diner_id)
    errors: list[FieldError] = []
    why = _reason(errors, reason)
    new = {f: getattr(diner, f) for f in DINER_FIELDS}
    if "name" in given:
        new["name"] = pii.normalize_name(given["name"] or "")
        if problem := pii.name_problem(new["name"]):
            errors.append(FieldError("name", *problem))
    if "phone" in given:
        new["phone"] = pii.normalize_phone(given["phone"]) if given["phone"] else None
        if new["phone"] is not None and (problem := pii.phone_problem(new["phone"])):
            errors.append(FieldError("phone", *problem))
    if "community" in given:
        _text(errors, "community", given["community"] or "", 1, 100, "社区")
        new["community"] = (given["community"] or "").strip()
    if "address" in given:
        new["address"] = given["address"].strip() if given["address"] else None
    if "delivery" in given:
        new["delivery"] = bool(given["delivery"])
    if new["delivery"] or ("address" in given and new["address"] is not None):
        _text(errors, "address", new["address"] or "", 1, 200, "送餐地址")
    for name in ("dietary_notes", "allergies"):
        if name in given:
            new[name] = given[name] or ""
            if len(new[name]) > 200:
                errors.append(FieldError(name, "length", "最多200字 At most 200 characters"))
    if "home_point_id" in given:
        new["home_point_id"] = get_point(session, given["home_point_id"]).id
    if "categories" in given:
        new["categories"] = sorted(set(given["categories"] or []))
        # the home point's county's list; a retired code the diner already has keeps working
        rules = categories.at_point(session, get_point(session, new["home_point_id"]))
        valid = rules.offered(automatic=False)
        kept = {c for c in diner.categories if (known := rules.get(c)) is not None and not known.automatic}
        if unknown := [c for c in new["categories"] if c not in valid and c not in kept]:
            errors.append(
                FieldError(
                    "categories",
                    "unknown",
                    unknown_categories(
                        unknown, valid, "未知或按年龄自动计算的类别", "Unknown or automatic (age)"
                    ),
                )
            )
    if "residence" in given:
        new["residence"] = given["residence"]
        if new["residence"] is not None:
            check_residence(errors, "residence", new["residence"])
    if "category_evidence" in given:
        evidence = (given["category_evidence"] or "").strip()
        new["category_evidence"] = evidence or None
        if len(evidence) > 200:
            errors.append(FieldError("category_evidence", "length", "最多200字 At most 200 characters"))
    if set(new["categories"]) - set(diner.categories) and not (
        "category_evidence" in given and new["category_evidence"]
    ):
        errors.append(
            FieldError(
                "category_evidence",
                "required",
                "新增类别须注明依据（如低保证号、核实人） A new category needs its evidence",
            )
        )
    for name in ("paused_from", "paused_until"):
        if name in given:
            new[name] = given[name]
    if new["paused_from"] and new["paused_until"] and new["paused_until"] <= new["paused_from"]:
        errors.append(
            FieldError("paused_until", "before_start", "恢复日期须晚于暂停日期 Must be after paused_from")
        )
    if errors:
        raise invalid(errors)
    edit = Edit(f"diner:{diner.id}", why)
    for name in DINER_FIELDS:
        before, after = getattr(diner, name), new[name]
        if before == after:
            continue
        setattr(diner, name, after)
        if name == "phone":
            diner.phone_last4 = after[-4:] if after else None
            before, after = (pii.mask_phone(x) if x else None for x in (before, after))
        elif name == "name":
            before, after = pii.mask_name(before), pii.mask_name(after)
        elif name == "address":
            before, after = _masked_address(before), _masked_address(after)
        elif isinstance(before, date) or isinstance(after, date):
            before, after = (x.isoformat() if x else None for x in (before, after))
        edit.note(name, before, after)
    session.flush()
    return edit


# Meal points


def price_versions(session: Session, slot_ids: list[int]) -> dict[int, list[SlotPrice]]:
    """Each slot's price versions, by day."""
    out: dict[int, list[SlotPrice]] = {i: [] for i in slot_ids}
    for v in repository.slot_prices(session, slot_ids):
        out[v.meal_slot_id].append(v)
    return out


def slots_today(session: Session, point_id: int, today: date) -> list[tuple[MealSlot, int, list[SlotPrice]]]:
    """A point's slots by start, each with its price today and the versions from later days."""
    slots = slots_of(session, point_id)
    versions = price_versions(session, [s.id for s in slots])
    return [
        (s, price_on(s, versions[s.id], today), [v for v in versions[s.id] if v.effective_from > today])
        for s in slots
    ]


def price_on(slot: MealSlot, versions: list[SlotPrice], day: date) -> int:
    v = _in_force(versions, day)
    return v.price if v is not None else slot.price


def edit_point(
    session: Session,
    point_id: int,
    given: dict,
    reason: str | None,
    effective_from: date | None,
    *,
    today: date,
    staff_user_id: int,
    now: datetime,
) -> Edit:
    """Change what is `given` of a meal point: `name`, `address`, `daily_capacity` at once; `slots`
    (every slot it serves after the edit, as SlotInput): hours at once, a slot left out stops, a
    new one serves at once at its price, and a changed price holds from `effective_from`."""
    point: MealPoint = get_point(session, point_id)
    errors: list[FieldError] = []
    why = _reason(errors, reason)
    slots: list[SlotInput] | None = given.get("slots")
    check_point_fields(errors, given.get("name"), given.get("address"), given.get("daily_capacity"), slots)
    current = {s.slot: s for s in slots_of(session, point.id)}
    versions = price_versions(session, [s.id for s in current.values()])
    from_day = effective_from or today
    repriced = [
        s
        for s in slots or []
        if s.slot in current and s.price != price_on(current[s.slot], versions[current[s.slot].id], from_day)
    ]
    _effective(errors, effective_from, today, needed=bool(repriced))
    if errors:
        raise invalid(errors)
    edit = Edit(f"meal_point:{point.id}", why, effective_from if repriced else None)
    for name in ("name", "address", "daily_capacity"):
        if given.get(name) is not None:
            after = given[name].strip() if isinstance(given[name], str) else given[name]
            edit.note(name, getattr(point, name), after)
            setattr(point, name, after)
    for s in slots or []:
        row = current.get(s.slot)
        if row is None:
            session.add(
                MealSlot(meal_point_id=point.id, slot=s.slot, starts=s.starts, ends=s.ends, price=s.price)
            )
            edit.note(f"slots.{s.slot}", None, {"starts": s.starts, "ends": s.ends, "price": s.price})
            continue
        for name in ("starts", "ends"):
            edit.note(f"slots.{s.slot}.{name}", getattr(row, name), getattr(s, name))
            setattr(row, name, getattr(s, name))
        if s in repriced:
            edit.note(f"slots.{s.slot}.price", price_on(row, versions[row.id], from_day), s.price)
            session.add(
                SlotPrice(
                    meal_slot_id=row.id,
                    effective_from=effective_from,
                    price=s.price,
                    created_by=staff_user_id,
                    created_at=now,
                )
            )
    if slots is not None:
        for name, row in current.items():
            if name not in {s.slot for s in slots}:
                edit.note(
                    f"slots.{name}",
                    {"starts": row.starts, "ends": row.ends, "price": price_on(row, versions[row.id], today)},
                    None,
                )
                repository.delete_slot(session, row)
    session.flush()
    return edit


# Funding agreements


def get_agreement(session: Session, agreement_id: int, *, lock: bool = False) -> FundingAgreement:
    agreement = repository.agreement(session, agreement_id, lock=lock)
    if agreement is None:
        raise not_found("资助协议 Funding agreement", "agreement_not_found")
    return agreement


def agreement_point_ids(session: Session, agreement_id: int) -> list[int]:
    return repository.agreement_point_ids(session, agreement_id)


def schedule_versions(session: Session, agreement_ids: list[int]) -> dict[int, list[ScheduleVersion]]:
    """Each agreement's schedule versions, by day."""
    out: dict[int, list[ScheduleVersion]] = {i: [] for i in agreement_ids}
    for v in repository.schedule_versions(session, agreement_ids):
        out[v.agreement_id].append(v)
    return out


def schedule_on(agreement: FundingAgreement, versions: list[ScheduleVersion], day: date) -> tuple:
    """(schedule, week cap, month cap, version id or None) in force on a day."""
    v = _in_force(versions, day)
    if v is None:
        return agreement.schedule, agreement.week_cap, agreement.month_cap, None
    return v.schedule, v.week_cap, v.month_cap, v.id


def edit_agreement(
    session: Session,
    agreement_id: int,
    given: dict,
    reason: str | None,
    effective_from: date | None,
    *,
    today: date,
    staff_user_id: int,
    now: datetime,
) -> Edit:
    """Change what is `given` of an agreement: `name`, `budget_cap` (never below what is used),
    `ends_on` (not before today nor the last day it paid for), `meal_point_ids` at once;
    `schedule`, `week_cap` and `month_cap` from `effective_from`. The agreement's row is locked: a budget is
    checked against what the meals took."""
    agreement = get_agreement(session, agreement_id, lock=True)
    errors: list[FieldError] = []
    why = _reason(errors, reason)
    if "name" in given:
        _text(errors, "name", given["name"] or "", 1, 100, "名称")
    budget = given.get("budget_cap")
    if budget is not None and not BUDGET_CAP[0] <= budget <= BUDGET_CAP[1]:
        errors.append(FieldError("budget_cap", "out_of_range", "预算为1到10^11分 Budget in fen, 1 to 10^11"))
    elif budget is not None and budget < agreement.budget_used:
        errors.append(
            FieldError(
                "budget_cap",
                "below_used",
                f"预算不能低于已用的{agreement.budget_used}分 Not below what is used ({agreement.budget_used} fen)",
            )
        )
    ends_on = given.get("ends_on")
    if ends_on is not None and ends_on != agreement.ends_on:
        paid = repository.last_paid_day(session, agreement.id)
        if ends_on < today:
            errors.append(
                FieldError(
                    "ends_on", "in_the_past", f"结束日期不能早于今天（{today.isoformat()}） Not before today"
                )
            )
        elif ends_on < agreement.starts_on or ends_on.year >= 2100:
            errors.append(FieldError("ends_on", "before_start", "期间不合理 The period must run forwards"))
        elif paid is not None and ends_on < paid:
            errors.append(
                FieldError(
                    "ends_on",
                    "before_last_paid",
                    f"已为{paid.isoformat()}的餐次付过补贴，结束日期不能更早 It paid for meals of {paid.isoformat()}",
                )
            )
    points = given.get("meal_point_ids")
    if points is not None and not 1 <= len(points) <= 1000:
        errors.append(FieldError("meal_point_ids", "required", "至少一个助餐点 At least one meal point"))
    if (
        "week_cap" in given
        and given["week_cap"] is not None
        and not WEEK_CAP[0] <= given["week_cap"] <= WEEK_CAP[1]
    ):
        errors.append(FieldError("week_cap", "out_of_range", "每周上限为1到21 1 to 21 meals a week"))
    month = given.get("month_cap")
    if month is not None and not MONTH_CAP[0] <= month <= MONTH_CAP[1]:
        errors.append(FieldError("month_cap", "out_of_range", "每月上限为1到93 1 to 93 meals a month"))
    versions = schedule_versions(session, [agreement.id])[agreement.id]
    schedule, week_cap, month_cap, _ = schedule_on(agreement, versions, effective_from or today)
    new_schedule = given.get("schedule", schedule)
    new_week_cap = given.get("week_cap", week_cap)
    new_month_cap = given.get("month_cap", month_cap)
    rule_changed = new_schedule != schedule or new_week_cap != week_cap or new_month_cap != month_cap
    _effective(errors, effective_from, today, needed=rule_changed)
    if errors:
        raise invalid(errors)
    point_ids = sorted(set(points)) if points is not None else agreement_point_ids(session, agreement.id)
    if new_schedule != schedule:
        day = effective_from or today
        prices = []
        for p in point_ids:
            slots = slots_of(session, get_point(session, p).id)
            by_slot = price_versions(session, [s.id for s in slots])
            prices += [(s.slot, price_on(s, by_slot[s.id], day)) for s in slots]
        check_schedule(
            new_schedule, prices, known=offered_at_all(session, [get_point(session, p) for p in point_ids])
        )
    edit = Edit(f"funding_agreement:{agreement.id}", why, effective_from if rule_changed else None)
    if "name" in given:
        edit.note("name", agreement.name, given["name"].strip())
        agreement.name = given["name"].strip()
    if budget is not None:
        edit.note("budget_cap", agreement.budget_cap, budget)
        agreement.budget_cap = budget
    if ends_on is not None:
        edit.note("ends_on", agreement.ends_on.isoformat(), ends_on.isoformat())
        agreement.ends_on = ends_on
    if points is not None:
        before = agreement_point_ids(session, agreement.id)
        for p in point_ids:
            get_point(session, p)
        if before != point_ids:
            edit.note("meal_point_ids", before, point_ids)
            repository.set_agreement_points(session, agreement.id, point_ids)
    if rule_changed:
        edit.note("schedule", schedule, new_schedule)
        edit.note("week_cap", week_cap, new_week_cap)
        edit.note("month_cap", month_cap, new_month_cap)
        session.add(
            ScheduleVersion(
                agreement_id=agreement.id,
                effective_from=effective_from,
                schedule=new_schedule,
                week_cap=new_week_cap,
                month_cap=new_month_cap,
                created_by=staff_user_id,
                created_at=now,
            )
        )
    session.flush()
    return edit
