"""Money in custody (资金代管): tranches paid in up to the grant, spendings with a category and a
receipt never beyond the balance, retries that record once, the money ledger verified with the
others, and two spends racing on the last yuan. On PostgreSQL and SQLite."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from cli.main import main
from grants import money
from grants.models import Project
from grants.models_money import Spending, Tranche
from linli.errors import LinliError
from orgs.models import Organization
from points import ledger, verification
from points.models import Transfer
from tests.fixtures.builders import make_county, staff_token, staff_user
from tests.fixtures.grant_money import PDF, b64, jpeg, make_project, png, spending_body

GRANT = 2_000_000  # fen: 20,000 yuan


@pytest.fixture
def world(rt, client):
    county = make_county(rt)
    staff_user(rt, "hub_admin", "admin", org_id=county.hub_a)
    staff_user(rt, "org_admin", "admin", org_id=county.org_a)
    staff_user(rt, "other_hub", "admin", org_id=county.hub_b)
    project = make_project(rt, hub_id=county.hub_a, org_id=county.org_a, granted=GRANT)
    return {
        "county": county,
        "project": project,
        "hub": staff_token(client, "hub_admin"),
        "org": staff_token(client, "org_admin"),
        "other": staff_token(client, "other_hub"),
    }


def url(world, tail: str) -> str:
    return f"/api/v1/projects/{world['project']}/{tail}"


def pay(client, world, key: str, amount: int, who: str = "hub"):
    return client.post(
        url(world, "tranches"), json={"key": key, "amount": amount, "note": "首期"}, headers=world[who]
    )


def account(client, world) -> dict:
    r = client.get(url(world, "account"), headers=world["org"])
    assert r.status_code == 200, r.text
    return r.json()


def counts(rt) -> tuple[int, int, int]:
    with rt.tx() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Transfer, Tranche, Spending))


def test_tranches_are_paid_in_up_to_the_grant_and_never_beyond(client, rt, world):
    first = pay(client, world, "t1", GRANT // 2)
    assert first.status_code == 201, first.text
    assert account(client, world) | {"by_category": None} == {
        "project_id": world["project"],
        "granted": GRANT,
        "paid_in": GRANT // 2,
        "spent": 0,
        "balance": GRANT // 2,
        "to_pay_in": GRANT // 2,
        "reversed": 0,
        "by_category": None,
    }
    assert pay(client, world, "t2", GRANT // 2).status_code == 201  # after the mid-term review
    before = counts(rt)
    over = pay(client, world, "t3", 1)
    assert over.status_code == 409 and over.json()["code"] == "exceeds_granted", over.text
    assert over.json()["paid_in"] == GRANT
    assert counts(rt) == before  # nothing written
    assert account(client, world)["balance"] == GRANT
    listed = client.get(url(world, "tranches"), headers=world["hub"]).json()["items"]
    assert [(t["key"], t["amount"]) for t in listed] == [("t1", GRANT // 2), ("t2", GRANT // 2)]


def test_only_the_rounds_hub_pays_in_and_only_its_project_admins_see_the_money(client, world):
    assert (
        pay(client, world, "t1", 100, who="org").json()["code"] == "outside_your_scope"
    )  # not the custodian
    assert pay(client, world, "t1", 100, who="other").status_code == 403
    assert client.get(url(world, "account"), headers=world["other"]).status_code == 403
    assert (
        client.post(url(world, "spending"), json=spending_body("s1", 1), headers=world["other"]).status_code
        == 403
    )
    assert (
        client.get("/api/v1/projects/999999/account", headers=world["hub"]).json()["code"]
        == "project_not_found"
    )


def test_spending_is_recorded_with_its_category_and_receipt(client, world):
    pay(client, world, "t1", 100_000)
    r = client.post(
        url(world, "spending"), json=spending_body("s1", 12_050, category="meals"), headers=world["org"]
    )
    assert r.status_code == 201, r.text
    spent = r.json()
    assert (spent["amount"], spent["category"], spent["category_name"], spent["receipt_type"]) == (
        12_050,
        "meals",
        "餐饮",
        "image/png",
    )
    pdf = client.post(
        url(world, "spending"),
        json=spending_body("s2", 3_000, category="publicity", receipt=PDF),
        headers=world["hub"],
    )
    assert pdf.status_code == 201 and pdf.json()["receipt_type"] == "application/pdf"
    photo = client.post(
        url(world, "spending"), json=spending_body("s3", 950, receipt=jpeg()), headers=world["org"]
    )
    assert photo.json()["receipt_type"] == "image/jpeg"
    acc = account(client, world)
    assert (acc["paid_in"], acc["spent"], acc["balance"]) == (100_000, 16_000, 84_000)
    by = {c["category"]: (c["name"], c["amount"]) for c in acc["by_category"]}
    assert list(by) == ["materials", "transport", "meals", "publicity", "labour", "other"]
    assert (
        by["meals"] == ("餐饮", 12_050) and by["publicity"] == ("宣传", 3_000) and by["materials"][1] == 950
    )
    listed = client.get(url(world, "spending") + "?limit=2", headers=world["org"]).json()
    assert [s["key"] for s in listed["items"]] == ["s1", "s2"] and listed["next"]
    rest = client.get(url(world, "spending") + f"?cursor={listed['next']}", headers=world["org"]).json()
    assert [s["key"] for s in rest["items"]] == ["s3"]
    receipt = client.get(spent["receipt_url"], headers=world["org"])
    assert receipt.status_code == 200 and receipt.content == png()
    assert receipt.headers["content-type"] == "image/png"
    assert receipt.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in receipt.headers["content-disposition"]
    assert client.get(spent["receipt_url"], headers=world["other"]).status_code == 403
    missing = client.get(url(world, "spending/999999/receipt"), headers=world["org"])
    assert missing.json()["code"] == "spending_not_found"


def test_spending_beyond_the_balance_is_refused_and_writes_nothing(client, rt, world):
    before = counts(rt)
    none = client.post(url(world, "spending"), json=spending_body("s0", 1), headers=world["org"])
    assert none.status_code == 409 and none.json()["code"] == "insufficient_balance"  # nothing paid in yet
    assert counts(rt) == before
    pay(client, world, "t1", 10_000)
    assert (
        client.post(url(world, "spending"), json=spending_body("s1", 9_000), headers=world["org"]).status_code
        == 201
    )
    before = counts(rt)
    r = client.post(url(world, "spending"), json=spending_body("s2", 1_001), headers=world["org"])
    assert (
        r.status_code == 409 and r.json()["code"] == "insufficient_balance" and r.json()["balance"] == 1_000
    )
    assert counts(rt) == before
    assert (
        client.post(url(world, "spending"), json=spending_body("s2", 1_000), headers=world["org"]).status_code
        == 201
    )
    assert account(client, world)["balance"] == 0


def test_bad_spending_is_refused_field_by_field(client, rt, world):
    pay(client, world, "t1", 10_000)
    before = counts(rt)
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    r = client.post(
        url(world, "spending"),
        json=spending_body("bad key!", 0, category="snacks", spent_on=tomorrow, note="长" * 501)
        | {"note": "x"},
        headers=world["org"],
    )
    assert r.status_code == 422, r.text
    codes = {(e["field"], e["code"]) for e in r.json()["errors"]}
    assert codes == {
        ("key", "key_invalid"),
        ("amount", "amount_out_of_range"),
        ("category", "category_unknown"),
        ("spent_on", "future_day"),
    }
    assert counts(rt) == before


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "receipt_type_not_allowed"),  # a picture, not allowed
        (b"<html><script>alert(1)</script></html>", "receipt_type_not_allowed"),  # whatever its name says
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "receipt_type_not_allowed"),  # PNG's first bytes, no picture
        (b"%PDF-1.4 no end", "receipt_type_not_allowed"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024), "receipt_too_large"),
    ],
)
def test_receipts_are_checked_by_their_bytes_and_size(client, rt, world, content, code):
    pay(client, world, "t1", 10_000)
    before = counts(rt)
    r = client.post(
        url(world, "spending"), json=spending_body("s1", 100, receipt=content), headers=world["org"]
    )
    assert r.status_code == 422, r.text
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("receipt", code)]
    assert counts(rt) == before


def test_receipts_missing_or_not_base64_or_beyond_the_body_limit_are_refused(client, world):
    pay(client, world, "t1", 10_000)
    body = spending_body("s1", 100)
    r = client.post(url(world, "spending"), json=body | {"receipt": None}, headers=world["org"])
    assert r.json()["errors"][0]["code"] == "receipt_required"
    r = client.post(url(world, "spending"), json=body | {"receipt": "不是base64"}, headers=world["org"])
    assert r.json()["errors"][0]["code"] == "receipt_not_base64"
    huge = client.post(
        url(world, "spending"), json=body | {"receipt": b64(b"\0" * 3 * 1024 * 1024)}, headers=world["org"]
    )
    assert huge.status_code == 413 and huge.json()["code"] == "payload_too_large"


def test_a_retry_records_once_and_a_key_used_for_something_else_is_refused(client, rt, world):
    assert pay(client, world, "t1", 50_000).json()["replayed"] is False
    again = pay(client, world, "t1", 50_000)
    assert again.status_code == 201 and again.json()["replayed"] is True
    body = spending_body("s1", 7_000)
    first = client.post(url(world, "spending"), json=body, headers=world["org"]).json()
    retry = client.post(url(world, "spending"), json=body, headers=world["org"]).json()
    assert retry["id"] == first["id"] and retry["replayed"] is True
    before = counts(rt)
    other = client.post(url(world, "spending"), json=body | {"amount": 7_001}, headers=world["org"])
    assert other.status_code == 409 and other.json()["code"] == "key_reused"
    assert pay(client, world, "t1", 40_000).json()["code"] == "key_reused"
    assert counts(rt) == before
    assert (account(client, world)["paid_in"], account(client, world)["spent"]) == (50_000, 7_000)


def test_a_rounds_money_is_summed_per_project_for_reports(client, rt, world):
    county = world["county"]
    other = make_project(rt, hub_id=county.hub_a, org_id=county.org_a, granted=5_000)
    pay(client, world, "t1", 10_000)
    client.post(
        url(world, "spending"), json=spending_body("s1", 700, category="transport"), headers=world["org"]
    )
    client.post(
        url(world, "spending"), json=spending_body("s2", 300, category="transport"), headers=world["org"]
    )
    client.post(
        url(world, "spending"), json=spending_body("s3", 500, category="labour"), headers=world["org"]
    )
    with rt.tx() as s:
        got = money.summary(s, [world["project"], other])
    assert got == {
        world["project"]: {
            "granted": GRANT,
            "paid_in": 10_000,
            "spent": 1_500,
            "balance": 8_500,
            "by_category": {"transport": 1_000, "labour": 500},
        },
        other: {"granted": 5_000, "paid_in": 0, "spent": 0, "balance": 0, "by_category": {}},
    }


def test_a_closed_project_takes_no_money(client, rt, world):
    county = world["county"]
    closed = make_project(rt, hub_id=county.hub_a, org_id=county.org_a, granted=1000, status="closed")
    r = client.post(
        f"/api/v1/projects/{closed}/tranches", json={"key": "t1", "amount": 10}, headers=world["hub"]
    )
    assert r.status_code == 409 and r.json()["code"] == "project_closed"


def test_a_project_whose_organization_left_the_hub_gets_and_spends_nothing(client, rt, world):
    """Moved under another hub: no tranche, no spending, each refused with its code and nothing
    written; what was paid in stays in custody, shown as before."""
    assert pay(client, world, "t1", 50_000).status_code == 201
    county = world["county"]
    with rt.tx() as s:
        hub_b = s.get(Organization, county.hub_b).path
        s.execute(update(Organization).where(Organization.id == county.org_a).values(path=f"{hub_b}{county.org_a}/"))
    before = counts(rt)
    tranche = pay(client, world, "t2", 10_000)
    assert tranche.status_code == 409 and tranche.json()["code"] == "organization_left_hub"
    spent = client.post(url(world, "spending"), json=spending_body("s1", 100), headers=world["hub"])
    assert spent.status_code == 409 and spent.json()["code"] == "organization_left_hub"
    assert counts(rt) == before
    assert account(client, world)["balance"] == 50_000


def test_ledger_verify_checks_the_money_ledger_and_the_database_keeps_custody_above_zero(
    client, rt, world, monkeypatch
):
    pay(client, world, "t1", 30_000)
    client.post(url(world, "spending"), json=spending_body("s1", 12_000), headers=world["org"])
    with rt.tx() as s:
        assert verification.verify(s) == [] and money.verify(s) == []
        custody = ledger.account_by_key(s, f"grant_money:project:{world['project']}")
        assert (custody.ledger, custody.no_overdraft, custody.balance) == ("grant_money", True, 18_000)
        round_id = s.get(Project, world["project"]).round_id
        fund = ledger.account_by_key(s, f"grant_money:round_fund:{round_id}")
        assert fund is not None and fund.balance == -30_000  # what the round paid out
    monkeypatch.setenv("LINLI_DATABASE_URL", rt.settings.database_url)
    monkeypatch.setenv("LINLI_REDIS_URL", rt.settings.redis_url)
    monkeypatch.setenv("LINLI_SECRET_KEY", ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys))
    ok = CliRunner().invoke(main, ["ledger", "verify"])
    assert ok.exit_code == 0 and "ledger ok" in ok.output, ok.output
    # the custody account may never go below zero, whatever the code does
    with pytest.raises(IntegrityError), rt.tx() as s:
        s.execute(
            text("UPDATE ledger_accounts SET debits_posted = 30001 WHERE key LIKE 'grant_money:project:%'")
        )
    # a spending row without its transfer is found
    with rt.tx() as s:
        s.execute(text("UPDATE grant_spendings SET amount = amount + 1"))
    bad = CliRunner().invoke(main, ["ledger", "verify"])
    assert bad.exit_code != 0 and "does not match" in bad.output, bad.output


def test_points_and_money_never_mix(rt, world):
    now = rt.clock.now()
    with rt.tx() as s:
        issued = ledger.hub_account(s, "points", "hub_issued", world["county"].hub_a, now)
        custody = ledger.ensure_account(
            s,
            "grant_money:project:77",
            ledger="grant_money",
            kind="project",
            hub_id=world["county"].hub_a,
            now=now,
        )
        [code] = ledger.create_transfers(
            s,
            [ledger.TransferInput(id="mix", debit_account_id=issued, credit_account_id=custody, amount=5)],
            now,
        )
    assert code == "accounts_must_have_the_same_ledger"


def race(rt, world, keys: tuple[str, str]) -> list[str]:
    """Two spendings of 60 yuan recorded at once (real threads, real database); what each got."""
    barrier, results = threading.Barrier(2), {}

    def spend(n: int, key: str) -> None:
        barrier.wait()
        try:
            with rt.tx() as s:
                project = money.project_for_admin(s, world["project"], ["/"])
                _, created = money.spend(
                    s,
                    project,
                    money.SpendingInput(key, 6_000, "labour", date(2026, 3, 1), b64(png())),
                    staff_user_id=None,
                    now=rt.clock.now(),
                    today=date.today(),
                )
            results[n] = "created" if created else "replayed"
        except LinliError as e:
            results[n] = e.code

    threads = [threading.Thread(target=spend, args=(n, k)) for n, k in enumerate(keys)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return sorted(results.values())


def test_two_spends_racing_on_the_last_yuan_one_wins(client, rt, world):
    """Two admins record a spending at once, each of 60 yuan, with 100 yuan in custody: one is
    recorded, the other refused, and the balance never goes below zero."""
    pay(client, world, "t1", 10_000)
    assert race(rt, world, ("a", "b")) == ["created", "insufficient_balance"]
    acc = account(client, world)
    assert (acc["spent"], acc["balance"]) == (6_000, 4_000)
    with rt.tx() as s:
        assert verification.verify(s) == [] and money.verify(s) == []


def test_the_same_spending_sent_twice_at_once_is_recorded_once(client, rt, world):
    pay(client, world, "t1", 20_000)
    assert race(rt, world, ("same", "same")) == ["created", "replayed"]
    assert account(client, world)["spent"] == 6_000
