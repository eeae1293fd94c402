"""meal_usage reports: numbers that reconcile with the meal records to the fen, days, weeks and
months reckoned in Asia/Shanghai, partners scoped to what they fund with small cells suppressed,
files that open in the csv module and openpyxl, a request for an ended period built once."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest

from linli.errors import LinliError
from meals.models import FundingAgreement
from reports.render import YUAN
from tests.fixtures.builders import staff_token, staff_user
from tests.fixtures.month import JUNE, Month
from tests.fixtures.runtime import drain


@pytest.fixture
def month(client, rt, clock):
    return Month(rt, client, clock)


def sheet(body, key):
    return next(s for s in body["sheets"] if s["key"] == key)


def test_meal_usage_reconciles_with_the_records_to_the_fen(month, client):
    admin = staff_token(client, "admin_a")
    expected = month.expected()
    assert expected["meals"] == 14 * 3 + 3 and expected["diners"] == 14
    _, got = month.report(admin, internal=True)
    body = got.json()
    summary = sheet(body, "summary")
    totals = summary["totals"]
    assert (totals["meals"], totals["diners"], totals["price"], totals["paid"], totals["subsidy"]) == (
        expected["meals"],
        expected["diners"],
        expected["price"],
        expected["paid"],
        expected["subsidy"],
    )
    assert totals[f"funder_{month.government}"] == expected["funders"][month.government]
    assert totals[f"funder_{month.enterprise}"] == expected["funders"][month.enterprise]
    assert totals["reversed_subsidy"] == -1150  # grandma's Monday lunch (1100 + 50), reversed on 10 June
    assert (totals["booked"], totals["booked_served"], totals["no_shows"]) == (1, 0, 1)
    # one month row, June; every breakdown adds up to the same totals
    assert [r["period"] for r in summary["rows"]] == ["2030-06-01"]
    for key in ("by_slot", "by_mode"):
        s = sheet(body, key)
        assert s["totals"]["meals"] == expected["meals"] and s["totals"]["subsidy"] == expected["subsidy"]
        assert sum(r["meals"] for r in s["rows"]) == expected["meals"]
    slots = {r["slot"]: r["meals"] for r in sheet(body, "by_slot")["rows"]}
    assert slots == {"午餐 lunch": 42, "晚餐 dinner": 3}
    tiers = sheet(body, "by_tier")
    assert sum(r["subsidy"] for r in tiers["rows"]) == sum(expected["funders"].values())
    government_tiers = {r["tier"]: r["meals"] for r in tiers["rows"] if r["funder"] == "县民政助餐补贴"}
    # grandma and six others on three days and two of them at dinner; three 低保 diners on three days
    assert government_tiers == {"特困": 7 * 3 + 2, "低保": 3 * 3}
    budgets = {r["funder"]: r for r in sheet(body, "budgets")["rows"]}
    # the charity's small budget: at June's rate, what is left lasts until a day inside the agreement
    charity = budgets["星沙慈善基金"]
    with month.rt.tx() as s:
        used = s.get(FundingAgreement, month.charity).budget_used
    assert charity["period_subsidy"] == expected["funders"][month.charity] > 0
    assert charity["budget_left"] == 5_000 - used
    assert (
        charity["runs_out_on"]
        == (
            date(2030, 6, 30)
            + timedelta(days=math.ceil(charity["budget_left"] * 30 / charity["period_subsidy"]))
        ).isoformat()
    )
    assert budgets["县民政助餐补贴"]["runs_out_on"] == ""  # lasts beyond the agreement's end
    with month.rt.tx() as s:
        government = s.get(FundingAgreement, month.government)
        assert budgets["县民政助餐补贴"]["budget_left"] == government.budget_cap - government.budget_used


def test_a_large_budget_barely_used_has_no_run_out_day(month, client):
    # found by the lunch rush: the days it would last overflowed the calendar and the build failed
    with month.rt.tx() as s:
        s.get(FundingAgreement, month.government).budget_cap = 10**15
    _, got = month.report(staff_token(client, "admin_a"), internal=True)
    budgets = {r["funder"]: r for r in sheet(got.json(), "budgets")["rows"]}
    assert budgets["县民政助餐补贴"]["runs_out_on"] == ""
    assert budgets["县民政助餐补贴"]["budget_left"] > 10**14


def test_a_period_the_servers_clock_has_not_reached_still_builds(month, client, clock):
    """Meals in a period that has not begun by the server's clock (a clock set back, a worker's clock
    behind the tablets'): the budget sheet divided by a negative number of days and the report failed."""
    clock.at = datetime(2030, 5, 20, 2, 0, tzinfo=UTC)
    _, got = month.report(staff_token(client, "admin_a"), internal=True)
    assert sheet(got.json(), "summary")["totals"]["meals"] == month.expected()["meals"]
    budgets = sheet(got.json(), "budgets")["rows"]
    assert budgets and all(r["runs_out_on"] == "" for r in budgets)  # no rate of the period yet


