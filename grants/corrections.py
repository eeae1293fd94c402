"""Corrections of projects' money (冲销): a spending recorded by mistake is reversed by an admin of
the round's hub, with a reason. The money ledger is append-only (docs/ledger.md): the spending and
its transfer stay; the ledger's reversal transfer (`spent` → `project`, reason `reversal`,
`corrects_id` the spending's transfer) gives the amount back to custody, and a row
(`grant_spending_reversals`) says who, when and why. A spending is reversed once: the project's
accounts are locked before looking, the row is unique by spending and the ledger refuses a second
reversal of a transfer; the same request again answers the reversal already made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from grants import money
from grants import repository_money as repository
from grants.models import Project
from grants.models_money import SpendingReversal
from linli.errors import FieldError, conflict, invalid, not_found
from points import ledger

REASON_MAX = 500


def reverse(
    session: Session,
    project: Project,
    spending_id: int,
    reason: str,
    *,
    staff_user_id: int | None,
    now: datetime,
) -> tuple[SpendingReversal, bool]:
    """Reverse a spending of `project`. Returns the reversal and whether it was made now (False:
    it was already reversed for the same reason). Reversed before for another reason: 409
    `already_reversed`."""
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= REASON_MAX:
        raise invalid(
            [
                FieldError(
                    "reason",
                    "reason_required",
                    "请写明冲销理由（500字以内） Give the reason, at most 500 characters",
                )
            ]
        )
    spending = repository.spending(session, project.id, spending_id)
    if spending is None:
        raise not_found("支出 Spending", "spending_not_found")
    accounts = money.accounts_of(session, project, now)
    ledger.lock_accounts(session, [accounts["project"], accounts["spent"]])  # as a spending does
    existing = repository.reversal_of(session, spending.id)
    if existing is not None:
        if existing.reason != reason:
            raise conflict(
                "already_reversed",
                "该笔支出已冲销 This spending was already reversed",
                reversal_id=existing.id,
            )
        return existing, False
    transfer_id = f"{money.LEDGER}:reversal:{spending.id}"
    [code] = ledger.create_transfers(
        session,
        [
            ledger.TransferInput(
                id=transfer_id,
                debit_account_id=accounts["spent"],
                credit_account_id=accounts["project"],
                amount=spending.amount,
                reason="reversal",
                reference=f"project:{project.id}:spending:{spending.id}",
                corrects_id=spending.transfer_id,
            )
        ],
        now,
    )
    if code != ledger.CREATED:  # the lock makes this unreachable but for a row written around it
        raise conflict("already_reversed", f"该笔支出已冲销 This spending was already reversed ({code})")
    row = SpendingReversal(
        project_id=project.id,
        spending_id=spending.id,
        transfer_id=transfer_id,
        amount=spending.amount,
        reason=reason,
        created_by=staff_user_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, True
