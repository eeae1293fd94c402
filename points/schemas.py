"""What goes in and out of the points endpoints (msgspec Structs; ORM objects never leak)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from linli.bounds import RowId, by_service
from points.models import (
    ITEM_PRICE,
    ITEM_STOCK,
    LIMIT_PERIODS,
    ORDER_QUANTITY,
    PER_VOLUNTEER_LIMIT,
    ROUND_BONUS,
    ROUND_PERIODS,
    Award,
    PointsRule,
    ShopItem,
    ShopOrder,
)


class NextLevel(msgspec.Struct):
    level: int
    hours: int
    minutes_to_go: int


class ExpiringPoints(msgspec.Struct):
    expires_at: datetime
    points: int


class PointsSummary(msgspec.Struct):
    balance: int  # points posted
    available: int  # balance less points reserved by open orders
    reserved: int
    service_minutes: int  # verified service time, the legal record
    manual_minutes: int  # hours added by hand, kept apart
    star_level: int
    next_level: NextLevel | None
    expiring: list[ExpiringPoints]  # points by expiry date, soonest first


class TransferRead(msgspec.Struct):
    id: str
    ledger: str  # points | service_minutes
    kind: str  # single | pending | post | void | expire
    amount: int  # signed, as the volunteer sees it: + earned, - spent, held or taken back
    reason: str  # a stable code (points.models.TRANSFER_REASONS); the phone says it in words
    reference: str
    created_at: datetime
    # a reservation (kind pending, a shop order) is one item, whatever became of it: reserved |
    # spent | cancelled | expired (its points back), and when; its post or void is not listed apart
    state: str | None = None
    resolved_at: datetime | None = None


class TransferPage(msgspec.Struct):
    items: list[TransferRead]
    next: str | None


class RuleBody(msgspec.Struct, forbid_unknown_fields=True):
    """A new version of the hub's rules: fields left out keep the previous version's values."""

    points_per_hour: dict[str, int] | msgspec.UnsetType = msgspec.UNSET  # by activity kind, or "default"
    rounding_minutes: int | msgspec.UnsetType = msgspec.UNSET
    minimum_minutes: int | msgspec.UnsetType = msgspec.UNSET
    daily_cap: int | msgspec.UnsetType = msgspec.UNSET  # 0: no cap
    campaigns: list[dict] | msgspec.UnsetType = msgspec.UNSET  # [{name, starts_on, ends_on, percent}]
    delivery_points: int | msgspec.UnsetType = msgspec.UNSET
    expiry_years: int | msgspec.UnsetType | None = msgspec.UNSET  # null: points never expire
    star_hours: list[int] | msgspec.UnsetType = msgspec.UNSET

    def given(self) -> dict:
        return {f: getattr(self, f) for f in self.__struct_fields__ if getattr(self, f) is not msgspec.UNSET}


class RuleRead(msgspec.Struct):
    id: int
    hub_id: int
    version: int
    points_per_hour: dict
    rounding_minutes: int
    minimum_minutes: int
    daily_cap: int
    campaigns: list
    delivery_points: int
    expiry_years: int | None
    star_hours: list
    created_at: datetime

    @classmethod
    def of(cls, r: PointsRule) -> RuleRead:
        return cls(**{f: getattr(r, f) for f in cls.__struct_fields__})


class RulePage(msgspec.Struct):
    items: list[RuleRead]
    next: str | None


class ManualHoursBody(msgspec.Struct):
    hub_id: RowId
    minutes: int
    day: date
    note: str
    request_id: str


class AwardRead(msgspec.Struct):
    id: int
    volunteer_id: int
    kind: str
    day: date
    minutes: int
    points: int
    note: str
    created_at: datetime

    @classmethod
    def of(cls, a: Award) -> AwardRead:
        return cls(**{f: getattr(a, f) for f in cls.__struct_fields__})


class ItemBody(msgspec.Struct):
    name: str
    price: Annotated[int, by_service(between=ITEM_PRICE)]
    stock: Annotated[int, by_service(between=ITEM_STOCK)]
    description: str = ""
    per_volunteer_limit: Annotated[int, by_service(between=PER_VOLUNTEER_LIMIT)] = 0  # 0: no limit
    limit_period: Annotated[str, by_service(choices=LIMIT_PERIODS)] = "ever"
    visible_from: datetime | None = None
    visible_until: datetime | None = None


class ItemRead(msgspec.Struct):
    id: int
    hub_id: int
    name: str
    description: str
    price: int
    stock: int
    per_volunteer_limit: int
    limit_period: str
    visible_from: datetime | None
    visible_until: datetime | None

    @classmethod
    def of(cls, i: ShopItem) -> ItemRead:
        return cls(**{f: getattr(i, f) for f in cls.__struct_fields__})


class ItemPage(msgspec.Struct):
    items: list[ItemRead]
    next: str | None


class OrderBody(msgspec.Struct):
    item_id: RowId
    quantity: Annotated[int, by_service(between=ORDER_QUANTITY)] = 1
    request_id: str | None = None  # the client's id for this order: a retry returns the same order


class FulfilBody(msgspec.Struct):
    payload: str  # the volunteer's card, scanned at the counter


class OrderRead(msgspec.Struct):
    id: int
    item_id: int
    item_name: str
    volunteer_id: int
    quantity: int
    points: int
    status: str  # reserved | fulfilled | cancelled | expired
    created_at: datetime
    expires_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, o: ShopOrder, item: ShopItem) -> OrderRead:
        return cls(
            id=o.id,
            item_id=o.item_id,
            item_name=item.name,
            volunteer_id=o.volunteer_id,
            quantity=o.quantity,
            points=o.points,
            status=o.status,
            created_at=o.created_at,
            expires_at=o.expires_at,
            resolved_at=o.resolved_at,
        )


class OrderPage(msgspec.Struct):
    items: list[OrderRead]
    next: str | None


class WaitingOrders(msgspec.Struct):
    """A volunteer's orders waiting at the counter, in the shops of hubs the staff member works
    for: who the card is (so the coordinator can ask the name) and each order to hand over."""

    volunteer_id: int
    volunteer_name: str
    items: list[OrderRead]
    next: str | None  # always null: a volunteer has few orders waiting


class RoundBody(msgspec.Struct):
    title: str
    period: Annotated[str, by_service(choices=tuple(ROUND_PERIODS))]
    period_start: date  # the first day of that month, quarter or year
    bonus_points: Annotated[int, by_service(between=ROUND_BONUS)] = 0
    rules: dict | None = None  # {top_n_per_org: 3, min_minutes: null, min_deliveries: null}


class CommendationRead(msgspec.Struct):
    id: int
    volunteer_id: int
    volunteer_name: str
    org_id: int | None
    minutes: int
    deliveries: int
    reason: str
    status: str  # proposed | removed | confirmed
    certificate: str | None  # the certificate's public code once confirmed


class RoundRead(msgspec.Struct):
    id: int
    hub_id: int
    title: str
    period: str
    period_start: date
    period_end: date
    rules: dict
    bonus_points: int
    status: str  # proposed | confirmed
    commendations: list[CommendationRead]


class RoundPage(msgspec.Struct):
    items: list[RoundRead]
    next: str | None


class ReviewBody(msgspec.Struct):
    volunteer_id: RowId
    include: bool
    reason: str = ""


class CertificateRead(msgspec.Struct):
    code: str  # the public id: /verify/{code}
    kind: str  # commendation | service_record
    title: str
    period_start: date
    period_end: date
    minutes: int
    issued_at: datetime
    verify_url: str


class CertificatePage(msgspec.Struct):
    items: list[CertificateRead]
    next: str | None


class ServiceRecordBody(msgspec.Struct):
    period_start: date
    period_end: date


class MyCommendation(msgspec.Struct):
    round_title: str
    period_start: date
    period_end: date
    reason: str
    minutes: int
    bonus_points: int
    certificate: str | None  # the certificate's public code


class MyCommendationPage(msgspec.Struct):
    items: list[MyCommendation]
    next: str | None
