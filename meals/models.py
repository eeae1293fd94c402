"""Meal service tables (助餐): meal points and their slots, diners, funding agreements, meals and
the subsidy each funder paid for each meal."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from linli.db import Base, BigId, UTCDateTime

SLOTS = ("breakfast", "lunch", "dinner")
MODES = ("dine_in", "pick_up", "delivery")
DAILY_CAPACITY = (1, 100_000)  # meals a day at a meal point
SLOT_PRICE = (0, 100_000)  # fen
STACK_ORDER = (0, 100)  # which funder pays first
BUDGET_CAP = (1, 10**11)  # fen
WEEK_CAP = (1, 21)  # subsidized meals a week
MONTH_CAP = (1, 93)  # subsidized meals a calendar month
FUNDER_KINDS = ("government", "enterprise", "charity")
# The categories cities use: every county's defaults (rows of meal_categories with scope ''; a
# county adds its own and renames or retires these for itself: meals/categories.py). Age bands
# follow the birth date: whole years on the day of the meal, from AGE_BANDS (min, max or None).
CATEGORIES = {
    "age_60_69": "60-69岁",
    "age_70_79": "70-79岁",
    "age_80_89": "80-89岁",
    "age_90_plus": "90岁以上",
    "dibao": "低保",
    "tekun": "特困",
    "dibao_edge": "低保边缘",
    "disabled": "失能",
    "severe_disability": "重残",
    "living_alone": "独居",
    "family_planning": "计生特殊家庭",
    "entitled": "优抚对象",
}
AGE_BANDS = {"age_60_69": (60, 69), "age_70_79": (70, 79), "age_80_89": (80, 89), "age_90_plus": (90, None)}
AGE_RANGE = (0, 150)  # whole years, for an age band's bounds
CATEGORY_CODE = r"^[a-z][a-z0-9_]{1,29}$"
# a diner's registered residence (户籍), which a schedule's tier may require ("residence": "local")
RESIDENCES = {"local": "本地户籍", "other": "非本地户籍"}


class MealCategory(Base):
    """A subsidy category (助餐类别). `scope` '' is the defaults every county has; a county base's
    path (`/1/`) is that county's own row: a category of its own, or a default renamed or retired
    there (the same code). An age band has `min_age` (and `max_age`, none for "and over")."""

    __tablename__ = "meal_categories"
    __table_args__ = (
        CheckConstraint(
            "(min_age IS NULL AND max_age IS NULL) OR (min_age >= 0 AND (max_age IS NULL OR max_age >= min_age))",
            name="ages",
        ),
    )

    scope: Mapped[str] = mapped_column(String(400), primary_key=True, server_default=text("''"))
    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    min_age: Mapped[int | None] = mapped_column(Integer)  # an age band: whole years on the day
    max_age: Mapped[int | None] = mapped_column(Integer)  # inclusive; none: and over
    # no longer offered for new diners and schedules; what names it already keeps working
    retired: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MealPoint(Base):
    """A community canteen or meal point (助餐点), with its counter station for scans."""

    __tablename__ = "meal_points"
    __table_args__ = (CheckConstraint("daily_capacity > 0", name="daily_capacity"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), unique=True)
    daily_capacity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MealSlot(Base):
    """A service slot at a meal point, in local time, with its set-meal price in fen."""

    __tablename__ = "meal_slots"
    __table_args__ = (
        UniqueConstraint("meal_point_id", "slot"),
        CheckConstraint("slot IN ('breakfast', 'lunch', 'dinner')", name="slot"),
        CheckConstraint("price >= 0", name="price"),
        CheckConstraint("ends > starts", name="window"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"))
    slot: Mapped[str] = mapped_column(String(10))
    starts: Mapped[str] = mapped_column(String(5))  # "11:00"
    ends: Mapped[str] = mapped_column(String(5))
    price: Mapped[int] = mapped_column(Integer)  # fen, from the start: later prices in meal_slot_prices
    # hours change at once; a price changes from a day on (`SlotPrice`)


class SlotPrice(Base):
    """A slot's price from a day on (调价). The counter charges the latest version whose day has
    come (the slot's own `price` before the first); rows are only added, never changed, so a meal
    keeps the price it was served at (it stores it too)."""

    __tablename__ = "meal_slot_prices"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price"),
        Index("ix_meal_slot_prices_slot_from", "meal_slot_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meal_slot_id: Mapped[int] = mapped_column(ForeignKey("meal_slots.id"))
    effective_from: Mapped[date] = mapped_column(Date)  # local day
    price: Mapped[int] = mapped_column(Integer)  # fen
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Diner(Base):
    """An older resident served meals (助餐对象). The ID number is kept as a keyed hash plus the
    last four, as for volunteers; the birth date and sex are read from it at registration."""

    __tablename__ = "diners"
    __table_args__ = (
        CheckConstraint("consent_by IN ('self', 'guardian')", name="consent_by"),
        CheckConstraint("sex IN ('male', 'female')", name="sex"),
        CheckConstraint("residence IN ('local', 'other')", name="residence"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(11))
    phone_last4: Mapped[str | None] = mapped_column(String(4), index=True)
    birth_date: Mapped[date] = mapped_column(Date)  # the ID number's (pii.id_birth_date)
    # the ID number's 17th digit (pii.id_sex); null for diners registered before it was kept
    sex: Mapped[str | None] = mapped_column(String(6))
    community: Mapped[str] = mapped_column(String(100))
    id_hash: Mapped[str] = mapped_column(String(100), unique=True)
    id_last4: Mapped[str] = mapped_column(String(4))
    consent_by: Mapped[str] = mapped_column(String(10))
    guardian_name: Mapped[str | None] = mapped_column(String(40))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dietary_notes: Mapped[str] = mapped_column(String(200))
    allergies: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list] = mapped_column(JSON)  # assigned codes; age bands come from birth_date
    residence: Mapped[str | None] = mapped_column(String(5))  # RESIDENCES; null: not recorded (older rows)
    category_evidence: Mapped[str | None] = mapped_column(String(200))  # e.g. 低保证号, who checked it
    home_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"), index=True)
    delivery: Mapped[bool] = mapped_column(Boolean, default=False)  # meals brought home
    address: Mapped[str | None] = mapped_column(String(200))  # for delivery: shown to the run's volunteer
    card_version: Mapped[int] = mapped_column(Integer, default=1)
    paused_from: Mapped[date | None] = mapped_column(Date)  # in hospital, away: no meals
    paused_until: Mapped[date | None] = mapped_column(Date)  # first day back
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FundingAgreement(Base):
    """A funder pays subsidies at some meal points for a period, within a budget, by a schedule.
    Several agreements stack at one meal point in `stack_order` (government, then enterprise, ...)."""

    __tablename__ = "funding_agreements"
    __table_args__ = (
        CheckConstraint("funder_kind IN ('government', 'enterprise', 'charity')", name="funder_kind"),
        CheckConstraint("budget_used >= 0 AND budget_used <= budget_cap", name="budget"),
        CheckConstraint("ends_on >= starts_on", name="period"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    funder_kind: Mapped[str] = mapped_column(String(20))
    stack_order: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    budget_cap: Mapped[int] = mapped_column(BigInteger)  # fen
    budget_used: Mapped[int] = mapped_column(BigInteger, default=0)
    # from the start: later versions, from a day on, in funding_schedules (`ScheduleVersion`)
    schedule: Mapped[list] = mapped_column(JSON)  # tiers, first match wins: see meals/subsidy.py
    week_cap: Mapped[int | None] = mapped_column(Integer)  # subsidized meals per Monday-Sunday week
    month_cap: Mapped[int | None] = mapped_column(Integer)  # subsidized meals per calendar month
    home_point_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # who made it and when: with a partner, who linked that partner to these meal points (its
    # reports then cover them), shown to the partner (GET /api/v1/funding-agreements)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScheduleVersion(Base):
    """An agreement's subsidy schedule and week and month caps from a day on (政策调整). A meal is judged by the
    latest version whose day has come (the agreement's own before the first); rows are only added,
    so every subsidy keeps the rule it was paid under (`meal_subsidies.schedule_version_id`)."""

    __tablename__ = "funding_schedules"
    __table_args__ = (Index("ix_funding_schedules_agreement_from", "agreement_id", "effective_from"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("funding_agreements.id"))
    effective_from: Mapped[date] = mapped_column(Date)  # local day
    schedule: Mapped[list] = mapped_column(JSON)
    week_cap: Mapped[int | None] = mapped_column(Integer)
    month_cap: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AgreementPoint(Base):
    __tablename__ = "funding_agreement_points"

    agreement_id: Mapped[int] = mapped_column(ForeignKey("funding_agreements.id"), primary_key=True)
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"), primary_key=True, index=True)


class Meal(Base):
    """One meal served: price, subsidy (split per funder in meal_subsidies) and what the diner paid.
    At most one subsidized meal per diner, slot and day: a unique index says so. `held`: an offline
    meal waiting for a hub's review (integrity): its subsidy is reserved, not paid or reported."""

    __tablename__ = "meals"
    __table_args__ = (
        CheckConstraint("slot IN ('breakfast', 'lunch', 'dinner')", name="slot"),
        CheckConstraint("mode IN ('dine_in', 'pick_up', 'delivery')", name="mode"),
        CheckConstraint("status IN ('served', 'held', 'voided')", name="status"),
        CheckConstraint(
            "price >= 0 AND subsidy >= 0 AND subsidy <= price AND paid = price - subsidy", name="money"
        ),
        Index(
            "uq_meals_subsidized",
            "diner_id",
            "service_day",
            "slot",
            unique=True,
            sqlite_where=text("subsidized AND status IN ('served', 'held')"),
            postgresql_where=text("subsidized AND status IN ('served', 'held')"),
        ),
        Index("ix_meals_point_day", "meal_point_id", "service_day"),
        Index("ix_meals_diner_day", "diner_id", "service_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"))
    diner_id: Mapped[int] = mapped_column(ForeignKey("diners.id"))
    slot: Mapped[str] = mapped_column(String(10))
    service_day: Mapped[date] = mapped_column(Date)  # local day
    mode: Mapped[str] = mapped_column(String(10))
    price: Mapped[int] = mapped_column(Integer)
    subsidy: Mapped[int] = mapped_column(Integer)
    paid: Mapped[int] = mapped_column(Integer)  # what the diner pays
    subsidized: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(10))
    scan_id: Mapped[str | None] = mapped_column(String(64))
    served_at: Mapped[datetime] = mapped_column(UTCDateTime)
    served_by: Mapped[str] = mapped_column(String(100))  # the device
    delivered_by: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))  # home delivery
    void_reason: Mapped[str | None] = mapped_column(String(200))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class MealSubsidy(Base):
    """One funder's part of one meal. The meal's point, diner and day are copied here (they never
    change; a void sets `voided`), so a funder's month is read from this table alone."""

    __tablename__ = "meal_subsidies"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        Index("ix_meal_subsidies_agreement_day", "agreement_id", "service_day"),
        # the first few diners an agreement ever paid for (reports.suppression.budget_people); the
        # day last, so that for a period the index above always costs the planner less than this one
        Index("ix_meal_subsidies_agreement_diner", "agreement_id", "diner_id", "service_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meal_id: Mapped[int] = mapped_column(ForeignKey("meals.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("funding_agreements.id"))
    amount: Mapped[int] = mapped_column(Integer)  # fen
    tier: Mapped[str] = mapped_column(String(100), default="")  # the schedule tier that paid
    # the schedule version it was paid under (null: the agreement's schedule from the start)
    schedule_version_id: Mapped[int | None] = mapped_column(ForeignKey("funding_schedules.id"))
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"))
    diner_id: Mapped[int] = mapped_column(ForeignKey("diners.id"))
    service_day: Mapped[date] = mapped_column(Date)
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    # the meal is held for review: reserved from the budget, not reported (integrity)
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class DayClose(Base):
    """A meal point's day, closed after its last slot (日结): the numbers a partner is shown for that
    day. A closed day's meals are never changed silently: voids are refused."""

    __tablename__ = "meal_day_closes"
    __table_args__ = (UniqueConstraint("meal_point_id", "service_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"))
    service_day: Mapped[date] = mapped_column(Date)
    meals: Mapped[int] = mapped_column(Integer)  # served, voids excluded
    subsidized: Mapped[int] = mapped_column(Integer)
    diners: Mapped[int] = mapped_column(Integer)  # distinct people
    price_total: Mapped[int] = mapped_column(BigInteger)  # fen
    paid_total: Mapped[int] = mapped_column(BigInteger)
    subsidy_total: Mapped[int] = mapped_column(BigInteger)
    by_funder: Mapped[dict] = mapped_column(JSON)  # {agreement id: fen}
    voided: Mapped[int] = mapped_column(Integer)
    adjustments: Mapped[int] = mapped_column(Integer, default=0)  # made this day, to earlier meals
    adjusted_subsidy: Mapped[int] = mapped_column(BigInteger, default=0)  # fen, <= 0
    adjusted_by_funder: Mapped[dict] = mapped_column(JSON, default=dict)  # {agreement id: fen}
    no_shows: Mapped[int] = mapped_column(Integer)  # booked, never came
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Booking(Base):
    """A meal booked ahead (预订) so the kitchen knows how many and for whom; served when the card is
    scanned, a no-show if the day closes first."""

    __tablename__ = "meal_bookings"
    __table_args__ = (
        CheckConstraint("status IN ('booked', 'cancelled', 'served', 'no_show')", name="status"),
        CheckConstraint("mode IN ('dine_in', 'pick_up', 'delivery')", name="mode"),
        Index(
            "uq_meal_bookings_live",
            "diner_id",
            "service_day",
            "slot",
            unique=True,
            sqlite_where=text("status IN ('booked', 'served')"),
            postgresql_where=text("status IN ('booked', 'served')"),
        ),
        Index("ix_meal_bookings_point_day", "meal_point_id", "service_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    diner_id: Mapped[int] = mapped_column(ForeignKey("diners.id"))
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"))
    service_day: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    booked_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MealAdjustment(Base):
    """A correction to a meal that can no longer be voided (调整): its day is past or closed. The
    meal stays as it was recorded; the reversal is dated the first day still open at the point
    (`made_on`) and counted in that day's close, and the subsidies go back to the budgets."""

    __tablename__ = "meal_adjustments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meal_id: Mapped[int] = mapped_column(ForeignKey("meals.id"), unique=True)  # reversed once
    # the meal's day: on PostgreSQL the foreign key to the partitioned meals is (meal_id, meal_day)
    meal_day: Mapped[date] = mapped_column(Date)
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"))
    made_on: Mapped[date] = mapped_column(Date)  # local day it counts on
    price_delta: Mapped[int] = mapped_column(Integer)  # fen, <= 0
    paid_delta: Mapped[int] = mapped_column(Integer)
    subsidy_delta: Mapped[int] = mapped_column(Integer)
    by_funder: Mapped[dict] = mapped_column(JSON)  # {agreement id: fen, negative}
    reason: Mapped[str] = mapped_column(String(200))
    made_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_meal_adjustments_point_day", "meal_point_id", "made_on"),)


class DeliveryRun(Base):
    """A home-delivery run (送餐路线): the delivery diners of one community for one slot of one day
    at a meal point, taken by one volunteer, who confirms each door by scanning the diner's card."""

    __tablename__ = "meal_delivery_runs"
    __table_args__ = (UniqueConstraint("meal_point_id", "service_day", "slot", "community"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"))
    service_day: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(10))
    community: Mapped[str] = mapped_column(String(100))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CashCount(Base):
    """The cash a counter counted at the end of a day (收款对账), against the cash sheet: who counted
    how much and when. Counts are never changed: a recount is a new row, the latest one holds."""

    __tablename__ = "meal_cash_counts"
    __table_args__ = (
        CheckConstraint("counted >= 0", name="counted"),
        Index("ix_meal_cash_counts_point_day", "meal_point_id", "service_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"))
    service_day: Mapped[date] = mapped_column(Date)  # local day
    device: Mapped[str] = mapped_column(String(100), default="")  # a `served_by`; "" for the whole point
    counted: Mapped[int] = mapped_column(BigInteger)  # fen
    expected: Mapped[int] = mapped_column(BigInteger)  # fen: the sheet's cash to collect when counted
    note: Mapped[str | None] = mapped_column(String(200))
    counted_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime)
