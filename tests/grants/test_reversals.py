"""A spending recorded by mistake, reversed (冲销): a reversing transfer naming the original, by an
admin of the round's hub with a reason; the account's figures follow; never twice (the same
request again answers the reversal made; two at once make one); `linli ledger verify` passes.
On PostgreSQL and SQLite."""

from __future__ import annotations

import threading

from click.testing import CliRunner
from sqlalchemy import func, select

from cli.main import main
from grants import corrections, money
from grants.models_money import SpendingReversal
from linli.errors import LinliError
from points import verification
from points.models import Transfer
from tests.fixtures.grant_money import spending_body
from tests.grants.test_money import GRANT, account, pay, url, world  # noqa: F401


def spend(client, world, key, amount, category="materials"):  # noqa: F811
    r = client.post(
        url(world, "spending"), json=spending_body(key, amount, category=category), headers=world["org"]
    )
    assert r.status_code == 201, r.text
    return r.json()


def reverse(client, world, spending_id, reason="录入重复", who="hub"):  # noqa: F811
    return client.post(
        url(world, f"spending/{spending_id}/reverse"), json={"reason": reason}, headers=world[who]
    )


def reversals(rt) -> int:
    with rt.tx() as s:
        return s.scalar(select(func.count()).select_from(SpendingReversal))


def test_a_reversal_gives_the_money_back_and_the_figures_follow(client, rt, world, monkeypatch):  # noqa: F811
    pay(client, world, "t1", 50_000)
    keep = spend(client, world, "s1", 12_000)
    wrong = spend(client, world, "s2", 8_000, category="transport")
    assert account(client, world)["balance"] == 30_000
    r = reverse(client, world, wrong["id"], "同一张票据录了两次")
    assert r.status_code == 201, r.text
    got = r.json()
    assert (got["spending_id"], got["amount"], got["reason"], got["replayed"]) == (
        wrong["id"],
        8_000,
        "同一张票据录了两次",
        False,
    )
    acc = account(client, world)
    assert (acc["paid_in"], acc["spent"], acc["balance"], acc["reversed"], acc["to_pay_in"]) == (
        50_000,
        12_000,
        38_000,
        8_000,
        GRANT - 50_000,
    )
    by = {c["category"]: c["amount"] for c in acc["by_category"]}
    assert (by["materials"], by["transport"]) == (12_000, 0)
    # the list shows the spending as it was, with its reversal
    items = client.get(url(world, "spending"), headers=world["org"]).json()["items"]
    assert [(i["id"], (i["reversal"] or {}).get("reason")) for i in items] == [
        (keep["id"], None),
        (wrong["id"], "同一张票据录了两次"),
    ]
    # the ledger kept the original and added its reversal, naming it
    with rt.tx() as s:
        t = s.scalar(select(Transfer).where(Transfer.id == f"grant_money:reversal:{wrong['id']}"))
        assert (t.reason, t.amount, t.corrects_id) == (
            "reversal",
            8_000,
            f"grant_money:spending:{world['project']}:s2",
        )
        assert verification.verify(s) == [] and money.verify(s) == []
        assert money.summary(s, [world["project"]])[world["project"]]["spent"] == 12_000
    monkeypatch.setenv("LINLI_DATABASE_URL", rt.settings.database_url)
    monkeypatch.setenv("LINLI_REDIS_URL", rt.settings.redis_url)
    monkeypatch.setenv("LINLI_SECRET_KEY", ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys))
    ok = CliRunner().invoke(main, ["ledger", "verify"])
    assert ok.exit_code == 0 and "ledger ok" in ok.output, ok.output


def test_a_spending_is_reversed_once(client, rt, world):  # noqa: F811
    pay(client, world, "t1", 20_000)
    s1 = spend(client, world, "s1", 5_000)
    assert reverse(client, world, s1["id"]).status_code == 201
    again = reverse(client, world, s1["id"])  # a retry: the reversal already made
    assert again.status_code == 201 and again.json()["replayed"] is True
    other = reverse(client, world, s1["id"], "另一个理由")
    assert other.status_code == 409 and other.json()["code"] == "already_reversed"
    assert reversals(rt) == 1
    assert account(client, world)["balance"] == 20_000


def test_who_may_reverse_and_bad_requests_write_nothing(client, rt, world):  # noqa: F811
    pay(client, world, "t1", 20_000)
    s1 = spend(client, world, "s1", 5_000)
    for who in ("org", "other"):  # the organization records, only the hub corrects
        assert reverse(client, world, s1["id"], who=who).status_code == 403
    blank = reverse(client, world, s1["id"], "   ")
    assert blank.status_code == 422 and blank.json()["errors"][0]["code"] == "reason_required"
    assert reverse(client, world, 999_999).json()["code"] == "spending_not_found"
    assert reversals(rt) == 0
    assert account(client, world)["balance"] == 15_000


def test_two_reversals_at_once_make_one(rt, client, world):  # noqa: F811
    pay(client, world, "t1", 20_000)
    s1 = spend(client, world, "s1", 5_000)
    barrier, results = threading.Barrier(2), []

    def go() -> None:
        barrier.wait()
        try:
            with rt.tx() as s:
                project = money.project_for_custodian(s, world["project"], ["/"])
                _, created = corrections.reverse(
                    s, project, s1["id"], "重复", staff_user_id=None, now=rt.clock.now()
                )
            results.append("created" if created else "replayed")
        except LinliError as e:
            results.append(e.code)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["created", "replayed"]
    assert reversals(rt) == 1
    assert account(client, world)["balance"] == 20_000
    with rt.tx() as s:
        assert verification.verify(s) == [] and money.verify(s) == []
