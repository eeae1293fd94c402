"""The API types of projects' money in custody (资金代管; `api/grant_money.py`). Amounts in fen."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from grants.corrections import REASON_MAX
from grants.models_money import CATEGORIES, Spending, SpendingReversal, Tranche
from grants.money import AMOUNT_RANGE, KEY_PATTERN, NOTE_MAX, TRANCHE_NOTE_MAX
from linli.bounds import by_service

Key = Annotated[str, by_service(pattern=KEY_PATTERN)]  # the client's key: the same key records once
Amount = Annotated[int, by_service(between=AMOUNT_RANGE)]


class TrancheBody(msgspec.Struct):
    key: Key
    amount: Amount  # fen
    note: Annotated[str, msgspec.Meta(max_length=TRANCHE_NOTE_MAX)] = ""


class TrancheRead(msgspec.Struct):
    id: int
    project_id: int
    key: str
    amount: int
    note: str
    created_by: int | None
    created_at: str
    replayed: bool = False  # the same request again: nothing new was recorded

    @classmethod
    def of(cls, t: Tranche, replayed: bool = False) -> TrancheRead:
        return cls(
            t.id, t.project_id, t.key, t.amount, t.note, t.created_by, t.created_at.isoformat(), replayed
        )


class TranchePage(msgspec.Struct):
    items: list[TrancheRead]  # all of them: a project has a few
    next: str | None = None


class SpendingBody(msgspec.Struct):
    key: Key
    amount: Amount  # fen
    category: Annotated[str, by_service(choices=tuple(CATEGORIES))]
    spent_on: date
    # the receipt (票据), base64: a JPEG or PNG picture or a PDF, read from its bytes, at most
    # MAX_RECEIPT_BYTES (the service refuses more: `receipt_too_large`; the route's body limit far more)
    receipt: str | None = None
    note: Annotated[str, msgspec.Meta(max_length=NOTE_MAX)] = ""


class SpendingRead(msgspec.Struct):
    id: int
    project_id: int
    key: str
    amount: int
    category: str
    category_name: str
    spent_on: str
    note: str
    receipt_type: str
    receipt_size: int
    receipt_url: str
    created_by: int | None
    created_at: str
    replayed: bool = False
    reversal: ReversalRead | None = None  # reversed (冲销): counted nowhere since

    @classmethod
    def of(
        cls, s: Spending, replayed: bool = False, reversal: SpendingReversal | None = None
    ) -> SpendingRead:
        return cls(
            id=s.id,
            project_id=s.project_id,
            key=s.key,
            amount=s.amount,
            category=s.category,
            category_name=CATEGORIES[s.category],
            spent_on=s.spent_on.isoformat(),
            note=s.note,
            receipt_type=s.receipt_type,
            receipt_size=s.receipt_size,
            receipt_url=f"/api/v1/projects/{s.project_id}/spending/{s.id}/receipt",
            created_by=s.created_by,
            created_at=s.created_at.isoformat(),
            replayed=replayed,
            reversal=ReversalRead.of(reversal) if reversal else None,
        )


class ReversalBody(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(max_length=REASON_MAX * 2)]  # the service says what is wrong


class ReversalRead(msgspec.Struct):
    id: int
    project_id: int
    spending_id: int
    amount: int  # fen, given back to custody
    reason: str
    created_by: int | None
    created_at: str
    replayed: bool = False  # reversed before, for the same reason: nothing new

    @classmethod
    def of(cls, r: SpendingReversal, replayed: bool = False) -> ReversalRead:
        return cls(
            r.id,
            r.project_id,
            r.spending_id,
            r.amount,
            r.reason,
            r.created_by,
            r.created_at.isoformat(),
            replayed,
        )


class SpendingPage(msgspec.Struct):
    items: list[SpendingRead]
    next: str | None


class CategoryAmount(msgspec.Struct):
    category: str  # materials, transport, meals, publicity, labour, other
    name: str  # 物料, 交通, 餐饮, 宣传, 劳务, 其他
    amount: int


class ProjectAccount(msgspec.Struct):
    project_id: int
    granted: int  # fen
    paid_in: int
    spent: int
    balance: int  # paid_in - spent, never below zero
    to_pay_in: int  # granted - paid_in
    reversed: int  # fen of spendings reversed (冲销), in neither paid_in nor spent
    by_category: list[CategoryAmount]
