"""Queries of the ledger (账本): accounts, transfers, lots and ledger checks.

The engine (`points.ledger`) reads what a batch names and writes its new rows with one statement
per table: these statements are tuned (bench/ledger.py), keep them so. Core statements on the
session's connection, plain rows (dicts) out. Queries of awards, the shop and recognition are in
`repository_awards`, `repository_shop` and `repository_recognition`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from points.models import Account, Lot, Transfer, TransferId

_T = Transfer.__table__
_K = TransferId.__table__
_A = Account.__table__
_L = Lot.__table__
BALANCES = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
_UPDATE_ACCOUNT = (
    update(_A).where(_A.c.id == bindparam("b_id")).values({k: bindparam(f"b_{k}") for k in BALANCES})
)
_UPDATE_LOT = update(_L).where(_L.c.id == bindparam("b_id")).values(remaining=bindparam("b_remaining"))


# Accounts -------------------------------------------------------------------------------------


def lock_accounts(conn: Connection, ids: list[int]) -> None:
    conn.execute(select(_A.c.id).where(_A.c.id.in_(sorted(ids))).order_by(_A.c.id).with_for_update())


def accounts_for_update(conn: Connection, ids: set[int]) -> dict[int, dict]:
    """The accounts, locked in id order, by id."""
    return {
        row["id"]: dict(row)
        for row in conn.execute(
            select(_A).where(_A.c.id.in_(sorted(ids))).order_by(_A.c.id).with_for_update()
        ).mappings()
    }


def account_ids(conn: Connection, keys) -> dict[str, int]:
    return dict(conn.execute(select(_A.c.key, _A.c.id).where(_A.c.key.in_(keys))).all())


def insert_accounts(conn: Connection, rows: list[dict]) -> None:
    """New accounts; a key made meanwhile by another transaction is left as it is."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(_A).on_conflict_do_nothing(index_elements=["key"]), rows)


def account_by_key(session: Session, key: str) -> Account | None:
    return session.scalar(select(Account).where(Account.key == key))


def available(session: Session, ids) -> dict[int, int]:
    """Points each account may still spend: balance less what pending transfers reserve."""
    return dict(
        session.execute(
            select(Account.id, Account.credits_posted - Account.debits_posted - Account.debits_pending).where(
                Account.id.in_(ids)
            )
        ).all()
    )


# Transfers ------------------------------------------------------------------------------------


def transfers(conn: Connection, ids: set[str]) -> dict[str, dict]:
    if not ids:
        return {}
    return {row["id"]: dict(row) for row in conn.execute(select(_T).where(_T.c.id.in_(ids))).mappings()}


def resolutions(conn: Connection, pending_ids: set[str]) -> dict[str, str]:
    """How each of these pending transfers was resolved (post, void, expire), if it was."""
    return {
        pid: kind
        for pid, kind in conn.execute(
            select(_T.c.pending_id, _T.c.kind).where(_T.c.pending_id.in_(pending_ids))
        ).all()
    }


def reversed_ids(conn: Connection, ids: set[str]) -> set[str]:
    """Which of these transfers a reversal already corrects."""
    return set(conn.scalars(select(_K.c.reverses_id).where(_K.c.reverses_id.in_(ids))))


def due_pending(conn: Connection, now: datetime, limit: int) -> list[dict]:
    """Pending transfers past their expiry and not resolved, soonest first."""
    other = _T.alias("other")
    return (
        conn.execute(
            select(_T)
            .where(
                _T.c.kind == "pending",
                _T.c.expires_at <= now,
                ~select(other.c.id).where(other.c.pending_id == _T.c.id).exists(),
            )
            .order_by(_T.c.expires_at)
            .limit(limit)
        )
        .mappings()
        .all()
    )


# A batch's writes -----------------------------------------------------------------------------


def insert_transfers(conn: Connection, rows: list[dict]) -> None:
    """The transfers, and first their keys (`transfer_ids`): a key already taken, a pending
    transfer already resolved or a transfer already reversed fails the batch there, in any month."""
    conn.execute(
        insert(_K),
        [
            {
                "id": r["id"],
                "pending_id": r["pending_id"],
                "reverses_id": r["corrects_id"] if r["reason"] == "reversal" else None,
                "created_at": r["created_at"],
            }
            for r in rows
        ],
    )
    conn.execute(insert(_T), rows)


