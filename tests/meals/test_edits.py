"""Edits that keep history: a diner, a meal point and an agreement changed through PATCH, each with
its reason; prices and schedules from a day on, never rewriting a meal already served; a budget
topped up, an agreement ended; bad input refused field by field, writing nothing; the history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from integrity.models import AuditEntry
from meals.models import Diner, FundingAgreement, Meal, MealSubsidy, ScheduleVersion, SlotPrice
from tests.fixtures.builders import staff_token, staff_user
from tests.fixtures.canteen import LUNCH, TIERED, Canteen

TODAY = LUNCH.date()  # Tuesday 4 June 2030 in Asia/Shanghai
TOMORROW = TODAY + timedelta(days=1)
SLOTS = [
    {"slot": "breakfast", "starts": "07:00", "ends": "09:00", "price": 800},
    {"slot": "lunch", "starts": "11:00", "ends": "13:30", "price": 1200},
    {"slot": "dinner", "starts": "17:00", "ends": "20:00", "price": 1200},
]


@pytest.fixture
def canteen(client, rt, clock):
    clock.at = LUNCH
    return Canteen(rt, client)


def admin(canteen) -> dict:
    return staff_token(canteen.client, "admin_a")


def patch(canteen, path: str, body: dict, who: str = "admin_a"):
    return canteen.client.patch(path, json=body, headers=staff_token(canteen.client, who))


def slots(lunch_price: int) -> list[dict]:
    return [dict(s, price=lunch_price) if s["slot"] == "lunch" else s for s in SLOTS]


def count(canteen, model) -> int:
    return canteen.count(model)


def test_a_price_change_from_tomorrow_leaves_today_and_earlier_meals_at_the_old_price(canteen, clock):
    before = canteen.scan(canteen.card(canteen.grandpa))["meal"]
    assert before["price"] == 1200
    r = patch(
        canteen,
        f"/api/v1/meal-points/{canteen.point.id}",
        {"slots": slots(1500), "effective_from": TOMORROW.isoformat(), "reason": "食材涨价，街道批复"},
    )
    assert r.status_code == 200, r.text
    lunch = next(s for s in r.json()["slots"] if s["slot"] == "lunch")
    assert (lunch["price"], lunch["upcoming"]) == (1200, [{"effective_from": "2030-06-05", "price": 1500}])

    clock.at = LUNCH + timedelta(minutes=10)  # a meal served today, after the change was made
    today = canteen.scan(canteen.card(canteen.grandma))["meal"]
    assert (today["price"], today["subsidy"], today["paid"]) == (1200, 1100, 100)

    clock.at = LUNCH + timedelta(days=1)
    tomorrow = canteen.scan(canteen.card(canteen.grandpa))["meal"]
    assert (tomorrow["price"], tomorrow["subsidy"], tomorrow["paid"]) == (1500, 200, 1300)
    with canteen.rt.tx() as s:
        prices = dict(s.execute(select(Meal.service_day, func.min(Meal.price)).group_by(Meal.service_day)).all())
    assert prices == {TODAY: 1200, TOMORROW: 1500}  # the earlier meals are as they were served

    listed = canteen.client.get("/api/v1/meal-points", headers=admin(canteen)).json()["items"][0]
    assert next(s for s in listed["slots"] if s["slot"] == "lunch")["price"] == 1500  # it is tomorrow now
    history = canteen.client.get(f"/api/v1/meal-points/{canteen.point.id}/history", headers=admin(canteen))
    assert history.status_code == 200, history.text
    [entry] = history.json()["items"]
    assert entry["action"] == "meal_point.edited" and entry["reason"] == "食材涨价，街道批复"
    assert entry["effective_from"] == "2030-06-05" and entry["staff_name"]
    assert entry["changes"] == {"slots.lunch.price": {"before": 1200, "after": 1500}}
    assert entry["at"].startswith("2030-06-04T03:30")  # UTC


def test_hours_a_new_slot_and_a_dropped_one_change_at_once(canteen, clock):
    body = [
        {"slot": "lunch", "starts": "10:45", "ends": "13:30", "price": 1200},
        {"slot": "dinner", "starts": "17:00", "ends": "21:30", "price": 1000},
    ]
    r = patch(canteen, f"/api/v1/meal-points/{canteen.point.id}", {"slots": body, "reason": "停早餐，晚餐延长"})
    # the dinner's price changed too: it needs its day
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "effective_from"
    body[1]["price"] = 1200
    r = patch(
        canteen,
        f"/api/v1/meal-points/{canteen.point.id}",
        {"slots": body, "daily_capacity": 250, "reason": "停早餐，晚餐延长"},
    )
    assert r.status_code == 200, r.text
    assert [(s["slot"], s["starts"], s["ends"]) for s in r.json()["slots"]] == [
        ("lunch", "10:45", "13:30"),
        ("dinner", "17:00", "21:30"),
    ]
    clock.at = LUNCH.replace(hour=2, minute=50)  # 10:50 local: lunch now
    assert canteen.scan(canteen.card(canteen.grandpa))["outcome"] == "meal_served"


def test_a_schedule_change_from_a_date_applies_to_meals_from_that_date_only(canteen, clock):
    cheaper = [dict(TIERED[0], amount=1000), *TIERED[1:]]
    r = patch(
        canteen,
        f"/api/v1/funding-agreements/{canteen.government}",
        {"schedule": cheaper, "week_cap": 5, "effective_from": TOMORROW.isoformat(), "reason": "县民政局2030年6号文"},
    )
    assert r.status_code == 200, r.text
    agreement = r.json()
    assert agreement["schedule"] == TIERED and agreement["week_cap"] is None  # today's
    assert [(v["effective_from"], v["week_cap"]) for v in agreement["upcoming"]] == [("2030-06-05", 5)]

    today = canteen.scan(canteen.card(canteen.grandma))["meal"]
    clock.at = LUNCH + timedelta(days=1)
    tomorrow = canteen.scan(canteen.card(canteen.grandma))["meal"]
    assert [p["amount"] for p in today["split"]] == [1100]
    assert [p["amount"] for p in tomorrow["split"]] == [1000, 100]  # the enterprise pays down to 1 yuan
    with canteen.rt.tx() as s:
        version = s.scalar(select(ScheduleVersion.id))
        paid = dict(
            s.execute(
                select(MealSubsidy.service_day, MealSubsidy.schedule_version_id).where(
                    MealSubsidy.agreement_id == canteen.government
                )
            ).all()
        )
    assert paid == {TODAY: None, TOMORROW: version}  # each subsidy names the rule it was paid under
    history = canteen.client.get(
        f"/api/v1/funding-agreements/{canteen.government}/history", headers=admin(canteen)
    ).json()["items"]
    assert history[0]["changes"]["week_cap"] == {"before": None, "after": 5}
    assert history[0]["changes"]["schedule"]["after"][0]["amount"] == 1000


def test_a_top_up_lets_an_exhausted_agreement_pay_again(canteen):
    with canteen.rt.tx() as s:
        s.execute(update(FundingAgreement).values(budget_used=FundingAgreement.budget_cap - 50))
    refused = canteen.scan(canteen.card(canteen.grandma))
    assert (refused["outcome"], refused["reason"]) == ("rejected", "budget_exhausted")
    used = 10_000_000 - 50
    low = patch(
        canteen, f"/api/v1/funding-agreements/{canteen.government}", {"budget_cap": used - 1, "reason": "追加"}
    )
    assert low.status_code == 422
    assert [(e["field"], e["code"]) for e in low.json()["errors"]] == [("budget_cap", "below_used")]
    r = patch(
        canteen,
        f"/api/v1/funding-agreements/{canteen.government}",
        {"budget_cap": 12_000_000, "reason": "追加年度预算（县财政2030-58号）"},
    )
    assert r.status_code == 200 and r.json()["budget_cap"] == 12_000_000
    served = canteen.scan(canteen.card(canteen.grandma))
    assert served["outcome"] == "meal_served" and served["meal"]["subsidy"] == 1100


def test_ending_an_agreement_stops_its_subsidy_after_its_end(canteen, clock):
    url = f"/api/v1/funding-agreements/{canteen.government}"
    clock.at = LUNCH + timedelta(days=1)  # a meal tomorrow: it paid for that day
    assert canteen.scan(canteen.card(canteen.grandma))["meal"]["subsidy"] == 1100
    clock.at = LUNCH
    early = patch(canteen, url, {"ends_on": TODAY.isoformat(), "reason": "提前终止"})
    assert [(e["field"], e["code"]) for e in early.json()["errors"]] == [("ends_on", "before_last_paid")]
    past = patch(canteen, url, {"ends_on": (TODAY - timedelta(days=1)).isoformat(), "reason": "提前终止"})
    assert [(e["field"], e["code"]) for e in past.json()["errors"]] == [("ends_on", "in_the_past")]
    r = patch(canteen, url, {"ends_on": TOMORROW.isoformat(), "reason": "协议提前终止，转由街道资助"})
    assert r.status_code == 200 and r.json()["ends_on"] == "2030-06-05"
    clock.at = LUNCH + timedelta(days=2)
    meal = canteen.scan(canteen.card(canteen.grandma))["meal"]
    assert [p["agreement_id"] for p in meal["split"]] == [canteen.enterprise]  # the government's has ended


def test_a_diner_edit_changes_what_it_should_and_the_history_masks_the_phone(canteen):
    url = f"/api/v1/diners/{canteen.grandpa}"
    r = patch(
        canteen,
        url,
        {
            "categories": ["dibao"],
            "category_evidence": "低保证 430121-2030-0457，社区核实",
            "phone": "13807319876",
            "delivery": True,
            "address": "泉塘社区7栋101",
            "dietary_notes": "少糖",
            "paused_from": "2030-06-10",
            "paused_until": "2030-06-20",
            "birth_date": "1930-01-01",  # not editable: the ID number's
            "reason": "新认定低保，住院安排",
        },
        who="counter",
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["categories"], d["phone"], d["delivery"], d["address"], d["dietary_notes"]) == (
        ["dibao"],
        "138****9876",
        True,
        "泉塘社区7栋101",
        "少糖",
    )
    assert (d["birth_date"], d["paused_from"], d["category_evidence"]) == (
        "1962-03-01",
        "2030-06-10",
        "低保证 430121-2030-0457，社区核实",
    )
    assert canteen.scan(canteen.card(canteen.grandpa))["meal"]["subsidy"] == 900 + 200  # 低保 now
    [entry] = canteen.client.get(f"{url}/history", headers=admin(canteen)).json()["items"]
    assert entry["changes"]["phone"] == {"before": None, "after": "138****9876"}
    assert entry["changes"]["address"] == {"before": None, "after": "泉塘社区…"}
    assert entry["changes"]["categories"] == {"before": [], "after": ["dibao"]}
    assert entry["reason"] == "新认定低保，住院安排" and "13807319876" not in str(entry)


def test_bad_input_is_refused_field_by_field_and_writes_nothing(canteen):
    def codes(r):
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        return sorted((e["field"], e["code"]) for e in r.json()["errors"])

    diner = f"/api/v1/diners/{canteen.grandpa}"
    assert codes(patch(canteen, diner, {"name": "李国强"})) == [("reason", "required")]
    assert codes(patch(canteen, diner, {"categories": ["dibao"], "reason": "认定"})) == [
        ("category_evidence", "required")
    ]
    assert codes(patch(canteen, diner, {"categories": ["rich"], "category_evidence": "x", "reason": "x"})) == [
        ("categories", "unknown")
    ]
    point = f"/api/v1/meal-points/{canteen.point.id}"
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert codes(patch(canteen, point, {"slots": slots(1500), "effective_from": yesterday, "reason": "x"})) == [
        ("effective_from", "in_the_past")
    ]
    assert codes(patch(canteen, point, {"slots": slots(1500), "reason": "x"})) == [("effective_from", "required")]
    agreement = f"/api/v1/funding-agreements/{canteen.government}"
    bad_tier = [{"categories": ["tekun"], "slots": ["lunch"], "amount": 5000}]
    assert codes(patch(canteen, agreement, {"schedule": bad_tier, "effective_from": TOMORROW.isoformat(), "reason": "x"})) == [
        ("schedule[0].amount", "exceeds_price")
    ]
    assert codes(patch(canteen, agreement, {"budget_cap": 0, "week_cap": 99})) == [
        ("budget_cap", "out_of_range"),
        ("effective_from", "required"),
        ("reason", "required"),
        ("week_cap", "out_of_range"),
    ]
    with canteen.rt.tx() as s:
        assert s.get(Diner, canteen.grandpa).name == "李国华" and s.get(Diner, canteen.grandpa).categories == []
        assert s.get(FundingAgreement, canteen.government).budget_cap == 10_000_000
    assert (count(canteen, AuditEntry), count(canteen, SlotPrice), count(canteen, ScheduleVersion)) == (0, 0, 0)


def test_only_the_hub_staff_edit_and_see_the_history(canteen, rt):
    staff_user(rt, "admin_b", "admin", org_id=canteen.county.hub_b)
    point = f"/api/v1/meal-points/{canteen.point.id}"
    body = {"name": "泉心长者食堂", "reason": "更名"}
    assert patch(canteen, point, body, who="counter").json()["code"] == "role_required"
    assert patch(canteen, point, body, who="admin_b").json()["code"] == "outside_your_scope"
    agreement = f"/api/v1/funding-agreements/{canteen.government}"
    assert patch(canteen, agreement, {"name": "x", "reason": "x"}, who="admin_b").status_code == 403
    refused = canteen.client.get(f"{point}/history", headers=staff_token(canteen.client, "admin_b"))
    assert refused.status_code == 403
    assert patch(canteen, point, body).status_code == 200
    assert count(canteen, AuditEntry) == 1


def test_an_offline_meal_uploaded_after_the_new_price_began_keeps_its_day_s_price(canteen, clock):
    cheaper = [dict(TIERED[0], amount=1000), *TIERED[1:]]
    r = patch(
        canteen,
        f"/api/v1/meal-points/{canteen.point.id}",
        {"slots": slots(1500), "effective_from": TOMORROW.isoformat(), "reason": "调价"},
    )
    assert r.status_code == 200
    r = patch(
        canteen,
        f"/api/v1/funding-agreements/{canteen.government}",
        {"schedule": cheaper, "effective_from": TOMORROW.isoformat(), "reason": "新政策"},
    )
    assert r.status_code == 200
    clock.at = LUNCH + timedelta(hours=20)  # 07:30 the next morning: the tablet comes back online
    r = canteen.client.post(
        "/api/v1/scans/batch",
        json={
            "scans": [
                {
                    "payload": canteen.card(canteen.grandma),
                    "station_id": canteen.station,
                    "scan_id": "b6f1c1de-5a55-4f0e-9a53-2d6c0c9a0001",
                    "scanned_at": (LUNCH + timedelta(minutes=5)).isoformat(),  # yesterday's lunch
                }
            ]
        },
        headers=staff_token(canteen.client, "counter"),
    )
    assert r.status_code == 200, r.text
    with canteen.rt.tx() as s:
        meal = s.scalar(select(Meal))
        tier = s.scalar(select(MealSubsidy).where(MealSubsidy.agreement_id == canteen.government))
    assert (meal.service_day, meal.price, tier.amount, tier.schedule_version_id) == (TODAY, 1200, 1100, None)


def test_a_month_cap_from_a_date_and_a_diner_s_residence_are_edited_with_their_history(canteen, clock):
    url = f"/api/v1/funding-agreements/{canteen.government}"
    r = patch(canteen, url, {"month_cap": 1, "effective_from": TOMORROW.isoformat(), "reason": "每月一餐"})
    assert r.status_code == 200, r.text
    assert r.json()["month_cap"] is None and r.json()["upcoming"][0]["month_cap"] == 1
    today = canteen.scan(canteen.card(canteen.grandma))
    assert today["meal"]["subsidy"] == 1100  # today's rule: no monthly cap
    clock.at = LUNCH + timedelta(days=1)
    tomorrow = canteen.scan(canteen.card(canteen.grandma))["meal"]
    # the government's month is used: only the enterprise pays tomorrow
    assert [p["agreement_id"] for p in tomorrow["split"]] == [canteen.enterprise]
    history = canteen.client.get(f"{url}/history", headers=admin(canteen)).json()["items"]
    assert history[0]["changes"]["month_cap"] == {"before": None, "after": 1}

    diner = f"/api/v1/diners/{canteen.grandma}"
    assert patch(canteen, diner, {"residence": "elsewhere", "reason": "户口本"}).status_code in (400, 422)
    r = patch(canteen, diner, {"residence": "local", "reason": "核实户口本"})
    assert r.status_code == 200, r.text
    assert (r.json()["residence"], r.json()["residence_name"]) == ("local", "本地户籍")
    history = canteen.client.get(f"{diner}/history", headers=admin(canteen)).json()["items"]
    assert history[0]["changes"]["residence"] == {"before": None, "after": "local"}
