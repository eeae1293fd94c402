"""Corrections after the day: a meal of a closed or past day is reversed, never changed; the closed
day keeps its numbers and the reversal shows on the day it counts on, with who, when and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from meals.models import DayClose, FundingAgreement, Meal, MealAdjustment
from tests.fixtures.builders import staff_token
from tests.fixtures.canteen import LUNCH, Canteen
from workers.jobs import close_meal_days

TUESDAY_EVENING = datetime(2030, 6, 4, 13, 30, tzinfo=UTC)  # 21:30 local: the day closes
WEDNESDAY_MORNING = datetime(2030, 6, 5, 1, 0, tzinfo=UTC)  # 09:00 local


def closes(rt):
    with rt.tx() as s:
        return {d.service_day.isoformat(): d for d in s.scalars(select(DayClose))}


def test_a_closed_days_meal_is_reversed_on_a_later_day_and_the_close_stays(client, rt, clock):
    clock.at = LUNCH
    canteen = Canteen(rt, client, week_cap=1)
    coordinator = staff_token(client, "counter")
    meal = canteen.scan(canteen.card(canteen.grandma))["meal"]
    assert (meal["subsidy"], meal["split"][0]["amount"]) == (1100, 1100)
    early = client.post(
        f"/api/v1/meals/{meal['id']}/reversal", json={"reason": "刷错卡"}, headers=coordinator
    )
    assert early.status_code == 409 and early.json()["code"] == "meal_day_open"  # today: void it instead

    clock.at = TUESDAY_EVENING
    close_meal_days()
    tuesday = closes(rt)["2030-06-04"]
    assert (tuesday.meals, tuesday.subsidy_total, tuesday.adjustments) == (1, 1100, 0)
    void = client.post(f"/api/v1/meals/{meal['id']}/void", json={"reason": "刷错卡"}, headers=coordinator)
    assert void.status_code == 409 and void.json()["code"] == "meal_day_past"
    blank = client.post(f"/api/v1/meals/{meal['id']}/reversal", json={"reason": "  "}, headers=coordinator)
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "reason"
    with rt.tx() as s:
        assert s.scalar(select(MealAdjustment.id)) is None

    # Tuesday is closed, so a reversal made on Tuesday evening counts on Wednesday
    r = client.post(
        f"/api/v1/meals/{meal['id']}/reversal", json={"reason": "长者当天住院，代领错误"}, headers=coordinator
    )
    assert r.status_code == 201, r.text
    reversal = r.json()
    assert (reversal["made_on"], reversal["subsidy_delta"], reversal["paid_delta"]) == (
        "2030-06-05",
        -1100,
        -100,
    )
    assert reversal["by_funder"] == {str(canteen.government): -1100}
    twice = client.post(f"/api/v1/meals/{meal['id']}/reversal", json={"reason": "再来"}, headers=coordinator)
    assert twice.status_code == 409 and twice.json()["code"] == "meal_adjusted"
    with rt.tx() as s:
        assert s.get(FundingAgreement, canteen.government).budget_used == 0  # back in the budget
        kept = s.get(Meal, meal["id"])
        assert (kept.status, kept.subsidy, kept.paid) == ("served", 1100, 100)  # the original stays
    record = client.get(f"/api/v1/meals/{meal['id']}", headers=coordinator).json()
    assert record["reversal"]["reason"] == "长者当天住院，代领错误" and record["reversal"]["made_by"]
    assert record["subsidy"] == 1100 and record["void"] is None

    # the reversed meal no longer counts towards the week's one subsidized government meal
    clock.at = LUNCH + timedelta(days=1)
    wednesday_meal = canteen.scan(canteen.card(canteen.grandma))["meal"]
    assert [p["amount"] for p in wednesday_meal["split"]] == [1100]

    clock.at = TUESDAY_EVENING + timedelta(days=1)
    close_meal_days()
    days = closes(rt)
    assert (days["2030-06-04"].meals, days["2030-06-04"].subsidy_total) == (1, 1100)  # unchanged
    wednesday = days["2030-06-05"]
    assert (wednesday.meals, wednesday.subsidy_total) == (1, 1100)
    assert (wednesday.adjustments, wednesday.adjusted_subsidy) == (1, -1100)
    assert wednesday.adjusted_by_funder == {str(canteen.government): -1100}


def test_a_past_days_meal_is_reversed_today_when_today_is_open(client, rt, clock):
    clock.at = LUNCH
    canteen = Canteen(rt, client)
    meal = canteen.scan(canteen.card(canteen.grandpa))["meal"]  # not closed: the job did not run
    clock.at = WEDNESDAY_MORNING
    r = client.post(
        f"/api/v1/meals/{meal['id']}/reversal",
        json={"reason": "重复登记"},
        headers=staff_token(client, "counter"),
    )
    assert r.status_code == 201 and r.json()["made_on"] == "2030-06-05"
    assert r.json()["by_funder"] == {str(canteen.enterprise): -200}
    other = staff_token(client, "admin_a")
    assert client.get(f"/api/v1/meals/{meal['id']}", headers=other).json()["reversal"]["id"] == r.json()["id"]
    missing = client.post("/api/v1/meals/999999/reversal", json={"reason": "x"}, headers=other)
    assert missing.status_code == 404 and missing.json()["code"] == "meal_not_found"
