"""Meal points, diners and funding agreements (助餐点、助餐对象、资助协议): set-up by staff."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from linli import pii, scope
from linli.errors import FieldError, conflict, forbidden, invalid, not_found
from linli.signing import Signer
from meals import categories, repository
from meals.models import (
    BUDGET_CAP,
    DAILY_CAPACITY,
    FUNDER_KINDS,
    MONTH_CAP,
    SLOT_PRICE,
    SLOTS,
    STACK_ORDER,
    WEEK_CAP,
    AgreementPoint,
    Diner,
    FundingAgreement,
    Meal,
    MealPoint,
    MealSlot,
)
from meals.subsidy import check_residence, check_schedule, unknown_categories
from orgs import service as orgs_service

ID_PURPOSE = "diner-id"  # a separate key from volunteers' ID hashes


def _hhmm(value: str) -> bool:
    return isinstance(value, str) and re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value, re.ASCII) is not None


def _text(errors, field, value, low, high, what):
    if not isinstance(value, str) or not low <= len(value.strip()) <= high:
        errors.append(FieldError(field, "length", f"{what}应为{low}到{high}字 {low} to {high} characters"))


@dataclass(frozen=True)
class SlotInput:
    slot: str
    starts: str
    ends: str
    price: int


def check_point_fields(
    errors: list[FieldError], name, address, daily_capacity, slots: list[SlotInput] | None
) -> None:
    """A meal point's fields, each one given (None: left as it is), checked all at once."""
    if name is not None:
        _text(errors, "name", name, 1, 100, "名称")
    if address is not None:
        _text(errors, "address", address, 1, 200, "地址")
    if daily_capacity is not None and not DAILY_CAPACITY[0] <= daily_capacity <= DAILY_CAPACITY[1]:
        errors.append(FieldError("daily_capacity", "out_of_range", "每日容量应为1到100000 1 to 100000"))
    if slots is None:
        return
    if not 1 <= len(slots) <= 3 or len({s.slot for s in slots}) != len(slots):
        errors.append(
            FieldError("slots", "invalid", "每个餐次最多一个，共1到3个 One to three distinct slots")
        )
    for i, s in enumerate(slots):
        if s.slot not in SLOTS:
            errors.append(
                FieldError(
                    f"slots[{i}].slot",
                    "invalid",
                    "餐次应为 breakfast、lunch 或 dinner 之一 Slot must be breakfast, lunch or dinner",
                )
            )
        if not (_hhmm(s.starts) and _hhmm(s.ends) and s.starts < s.ends):
            errors.append(
                FieldError(
                    f"slots[{i}].starts", "invalid", "时间为HH:MM，开始早于结束 HH:MM, start before end"
                )
            )
        if not SLOT_PRICE[0] <= s.price <= SLOT_PRICE[1]:
            errors.append(
                FieldError(f"slots[{i}].price", "out_of_range", "餐价为0到100000分 Price in fen, 0 to 100000")
            )
    ordered = sorted((s for s in slots if _hhmm(s.starts) and _hhmm(s.ends)), key=lambda s: s.starts)
    if any(a.ends > b.starts for a, b in itertools.pairwise(ordered)):
        errors.append(FieldError("slots", "overlap", "餐次时间不能重叠 Slots must not overlap"))


def create_meal_point(
    session: Session,
    *,
    org_id: int,
    name: str,
    address: str,
    daily_capacity: int,
    slots: list[SlotInput],
    now: datetime,
) -> MealPoint:
    errors: list[FieldError] = []
    check_point_fields(errors, name, address, daily_capacity, slots)
    if errors:
        raise invalid(errors)
    org = orgs_service.get(session, org_id)
    station = orgs_service.create_station(
        session, org_id=org.id, name=f"{name.strip()}取餐台", kind="counter", shared=False, now=now
    )
    point = MealPoint(
        org_id=org.id,
        name=name.strip(),
        address=address.strip(),
        station_id=station.id,
        daily_capacity=daily_capacity,
        created_at=now,
    )
    session.add(point)
    session.flush()
    session.add_all(
        MealSlot(meal_point_id=point.id, slot=s.slot, starts=s.starts, ends=s.ends, price=s.price)
        for s in slots
    )
    session.flush()
    return point


