"""What a scan is and what it answers (扫码的输入与应答): the request bodies, the typed answer a
tablet or phone reads, and the door's own input types (`Device`, `ScanInput`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from linli import scope
from linli.bounds import RowId, by_service
from meals.models import MODES
from scans.answers import MESSAGES, OUTCOMES

Outcome = Literal[OUTCOMES]
# every reason a refused scan may give (the contract's scan reasons), null when accepted
Reason = Annotated[str | None, by_service(choices=(*(k for k in MESSAGES if k not in OUTCOMES), None))]


@dataclass(frozen=True)
class Device:
    """Who is scanning: a volunteer's phone, or a staff tablet at a station."""

    kind: str  # volunteer | staff
    label: str
    volunteer_id: int | None = None
    staff_user_id: int | None = None
    station_ids: frozenset[int] | None = None  # stations a coordinator is bound to
    org_paths: tuple[str, ...] = ()  # subtrees a staff member works in

    def may_use(self, station_org_path: str, station_id: int) -> bool:
        return scope.may_use_station(self.org_paths, self.station_ids, station_id, station_org_path)


@dataclass(frozen=True)
class ScanInput:
    payload: str
    station_id: int | None = None
    scan_id: str | None = None
    scanned_at: datetime | None = None
    mode: str | None = None  # diner cards: dine_in (default), pick_up, delivery


class ScanBody(msgspec.Struct):
    payload: str = ""
    station_id: RowId | None = None  # the tablet's station (card scans)
    scan_id: str | None = None  # client UUID: a retry with the same id returns the same answer
    scanned_at: datetime | None = None
    mode: Annotated[str | None, by_service(choices=(*MODES, None))] = None  # diner cards: dine_in (default)

    def input(self) -> ScanInput:
        return ScanInput(self.payload, self.station_id, self.scan_id, self.scanned_at, self.mode)


class ScanBatch(msgspec.Struct):
    scans: Annotated[list[ScanBody], msgspec.Meta(max_length=1000)]  # one upload of an offline tablet


class VolunteerRef(msgspec.Struct):
    id: int
    name: str


class ActivityRef(msgspec.Struct):
    id: int
    title: str
    starts_at: str  # ISO 8601, UTC
    ends_at: str


class DinerRef(msgspec.Struct):
    """What the counter shows: the name, and what the kitchen must know."""

    id: int
    name: str
    dietary_notes: str | None
    allergies: str | None


class FunderShare(msgspec.Struct):
    agreement_id: int
    funder: str
    amount: int  # fen


class MealRef(msgspec.Struct, omit_defaults=True):
    """A meal recorded: its price, the subsidy split per funder and what the diner paid (fen)."""

    id: int
    slot: str
    service_day: str  # YYYY-MM-DD, Asia/Shanghai
    mode: str
    price: int
    subsidy: int
    paid: int
    subsidized: bool
    served_at: str  # ISO 8601
    split: list[FunderShare]
    status: str | None = (
        None  # served, or held: an offline meal waiting for the hub's review (no subsidy paid yet)
    )
    budget_exhausted: list[str] | None = (
        None  # funders whose budget ran out (they paid nothing); absent if none
    )
    meal_point_id: int | None = None  # where it was served: an earlier meal may be another point's
    meal_point: str | None = None  # that meal point's name, for "泉心食堂 12:05 已领取"


class ScanResult(msgspec.Struct):
    scan_id: str
    outcome: Outcome
    reason: Reason
    message: str  # Chinese first, for the screen
    station_id: int | None
    volunteer: VolunteerRef | None
    activity: ActivityRef | None
    attendance_id: int | None
    minutes: int | None  # a check-out's service minutes
    scanned_at: str
    received_at: str
    earlier_scan_id: str | None = None  # a duplicate: the scan it repeats
    diner: DinerRef | None = None  # diner cards: name, dietary notes and allergies for the counter
    meal: MealRef | None = None  # the meal recorded; the first one if already served
    price: int | None = None  # a refused (or already served) meal's full price, to serve it unsubsidized
    held: bool = False  # an offline scan held for the hub's review: no subsidy or points until approved
    hold_reason: str | None = None  # late_upload, device_online (docs/integrity.md)
    hold_id: int | None = None  # POST /api/v1/holds/{hold_id}/approve or /reject

    @classmethod
    def of(cls, answer: dict) -> ScanResult:
        return msgspec.convert(answer, cls)


class ScanBatchResult(msgspec.Struct):
    results: list[ScanResult]


class DecodedFrame(msgspec.Struct):
    payload: str | None  # the QR code's text, or null if the picture holds none
