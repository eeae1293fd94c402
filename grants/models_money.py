"""Money in custody (资金代管) of granted projects: the rows behind the ledger's transfers.

The money itself is in the ledger (`points.ledger`, ledger `grant_money`, in fen; docs/ledger.md):
a tranche paid in moves fen from the round's fund to the project's custody account, a spending
from the custody account to the project's spent account. Each row here names its transfer
(`transfer_id`, unique) and is written in the same transaction; `key` is the client's own key for
retries (unique per project), so a request sent twice records once.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from linli.db import Base, BigId, UTCDateTime

# what a project spends on (支出类别): code -> Chinese name
CATEGORIES = {
    "materials": "物料",
    "transport": "交通",
    "meals": "餐饮",
    "publicity": "宣传",
    "labour": "劳务",
    "other": "其他",
}
RECEIPT_TYPES = ("image/jpeg", "image/png", "application/pdf")


class Tranche(Base):
    """A tranche paid into a project's custody account (拨款), e.g. half at the start."""

    __tablename__ = "grant_tranches"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        UniqueConstraint("project_id", "key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("grant_projects.id"), index=True)
    key: Mapped[str] = mapped_column(String(40))  # the client's key for retries
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfer_ids.id"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # fen
    note: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Spending(Base):
    """A project's spending (支出) out of custody, with its category and its receipt (an image or
    a PDF, kept in the database like generated files; `receipt` is loaded only when asked for)."""

    __tablename__ = "grant_spendings"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(
            "category IN ('materials', 'transport', 'meals', 'publicity', 'labour', 'other')",
            name="category",
        ),
        CheckConstraint(
            "receipt_type IN ('image/jpeg', 'image/png', 'application/pdf')", name="receipt_type"
        ),
        UniqueConstraint("project_id", "key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("grant_projects.id"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfer_ids.id"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # fen
    category: Mapped[str] = mapped_column(String(20))
    spent_on: Mapped[date] = mapped_column(Date)  # the local day of the spending
    note: Mapped[str] = mapped_column(String(500))
    receipt_type: Mapped[str] = mapped_column(String(30))  # read from the file's first bytes
    receipt_size: Mapped[int] = mapped_column(Integer)
    receipt_sha256: Mapped[str] = mapped_column(String(64))
    receipt: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SpendingReversal(Base):
    """A spending recorded by mistake, reversed (冲销) by the round's hub: the ledger's reversal
    transfer (`spent` → `project`, `corrects_id` the spending's transfer) and why. The spending row
    and its transfer stay as they were (append-only); a spending is reversed at most once."""

    __tablename__ = "grant_spending_reversals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("grant_projects.id"), index=True)
    spending_id: Mapped[int] = mapped_column(ForeignKey("grant_spendings.id"), unique=True)
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfer_ids.id"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # fen, the spending's whole amount
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
