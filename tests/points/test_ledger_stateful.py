"""The ledger against a simple in-memory model (Hypothesis, stateful): awards, duplicates, orders,
posts, voids, expiry of orders and of lots, reversals and time moving on. After every step the
result code must be the model's, and every invariant must hold: balances equal the model's and
what `verify` recomputes from transfers, each ledger sums to zero, lots add up to balances, and no
volunteer account is overdrawn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from points import ledger, verification
from points.ledger import TransferInput
from points.models import Account, Lot, Transfer
from tests.fixtures.database import truncate

pytestmark = pytest.mark.slow  # hypothesis' stateful runs: left out of `make test-quick`

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
VOLUNTEERS = ("v1", "v2")
KEYS = st.integers(0, 4)


class Model:
    """What the ledger should do, written as plainly as possible."""

    def __init__(self, accounts: dict[str, dict]) -> None:
        self.accounts = accounts  # name -> {"id", "no_overdraft", "has_lots", balances}
        self.by_id = {a["id"]: name for name, a in accounts.items()}
        self.transfers: dict[str, dict] = {}
        self.resolved: dict[str, str] = {}
        self.reversed: set[str] = set()
        self.lots: dict[str, list[list]] = {name: [] for name in accounts}  # [expires_at, seq, remaining, id]

    def available(self, name: str) -> int:
        a = self.accounts[name]
        return a["credits_posted"] - a["debits_posted"] - a["debits_pending"]

    def submit(self, t: TransferInput, now: datetime) -> str:
        fields = {
            "kind": t.kind,
            "debit": t.debit_account_id,
            "credit": t.credit_account_id,
            "amount": t.amount,
            "pending_id": t.pending_id,
            "expires_at": t.expires_at,
            "reason": t.reason,
            "corrects_id": t.corrects_id,
        }
        if t.id in self.transfers:
            stored = self.transfers[t.id]
            if t.kind in ("post", "void"):
                fields["debit"], fields["credit"] = stored["debit"], stored["credit"]
                if fields["amount"] is None:
                    fields["amount"] = self.transfers[t.pending_id]["amount"]
            return (
                "exists" if all(stored[k] == v for k, v in fields.items()) else "exists_with_different_fields"
            )
        if t.kind in ("single", "pending"):
            debit = self.by_id[t.debit_account_id]
            if t.corrects_id is not None:
                corrected = self.transfers.get(t.corrects_id)
                if corrected is None:
                    return "corrected_transfer_not_found"
                if t.amount > corrected["amount"]:
                    return "exceeds_corrected_amount"
                if t.corrects_id in self.reversed:
                    return "reversal_already_exists"
            if self.accounts[debit]["no_overdraft"] and self.available(debit) < t.amount:
                return "exceeds_credits"
            self._apply(t.id, fields, t.lot_expires_at)
            return "created"
        pending = self.transfers.get(t.pending_id)
        if pending is None:
            return "pending_transfer_not_found"
        done = self.resolved.get(t.pending_id)
        if done == "post":
            return "pending_transfer_already_posted"
        if done == "void":
            return "pending_transfer_already_voided"
        if done == "expire":
            return "pending_transfer_expired"
        if pending["expires_at"] is not None and pending["expires_at"] <= now:
            self.expire(t.pending_id)
            return "pending_transfer_expired"
        if t.kind == "post" and (t.amount or 0) > pending["amount"]:
            return "exceeds_pending_transfer_amount"
        fields["debit"], fields["credit"] = pending["debit"], pending["credit"]
        if fields["amount"] is None:
            fields["amount"] = pending["amount"]
        self._apply(t.id, fields, None)
        return "created"

    def expire(self, pending_id: str) -> None:
        p = self.transfers[pending_id]
        self._apply(
            f"expire:{pending_id}",
            {
                **p,
                "kind": "expire",
                "pending_id": pending_id,
                "expires_at": None,
                "reason": "pending_expired",
            },
            None,
        )

    def _apply(self, tid: str, f: dict, lot_expires_at) -> None:
        debit, credit = self.accounts[self.by_id[f["debit"]]], self.accounts[self.by_id[f["credit"]]]
        if f["pending_id"]:
            p = self.transfers[f["pending_id"]]
            debit["debits_pending"] -= p["amount"]
            credit["credits_pending"] -= p["amount"]
            self.resolved[f["pending_id"]] = f["kind"]
            if f["kind"] in ("void", "expire"):
                f = {**f, "amount": p["amount"]}
        if f["kind"] == "pending":
            debit["debits_pending"] += f["amount"]
            credit["credits_pending"] += f["amount"]
        elif f["kind"] in ("single", "post"):
            debit["debits_posted"] += f["amount"]
            credit["credits_posted"] += f["amount"]
            if debit["has_lots"]:
                left = f["amount"]
                for lot in sorted(self.lots[self.by_id[f["debit"]]], key=lambda x: (x[0], x[1])):
                    take = min(lot[2], left)
                    lot[2] -= take
                    left -= take
                assert left == 0
            if credit["has_lots"]:
                self.lots[self.by_id[f["credit"]]].append(
                    [lot_expires_at, len(self.transfers), f["amount"], tid]
                )
        if f["reason"] == "reversal":
            self.reversed.add(f["corrects_id"])
        self.transfers[tid] = f


def test_ledger_against_a_model(rt):
    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            truncate(rt)
            self.now = T0
            self.day = 0
            self.last = None
            with rt.tx() as s:
                ids = {
                    "issued": ledger.hub_account(s, "points", "hub_issued", None, T0),
                    "shop": ledger.hub_account(s, "points", "hub_shop", None, T0),
                }
                for v in VOLUNTEERS:
                    ids[v] = ledger.ensure_account(
                        s, f"points:volunteer:{v}", ledger="points", kind="volunteer", now=T0
                    )
                ids["expired"] = ledger.system_account(s, "points", "expired", T0)
            with rt.tx() as s:
                accounts = {
                    name: {
                        "id": i,
                        "no_overdraft": a.no_overdraft,
                        "has_lots": a.has_lots,
                        "debits_pending": 0,
                        "debits_posted": 0,
                        "credits_pending": 0,
                        "credits_posted": 0,
                    }
                    for name, i in ids.items()
                    for a in [s.get(Account, i)]
                }
            self.model = Model(accounts)
            self.ids = ids

        def submit(self, *inputs: TransferInput) -> None:
            with rt.tx() as s:
                got = ledger.create_transfers(s, list(inputs), self.now)
            want = [self.model.submit(t, self.now) for t in inputs]
            assert got == want, (inputs, got, want)

        def award_input(self, v, amount, key, days):
            return TransferInput(
                id=f"award:{v}:{key}",
                debit_account_id=self.ids["issued"],
                credit_account_id=self.ids[v],
                amount=amount,
                reason="service_award",
                reference=f"attendance:{key}",
                lot_expires_at=self.now + timedelta(days=days),
            )

        def order_input(self, v, amount, key, hours):
            return TransferInput(
                id=f"order:{key}",
                kind="pending",
                debit_account_id=self.ids[v],
                credit_account_id=self.ids["shop"],
                amount=amount,
                expires_at=self.now + timedelta(hours=hours),
                reason="shop_order",
                reference=f"order:{key}",
            )

        def post_input(self, key, amount, attempt):
            return TransferInput(
                id=f"post:{key}:{attempt}",
                kind="post",
                pending_id=f"order:{key}",
                amount=amount,
                reason="shop_fulfilled",
                reference=f"order:{key}",
            )

        @rule(
            steps=st.lists(
                st.tuples(
                    st.sampled_from(("award", "order", "post")),
                    st.sampled_from(VOLUNTEERS),
                    st.integers(1, 60),
                    KEYS,
                    st.integers(1, 400),
                ),
                min_size=2,
                max_size=6,
            )
        )
        def batch(self, steps):
            """Several transfers in one call: later ones see the earlier ones' effects."""
            inputs = []
            for kind, v, amount, key, n in steps:
                if kind == "award":
                    inputs.append(self.award_input(v, amount, key, n))
                elif kind == "order":
                    inputs.append(self.order_input(v, amount, key, n))
                else:
                    inputs.append(self.post_input(key, amount if n % 2 else None, n % 2))
            self.submit(*inputs)

        @rule(v=st.sampled_from(VOLUNTEERS), amount=st.integers(1, 60), key=KEYS, days=st.integers(1, 500))
        def award(self, v, amount, key, days):
            self.submit(self.award_input(v, amount, key, days))

        @rule(v=st.sampled_from(VOLUNTEERS), amount=st.integers(1, 80), key=KEYS, hours=st.integers(1, 200))
        def order(self, v, amount, key, hours):
            self.submit(self.order_input(v, amount, key, hours))

        @rule(key=KEYS, amount=st.none() | st.integers(1, 80), attempt=st.integers(0, 1))
        def post(self, key, amount, attempt):
            self.submit(self.post_input(key, amount, attempt))

        @rule(key=KEYS, attempt=st.integers(0, 1))
        def void(self, key, attempt):
            self.submit(
                TransferInput(
                    id=f"void:{key}:{attempt}",
                    kind="void",
                    pending_id=f"order:{key}",
                    reason="shop_cancelled",
                    reference=f"order:{key}",
                )
            )

        @rule(v=st.sampled_from(VOLUNTEERS), key=KEYS, amount=st.integers(1, 60), attempt=st.integers(0, 1))
        def reverse(self, v, key, amount, attempt):
            self.submit(
                TransferInput(
                    id=f"reversal:{v}:{key}:{attempt}",
                    debit_account_id=self.ids[v],
                    credit_account_id=self.ids["issued"],
                    amount=amount,
                    reason="reversal",
                    reference=f"attendance:{key}",
                    corrects_id=f"award:{v}:{key}",
                )
            )

        @rule(minutes=st.integers(1, 60 * 24 * 120))
        def time_passes(self, minutes):
            self.now += timedelta(minutes=minutes)

        @rule()
        def nightly(self):
            self.day += 1
            with rt.tx() as s:
                swept = ledger.sweep_pending(s, self.now)
            due = [
                tid
                for tid, t in self.model.transfers.items()
                if t["kind"] == "pending"
                and tid not in self.model.resolved
                and t["expires_at"] is not None
                and t["expires_at"] <= self.now
            ]
            for tid in due:
                self.model.expire(tid)
            assert swept == len(due)
            with rt.tx() as s:
                expired = ledger.expire_lots(s, self.now, f"d{self.day}")
            want = 0
            for v in VOLUNTEERS:
                lots = self.model.lots[v]
                amount = min(sum(x[2] for x in lots if x[0] <= self.now), self.model.available(v))
                if amount > 0:
                    self.model._apply(
                        f"expiry:{self.ids[v]}:d{self.day}",
                        {
                            "kind": "single",
                            "debit": self.ids[v],
                            "credit": self.ids["expired"],
                            "amount": amount,
                            "pending_id": None,
                            "expires_at": None,
                            "reason": "expiry",
                            "corrects_id": None,
                        },
                        None,
                    )
                    want += amount
            assert expired == want

        @invariant()
        def balances_agree(self):
            with rt.tx() as s:
                for name, a in self.model.accounts.items():
                    row = s.get(Account, a["id"], populate_existing=True)
                    for k in ("debits_pending", "debits_posted", "credits_pending", "credits_posted"):
                        assert getattr(row, k) == a[k], (name, k)
                    if row.no_overdraft:
                        assert row.available >= 0
                lots = {
                    (transfer_id, remaining)
                    for transfer_id, remaining in s.execute(select(Lot.transfer_id, Lot.remaining))
                }
                assert lots == {(x[3], x[2]) for v in VOLUNTEERS for x in self.model.lots[v]}
                assert s.scalar(select(func.count()).select_from(Transfer)) == len(self.model.transfers)
                assert verification.verify(s) == []

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
