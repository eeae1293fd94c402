"""The meal service's API types (助餐): what goes in and out of the meals, bookings and delivery
controllers (`api/meals.py`, `api/bookings.py`, `api/deliveries.py`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from linli.bounds import RowId, by_service
from linli.pii import mask_phone
from meals.models import (
    AGE_RANGE,
    BUDGET_CAP,
    CATEGORY_CODE,
    DAILY_CAPACITY,
    FUNDER_KINDS,
    MODES,
    MONTH_CAP,
    RESIDENCES,
    SLOT_PRICE,
    SLOTS,
    STACK_ORDER,
    WEEK_CAP,
    Diner,
    Meal,
)


class SlotBody(msgspec.Struct):
    slot: Annotated[str, by_service(choices=SLOTS)]
    starts: str  # "11:00", local time
    ends: str
    price: Annotated[int, by_service(between=SLOT_PRICE)]  # fen


class MealPointBody(msgspec.Struct):
    org_id: RowId
    name: str
    address: str
    daily_capacity: Annotated[int, by_service(between=DAILY_CAPACITY)]
    slots: list[SlotBody]  # one to three, one of each slot


class PriceVersion(msgspec.Struct):
    effective_from: date
    price: int  # fen


class SlotRead(SlotBody):
    upcoming: list[PriceVersion] = []  # prices from a day still to come (`price` holds today)


class MealPointRead(msgspec.Struct):
    id: int
    org_id: int
    name: str
    address: str
    station_id: int  # the counter: tablets scan here
    daily_capacity: int
    slots: list[SlotRead]


class MealPointPage(msgspec.Struct):
    items: list[MealPointRead]
    next: str | None


class DinerBody(msgspec.Struct):
    name: str
    community: str
    id_number: str
    home_point_id: RowId
    birth_date: date | None = None  # read from the ID number; if typed, it must agree (422 otherwise)
    consent: bool = False
    phone: str | None = None
    guardian_name: str | None = None
    dietary_notes: str = ""
    allergies: str = ""
    categories: list[str] = []
    delivery: bool = False
    address: str | None = None  # where meals are brought: required for delivery
    # registered residence (户籍): local 本地户籍, other 非本地户籍; a tier may require it
    residence: Annotated[str, by_service(choices=tuple(RESIDENCES))] | None = None


class DinerPatch(msgspec.Struct):
    """Only what is given changes; `reason` is required. Never the birth date or sex (the ID
    number's). A category the diner did not have needs `category_evidence`."""

    reason: str | None = None  # why (required: 422 `required` without it)
    name: str | UnsetType = UNSET
    phone: str | UnsetType | None = UNSET
    community: str | UnsetType = UNSET
    address: str | UnsetType | None = UNSET
    delivery: bool | UnsetType = UNSET
    categories: list[str] | UnsetType = UNSET
    category_evidence: str | UnsetType | None = UNSET  # e.g. the 低保 certificate's number, who checked
    residence: Literal["local", "other"] | UnsetType | None = UNSET  # 户籍
    dietary_notes: str | UnsetType = UNSET
    allergies: str | UnsetType = UNSET
    home_point_id: RowId | UnsetType = UNSET
    paused_from: date | UnsetType | None = UNSET
    paused_until: date | UnsetType | None = UNSET  # the first day back


class DinerRead(msgspec.Struct):
    id: int
    name: str
    phone: str | None  # masked
    birth_date: date
    sex: Literal["male", "female"] | None  # from the ID number; null if registered before it was kept
    community: str
    id_number_last4: str
    consent_by: str
    dietary_notes: str
    allergies: str
    categories: list[str]
    home_point_id: int
    delivery: bool
    address: str | None
    paused_from: date | None
    paused_until: date | None
    residence: Literal["local", "other"] | None = None  # 户籍: null if not recorded
    residence_name: str | None = None  # 本地户籍 or 非本地户籍
    category_evidence: str | None = None

    @classmethod
    def of(cls, d: Diner) -> DinerRead:
        return cls(
            id=d.id,
            name=d.name,
            phone=mask_phone(d.phone) if d.phone else None,
            birth_date=d.birth_date,
            sex=d.sex,
            community=d.community,
            id_number_last4=d.id_last4,
            consent_by=d.consent_by,
            dietary_notes=d.dietary_notes,
            allergies=d.allergies,
            categories=d.categories,
            home_point_id=d.home_point_id,
            delivery=d.delivery,
            address=d.address,
            paused_from=d.paused_from,
            paused_until=d.paused_until,
            residence=d.residence,
            residence_name=RESIDENCES.get(d.residence) if d.residence else None,
            category_evidence=d.category_evidence,
        )


class DinerPage(msgspec.Struct):
    items: list[DinerRead]
    next: str | None


class CategoryRead(msgspec.Struct):
    code: str  # as in a diner's `categories` and an agreement's tiers
    name: str  # Chinese
    automatic: bool  # an age band: follows the birth date, never assigned by hand
    min_age: int | None = None  # an age band's bounds, whole years on the day of the meal
    max_age: int | None = None  # inclusive; null: and over
    retired: bool = False  # offered no more; what names it already keeps working
    own: bool = False  # the county's own (a category of its own, or a default changed there)


class CategoryBody(msgspec.Struct):
    code: Annotated[str, by_service(pattern=CATEGORY_CODE)]
    name: str  # Chinese, 1 to 50 characters
    min_age: Annotated[int, by_service(between=AGE_RANGE)] | None = None  # an age band: from
    max_age: Annotated[int, by_service(between=AGE_RANGE)] | None = None  # to (inclusive); none: and over


class CategoryChange(msgspec.Struct):
    name: str | None = None
    # an age band's new bounds: min_age given sets both (max_age null: and over)
    min_age: Annotated[int, by_service(between=AGE_RANGE)] | None = None
    max_age: Annotated[int, by_service(between=AGE_RANGE)] | None = None
    retired: bool | None = None  # true: offered no more; false: offered again


class CategoryPage(msgspec.Struct):
    items: list[CategoryRead]
    next: str | None  # always null: the county's categories come in one page


class PauseBody(msgspec.Struct):
    paused_from: date | None = None
    paused_until: date | None = None


class AgreementBody(msgspec.Struct):
    name: str
    funder_kind: Annotated[str, by_service(choices=FUNDER_KINDS)]
    stack_order: Annotated[int, by_service(between=STACK_ORDER)]
    starts_on: date
    ends_on: date
    budget_cap: Annotated[int, by_service(between=BUDGET_CAP)]  # fen
    schedule: list
    meal_point_ids: list[RowId]  # one to a thousand
    partner_id: RowId | None = None
    week_cap: Annotated[int, by_service(between=WEEK_CAP)] | None = None
    home_point_only: bool = False
    month_cap: Annotated[int, by_service(between=MONTH_CAP)] | None = None  # a calendar month


class MealPointPatch(msgspec.Struct):
    """Only what is given changes; `reason` is required. `slots`: every slot served after the edit
    (hours change at once, a slot left out stops, a new one serves at once); a changed price holds
    from `effective_from` (today or later, local)."""

    reason: str | None = None
    effective_from: date | None = None
    name: str | None = None
    address: str | None = None
    daily_capacity: Annotated[int, by_service(between=DAILY_CAPACITY)] | None = None
    slots: list[SlotBody] | None = None


class AgreementPatch(msgspec.Struct):
    """Only what is given changes; `reason` is required. `schedule`, `week_cap` and `month_cap` change from
    `effective_from` (today or later); `budget_cap` never below `budget_used`; `ends_on` ends it
    (not before today nor the last day it paid for); `meal_point_ids`: every point it pays at."""

    reason: str | None = None
    effective_from: date | None = None
    name: str | UnsetType = UNSET
    schedule: list | UnsetType = UNSET
    week_cap: Annotated[int, by_service(between=WEEK_CAP)] | UnsetType | None = UNSET  # null: no cap
    month_cap: Annotated[int, by_service(between=MONTH_CAP)] | UnsetType | None = UNSET  # null: no cap
    budget_cap: Annotated[int, by_service(between=BUDGET_CAP)] | UnsetType = UNSET  # fen
    ends_on: date | UnsetType = UNSET
    meal_point_ids: list[RowId] | UnsetType = UNSET


class ScheduleVersionRead(msgspec.Struct):
    id: int
    effective_from: date
    schedule: list
    week_cap: int | None
    month_cap: int | None = None


class HistoryEntry(msgspec.Struct):
    """One change, as the audit log keeps it: who, when (UTC), why, and each field's before and
    after (a diner's name, phone and address masked)."""

    id: int
    action: str  # e.g. diner.edited, meal_point.created
    at: datetime
    staff_user_id: int | None
    staff_name: str | None
    reason: str
    effective_from: date | None
    changes: dict  # {field: {"before": …, "after": …}}


class HistoryPage(msgspec.Struct):
    items: list[HistoryEntry]  # the latest first
    next: str | None


class AgreementRead(msgspec.Struct):
    id: int
    name: str
    funder_kind: str
    stack_order: int
    starts_on: date
    ends_on: date
    budget_cap: int
    budget_used: int
    schedule: list
    week_cap: int | None
    home_point_only: bool
    partner_id: int | None = None  # the partner enterprise whose money it is
    month_cap: int | None = None  # subsidized meals per diner per calendar month


class AgreementListed(AgreementRead):
    meal_point_ids: list[int] = []  # every meal point it pays at
    upcoming: list[ScheduleVersionRead] = []  # schedules from a day still to come (`schedule` holds today)
    linked_by: str | None = None  # with a partner: the administrator who linked it (display name)
    linked_at: datetime | None = None  # and when


class AgreementPage(msgspec.Struct):
    items: list[AgreementListed]
    next: str | None


class UnsubsidizedBody(msgspec.Struct):
    diner_id: RowId
    meal_point_id: RowId
    mode: Annotated[str, by_service(choices=MODES)] = "dine_in"


class VoidBody(msgspec.Struct):
    reason: str


class AdjustmentRead(msgspec.Struct):
    """A closed day's meal reversed: the deltas (fen, negative) booked on the day it was made."""

    id: int
    meal_id: int
    made_on: date
    price_delta: int
    paid_delta: int
    subsidy_delta: int
    by_funder: dict[str, int]  # {agreement id: fen}
    reason: str
    made_by: int  # staff user
    made_at: datetime


class MealRead(msgspec.Struct):
    id: int
    diner_id: int
    meal_point_id: int
    slot: str
    service_day: date
    mode: str
    price: int
    subsidy: int
    paid: int
    subsidized: bool
    status: str
    void_reason: str | None

    @classmethod
    def of(cls, m: Meal) -> MealRead:
        return cls(**{f: getattr(m, f) for f in cls.__struct_fields__})


class SlotToday(msgspec.Struct):
    slot: str
    starts: str
    ends: str
    price: int  # fen
    served: int
    booked: int  # bookings for the day (served or still waiting)


class CounterToday(msgspec.Struct):
    day: date
    meal_point_id: int
    name: str
    slots: list[SlotToday]


# Bookings (订餐)
class BookingBody(msgspec.Struct):
    diner_id: RowId
    day: date
    slot: Annotated[str, by_service(choices=SLOTS)]
    mode: Annotated[str, by_service(choices=MODES)] = "dine_in"


class BookingRead(msgspec.Struct):
    id: int
    diner_id: int
    meal_point_id: int
    day: date
    slot: str
    mode: str
    status: str  # booked | cancelled | served | no_show


class KitchenRead(msgspec.Struct):
    day: str
    slots: dict  # {slot: {mode: count}}
    needs: list  # [{slot, name, dietary_notes, allergies}]


class CardBookingBody(msgspec.Struct):
    card: str  # the diner card's QR payload (its URL or code)
    day: date
    slot: Annotated[str, by_service(choices=SLOTS)]
    mode: Annotated[str, by_service(choices=MODES)] = "dine_in"


class CardBody(msgspec.Struct):
    card: str


class BookingPage(msgspec.Struct):
    items: list[BookingRead]
    next: str | None = None  # always null: a diner's bookings from today on come whole


# Home delivery (送餐上门)
class PlanBody(msgspec.Struct):
    day: date
    slot: Annotated[str, by_service(choices=SLOTS)]


class RunVolunteer(msgspec.Struct):
    id: int
    name: str | None


class RunStop(msgspec.Struct):
    diner_id: int
    name: str
    address: str | None
    dietary_notes: str
    allergies: str
    meal_id: int | None  # the meal, once delivered
    price: int | None = None  # fen, the slot's price (None if the point no longer serves the slot)
    # fen, what to collect at the door: what the diner paid once delivered, before that what they
    # would pay under today's rules and budgets (the scan at the door decides)
    to_collect: int | None = None


class RunRead(msgspec.Struct, omit_defaults=True):
    id: int
    meal_point_id: int
    day: date
    slot: str
    community: str
    volunteer: RunVolunteer | None  # who claimed it
    stops_total: int
    delivered: int
    meal_point_name: str | None = None  # with the stops
    stops: list[RunStop] | None = None  # for the volunteer and staff: each diner, in order


class RunPage(msgspec.Struct):
    items: list[RunRead]
    next: str | None = None  # always null: a day's runs come whole


# The day's close (日结)
class DayCloseBody(msgspec.Struct):
    day: date | None = None  # today if left out


class FunderDay(msgspec.Struct):
    agreement_id: int
    funder: str
    amount: int  # fen, the day's subsidy from this funder
    adjusted: int  # fen, <= 0: reversals of earlier meals booked on this day


class DayCloseRead(msgspec.Struct):
    id: int
    meal_point_id: int
    day: date
    meals: int  # served, voids excluded
    subsidized: int
    diners: int  # distinct people
    price_total: int  # fen
    paid_total: int
    subsidy_total: int
    funders: list[FunderDay]
    voided: int
    adjustments: int
    adjusted_subsidy: int
    no_shows: int
    closed_at: datetime


class DayClosePage(msgspec.Struct):
    items: list[DayCloseRead]  # the latest day first
    next: str | None
    today: date  # the point's day now, in LINLI_TIMEZONE
    today_closed: bool
    close_from: datetime | None  # today's last slot ends: closing by hand is possible from then
    closes_at: datetime  # when the evening run closes today (21:30, or the last slot's end if later)