def get_point(session: Session, point_id: int) -> MealPoint:
    point = repository.point(session, point_id)
    if point is None:
        raise not_found("助餐点 Meal point", "meal_point_not_found")
    return point


def points_under(
    session: Session,
    paths: list[str],
    station_ids: frozenset[int] = frozenset(),
    *,
    after_id: int = 0,
    limit: int | None = None,
) -> list[MealPoint]:
    """The meal points of organizations under any of these paths, and those whose counter is one of
    these stations (a coordinator bound to it), by id: all of them, or a page (`limit` after
    `after_id`)."""
    if not paths and not station_ids:
        return []
    return repository.points_under(session, paths, station_ids, after_id, limit)


def agreements_at(
    session: Session, point_ids: list[int], *, before_id: int, limit: int
) -> list[tuple[FundingAgreement, list[int]]]:
    """A page of the agreements paying at any of these meal points, newest first, each with every
    point it pays at."""
    return _with_points(repository.agreements_at(session, point_ids, before_id, limit))


def agreements_of_partner(
    session: Session, partner_id: int, *, before_id: int, limit: int
) -> list[tuple[FundingAgreement, list[int]]]:
    """A page of a partner's agreements, newest first, each with every point it pays at."""
    return _with_points(repository.agreements_of_partner(session, partner_id, before_id, limit))


def _with_points(rows) -> list[tuple[FundingAgreement, list[int]]]:
    out: dict[int, tuple[FundingAgreement, list[int]]] = {}
    for a, point_id in rows:
        out.setdefault(a.id, (a, []))[1].append(point_id)
    return list(out.values())


def slots_of(session: Session, point_id: int) -> list[MealSlot]:
    return repository.slots_of(session, point_id)


def born_per_id(errors: list[FieldError], id_number: str, typed: date | None, today: date) -> date | None:
    """The date of birth a (normalised) resident ID number carries, checked with the number (errors on
    `id_number`); a typed date must be plausible and agree with the number (errors on `birth_date`:
    `out_of_range`, `id_number_mismatch`). None when the number is not valid."""
    if problem := pii.id_number_problem(id_number, today):
        errors.append(FieldError("id_number", *problem))
    if typed is not None and not date(1900, 1, 1) <= typed <= today:
        errors.append(FieldError("birth_date", "out_of_range", "出生日期不合理 Implausible date of birth"))
        return None
    if problem:
        return None
    born = pii.id_birth_date(id_number)
    if typed is not None and typed != born:
        errors.append(
            FieldError(
                "birth_date",
                "id_number_mismatch",
                f"出生日期与身份证号不符（身份证号为{born.isoformat()}），可不填"
                f" The date of birth disagrees with the ID number's ({born.isoformat()}); it may be left out",
            )
        )
    return born


@dataclass(frozen=True)
class DinerInput:
    name: str
    community: str
    id_number: str
    home_point_id: int
    consent: bool
    birth_date: date | None = None  # read from the ID number; if typed, it must agree
    phone: str | None = None
    guardian_name: str | None = None  # consent given by a guardian
    dietary_notes: str = ""
    allergies: str = ""
    categories: tuple[str, ...] = ()
    delivery: bool = False
    address: str | None = None  # required for delivery
    residence: str | None = None  # RESIDENCES: registered residence (户籍), local or not


