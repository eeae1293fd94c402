"""The ledger engine (记账): create transfers in batches, TigerBeetle's way, on SQL.

`create_transfers(session, [TransferInput, ...], now)` returns one result code per input, in order.
Codes are stable (docs/ledger.md): `created`, `exists`, `exists_with_different_fields`, and a
refusal code otherwise. A refused transfer writes nothing; the others in the batch still apply.

How a batch runs, in one transaction: the transfers it names (pending ones to resolve, ones to
correct) are read; the accounts involved are locked in id order (so batches never deadlock); the
batch's ids are looked up (after the lock, so a concurrent duplicate is seen); each input is
judged against balances kept in memory; then the new transfers, account balances and lots are
written with one statement each.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy.orm import Session

from points import repository
from points.models import NO_OVERDRAFT_KINDS, Account
from points.repository import BALANCES

CREATED = "created"
EXISTS = "exists"
EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
RESULTS = (
    CREATED,
    EXISTS,
    EXISTS_WITH_DIFFERENT_FIELDS,
    "kind_invalid",
    "id_invalid",
    "amount_must_be_positive",
    "accounts_must_be_different",
    "debit_account_not_found",
    "credit_account_not_found",
    "accounts_must_have_the_same_ledger",
    "volunteer_to_volunteer_forbidden",
    "exceeds_credits",
    "pending_id_must_be_empty",
    "pending_id_required",
    "pending_transfer_not_found",
    "pending_transfer_not_pending",
    "pending_transfer_has_different_accounts",
    "pending_transfer_already_posted",
    "pending_transfer_already_voided",
    "pending_transfer_expired",
    "pending_transfer_not_expired",
    "exceeds_pending_transfer_amount",
    "void_amount_must_match",
    "expires_at_must_be_in_future",
    "expires_at_only_for_pending",
    "corrected_transfer_not_found",
    "reversal_must_mirror_corrected",
    "exceeds_corrected_amount",
    "reversal_already_exists",
)

_NEVER = datetime.max.replace(year=9999)


@dataclass(frozen=True)
class TransferInput:
    id: str
    kind: str = "single"  # single, pending, post, void, expire
    debit_account_id: int | None = None  # post, void, expire: those of the pending transfer
    credit_account_id: int | None = None
    amount: int | None = None  # post: None posts the whole pending amount
    pending_id: str | None = None
    expires_at: datetime | None = None  # pending only: unresolved by then, it expires
    reason: str = ""
    reference: str = ""
    corrects_id: str | None = None  # a correction names what it corrects; reason "reversal" mirrors it
    lot_expires_at: datetime | None = None  # a credit into an account with lots: when the lot expires


def lock_accounts(session: Session, ids: list[int]) -> None:
    """Lock accounts in id order, as every batch does: callers that must hold an account across
    several steps take it first this way, so no two transactions ever wait on each other in a cycle."""
    repository.lock_accounts(session.connection(), ids)


def create_transfers(session: Session, inputs: list[TransferInput], now: datetime) -> list[str]:
    if not inputs:
        return []
    conn = session.connection()
    named = {t.pending_id for t in inputs if t.pending_id} | {t.corrects_id for t in inputs if t.corrects_id}
    referenced = repository.transfers(conn, named)
    account_ids = {i for t in inputs for i in (t.debit_account_id, t.credit_account_id) if i is not None}
    account_ids |= {i for r in referenced.values() for i in (r["debit_account_id"], r["credit_account_id"])}
    accounts = repository.accounts_for_update(conn, account_ids)
    existing = repository.transfers(conn, {t.id for t in inputs})
    resolved = repository.resolutions(conn, named)
    reversed_ids = repository.reversed_ids(conn, named)
    batch = _Batch(conn, accounts, now)
    results = []
    for t in inputs:
        stored = existing.get(t.id) or batch.new.get(t.id)
        if stored is not None:
            results.append(_compare(t, stored, referenced | batch.new))
            continue
        code = _judge(t, batch, referenced, resolved, reversed_ids, now)
        if code == "pending_transfer_expired" and t.pending_id not in resolved:
            # timed out but not yet swept: release it now, so the reservation never outlives its expiry
            expiry = expire_input(referenced.get(t.pending_id) or batch.new[t.pending_id])
            _apply(expiry, batch, referenced, resolved, reversed_ids)
        if code == CREATED:
            _apply(t, batch, referenced, resolved, reversed_ids)
        results.append(code)
    batch.write()
    return results


def expire_input(pending: dict) -> TransferInput:
    return TransferInput(
        id=f"expire:{pending['id']}",
        kind="expire",
        pending_id=pending["id"],
        reason="pending_expired",
        reference=pending["reference"],
    )


class _Batch:
    def __init__(self, conn, accounts: dict[int, dict], now: datetime) -> None:
        self.conn = conn
        self.accounts = accounts
        self.now = now
        self.new: dict[str, dict] = {}  # transfers created in this batch, in order
        self.changed: set[int] = set()
        self.lots: dict[int, list[dict]] = {}  # account id -> its open lots, oldest first
        self.new_lots: list[dict] = []

    def open_lots(self, account_id: int) -> list[dict]:
        if not self.lots:  # first use: every locked account's open lots, in one statement
            self.lots = {i: [] for i, a in self.accounts.items() if a["has_lots"]}
            for row in repository.open_lots(self.conn, list(self.lots)):
                self.lots[row["account_id"]].append(dict(row))
        return self.lots[account_id]

    def add_lot(self, account_id: int, transfer_id: str, amount: int, expires_at: datetime | None) -> None:
        lot = {
            "id": None,
            "account_id": account_id,
            "transfer_id": transfer_id,
            "amount": amount,
            "remaining": amount,
            "expires_at": expires_at,
            "notified_at": None,
            "created_at": self.now,
        }
        lots = self.open_lots(account_id)
        lots.append(lot)
        lots.sort(key=lambda lot: (lot["expires_at"] is None, lot["expires_at"] or _NEVER))  # stable
        self.new_lots.append(lot)

    def consume(self, account_id: int, amount: int) -> None:
        """Take `amount` from the oldest lots first (those expiring soonest)."""
        for lot in self.open_lots(account_id):
            if amount == 0:
                break
            take = min(lot["remaining"], amount)
            if take:
                lot["remaining"] -= take
                lot["changed"] = True
                amount -= take
        if amount:
            raise AssertionError(f"lots of account {account_id} short by {amount}")  # verify would flag it

    def write(self) -> None:
        if self.new:
            repository.insert_transfers(self.conn, list(self.new.values()))
        if self.changed:
            repository.update_balances(
                self.conn,
                [
                    {"b_id": i, **{f"b_{k}": self.accounts[i][k] for k in BALANCES}}
                    for i in sorted(self.changed)
                ],
            )
        if self.new_lots:
            repository.insert_lots(
                self.conn,
                [{k: v for k, v in lot.items() if k not in ("id", "changed")} for lot in self.new_lots],
            )
        updated = [
            {"b_id": lot["id"], "b_remaining": lot["remaining"]}
            for lots in self.lots.values()
            for lot in lots
            if lot.get("changed") and lot["id"] is not None
        ]
        if updated:
            repository.update_lots(self.conn, updated)


def _judge(t: TransferInput, batch: _Batch, referenced, resolved, reversed_ids, now) -> str:
    if t.kind not in ("single", "pending", "post", "void", "expire"):
        return "kind_invalid"
    if not t.id or len(t.id) > 100:
        return "id_invalid"
    accounts = batch.accounts
    if t.kind in ("single", "pending"):
        if t.pending_id is not None:
            return "pending_id_must_be_empty"
        if t.amount is None or t.amount <= 0:
            return "amount_must_be_positive"
        if t.debit_account_id == t.credit_account_id:
            return "accounts_must_be_different"
        debit, credit = accounts.get(t.debit_account_id), accounts.get(t.credit_account_id)
        if debit is None:
            return "debit_account_not_found"
        if credit is None:
            return "credit_account_not_found"
        if debit["ledger"] != credit["ledger"]:
            return "accounts_must_have_the_same_ledger"
        if debit["volunteer_id"] is not None and credit["volunteer_id"] is not None:
            return "volunteer_to_volunteer_forbidden"  # points are not money: no transfers between people
        if t.kind == "pending" and t.expires_at is not None and t.expires_at <= now:
            return "expires_at_must_be_in_future"
        if t.kind == "single" and t.expires_at is not None:
            return "expires_at_only_for_pending"
        if t.corrects_id is not None:
            corrected = referenced.get(t.corrects_id) or batch.new.get(t.corrects_id)
            if corrected is None:
                return "corrected_transfer_not_found"
            if t.reason == "reversal":
                if (corrected["debit_account_id"], corrected["credit_account_id"]) != (
                    t.credit_account_id,
                    t.debit_account_id,
                ) or corrected["kind"] not in ("single", "post"):
                    return "reversal_must_mirror_corrected"
                if t.amount > corrected["amount"]:
                    return "exceeds_corrected_amount"
                if t.corrects_id in reversed_ids:
                    return "reversal_already_exists"
        if debit["no_overdraft"] and (
            debit["debits_pending"] + debit["debits_posted"] + t.amount > debit["credits_posted"]
        ):
            return "exceeds_credits"
        return CREATED
    # post, void, expire: resolve a pending transfer, once
    if t.pending_id is None:
        return "pending_id_required"
    pending = referenced.get(t.pending_id) or batch.new.get(t.pending_id)
    if pending is None:
        return "pending_transfer_not_found"
    if pending["kind"] != "pending":
        return "pending_transfer_not_pending"
    if (t.debit_account_id not in (None, pending["debit_account_id"])) or (
        t.credit_account_id not in (None, pending["credit_account_id"])
    ):
        return "pending_transfer_has_different_accounts"
    done = resolved.get(t.pending_id)
    if done == "post":
        return "pending_transfer_already_posted"
    if done == "void":
        return "pending_transfer_already_voided"
    if done == "expire":
        return "pending_transfer_expired"
    timed_out = pending["expires_at"] is not None and pending["expires_at"] <= now
    if t.kind == "expire":
        return CREATED if timed_out else "pending_transfer_not_expired"
    if timed_out:
        return "pending_transfer_expired"
    if t.kind == "post":
        if t.amount is not None and t.amount <= 0:
            return "amount_must_be_positive"
        if (t.amount or 0) > pending["amount"]:
            return "exceeds_pending_transfer_amount"
    elif t.amount is not None and t.amount != pending["amount"]:
        return "void_amount_must_match"
    return CREATED


def _apply(t: TransferInput, batch: _Batch, referenced, resolved, reversed_ids) -> None:
    accounts = batch.accounts
    pending = None
    if t.pending_id is not None:
        pending = referenced.get(t.pending_id) or batch.new[t.pending_id]
        debit_id, credit_id = pending["debit_account_id"], pending["credit_account_id"]
        amount = pending["amount"] if t.kind != "post" or t.amount is None else t.amount
    else:
        debit_id, credit_id, amount = t.debit_account_id, t.credit_account_id, t.amount
    debit, credit = accounts[debit_id], accounts[credit_id]
    if pending is not None:  # release the reservation
        debit["debits_pending"] -= pending["amount"]
        credit["credits_pending"] -= pending["amount"]
        resolved[t.pending_id] = t.kind
    if t.kind == "pending":
        debit["debits_pending"] += amount
        credit["credits_pending"] += amount
    elif t.kind in ("single", "post"):
        debit["debits_posted"] += amount
        credit["credits_posted"] += amount
        if debit["has_lots"]:
            batch.consume(debit_id, amount)
        if credit["has_lots"]:
            batch.add_lot(credit_id, t.id, amount, t.lot_expires_at)
    if t.reason == "reversal" and t.corrects_id:
        reversed_ids.add(t.corrects_id)
    batch.changed |= {debit_id, credit_id}
    batch.new[t.id] = {
        "id": t.id,
        "ledger": debit["ledger"],
        "kind": t.kind,
        "debit_account_id": debit_id,
        "credit_account_id": credit_id,
        "amount": amount,
        "pending_id": t.pending_id,
        "expires_at": t.expires_at,
        "reason": t.reason,
        "reference": t.reference,
        "corrects_id": t.corrects_id,
        "created_at": batch.now,
    }


def _compare(t: TransferInput, stored: dict, known: dict) -> str:
    """`exists` when the input says what the stored transfer says; fields a post or void leaves
    empty (accounts, a post's amount) are taken from the pending transfer."""
    want = {f.name: getattr(t, f.name) for f in fields(t) if f.name != "lot_expires_at"}
    if t.kind in ("post", "void", "expire"):
        pending = known.get(t.pending_id)
        for side in ("debit_account_id", "credit_account_id"):
            if want[side] is None:
                want[side] = stored[side]
        if want["amount"] is None and pending is not None:
            want["amount"] = pending["amount"]
    same = all(stored[k] == v for k, v in want.items())
    return EXISTS if same else EXISTS_WITH_DIFFERENT_FIELDS


# Accounts -------------------------------------------------------------------------------------


def ensure_accounts(session: Session, wanted: dict[str, dict], now: datetime) -> dict[str, int]:
    """Ids of the accounts with these keys, made on first use (concurrent first uses make one).
    `wanted` maps each key to its ledger, kind and owner (volunteer_id or hub_id)."""
    conn = session.connection()
    found = repository.account_ids(conn, wanted)
    missing = [k for k in wanted if k not in found]
    if missing:
        rows = []
        for key in missing:
            w = wanted[key]
            rows.append(
                {
                    "key": key,
                    "ledger": w["ledger"],
                    "kind": w["kind"],
                    "volunteer_id": w.get("volunteer_id"),
                    "hub_id": w.get("hub_id"),
                    "no_overdraft": w["kind"] in NO_OVERDRAFT_KINDS,
                    "has_lots": w["kind"] == "volunteer" and w["ledger"] == "points",
                    **dict.fromkeys(BALANCES, 0),
                    "created_at": now,
                }
            )
        repository.insert_accounts(conn, rows)
        found |= repository.account_ids(conn, missing)
    return found


def ensure_account(
    session: Session,
    key: str,
    *,
    ledger: str,
    kind: str,
    now: datetime,
    volunteer_id: int | None = None,
    hub_id: int | None = None,
) -> int:
    return ensure_accounts(
        session, {key: {"ledger": ledger, "kind": kind, "volunteer_id": volunteer_id, "hub_id": hub_id}}, now
    )[key]


def volunteer_account(session: Session, ledger: str, volunteer_id: int, now: datetime) -> int:
    return ensure_account(
        session,
        f"{ledger}:volunteer:{volunteer_id}",
        ledger=ledger,
        kind="volunteer",
        volunteer_id=volunteer_id,
        now=now,
    )


def hub_account(session: Session, ledger: str, kind: str, hub_id: int, now: datetime) -> int:
    return ensure_account(
        session, f"{ledger}:{kind}:{hub_id}", ledger=ledger, kind=kind, hub_id=hub_id, now=now
    )


def account_by_key(session: Session, key: str) -> Account | None:
    return repository.account_by_key(session, key)


def system_account(session: Session, ledger: str, kind: str, now: datetime) -> int:
    return ensure_account(session, f"{ledger}:{kind}", ledger=ledger, kind=kind, now=now)


# Expiry ---------------------------------------------------------------------------------------


def sweep_pending(session: Session, now: datetime, limit: int = 1000) -> int:
    """Release pending transfers past their expiry (an `expire` transfer each); returns how many."""
    due = repository.due_pending(session.connection(), now, limit)
    results = create_transfers(session, [expire_input(dict(p)) for p in due], now)
    return results.count(CREATED)


def expire_lots(session: Session, now: datetime, day: str) -> int:
    """Move the remainder of every lot due by `now` to the ledger's expired account: one transfer
    per account per `day` (local date). Points reserved by a pending order stay until it resolves.
    Returns the points expired."""
    conn = session.connection()
    due = repository.due_lots(conn, now)
    if not due:
        return 0
    # lock, then read again: an order fulfilled meanwhile may have spent the due lots
    lock_accounts(session, [a for a, _ in due])
    due = repository.due_lots(conn, now)
    target = system_account(session, "points", "expired", now)
    available = repository.available(session, [a for a, _ in due])
    inputs = [
        TransferInput(
            id=f"expiry:{account_id}:{day}",
            debit_account_id=account_id,
            credit_account_id=target,
            amount=min(int(amount), available[account_id]),
            reason="expiry",
            reference=f"expiry:{day}",
        )
        for account_id, amount in due
        if min(int(amount), available[account_id]) > 0
    ]
    results = create_transfers(session, inputs, now)
    return sum(t.amount for t, r in zip(inputs, results, strict=True) if r == CREATED)
