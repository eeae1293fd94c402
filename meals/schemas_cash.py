"""The offline counter's API types (离线取餐台与收款对账): the rules a tablet caches to quote a
meal while offline (`counter_rules`), and a day's cash sheet with the cash counted (`cash_sheet`).
Money in integer fen."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from linli.bounds import by_service
from meals.cash_sheet import COUNTED, NOTE_MAX


class RuleSlot(msgspec.Struct):
    slot: str
    starts: str  # local HH:MM
    ends: str
    price: int  # fen


class RuleAgreement(msgspec.Struct):
    id: int
    funder: str  # the agreement's name, as a meal's `split` names it
    stack_order: int  # who pays first; the list is in this order
    schedule: list[dict]  # tiers, first match wins (docs/meals.md)
    week_cap: int | None  # subsidized meals per diner, Monday to Sunday
    home_point_only: bool
    budget_left: int  # fen, when fetched


class RuleDiner(msgspec.Struct):
    """Only what the schedules decide by: no name, birth date, phone, ID number or address."""

    id: int
    card_version: int  # an older card is refused (revoked_card)
    categories: list[str]  # today's, only the codes some tier here names
    week_used: dict[str, int]  # agreement id → subsidized meals this week (capped agreements only)
    paused: bool  # meals paused today
    served_today: list[str]  # slots with a subsidized meal today (anywhere): another is already_served


class CounterRules(msgspec.Struct):
    meal_point_id: int
    name: str
    station_id: int
    day: date  # the day the categories and weekly counts are for
    fetched_at: datetime
    slots: list[RuleSlot]
    agreements: list[RuleAgreement]
    diners: list[RuleDiner]


class CashRow(msgspec.Struct):
    device: str  # the meals' `served_by` ("staff:12 tablet"); "" for the whole point
    staff_name: str | None  # the device's staff member, when it is one
    meals: int  # served and held
    subsidized: int
    price_total: int
    paid_total: int  # the cash to collect
    subsidy_total: int  # paid by funders (held meals' subsidy apart)
    full_price: int  # meals without subsidy
    full_price_paid: int
    held: int  # offline meals held for the hub's review (paid at the counter)
    held_paid: int
    held_subsidy: int  # reserved, not paid until the hub approves
    voided: int
    voided_paid: int  # what the voided meals would have collected
    counted: int | None  # the latest count, if any
    difference: int | None  # counted - paid_total


class CashCountRead(msgspec.Struct):
    id: int
    device: str
    counted: int
    expected: int  # the cash to collect when counted
    difference: int  # counted - expected
    note: str | None
    counted_by: int
    counted_by_name: str | None
    counted_at: datetime


class CashSheet(msgspec.Struct):
    meal_point_id: int
    meal_point: str
    day: date
    closed: bool
    total: CashRow
    devices: list[CashRow]
    reversals: int  # earlier meals reversed on this day
    reversed_paid: int  # fen, <= 0: the diners' part of them, to give back
    counts: list[CashCountRead]  # the latest first


class CashCountBody(msgspec.Struct):
    counted: Annotated[int, by_service(between=COUNTED)]  # fen
    day: date | None = None  # today if left out
    device: Annotated[str, msgspec.Meta(max_length=100)] = ""  # one device's cash; "" for the point
    note: Annotated[str, msgspec.Meta(max_length=NOTE_MAX)] | None = None