def register_diner(
    session: Session, signer: Signer, data: DinerInput, *, created_by: int | None, now: datetime, today: date
) -> Diner:
    errors: list[FieldError] = []
    name = pii.normalize_name(data.name or "")
    problem = pii.name_problem(name)
    if problem:
        errors.append(FieldError("name", *problem))
    phone = pii.normalize_phone(data.phone) if data.phone else None
    if phone is not None and (problem := pii.phone_problem(phone)):
        errors.append(FieldError("phone", *problem))
    id_number = pii.normalize_id_number(data.id_number or "")
    born = born_per_id(errors, id_number, data.birth_date, today)
    _text(errors, "community", data.community, 1, 100, "社区")
    if not data.consent:
        errors.append(
            FieldError(
                "consent", "required", "须本人或监护人同意 Consent of the diner or a guardian is required"
            )
        )
    if data.guardian_name is not None:
        _text(errors, "guardian_name", data.guardian_name, 1, 40, "监护人姓名")
    if data.delivery or data.address is not None:
        _text(errors, "address", data.address or "", 1, 200, "送餐地址")
    for field, value in (("dietary_notes", data.dietary_notes), ("allergies", data.allergies)):
        if len(value or "") > 200:
            errors.append(FieldError(field, "length", "最多200字 At most 200 characters"))
    if data.residence is not None:
        check_residence(errors, "residence", data.residence)
    home = repository.point(session, data.home_point_id)
    valid = categories.at_point(session, home).offered(automatic=False) if home is not None else {}
    if home is not None and (unknown := [c for c in data.categories if c not in valid]):
        errors.append(
            FieldError(
                "categories",
                "unknown",
                unknown_categories(
                    unknown, valid, "未知或按年龄自动计算的类别", "Unknown or automatic (age)"
                ),
            )
        )
    if errors or born is None:
        raise invalid(errors)
    get_point(session, data.home_point_id)
    hashes = signer.keyed_hashes(ID_PURPOSE, id_number)
    if repository.id_hash_taken(session, hashes):
        raise conflict("id_number_taken", "该身份证号已登记 This ID number is already registered")
    diner = Diner(
        name=name,
        phone=phone,
        phone_last4=phone[-4:] if phone else None,
        birth_date=born,
        sex=pii.id_sex(id_number),
        community=data.community.strip(),
        id_hash=hashes[0],
        id_last4=id_number[-4:],
        consent_by="guardian" if data.guardian_name else "self",
        guardian_name=data.guardian_name,
        consented_at=now,
        dietary_notes=data.dietary_notes or "",
        allergies=data.allergies or "",
        categories=sorted(set(data.categories)),
        residence=data.residence,
        home_point_id=data.home_point_id,
        delivery=data.delivery,
        address=data.address.strip() if data.address else None,
        card_version=1,
        created_by=created_by,
        created_at=now,
    )
    session.add(diner)
    session.flush()
    return diner


def get_diner(session: Session, diner_id: int) -> Diner:
    diner = repository.diner(session, diner_id)
    if diner is None:
        raise not_found("助餐对象 Diner", "diner_not_found")
    return diner


def get_meal(session: Session, meal_id: int) -> Meal:
    meal = repository.meal(session, meal_id)
    if meal is None:
        raise not_found("餐次记录 Meal", "meal_not_found")
    return meal


def pause(session: Session, diner_id: int, paused_from: date | None, paused_until: date | None) -> Diner:
    """Pause meals from a date (hospital, travel) until a date (the first day back); both None resumes."""
    if paused_from and paused_until and paused_until <= paused_from:
        raise invalid(
            [FieldError("paused_until", "before_start", "恢复日期须晚于暂停日期 Must be after paused_from")]
        )
    diner = get_diner(session, diner_id)
    diner.paused_from, diner.paused_until = paused_from, paused_until
    return diner


def reissue_card(session: Session, diner_id: int) -> Diner:
    """A lost card: the old one stops working at once."""
    diner = get_diner(session, diner_id)
    diner.card_version += 1
    return diner


def find_diners(
    session: Session, point_ids: list[int] | None, q: str | None, phone_last4: str | None, limit: int = 20
) -> list[Diner]:
    """For a forgotten card: by (part of) the name, or the last four digits of the phone."""
    return repository.find_diners(session, point_ids, q, phone_last4, limit)


@dataclass(frozen=True)
class AgreementInput:
    name: str
    funder_kind: str
    stack_order: int
    starts_on: date
    ends_on: date
    budget_cap: int
    schedule: list
    meal_point_ids: list[int]
    partner_id: int | None = None
    week_cap: int | None = None
    home_point_only: bool = False
    month_cap: int | None = None