def update_balances(conn: Connection, rows: list[dict]) -> None:
    """Rows of `b_id` and `b_<balance>` for each of BALANCES."""
    conn.execute(_UPDATE_ACCOUNT, rows)


def insert_lots(conn: Connection, rows: list[dict]) -> None:
    conn.execute(insert(_L), rows)


def update_lots(conn: Connection, rows: list[dict]) -> None:
    """Rows of `b_id` and `b_remaining`."""
    conn.execute(_UPDATE_LOT, rows)


# Lots -----------------------------------------------------------------------------------------


def open_lots(conn: Connection, account_ids: list[int]):
    """The accounts' lots with points left, each account's oldest (soonest expiring) first."""
    return conn.execute(
        select(_L)
        .where(_L.c.account_id.in_(account_ids), _L.c.remaining > 0)
        .order_by(_L.c.account_id, _L.c.expires_at.is_(None), _L.c.expires_at, _L.c.id)
    ).mappings()


def due_lots(conn: Connection, now: datetime) -> list[tuple[int, int]]:
    """(account id, points) left in lots due by `now`, by account."""
    return conn.execute(
        select(_L.c.account_id, func.sum(_L.c.remaining))
        .where(_L.c.remaining > 0, _L.c.expires_at <= now)
        .group_by(_L.c.account_id)
        .order_by(_L.c.account_id)
    ).all()


def _untold(now: datetime, ahead):
    return (
        _L.c.remaining > 0,
        _L.c.notified_at.is_(None),
        _L.c.expires_at > now,
        _L.c.expires_at <= now + ahead,
    )


def lots_to_tell(conn: Connection, now: datetime, ahead) -> list:
    """(volunteer_id, account_id, expires_at, points) of lots expiring within `ahead`, not told yet."""
    return conn.execute(
        select(_A.c.volunteer_id, _L.c.account_id, _L.c.expires_at, func.sum(_L.c.remaining))
        .join(_A, _A.c.id == _L.c.account_id)
        .where(*_untold(now, ahead))
        .group_by(_A.c.volunteer_id, _L.c.account_id, _L.c.expires_at)
        .order_by(_L.c.account_id, _L.c.expires_at)
    ).all()


def mark_lots_told(conn: Connection, now: datetime, ahead) -> None:
    conn.execute(update(_L).where(*_untold(now, ahead)).values(notified_at=now))


# Verification ---------------------------------------------------------------------------------


def counts(session: Session) -> tuple[int, int]:
    """How many accounts and transfers there are."""
    return (
        session.scalar(select(func.count()).select_from(_A)),
        session.scalar(select(func.count()).select_from(_T)),
    )


def transfer_sums(conn: Connection) -> list[tuple[str, list]]:
    """(balance, [(account id, sum)]) for each of BALANCES, from the transfers: posted ones, and
    pending ones not resolved yet."""
    posted = _T.c.kind.in_(("single", "post"))
    other = _T.alias("other")
    open_pending = (_T.c.kind == "pending") & ~select(other.c.id).where(
        other.c.pending_id == _T.c.id
    ).exists()
    sums = []
    for side, prefix in ((_T.c.debit_account_id, "debits"), (_T.c.credit_account_id, "credits")):
        sums.append(
            (
                f"{prefix}_posted",
                conn.execute(select(side, func.sum(_T.c.amount)).where(posted).group_by(side)).all(),
            )
        )
        sums.append(
            (
                f"{prefix}_pending",
                conn.execute(select(side, func.sum(_T.c.amount)).where(open_pending).group_by(side)).all(),
            )
        )
    return sums


def lot_sums(conn: Connection) -> dict[int, int]:
    """Points left in lots, by account."""
    return dict(
        conn.execute(select(_L.c.account_id, func.sum(_L.c.remaining)).group_by(_L.c.account_id)).all()
    )


def all_accounts(conn: Connection):
    return conn.execute(select(_A)).mappings()


def posts_over_pending(conn: Connection) -> int:
    """How many posts exceed the pending transfer they resolve."""
    other = _T.alias("other")  # the pending transfer
    return conn.scalar(
        select(func.count())
        .select_from(_T.join(other, other.c.id == _T.c.pending_id))
        .where(_T.c.amount > other.c.amount)
    )
