"""The ledger partitioned by month (账本按月分区, migration 0031): ledger_transfers is partitioned by
month of created_at on PostgreSQL, and what must hold over all months lives in `transfer_ids`
(the same cause posts once, a pending transfer is resolved once, one reversal per transfer), on
both engines. The migration moves every transfer there and back with balances and verification
unchanged; a one-month query reads one month; detaching old months keeps the ledger's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from linli import partitions
from migrations import driver as migrate
from points import ledger, repository, verification
from points.ledger import TransferInput
from points.models import Account, Transfer, TransferId
from tests.points.test_ledger import _race, accounts, award

JUNE = datetime(2030, 6, 10, 3, 0, tzinfo=UTC)
JULY = datetime(2030, 7, 10, 3, 0, tzinfo=UTC)
AUGUST = datetime(2030, 8, 10, 3, 0, tzinfo=UTC)


@pytest.fixture
def pg(rt):
    if rt.settings.is_sqlite:
        pytest.skip("SQLite is not partitioned (嵌入模式不分区): PostgreSQL only")
    with rt.engine.begin() as conn:
        partitions.ensure_months(conn, date(2030, 6, 1), date(2030, 8, 1))
    return rt


def create(rt, *inputs, now):
    with rt.tx() as s:
        return ledger.create_transfers(s, list(inputs), now)


def order(ids, tid, amount, expires_at):
    return TransferInput(
        id=tid,
        kind="pending",
        debit_account_id=ids["v0"],
        credit_account_id=ids["shop"],
        amount=amount,
        expires_at=expires_at,
        reason="shop_order",
        reference=tid,
    )


def some_months_of_ledger(rt) -> dict:
    """Awards in June and July, an order reserved in June and fulfilled in July, one left to
    expire, a reversal in August."""
    ids = accounts(rt, volunteers=2)
    assert create(rt, award(ids, "a1", 50), award(ids, "a2", 30, volunteer="v1"), now=JUNE) == ["created"] * 2
    assert create(rt, order(ids, "o1", 20, JULY + timedelta(days=1)), now=JUNE) == ["created"]
    assert create(rt, order(ids, "o2", 5, JUNE + timedelta(days=3)), now=JUNE) == ["created"]
    post = TransferInput(id="post:o1", kind="post", pending_id="o1", reason="shop_fulfilled", reference="o1")
    assert create(rt, award(ids, "a3", 7), post, now=JULY) == ["created"] * 2
    reversal = TransferInput(
        id="rev:a2",
        debit_account_id=ids["v1"],
        credit_account_id=ids["issued"],
        amount=30,
        reason="reversal",
        reference="a2",
        corrects_id="a2",
    )
    assert create(rt, reversal, now=AUGUST) == ["created"]
    return ids


def state(rt) -> dict:
    with rt.tx() as s:
        return {
            "transfers": tuple(s.execute(select(func.count(), func.sum(Transfer.amount))).one()),
            "keys": s.scalar(select(func.count()).select_from(TransferId)),
            "balances": sorted(
                s.execute(
                    select(Account.key, Account.debits_posted, Account.credits_posted, Account.debits_pending)
                ).all()
            ),
            "problems": verification.verify(s),
        }


def month_of(rt, tid: str) -> str:
    with rt.engine.connect() as conn:
        return conn.execute(
            text("SELECT tableoid::regclass::text FROM ledger_transfers WHERE id = :id"), {"id": tid}
        ).scalar()


def test_the_migration_moves_the_ledger_there_and_back(pg):
    some_months_of_ledger(pg)
    before = state(pg)
    assert before["transfers"] == (7, 50 + 30 + 20 + 5 + 7 + 20 + 30) and before["problems"] == []
    assert before["keys"] == 7
    url = pg.settings.sqlalchemy_url
    try:
        migrate.downgrade(url, "0031-1")
        with pg.engine.connect() as conn:
            assert not partitions.is_partitioned(conn, "ledger_transfers")
            assert conn.execute(text("SELECT to_regclass('transfer_ids')")).scalar() is None
            assert conn.execute(text("SELECT count(*), sum(amount) FROM ledger_transfers")).one() == tuple(
                before["transfers"]
            )
        migrate.upgrade(url)
        with pg.engine.connect() as conn:
            assert partitions.is_partitioned(conn, "ledger_transfers")
    finally:
        migrate.upgrade(url)
    assert state(pg) == before  # counts, sums, balances; transfer_ids filled again; verify passes
    assert month_of(pg, "a1") == "ledger_transfers_2030_06"
    assert month_of(pg, "post:o1") == "ledger_transfers_2030_07"
    assert month_of(pg, "rev:a2") == "ledger_transfers_2030_08"
    with pg.tx() as s:  # the keys came back with what they enforce
        assert s.get(TransferId, "post:o1").pending_id == "o1"
        assert s.get(TransferId, "rev:a2").reverses_id == "a2"
        assert s.get(TransferId, "a3").pending_id is None
    # still append-only after the rebuild
    with pytest.raises(Exception, match="append-only"), pg.tx() as s:
        s.execute(text("UPDATE ledger_transfers SET amount = 1 WHERE id = 'a1'"))


def test_the_same_cause_posts_once_across_months(rt):
    ids = accounts(rt)
    assert create(rt, award(ids, "cause:1", 10), now=JUNE) == ["created"]
    assert create(rt, award(ids, "cause:1", 10), now=AUGUST) == ["exists"]
    assert create(rt, award(ids, "cause:1", 11), now=AUGUST) == ["exists_with_different_fields"]
    # the database itself refuses a second row with that id in another month, not only the engine
    row = {
        "id": "cause:1",
        "ledger": "points",
        "kind": "single",
        "debit_account_id": ids["issued"],
        "credit_account_id": ids["shop"],
        "amount": 1,
        "pending_id": None,
        "expires_at": None,
        "reason": "service_award",
        "reference": "x",
        "corrects_id": None,
        "created_at": AUGUST,
    }
    with pytest.raises(IntegrityError), rt.tx() as s:
        repository.insert_transfers(s.connection(), [row])
    with rt.tx() as s:
        assert s.scalar(select(func.count()).where(Transfer.id == "cause:1")) == 1
        assert verification.verify(s) == []


def test_the_same_cause_posted_concurrently_in_different_months_posts_once(rt):
    """Each thread debits its own hub account (no lock in common), each in another month: only
    the key table can stop the second row, and it does."""
    n = 6
    with rt.tx() as s:
        hubs = [
            ledger.ensure_account(s, f"points:hub_issued:r{i}", ledger="points", kind="hub_issued", now=JUNE)
            for i in range(n)
        ]
        volunteer = ledger.ensure_account(
            s, "points:volunteer:r", ledger="points", kind="volunteer", now=JUNE
        )
    months = [JUNE, JULY, AUGUST]

    def post(i):
        same = TransferInput(
            id="attendance:42",
            debit_account_id=hubs[i],
            credit_account_id=volunteer,
            amount=5,
            reason="service_award",
            reference="attendance:42",
        )
        try:
            return create(rt, same, now=months[i % 3])[0]
        except IntegrityError as exc:
            assert "transfer_ids" in str(exc.orig)
            return "refused"

    results = _race(n, post)
    assert results.count("created") == 1, results
    assert set(results) <= {"created", "refused", "exists_with_different_fields"}
    with rt.tx() as s:
        assert s.scalar(select(func.count()).where(Transfer.id == "attendance:42")) == 1
        assert s.get(Account, volunteer).credits_posted == 5
        assert verification.verify(s) == []


def test_the_same_award_posted_concurrently_posts_once(rt):
    ids = accounts(rt)
    months = [JUNE, JULY, AUGUST]
    results = _race(6, lambda i: create(rt, award(ids, "attendance:7", 10), now=months[i % 3])[0])
    assert sorted(results) == ["created"] + ["exists"] * 5
    with rt.tx() as s:
        assert s.get(Account, ids["v0"]).credits_posted == 10
        assert verification.verify(s) == []


def test_a_pending_transfer_is_resolved_once_across_months(rt):
    ids = accounts(rt)
    create(rt, award(ids, "a1", 50), now=JUNE)
    assert create(rt, order(ids, "o1", 20, AUGUST + timedelta(days=30)), now=JUNE) == ["created"]
    post = TransferInput(id="post:o1", kind="post", pending_id="o1", reason="shop_fulfilled", reference="o1")
    void = TransferInput(id="void:o1", kind="void", pending_id="o1", reason="shop_cancelled", reference="o1")
    assert create(rt, post, now=JULY) == ["created"]
    assert create(rt, void, now=AUGUST) == ["pending_transfer_already_posted"]
    # posted concurrently from two months: once
    assert create(rt, order(ids, "o2", 10, AUGUST + timedelta(days=30)), now=JUNE) == ["created"]
    both = [
        TransferInput(id="post:o2", kind="post", pending_id="o2", reason="shop_fulfilled", reference="o2"),
        TransferInput(id="void:o2", kind="void", pending_id="o2", reason="shop_cancelled", reference="o2"),
    ]
    results = _race(2, lambda i: create(rt, both[i], now=[JULY, AUGUST][i])[0])
    assert results.count("created") == 1 and any(r.startswith("pending_transfer_already") for r in results)
    # the database refuses a second resolution even past the engine
    row = {
        "id": "void:o1",
        "ledger": "points",
        "kind": "void",
        "debit_account_id": ids["v0"],
        "credit_account_id": ids["shop"],
        "amount": 20,
        "pending_id": "o1",
        "expires_at": None,
        "reason": "shop_cancelled",
        "reference": "o1",
        "corrects_id": None,
        "created_at": AUGUST,
    }
    with pytest.raises(IntegrityError, match="pending_id"), rt.tx() as s:
        repository.insert_transfers(s.connection(), [row])
    # and a second reversal of the same transfer
    reversal = {**row, "id": "rev:a1", "kind": "single", "pending_id": None, "reason": "reversal"}
    reversal |= {"debit_account_id": ids["v0"], "credit_account_id": ids["issued"], "amount": 1}
    with rt.tx() as s:
        repository.insert_transfers(s.connection(), [{**reversal, "corrects_id": "a1"}])
        with pytest.raises(IntegrityError, match="reverses_id"):
            with s.begin_nested():
                repository.insert_transfers(
                    s.connection(), [{**reversal, "id": "rev2:a1", "corrects_id": "a1"}]
                )
        s.rollback()


def test_a_one_month_query_reads_one_month(pg):
    some_months_of_ledger(pg)
    with pg.engine.connect() as conn:
        plan = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN SELECT sum(amount) FROM ledger_transfers "
                    "WHERE created_at >= :lo AND created_at < :hi"
                ),
                {"lo": datetime(2030, 6, 30, 16, tzinfo=UTC), "hi": datetime(2030, 7, 31, 16, tzinfo=UTC)},
            ).scalars()
        )
    assert "ledger_transfers_2030_07" in plan
    assert "ledger_transfers_2030_06" not in plan and "ledger_transfers_default" not in plan


def test_upkeep_makes_ledger_months_and_detach_keeps_them(pg, clock):
    ids = some_months_of_ledger(pg)
    clock.at = JUNE
    from workers.jobs import partitions_ahead

    partitions_ahead()
    with pg.engine.connect() as conn:
        names = {p.name for p in partitions.list_partitions(conn)}
    assert {"ledger_transfers_2030_06", "ledger_transfers_2030_09", "ledger_transfers_default"} <= names
    with pg.engine.begin() as conn:
        would = partitions.detach_before(conn, date(2030, 9, 1), dry_run=True)
    assert would and not [n for n in would if n.startswith("ledger_transfers")]  # meals' months go
    with pg.tx() as s:
        assert verification.verify(s) == [] and s.get(Account, ids["v0"]).credits_posted == 57


def test_a_transfer_waiting_in_default_moves_to_its_month_when_made(pg):
    late = datetime(2031, 5, 3, 3, 0, tzinfo=UTC)
    with pg.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS ledger_transfers_2031_05"))
    ids = accounts(pg)
    assert create(pg, award(ids, "late:1", 9), now=late) == ["created"]
    assert month_of(pg, "late:1") == "ledger_transfers_default"
    with pg.engine.begin() as conn:
        assert "ledger_transfers_2031_05" in partitions.ensure_months(
            conn, date(2031, 5, 1), date(2031, 5, 1)
        )
    assert month_of(pg, "late:1") == "ledger_transfers_2031_05"
    with pytest.raises(Exception, match="append-only"), pg.tx() as s:
        s.execute(text("DELETE FROM ledger_transfers_2031_05"))
    with pg.engine.connect() as conn:  # the trigger is on again where it was off for the move
        assert (
            conn.execute(
                text(
                    "SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'ledger_transfers_default'::regclass "
                    "AND tgname = 'ledger_transfers_append_only'"
                )
            ).scalar()
            == "O"
        )
    with pg.tx() as s:
        assert verification.verify(s) == []