def require_partner_linkable(session: Session, admin_paths: list[str], partner_id: int) -> None:
    """Who may name a partner enterprise on an agreement (its reports then take in the agreement's
    meal points): an administrator over every meal point the partner's agreements already pay at
    (the county's cover all; a partner that funds nothing yet may be named by the hub that brings
    it). Otherwise any hub could put its meal points into another hub's partner's reports. 404
    `partner_not_found`, 403 `outside_your_scope`."""
    if not repository.partner_exists(session, partner_id):
        raise not_found("合作企业 Partner", "partner_not_found")
    if not all(scope.covers(admin_paths, p) for p in repository.partner_point_paths(session, partner_id)):
        raise forbidden(
            "该企业资助的助餐点不全在您的管理范围，请县级管理员关联"
            " The partner funds meal points outside what you administer; a county administrator links it",
            scope.OUTSIDE,
        )


def offered_at_all(session: Session, points: list[MealPoint]) -> dict[str, str]:
    """The categories offered (not retired) in the county of every one of these meal points: what
    a schedule paying at all of them may name (a county's own code is refused in another's)."""
    lists = [categories.at_point(session, p).offered() for p in points]
    return {c: n for c, n in lists[0].items() if all(c in other for other in lists[1:])} if lists else {}


def create_agreement(
    session: Session, data: AgreementInput, now: datetime, created_by: int | None = None
) -> FundingAgreement:
    errors: list[FieldError] = []
    _text(errors, "name", data.name, 1, 100, "名称")
    if data.funder_kind not in FUNDER_KINDS:
        errors.append(
            FieldError(
                "funder_kind",
                "invalid",
                "资助方类型应为 government、enterprise 或 charity 之一 Funder kind must be government, enterprise or charity",
            )
        )
    if not STACK_ORDER[0] <= data.stack_order <= STACK_ORDER[1]:
        errors.append(FieldError("stack_order", "out_of_range", "叠加顺序为0到100 0 to 100"))
    if data.ends_on < data.starts_on or data.starts_on.year < 2000 or data.ends_on.year >= 2100:
        errors.append(FieldError("ends_on", "before_start", "期间不合理 The period must run forwards"))
    if not BUDGET_CAP[0] <= data.budget_cap <= BUDGET_CAP[1]:
        errors.append(FieldError("budget_cap", "out_of_range", "预算为1到10^11分 Budget in fen, 1 to 10^11"))
    if data.week_cap is not None and not WEEK_CAP[0] <= data.week_cap <= WEEK_CAP[1]:
        errors.append(FieldError("week_cap", "out_of_range", "每周上限为1到21 1 to 21 meals a week"))
    if data.month_cap is not None and not MONTH_CAP[0] <= data.month_cap <= MONTH_CAP[1]:
        errors.append(FieldError("month_cap", "out_of_range", "每月上限为1到93 1 to 93 meals a month"))
    if not 1 <= len(data.meal_point_ids) <= 1000:
        errors.append(FieldError("meal_point_ids", "required", "至少一个助餐点 At least one meal point"))
    if errors:
        raise invalid(errors)
    if data.partner_id is not None and not repository.partner_exists(session, data.partner_id):
        raise not_found("合作企业 Partner", "partner_not_found")
    points = [get_point(session, i) for i in sorted(set(data.meal_point_ids))]
    prices = [(s.slot, s.price) for p in points for s in slots_of(session, p.id)]
    check_schedule(data.schedule, prices, known=offered_at_all(session, points))
    agreement = FundingAgreement(
        partner_id=data.partner_id,
        name=data.name.strip(),
        funder_kind=data.funder_kind,
        stack_order=data.stack_order,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        budget_cap=data.budget_cap,
        budget_used=0,
        schedule=data.schedule,
        week_cap=data.week_cap,
        month_cap=data.month_cap,
        home_point_only=data.home_point_only,
        created_by=created_by,
        created_at=now,
    )
    session.add(agreement)
    session.flush()
    session.add_all(AgreementPoint(agreement_id=agreement.id, meal_point_id=p.id) for p in points)
    session.flush()
    return agreement
