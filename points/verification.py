"""Verification of the ledger (账本核对): every balance recomputed from its transfers, each ledger
summing to zero, lots matching balances. The nightly job and `linli ledger verify` run it; see
docs/ledger.md."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from points import repository
from points.models import LedgerCheck
from points.repository import BALANCES

PHASES = 4  # the steps verify() reports to `step`; run_check() adds one per `also` check and one


def run_check(
    session: Session,
    now: datetime,
    clock,
    also: Iterable[Callable[[Session], list[str]]] = (),
    step: Callable[[str], None] = lambda name: None,
) -> LedgerCheck:
    """Verify the whole ledger and record the result (the nightly job and `linli ledger verify`).
    `also`: the checks of what other domains keep beside their transfers (grant money's tranches
    and spendings: `grants.money.verify`), their problems recorded with the ledger's. `step(name)`
    is called as each phase starts (the command's progress display): PHASES + len(also) + 1 calls."""
    problems = verify(session, step)
    for check in also:
        step(f"其他核对 also {check.__module__}")
        problems += check(session)
    step("计数 counts")
    accounts, transfers = repository.counts(session)
    check = LedgerCheck(
        ok=not problems,
        problems=problems[:1000],
        accounts=accounts,
        transfers=transfers,
        started_at=now,
        finished_at=clock.now(),
    )
    session.add(check)
    session.flush()
    return check


def verify(session: Session, step: Callable[[str], None] = lambda name: None) -> list[str]:
    """Recompute every balance from its transfers, check each ledger sums to zero and that lots match
    balances. Returns the problems found (empty: all is well). `step`: see run_check."""
    conn = session.connection()
    problems: list[str] = []
    recomputed: dict[int, dict[str, int]] = {}
    step("转账合计 transfer sums")
    for field, rows in repository.transfer_sums(conn):
        for account_id, total in rows:
            recomputed.setdefault(account_id, dict.fromkeys(BALANCES, 0))[field] = int(total)
    step("积分批次 lots")
    lots = repository.lot_sums(conn)
    totals: dict[str, list[int]] = {}
    step("账户余额 balances")
    for acc in repository.all_accounts(conn):
        want = recomputed.pop(acc["id"], dict.fromkeys(BALANCES, 0))
        for k in BALANCES:
            if acc[k] != want[k]:
                problems.append(f"account {acc['key']}: {k} is {acc[k]}, transfers say {want[k]}")
        t = totals.setdefault(acc["ledger"], [0, 0])
        t[0] += acc["credits_posted"] - acc["debits_posted"]
        t[1] += acc["credits_pending"] - acc["debits_pending"]
        if (
            acc["has_lots"]
            and int(lots.pop(acc["id"], 0) or 0) != acc["credits_posted"] - acc["debits_posted"]
        ):
            problems.append(f"account {acc['key']}: lots do not add up to its balance")
    problems += [f"account {i}: transfers name a missing account" for i in recomputed]
    problems += [f"account {i}: lots on an account without lots" for i in lots]
    for ledger, (posted_sum, pending_sum) in totals.items():
        if posted_sum or pending_sum:
            problems.append(
                f"ledger {ledger}: posted sums to {posted_sum}, pending to {pending_sum}, not zero"
            )
    step("过账对照 posts against pending")
    over = repository.posts_over_pending(conn)
    if over:
        problems.append(f"{over} posts exceed their pending transfer")
    return problems
