"""The counter offline (离线取餐台): the rules a tablet caches to quote what a diner pays, which carry
no personal data beyond what decides the subsidy and reach only staff of the point; and a day's
cash sheet per device (meals, cash to collect, subsidies, full-price, held and voided meals)
reconciled against the cash counted."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from meals.models import CashCount, Meal
from meals.subsidy import Funding, split
from tests.fixtures.builders import file_volunteer, staff_token, staff_user, volunteer_token
from tests.fixtures.canteen import LUNCH, Canteen

DAY = LUNCH.date().isoformat()  # Tuesday 2030-06-04


@pytest.fixture
def canteen(client, rt, clock):
    clock.at = LUNCH
    canteen = Canteen(rt, client, week_cap=3)
    with rt.tx() as s:
        canteen.zhang = canteen.diner(s, "张三", "1940", categories=("living_alone",), serial=7)
        canteen.li = canteen.diner(s, "李四", "1944", categories=("dibao",), serial=8)
    staff_user(rt, "coord_b", "coordinator", org_id=canteen.county.org_b)
    return canteen


def rules(canteen, who="counter"):
    return canteen.client.get(
        f"/api/v1/meal-points/{canteen.point.id}/counter-rules", headers=staff_token(canteen.client, who)
    )


def test_the_rules_hold_prices_schedules_in_stack_order_and_only_what_decides_a_subsidy(canteen, clock):
    canteen.scan(canteen.card(canteen.grandma))  # her lunch today: counted this week, and served
    r = rules(canteen)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["meal_point_id"], got["station_id"], got["day"]) == (canteen.point.id, canteen.station, DAY)
    assert got["fetched_at"].startswith(LUNCH.isoformat()[:16])
    assert [(s["slot"], s["starts"], s["ends"], s["price"]) for s in got["slots"]] == [
        ("breakfast", "07:00", "09:00", 800),
        ("lunch", "11:00", "13:30", 1200),
        ("dinner", "17:00", "20:00", 1200),
    ]
    assert [(a["id"], a["funder"], a["stack_order"], a["week_cap"]) for a in got["agreements"]] == [
        (canteen.government, "县民政助餐补贴", 1, 3),
        (canteen.enterprise, "泉心社会企业", 2, None),
    ]
    assert got["agreements"][1]["schedule"][0] == {
        "categories": ["*"],
        "slots": ["lunch", "dinner"],
        "amount": 200,
        "min_self_pay": 100,
    }
    assert got["agreements"][0]["budget_left"] == 10_000_000 - 1100
    diners = {d["id"]: d for d in got["diners"]}
    # today's categories, only the codes a tier names (独居 and 60-69 decide nothing here)
    assert diners[canteen.grandma]["categories"] == ["age_80_89", "tekun"]
    assert diners[canteen.grandpa]["categories"] == []
    assert diners[canteen.zhang]["categories"] == ["age_90_plus"]
    assert diners[canteen.li]["categories"] == ["age_80_89", "dibao"]
    assert diners[canteen.grandma]["week_used"] == {str(canteen.government): 1}
    assert diners[canteen.grandma]["served_today"] == ["lunch"]
    assert diners[canteen.grandpa]["week_used"] == {} and diners[canteen.grandpa]["served_today"] == []
    assert set(diners[canteen.grandma]) == {
        "id",
        "card_version",
        "categories",
        "residence",
        "week_used",
        "month_used",
        "paused",
        "served_today",
    }
    for private in ("王桂英", "李国华", "低盐", "花生", "泉塘社区", "1950"):
        assert private not in r.text, private

    # the provisional figure the tablet computes from them is the server's, for every diner
    for diner_id in (canteen.grandpa, canteen.zhang, canteen.li):
        d = diners[diner_id]
        fundings = [
            Funding(
                a["id"],
                a["stack_order"],
                a["schedule"],
                a["budget_left"],
                a["week_cap"],
                d["week_used"].get(str(a["id"]), 0),
                a["home_point_only"],
                a["month_cap"],
                d["month_used"].get(str(a["id"]), 0),
            )
            for a in got["agreements"]
        ]
        parts, problem, _ = split(1200, set(d["categories"]), "lunch", True, fundings, d["residence"])
        served = canteen.scan(canteen.card(diner_id))
        assert served["outcome"] == "meal_served" and problem is None
        assert served["meal"]["paid"] == 1200 - sum(n for _, n in parts), diner_id


def test_the_rules_are_for_staff_of_the_point_only(canteen, client, rt):
    assert rules(canteen, "admin_a").status_code == 200
    refused = rules(canteen, "coord_b")
    assert refused.status_code == 403 and refused.json()["code"] == "outside_your_scope"
    file_volunteer(rt, "13807310021", canteen.county.approval_team, name="周志愿")
    volunteer = client.get(
        f"/api/v1/meal-points/{canteen.point.id}/counter-rules", headers=volunteer_token(rt, "13807310021")
    )
    assert volunteer.status_code == 403
    assert client.get(f"/api/v1/meal-points/{canteen.point.id}/counter-rules").status_code == 401
    missing = client.get("/api/v1/meal-points/999999/counter-rules", headers=staff_token(client, "counter"))
    assert missing.status_code == 404 and missing.json()["code"] == "meal_point_not_found"


def batch(canteen, tablet, diner_id, at):
    r = canteen.client.post(
        "/api/v1/scans/batch",
        json={
            "scans": [
                {
                    "payload": canteen.card(diner_id),
                    "station_id": canteen.station,
                    "scan_id": str(uuid.uuid4()),
                    "scanned_at": at.isoformat(),
                }
            ]
        },
        headers=staff_token(canteen.client, tablet),
    )
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


def test_the_cash_sheet_sums_each_device_with_voids_full_price_and_held_meals(canteen, client, rt, clock):
    counter = staff_token(client, "counter")
    canteen.scan(canteen.card(canteen.grandma))  # pays 1.00: 11.00 from the government
    canteen.scan(canteen.card(canteen.grandpa))  # pays 10.00: 2.00 from the enterprise
    zhang = canteen.scan(canteen.card(canteen.zhang))  # pays 3.00, then voided
    assert zhang["meal"]["paid"] == 300
    void = client.post(
        f"/api/v1/meals/{zhang['meal']['id']}/void", json={"reason": "扫错卡"}, headers=counter
    )
    assert void.status_code == 200, void.text
    full = client.post(  # grandma's second lunch, at full price on purpose
        "/api/v1/meals",
        json={"diner_id": canteen.grandma, "meal_point_id": canteen.point.id},
        headers=counter,
    )
    assert full.status_code == 201 and full.json()["paid"] == 1200
    # the other tablet was offline over lunch and uploads at 17:00, past the grace: held
    clock.at = LUNCH + timedelta(hours=5, minutes=30)
    held = batch(canteen, "counter2", canteen.li, LUNCH + timedelta(minutes=10))
    assert (held["outcome"], held["held"], held["meal"]["paid"]) == ("meal_served", True, 100)

    r = client.get(f"/api/v1/meal-points/{canteen.point.id}/cash-sheet?day={DAY}", headers=counter)
    assert r.status_code == 200, r.text
    sheet = r.json()
    with rt.tx() as s:
        meals = list(s.scalars(select(Meal).where(Meal.meal_point_id == canteen.point.id)))
    standing = [m for m in meals if m.status != "voided"]
    total = sheet["total"]
    assert total["meals"] == len(standing) == 4
    assert total["paid_total"] == sum(m.paid for m in standing) == 100 + 1000 + 1200 + 100
    assert total["subsidy_total"] == 1100 + 200  # paid by funders; the held meal's is reserved apart
    assert (total["held"], total["held_paid"], total["held_subsidy"]) == (1, 100, 900 + 200)
    assert (total["full_price"], total["full_price_paid"]) == (1, 1200)
    assert (total["voided"], total["voided_paid"]) == (1, 300)
    assert total["subsidized"] == 3 and total["price_total"] == 4 * 1200
    devices = {d["staff_name"]: d for d in sheet["devices"]}
    assert set(devices) == {"counter", "counter2"}
    assert devices["counter"]["paid_total"] == 100 + 1000 + 1200 and devices["counter"]["voided"] == 1
    assert devices["counter2"]["paid_total"] == 100 and devices["counter2"]["held"] == 1
    assert sum(d["meals"] for d in sheet["devices"]) == total["meals"]
    assert (total["counted"], total["difference"], sheet["counts"], sheet["closed"]) == (
        None,
        None,
        [],
        False,
    )

    csv = client.get(f"/api/v1/meal-points/{canteen.point.id}/cash-sheet.csv?day={DAY}", headers=counter)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert '"泉心食堂 收款对账","2030-06-04 至 2030-06-04"' in text
    assert '"合计 total","4","3","48.00","24.00","13.00"' in text  # through reports.render: yuan


def test_the_cash_counted_is_kept_with_who_and_when_and_its_difference(canteen, client, clock):
    counter = staff_token(client, "counter")
    canteen.scan(canteen.card(canteen.grandma))
    canteen.scan(canteen.card(canteen.grandpa))
    url = f"/api/v1/meal-points/{canteen.point.id}/cash-counts"
    short = client.post(url, json={"counted": 1050, "note": "少了五毛"}, headers=counter)
    assert short.status_code == 201, short.text
    got = short.json()
    assert (got["counted"], got["expected"], got["difference"], got["note"]) == (1050, 1100, -50, "少了五毛")
    assert got["counted_by_name"] == "counter" and got["counted_at"].startswith(LUNCH.isoformat()[:16])
    clock.at = LUNCH + timedelta(minutes=5)
    assert client.post(url, json={"counted": 1100}, headers=counter).status_code == 201  # a recount
    sheet = client.get(f"/api/v1/meal-points/{canteen.point.id}/cash-sheet", headers=counter).json()
    assert (sheet["total"]["counted"], sheet["total"]["difference"]) == (1100, 0)  # the latest holds
    assert [c["counted"] for c in sheet["counts"]] == [1100, 1050]  # both kept, the latest first
    device = sheet["devices"][0]["device"]
    one = client.post(url, json={"counted": 1000, "device": device}, headers=counter)
    assert one.status_code == 201 and one.json()["difference"] == -100
    sheet = client.get(f"/api/v1/meal-points/{canteen.point.id}/cash-sheet", headers=counter).json()
    assert sheet["devices"][0]["difference"] == -100 and sheet["total"]["difference"] == 0

    # bad counts: every field at once, nothing written
    bad = client.post(
        url,
        json={"counted": -1, "device": "staff:999 nowhere", "day": "2030-06-05"},
        headers=counter,
    )
    assert bad.status_code == 422
    assert {(e["field"], e["code"]) for e in bad.json()["errors"]} == {
        ("counted", "out_of_range"),
        ("device", "unknown_device"),
        ("day", "future_day"),
    }
    assert client.post(url, json={"counted": "12.50"}, headers=counter).status_code in (400, 422)
    assert canteen.count(CashCount) == 3
    outsider = client.post(url, json={"counted": 1}, headers=staff_token(client, "coord_b"))
    assert outsider.status_code == 403 and canteen.count(CashCount) == 3


def test_a_reversal_of_an_earlier_meal_shows_as_money_to_give_back(canteen, client, clock):
    counter = staff_token(client, "counter")
    first = canteen.scan(canteen.card(canteen.grandpa))
    clock.at = LUNCH + timedelta(days=1)
    r = client.post(
        f"/api/v1/meals/{first['meal']['id']}/reversal", json={"reason": "未取餐"}, headers=counter
    )
    assert r.status_code in (200, 201), r.text
    sheet = client.get(f"/api/v1/meal-points/{canteen.point.id}/cash-sheet", headers=counter).json()
    assert (sheet["day"], sheet["reversals"], sheet["reversed_paid"]) == ("2030-06-05", 1, -1000)
    assert sheet["total"]["meals"] == 0
