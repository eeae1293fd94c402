"""Ledger tables (账本): accounts and transfers in TigerBeetle's model, kept in SQL.

Two ledgers that never mix: `service_minutes` (the legal record of volunteering; never spent or
expired) and `points` (spendable). Every transfer moves a positive amount from one account to
another of the same ledger. Transfers are append-only: the database refuses UPDATE and DELETE
(triggers, migration 0003). An account with `no_overdraft` can never have debits, pending
included, above its posted credits (a CHECK constraint).

Points earned form lots (`point_lots`) that expire; spending takes from the oldest lots first.
The sum of an account's lot remainders always equals its posted balance (`linli ledger verify`).
"""

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

LEDGERS = ("service_minutes", "points", "grant_money")
# volunteer: verified service or spendable points; volunteer_manual: hours added by hand, kept apart;
# hub_issued: the hub's source of awards; hub_shop: what its shop took; expired: points that expired.
# grant_money (fen, grants.money): round_fund: a round's funds, debited by each tranche paid out (it
# goes negative); project: a granted project's custody, never below zero; spent: what it spent.
ACCOUNT_KINDS = (
    "volunteer",
    "volunteer_manual",
    "hub_issued",
    "hub_shop",
    "expired",
    "round_fund",
    "project",
    "spent",
)
NO_OVERDRAFT_KINDS = ("volunteer", "volunteer_manual", "project")  # these never go below zero
TRANSFER_KINDS = ("single", "pending", "post", "void", "expire")