def test_weeks_start_on_monday_and_days_in_shanghai(month, client):
    admin = staff_token(client, "admin_a")
    _, got = month.report(admin, internal=True, granularity="week")
    weeks = {r["period"]: r["meals"] for r in sheet(got.json(), "summary")["rows"]}
    # Monday 3 June and Sunday 9 June are one week; Monday 10 June starts the next
    assert weeks == {"2030-06-03": 28, "2030-06-10": 14, "2030-06-24": 3}
    _, got = month.report(admin, internal=True, granularity="day")
    days = {r["period"]: r["meals"] for r in sheet(got.json(), "summary")["rows"] if r["meals"]}
    assert days == {"2030-06-03": 14, "2030-06-09": 14, "2030-06-10": 14, "2030-06-30": 3}


def test_a_partner_sees_its_points_aggregated_and_small_cells_suppressed(month, client, caplog):
    partner = staff_token(client, "partner1")
    _, got = month.report(partner)
    body = got.json()
    assert body["suppressed_below"] == 5
    text = got.text
    for private in ("王桂英", "李国华", "特困长者甲", "1380"):
        assert private not in text
    tiers = sheet(body, "by_tier")
    # only the partner's own agreement; the 30 June dinner had 3 diners: suppressed, totals exact
    assert {r["funder"] for r in tiers["rows"]} == {"泉心社会企业"}
    # dinner (3 diners) is suppressed, and so is lunch: the point's summary row would give it away
    slots = sheet(body, "by_slot")
    assert [r["meals"] for r in slots["rows"]] == ["<5", "<5"]
    assert slots["totals"]["meals"] == month.expected()["meals"]
    assert [r["funder"] for r in sheet(body, "budgets")["rows"]] == ["泉心社会企业"]
    # only its own money: no other funder's column, no all-funder subsidy or what diners paid
    totals = sheet(body, "summary")["totals"]
    assert f"funder_{month.enterprise}" in totals and f"funder_{month.government}" not in totals
    assert f"funder_{month.charity}" not in totals and "paid" not in totals and "subsidy" not in totals
    assert totals["reversed_subsidy"] == 0  # the reversed meal's subsidy was the others'
    # a booking missed by one diner is a count of one person: suppressed, the total too
    assert totals["no_shows"] == "<5"

    # the second partner co-funds the same point and sees only its own money
    other = staff_token(client, "partner2")
    _, got = month.report(other)
    totals = sheet(got.json(), "summary")["totals"]
    assert f"funder_{month.charity}" in totals and f"funder_{month.enterprise}" not in totals
    assert {r["funder"] for r in sheet(got.json(), "by_tier")["rows"]} == {"星沙慈善基金"}
    # the one reversed meal it paid for describes one diner: hidden, like the count would be
    assert "泉心社会企业" not in got.text and totals["reversed_subsidy"] == "<5"
    caplog.set_level(logging.WARNING, logger="linli.reports")
    refused = client.post(
        "/api/v1/reports",
        json={"kind": "meal_usage", "format": "json", **JUNE, "meal_point_ids": [month.point.id + 1]},
        headers=other,
    )
    assert refused.status_code == 403 and refused.json()["code"] == "outside_your_scope"
    assert any("report refused" in r.getMessage() for r in caplog.records)
    mine = client.get("/api/v1/reports", headers=partner).json()["items"]
    assert client.get(f"/api/v1/reports/{mine[0]['id']}", headers=other).status_code == 403
    assert client.get(f"/api/v1/reports/{mine[0]['id']}/file", headers=other).status_code == 403
    for ask, code in (
        ({"kind": "programme_summary"}, "not_for_partners"),
        ({"internal": True}, "outside_your_scope"),
    ):
        r = client.post(
            "/api/v1/reports", json={"kind": "meal_usage", "format": "json", **JUNE, **ask}, headers=partner
        )
        assert r.status_code == 403 and r.json()["code"] == code
    coordinator = staff_token(client, "counter")  # bound to a station: no subtree to report on
    assert (
        client.post(
            "/api/v1/reports", json={"kind": "meal_usage", "format": "json", **JUNE}, headers=coordinator
        ).status_code
        == 403
    )


