"""The ledger engine: what the database enforces, lots, verification, and races (row locks on
PostgreSQL; on SQLite the same races queue on the write lock)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from points import ledger, verification
from points.ledger import TransferInput
from points.models import Account, Lot

NOW = datetime(2026, 5, 4, 3, 0, tzinfo=UTC)


def accounts(rt, volunteers=1):
    with rt.tx() as s:
        ids = {
            "issued": ledger.hub_account(s, "points", "hub_issued", None, NOW),
            "shop": ledger.hub_account(s, "points", "hub_shop", None, NOW),
            "minutes_issued": ledger.hub_account(s, "service_minutes", "hub_issued", None, NOW),
        }
        for n in range(volunteers):
            ids[f"v{n}"] = ledger.ensure_account(
                s, f"points:volunteer:t{n}", ledger="points", kind="volunteer", now=NOW
            )
    return ids


def award(ids, tid, amount, volunteer="v0", days=365):
    return TransferInput(
        id=tid,
        debit_account_id=ids["issued"],
        credit_account_id=ids[volunteer],
        amount=amount,
        reason="service_award",
        reference=tid,
        lot_expires_at=NOW + timedelta(days=days),
    )


def create(rt, *inputs, now=NOW):
    with rt.tx() as s:
        return ledger.create_transfers(s, list(inputs), now)


def test_transfers_are_append_only_in_the_database(rt):
    ids = accounts(rt)
    assert create(rt, award(ids, "a1", 10)) == ["created"]
    for statement in ("UPDATE ledger_transfers SET amount = 1000", "DELETE FROM ledger_transfers"):
        with pytest.raises(DBAPIError, match="append-only"):
            with rt.tx() as s:
                s.execute(text(statement))
    if not rt.settings.is_sqlite:  # PostgreSQL has TRUNCATE, and refuses it here too
        with pytest.raises(DBAPIError, match="append-only"):
            with rt.tx() as s:
                s.execute(text("TRUNCATE ledger_transfers CASCADE"))
    with rt.tx() as s:
        assert s.execute(text("SELECT amount FROM ledger_transfers")).scalar_one() == 10


def test_the_database_refuses_an_overdrawn_volunteer_account(rt):
    ids = accounts(rt)
    create(rt, award(ids, "a1", 10))
    with pytest.raises(DBAPIError, match="no_overdraft"):
        with rt.tx() as s:
            s.execute(
                text("UPDATE ledger_accounts SET debits_pending = 11 WHERE id = :id"), {"id": ids["v0"]}
            )


def test_result_codes(rt):
    ids = accounts(rt)
    order = TransferInput(
        id="o1",
        kind="pending",
        debit_account_id=ids["v0"],
        credit_account_id=ids["shop"],
        amount=30,
        expires_at=NOW + timedelta(days=1),
        reason="shop_order",
        reference="order:1",
    )
    assert create(
        rt,
        award(ids, "a1", 50),
        award(ids, "a1", 50),  # the same cause again
        award(ids, "a1", 51),
        TransferInput(id="x1", debit_account_id=ids["v0"], credit_account_id=ids["v0"], amount=1),
        TransferInput(id="x2", debit_account_id=ids["v0"], credit_account_id=ids["minutes_issued"], amount=1),
        TransferInput(id="x3", debit_account_id=ids["v0"], credit_account_id=ids["shop"], amount=0),
        TransferInput(id="x4", debit_account_id=999999, credit_account_id=ids["shop"], amount=1),
        TransferInput(id="x5", debit_account_id=ids["v0"], credit_account_id=ids["shop"], amount=51),
        order,
        TransferInput(id="x6", debit_account_id=ids["v0"], credit_account_id=ids["shop"], amount=21),
        TransferInput(id="p1", kind="post", pending_id="o1", amount=31),
        TransferInput(id="p2", kind="post", pending_id="o1", amount=20),
        TransferInput(id="p3", kind="void", pending_id="o1"),
        TransferInput(id="p4", kind="post", pending_id="a1"),
        TransferInput(id="p5", kind="post", pending_id="nothing"),
        TransferInput(
            id="r1",
            debit_account_id=ids["v0"],
            credit_account_id=ids["issued"],
            amount=60,
            reason="reversal",
            corrects_id="a1",
        ),
        TransferInput(
            id="r2",
            debit_account_id=ids["v0"],
            credit_account_id=ids["issued"],
            amount=5,
            reason="reversal",
            corrects_id="a1",
        ),
        TransferInput(
            id="r3",
            debit_account_id=ids["v0"],
            credit_account_id=ids["issued"],
            amount=5,
            reason="reversal",
            corrects_id="a1",
        ),
        TransferInput(
            id="r4",
            debit_account_id=ids["issued"],
            credit_account_id=ids["v0"],
            amount=5,
            reason="reversal",
            corrects_id="a1",
        ),
    ) == [
        "created",
        "exists",
        "exists_with_different_fields",
        "accounts_must_be_different",
        "accounts_must_have_the_same_ledger",
        "amount_must_be_positive",
        "debit_account_not_found",
        "exceeds_credits",
        "created",
        "exceeds_credits",  # 50 earned, 30 reserved
        "exceeds_pending_transfer_amount",
        "created",  # a partial post: 20 of the 30 reserved are spent, 10 come back
        "pending_transfer_already_posted",
        "pending_transfer_not_pending",
        "pending_transfer_not_found",
        "exceeds_corrected_amount",
        "created",
        "reversal_already_exists",
        "reversal_must_mirror_corrected",
    ]
    with rt.tx() as s:
        v = s.get(Account, ids["v0"])
        assert (v.credits_posted, v.debits_posted, v.debits_pending, v.available) == (50, 25, 0, 25)
        assert verification.verify(s) == []


def test_an_expired_reservation_cannot_be_posted_and_is_released(rt):
    ids = accounts(rt)
    create(rt, award(ids, "a1", 40))
    order = TransferInput(
        id="o1",
        kind="pending",
        debit_account_id=ids["v0"],
        credit_account_id=ids["shop"],
        amount=40,
        expires_at=NOW + timedelta(hours=1),
    )
    assert create(rt, order) == ["created"]
    later = NOW + timedelta(hours=2)
    assert create(rt, TransferInput(id="p1", kind="post", pending_id="o1"), now=later) == [
        "pending_transfer_expired"
    ]
    assert create(rt, TransferInput(id="v1", kind="void", pending_id="o1"), now=later) == [
        "pending_transfer_expired"
    ]
    with rt.tx() as s:
        assert s.get(Account, ids["v0"]).available == 40
        assert ledger.sweep_pending(s, later) == 0  # already released
        assert verification.verify(s) == []


def test_spending_takes_the_lots_expiring_first_even_within_one_batch(rt):
    ids = accounts(rt)
    create(rt, award(ids, "late", 30, days=700))
    order = TransferInput(
        id="o1", kind="pending", debit_account_id=ids["v0"], credit_account_id=ids["shop"], amount=25
    )
    assert create(
        rt, award(ids, "soon", 20, days=30), order, TransferInput(id="p1", kind="post", pending_id="o1")
    ) == [
        "created",
        "created",
        "created",
    ]
    with rt.tx() as s:
        lots = {lot.transfer_id: lot.remaining for lot in s.query(Lot)}
    assert lots == {"soon": 0, "late": 25}
    with rt.tx() as s:  # a year on, the late lot's remainder is still there; two years on it expires
        assert ledger.expire_lots(s, NOW + timedelta(days=365), "y1") == 0
        assert ledger.expire_lots(s, NOW + timedelta(days=701), "y2") == 25
        assert s.get(Account, ids["v0"], populate_existing=True).balance == 0
        assert verification.verify(s) == []


def test_reserved_points_outlive_their_lot_until_the_order_resolves(rt):
    ids = accounts(rt)
    create(rt, award(ids, "a1", 10, days=10))
    create(
        rt,
        TransferInput(
            id="o1", kind="pending", debit_account_id=ids["v0"], credit_account_id=ids["shop"], amount=6
        ),
    )
    with rt.tx() as s:
        assert ledger.expire_lots(s, NOW + timedelta(days=11), "d11") == 4  # 6 are reserved
    create(rt, TransferInput(id="c1", kind="void", pending_id="o1"), now=NOW + timedelta(days=11))
    with rt.tx() as s:
        assert ledger.expire_lots(s, NOW + timedelta(days=12), "d12") == 6
        assert s.get(Account, ids["v0"], populate_existing=True).balance == 0
        assert verification.verify(s) == []


def test_verify_finds_a_tampered_balance(rt):
    ids = accounts(rt)
    create(rt, award(ids, "a1", 10))
    with rt.tx() as s:
        s.execute(text("UPDATE ledger_accounts SET credits_posted = 11 WHERE id = :id"), {"id": ids["v0"]})
    with rt.tx() as s:
        problems = verification.verify(s)
    assert any("credits_posted is 11, transfers say 10" in p for p in problems)
    assert any("ledger points" in p for p in problems)
    assert any("lots do not add up" in p for p in problems)


def _race(n, work):
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_twenty_workers_redeeming_from_one_account(rt):
    ids = accounts(rt)
    create(rt, award(ids, "a1", 100))

    def redeem(i):
        return create(
            rt,
            TransferInput(
                id=f"order:{i}",
                kind="pending",
                debit_account_id=ids["v0"],
                credit_account_id=ids["shop"],
                amount=15,
            ),
        )[0]

    results = _race(20, redeem)
    assert results.count("created") == 6 and results.count("exceeds_credits") == 14
    with rt.tx() as s:
        assert s.get(Account, ids["v0"]).available == 10
        assert verification.verify(s) == []


def test_the_same_transfer_from_twenty_workers_posts_once(rt):
    ids = accounts(rt)
    results = _race(20, lambda i: create(rt, award(ids, "attendance:1", 30))[0])
    assert sorted(results) == ["created"] + ["exists"] * 19
    with rt.tx() as s:
        assert s.get(Account, ids["v0"]).balance == 30