class Account(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("ledger IN ('service_minutes', 'points', 'grant_money')", name="ledger"),
        CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
            name="amounts",
        ),
        CheckConstraint(
            "NOT no_overdraft OR debits_pending + debits_posted <= credits_posted", name="no_overdraft"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)  # e.g. "points:volunteer:12"
    ledger: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)
    hub_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    no_overdraft: Mapped[bool] = mapped_column(Boolean)  # debits may never exceed credits
    has_lots: Mapped[bool] = mapped_column(Boolean)  # credits form expiring lots
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def balance(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending


class TransferId(Base):
    """A transfer's key (转账编号), written in the same transaction as the transfer: the narrow,
    never partitioned table that holds what must be unique over all months (on PostgreSQL
    `ledger_transfers` is partitioned by month and can only hold keys that contain the month).
    `id` is chosen by the transfer's cause, so the same cause posts once; a pending transfer is
    resolved once (`pending_id` unique); a transfer has at most one reversal (`reverses_id`
    unique). References to a transfer (pending, corrected, a lot's credit, grant money) point here."""

    __tablename__ = "transfer_ids"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    pending_id: Mapped[str | None] = mapped_column(ForeignKey("transfer_ids.id"), unique=True)
    reverses_id: Mapped[str | None] = mapped_column(ForeignKey("transfer_ids.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the transfer's: its month


class Transfer(Base):
    """One movement. `id` is chosen by its cause, so the same cause posts once. A pending transfer
    is resolved once, by a post, a void or an expiry naming it in `pending_id`. Both are enforced
    on `transfer_ids` (one row per transfer, same transaction), which holds them over all months."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("debit_account_id <> credit_account_id", name="accounts"),
        CheckConstraint("kind IN ('single', 'pending', 'post', 'void', 'expire')", name="kind"),
        CheckConstraint("(kind IN ('post', 'void', 'expire')) = (pending_id IS NOT NULL)", name="pending_id"),
        CheckConstraint("kind = 'pending' OR expires_at IS NULL", name="expires_at"),
        Index(
            "ix_ledger_transfers_pending_id",
            "pending_id",
            sqlite_where=text("pending_id IS NOT NULL"),
            postgresql_where=text("pending_id IS NOT NULL"),
        ),
        Index("ix_ledger_transfers_debit", "debit_account_id", "seq"),
        Index("ix_ledger_transfers_credit", "credit_account_id", "seq"),
        Index(
            "ix_ledger_transfers_pending_expiry",
            "expires_at",
            sqlite_where=text("expires_at IS NOT NULL"),
            postgresql_where=text("expires_at IS NOT NULL"),
        ),
    )

    # PostgreSQL: partitioned by month of created_at, primary key (seq, created_at) (migration 0031)
    seq: Mapped[int] = mapped_column(BigId, primary_key=True)  # order of recording
    id: Mapped[str] = mapped_column(ForeignKey("transfer_ids.id"), index=True)  # unique: transfer_ids
    ledger: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    pending_id: Mapped[str | None] = mapped_column(ForeignKey("transfer_ids.id"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # pending transfers only
    reason: Mapped[str] = mapped_column(String(30))  # a stable code: service_award, shop_order, ...
    reference: Mapped[str] = mapped_column(String(100))  # its cause, e.g. "attendance:12"
    corrects_id: Mapped[str | None] = mapped_column(ForeignKey("transfer_ids.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Lot(Base):
    """Points from one credit, spent oldest first and expired by an explicit transfer."""

    __tablename__ = "point_lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining"),
        Index("ix_point_lots_account_open", "account_id", "expires_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfer_ids.id"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: never
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the 30-day notice went out
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PointsRule(Base):
    """A hub's earning rules, one row per version. Rules are never edited: a change is a new
    version, and every award records the version it used."""

    __tablename__ = "points_rules"
    __table_args__ = (
        UniqueConstraint("hub_id", "version"),
        CheckConstraint("rounding_minutes >= 1 AND minimum_minutes >= 0 AND daily_cap >= 0", name="limits"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hub_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    version: Mapped[int] = mapped_column(Integer)
    points_per_hour: Mapped[dict] = mapped_column(JSON)  # by activity kind; missing kinds: "default"
    rounding_minutes: Mapped[int] = mapped_column(Integer)  # minutes counted in whole blocks of this
    minimum_minutes: Mapped[int] = mapped_column(Integer)  # shorter service earns no points
    daily_cap: Mapped[int] = mapped_column(Integer)  # points per volunteer per day; 0: no cap
    campaigns: Mapped[list] = mapped_column(JSON)  # [{name, starts_on, ends_on, percent}]
    delivery_points: Mapped[int] = mapped_column(Integer)  # fixed award per home delivery
    expiry_years: Mapped[int | None] = mapped_column(Integer)  # 1: end of the year after; None: never
    star_hours: Mapped[list] = mapped_column(JSON)  # hours for 1 to 5 stars
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


AWARD_KINDS = ("service", "adjustment", "manual", "delivery", "commendation")  # as the check on point_awards
# Every `reason` a transfer is written with (a stable code; the phone's history says each in words,
# api/templates/me.html): an award's kind with _award or _takeback (points/awards.py), the shop's
# order and its resolutions (points/shop.py), a reservation timed out, points expired, a reversal.
TRANSFER_REASONS = (
    *(f"{kind}_{way}" for kind in AWARD_KINDS for way in ("award", "takeback")),
    "shop_order",
    "shop_fulfilled",
    "shop_cancelled",
    "pending_expired",
    "expiry",
    "reversal",
)


class Award(Base):
    """Why a volunteer's minutes and points moved: one row per cause (an attendance, a correction,
    a delivery, a commendation, hours added by hand), with the rule version used."""

    __tablename__ = "point_awards"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('service', 'adjustment', 'manual', 'delivery', 'commendation')", name="kind"
        ),
        Index("ix_point_awards_volunteer_day", "volunteer_id", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)  # the cause, e.g. "attendance:12"
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    hub_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(20))
    day: Mapped[date] = mapped_column(Date)  # the local day of the service
    minutes: Mapped[int] = mapped_column(Integer)  # signed: an adjustment may take back
    points: Mapped[int] = mapped_column(Integer)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("points_rules.id"))  # None: the defaults
    attendance_id: Mapped[int | None] = mapped_column(ForeignKey("attendance_keys.id"), index=True)
    note: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StarLevel(Base):
    """A star level reached (星级志愿者), with its date; levels are never taken away."""

    __tablename__ = "star_levels"
    __table_args__ = (UniqueConstraint("volunteer_id", "level"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    level: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)  # verified service when reached
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerCheck(Base):
    """One run of the ledger verification (nightly, or `linli ledger verify`), with what it found."""

    __tablename__ = "ledger_checks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    problems: Mapped[list] = mapped_column(JSON)
    accounts: Mapped[int] = mapped_column(Integer)
    transfers: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)


ITEM_PRICE = (1, 1_000_000)  # points
ITEM_STOCK = (0, 1_000_000)
PER_VOLUNTEER_LIMIT = (0, 1000)  # 0: no limit
ORDER_QUANTITY = (1, 100)
ROUND_BONUS = (0, 100_000)  # points for each commended volunteer
ROUND_PERIODS = {"month": 1, "quarter": 3, "year": 12}  # a commendation round's period, in months
LIMIT_PERIODS = ("day", "week", "month", "year", "ever")
ORDER_STATUSES = ("reserved", "fulfilled", "cancelled", "expired")


class ShopItem(Base):
    """Something in a hub's points shop (积分超市): a price in points, stock, a per-volunteer limit."""

    __tablename__ = "shop_items"
    __table_args__ = (
        CheckConstraint("price > 0", name="price"),
        CheckConstraint("stock >= 0", name="stock"),
        CheckConstraint("per_volunteer_limit >= 0", name="per_volunteer_limit"),
        CheckConstraint("limit_period IN ('day', 'week', 'month', 'year', 'ever')", name="limit_period"),
        Index("ix_shop_items_hub", "hub_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hub_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500))
    price: Mapped[int] = mapped_column(Integer)  # points
    stock: Mapped[int] = mapped_column(Integer)
    per_volunteer_limit: Mapped[int] = mapped_column(Integer)  # 0: no limit
    limit_period: Mapped[str] = mapped_column(String(10))
    visible_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visible_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShopOrder(Base):
    """An order reserves points (a pending transfer) and stock; the counter fulfils it by scanning
    the volunteer's card (post), or it is cancelled (void) or expires."""

    __tablename__ = "shop_orders"
    __table_args__ = (
        CheckConstraint("status IN ('reserved', 'fulfilled', 'cancelled', 'expired')", name="status"),
        CheckConstraint("quantity > 0", name="quantity"),
        Index("ix_shop_orders_volunteer_item", "volunteer_id", "item_id", "created_at"),
        Index("ix_shop_orders_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # the client's, for retries
    item_id: Mapped[int] = mapped_column(ForeignKey("shop_items.id"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    hub_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    transfer_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class CommendationRound(Base):
    """A hub's commendation round (表彰) for a period: proposed by rule, reviewed, then confirmed."""

    __tablename__ = "commendation_rounds"
    __table_args__ = (
        CheckConstraint("period IN ('month', 'quarter', 'year')", name="period"),
        CheckConstraint("status IN ('proposed', 'confirmed')", name="status"),
        CheckConstraint("bonus_points >= 0", name="bonus_points"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hub_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    rules: Mapped[dict] = mapped_column(JSON)  # {top_n_per_org, min_minutes, min_deliveries}
    bonus_points: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Commendation(Base):
    __tablename__ = "commendations"
    __table_args__ = (
        UniqueConstraint("round_id", "volunteer_id"),
        CheckConstraint("status IN ('proposed', 'removed', 'confirmed')", name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("commendation_rounds.id"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))  # where they served most
    minutes: Mapped[int] = mapped_column(Integer)  # verified service in the period
    deliveries: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300))  # why proposed (or added by hand)
    status: Mapped[str] = mapped_column(String(20))
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))


class Certificate(Base):
    """A commendation certificate or a service-record certificate (志愿服务记录证明). The facts are
    kept; the PDF is drawn from them. Its public code is signed, so an altered code does not verify."""

    __tablename__ = "certificates"
    __table_args__ = (CheckConstraint("kind IN ('commendation', 'service_record')", name="kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    holder_name: Mapped[str] = mapped_column(String(40))  # as it was when issued
    hub_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    title: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