def test_csv_and_xlsx_open_with_chinese_headers_money_and_totals(month, client):
    admin = staff_token(client, "admin_a")
    expected = month.expected()
    _, got = month.report(admin, internal=True, format="csv")
    assert got.content.startswith(b"\xef\xbb\xbf")
    assert got.headers["x-checksum-sha256"] and "attachment" in got.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    header_at = rows.index(["总览 summary"]) + 1
    header = rows[header_at]
    assert header[:3] == ["助餐点 meal point", "期间 period", "人次 meals served"]
    total = next(r for r in rows[header_at:] if r and r[0] == "合计 total")
    assert int(total[2]) == expected["meals"]
    price = total[header.index("餐费合计 price total（元）")]
    assert price == f"{expected['price'] // 100}.{expected['price'] % 100:02d}"

    _, got = month.report(admin, internal=True, format="xlsx")
    book = openpyxl.load_workbook(io.BytesIO(got.content))
    assert book.sheetnames == [
        "总览 summary",
        "按餐次 by slot",
        "按就餐方式 by mode",
        "按补贴档次 by tier",
        "预算 budgets",
    ]
    ws = book["总览 summary"]
    values = list(ws.iter_rows(values_only=True))
    assert values[1][2] == "人次 meals served"
    last = list(ws.iter_rows())[-1]
    assert last[0].value == "合计 total" and last[2].value == expected["meals"]
    assert last[4].number_format == YUAN and round(last[4].value * 100) == expected["price"]


def test_an_ended_periods_report_is_built_once_and_an_open_one_again(month, client, clock):
    admin = staff_token(client, "admin_a")
    # on 2 July June is not settled yet (offline scans may still arrive): each request builds anew
    early, _ = month.report(admin, internal=True)
    assert early.status_code == 202
    clock.at = datetime(2030, 7, 3, 2, 0, tzinfo=UTC)
    first, _ = month.report(admin, internal=True)
    assert first.status_code == 202 and first.json()["id"] != early.json()["id"]
    again = client.post(
        "/api/v1/reports",
        json={"kind": "meal_usage", "format": "json", **JUNE, "internal": True},
        headers=admin,
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    july = {"period_start": "2030-07-01", "period_end": "2030-07-31"}  # still running on 2 July
    a = client.post("/api/v1/reports", json={"kind": "meal_usage", "format": "json", **july}, headers=admin)
    b = client.post("/api/v1/reports", json={"kind": "meal_usage", "format": "json", **july}, headers=admin)
    # the same ask while the first is being built: that one (not a second build)
    assert (a.status_code, b.status_code) == (202, 200) and a.json()["id"] == b.json()["id"]
    early = client.get(f"/api/v1/reports/{a.json()['id']}/file", headers=admin)
    assert early.status_code == 409 and early.json()["code"] == "report_not_ready"
    for bad, field in (
        ({"kind": "meals"}, "kind"),
        ({"format": "pdf"}, "format"),
        ({"period_start": "2030-07-01", "period_end": "2030-06-01"}, "period_end"),
        ({"period_start": "2030-01-01", "period_end": "2031-06-01"}, "period_end"),
        ({"granularity": "year"}, "granularity"),
    ):
        r = client.post(
            "/api/v1/reports", json={"kind": "meal_usage", "format": "json", **JUNE, **bad}, headers=admin
        )
        assert r.status_code == 422 and field in {e["field"] for e in r.json()["errors"]}, (bad, r.text)


def test_a_failing_build_is_retried_then_failed_with_its_reason(month, client, monkeypatch):
    from reports import queries
    from workers.jobs import build_report

    admin = staff_token(client, "admin_a")
    r = client.post("/api/v1/reports", json={"kind": "meal_usage", "format": "json", **JUNE}, headers=admin)

    def broken(*args, **kwargs):
        raise RuntimeError("磁盘已满 disk full")

    monkeypatch.setattr(queries, "meal_usage", broken)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            build_report(r.json()["id"])
        assert client.get(f"/api/v1/reports/{r.json()['id']}", headers=admin).json()["status"] == "queued"
    build_report(r.json()["id"])  # the last attempt: marked failed, not raised
    status = client.get(f"/api/v1/reports/{r.json()['id']}", headers=admin).json()
    assert (status["status"], status["attempts"]) == ("failed", 4) and "disk full" in status["error"]
    monkeypatch.undo()
    # a failed report is not returned again for the same ask: a new one is built
    again = client.post(
        "/api/v1/reports", json={"kind": "meal_usage", "format": "json", **JUNE}, headers=admin
    )
    assert again.status_code == 202 and again.json()["id"] != r.json()["id"]
    drain(month.rt)
    assert (
        json.loads(client.get(f"/api/v1/reports/{again.json()['id']}/file", headers=admin).content)["kind"]
        == "meal_usage"
    )


def test_a_partners_api_key_gets_the_same_scoped_report(month, client, rt):
    staff_user(rt, "county_admin", "admin", org_id=month.county.base)
    key = client.post(
        f"/api/v1/partners/{month.partner}/api-keys",
        json={"name": "月报"},
        headers=staff_token(client, "county_admin"),
    ).json()["key"]
    by_key = {"Authorization": f"Bearer {key}"}
    _, got = month.report(by_key, format="csv")
    assert "泉心社会企业" in got.content.decode("utf-8-sig") and "县民政" not in got.content.decode(
        "utf-8-sig"
    )
    # the partner's users see the report the key asked for; hub staff of another hub do not
    listed = client.get("/api/v1/reports", headers=staff_token(client, "partner1")).json()["items"]
    assert len(listed) == 1 and listed[0]["format"] == "csv"
    staff_user(rt, "admin_b", "admin", org_id=month.county.hub_b)
    other_hub = staff_token(client, "admin_b")
    assert client.get("/api/v1/reports", headers=other_hub).json()["items"] == []
    assert client.get(f"/api/v1/reports/{listed[0]['id']}", headers=other_hub).status_code == 403
    volunteer = client.post("/api/v1/reports", json={"kind": "meal_usage", "format": "json", **JUNE})
    assert volunteer.status_code == 401


def test_internal_reports_are_for_admins_only(month, client, rt):
    staff_user(rt, "hub_coordinator", "coordinator", org_id=month.county.hub_a)
    admin = staff_token(client, "admin_a")
    coordinator = staff_token(client, "hub_coordinator")
    internal, _ = month.report(admin, internal=True)
    shared, _ = month.report(coordinator)
    assert client.get(f"/api/v1/reports/{internal.json()['id']}/file", headers=coordinator).status_code == 403
    listed = {r["id"] for r in client.get("/api/v1/reports", headers=coordinator).json()["items"]}
    assert listed == {shared.json()["id"]}
    assert {r["id"] for r in client.get("/api/v1/reports", headers=admin).json()["items"]} == {
        internal.json()["id"],
        shared.json()["id"],
    }


def test_webhooks_must_be_public_https_outside_the_demo(month, rt):
    from reports import webhooks

    with rt.tx() as s:
        for url, code in (
            ("http://partner.example.com/hook", "invalid_url"),
            ("https://127.0.0.1/hook", "private_address"),
            ("https://10.0.0.8:6379/x", "private_address"),
            ("https://[::1]/hook", "private_address"),
        ):
            with pytest.raises(LinliError) as refused:
                webhooks.register(s, rt.signer, month.partner, url, rt.clock.now(), allow_private=False)
            assert refused.value.errors[0].code == code, url
        hook, secret = webhooks.register(
            s, rt.signer, month.partner, "http://127.0.0.1:9/hook", rt.clock.now(), allow_private=True
        )
        assert len(secret) == 64 and hook.secret_version == 1


def test_asking_again_for_an_open_period_builds_nothing_more_for_a_while(month, client, clock, rt):
    """A hundred clicks on 导出 build one file: the same ask while it is built, or within ten
    minutes of it, gets that report; later asks see new figures (the period is still open)."""
    from reports.models import Report

    admin = staff_token(client, "admin_a")
    july = {"kind": "meal_usage", "format": "json", "period_start": "2030-07-01", "period_end": "2030-07-31"}
    asked = [client.post("/api/v1/reports", json=july, headers=admin) for _ in range(5)]
    assert [r.status_code for r in asked] == [202, 200, 200, 200, 200]
    assert {r.json()["id"] for r in asked} == {asked[0].json()["id"]}
    drain(rt)
    clock.at += timedelta(minutes=9)
    again = client.post("/api/v1/reports", json=july, headers=admin)
    assert again.status_code == 200 and again.json()["id"] == asked[0].json()["id"]
    clock.at += timedelta(minutes=2)
    later = client.post("/api/v1/reports", json=july, headers=admin)
    assert later.status_code == 202 and later.json()["id"] != asked[0].json()["id"]
    with rt.tx() as s:
        assert s.query(Report).count() == 2


def test_report_requests_are_limited_per_caller(month, client, rt):
    from reports.models import Report
    from reports.service import REQUESTS_PER_HOUR

    admin = staff_token(client, "admin_a")
    answers = [
        client.post(
            "/api/v1/reports",
            json={
                "kind": "meal_usage",
                "format": "json",
                "period_start": "2030-07-01",
                "period_end": f"2030-07-{d:02d}",
            },
            headers=admin,
        ).status_code
        for d in range(1, REQUESTS_PER_HOUR + 2)
    ]
    assert answers == [202] * REQUESTS_PER_HOUR + [429]
    with rt.tx() as s:
        assert s.query(Report).count() == REQUESTS_PER_HOUR  # the refused one wrote nothing


def test_a_partners_xlsx_has_columns_as_wide_as_the_chinese_headers_and_real_dates(month, client):
    def shown_width(text: str) -> int:  # a CJK character takes two columns of a spreadsheet
        return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)

    partner = staff_token(client, "partner1")
    _, got = month.report(partner, format="xlsx")
    book = openpyxl.load_workbook(io.BytesIO(got.content))
    dates = 0
    for ws in book.worksheets:
        header = next(ws.iter_rows(min_row=2, max_row=2))
        for cell in header:
            width = ws.column_dimensions[cell.column_letter].width
            assert width >= shown_width(cell.value), (ws.title, cell.value, width)
        for cell in header:
            if not cell.value.startswith(("期间", "开始", "结束")):
                continue
            for (value,) in ws.iter_rows(min_row=3, min_col=cell.column, max_col=cell.column):
                if value.value in (None, ""):  # the totals row
                    continue
                assert value.is_date and value.number_format == "yyyy-mm-dd", (ws.title, value.value)
                assert date(2030, 1, 1) <= value.value.date() <= date(2031, 12, 31)
                dates += 1
    assert dates
    summary = book["总览 summary"]
    assert date(2030, 6, 1) <= summary["B3"].value.date() <= date(2030, 6, 30)  # a June day, as a date
