"""Subsidy rules a county changes as data (补贴规则): its own categories beside the defaults, age
bands by exact years, a registered-residence (户籍) condition and monthly caps beside weekly ones."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from meals import service
from meals.models import Diner, FundingAgreement, MealCategory
from tests.fixtures.builders import County, make_county, staff_token, staff_user, valid_id

LUNCH = datetime(2030, 6, 4, 3, 30, tzinfo=UTC)  # Tuesday 11:30 in Asia/Shanghai


@dataclass
class Two:
    """Two counties, A and B, each with a meal point (lunch at 12 yuan), a county administrator,
    a hub administrator and a counter tablet."""

    client: object
    rt: object
    a: County
    b: County
    point_a: object
    point_b: object

    def call(self, who, method, path, **kw):
        return self.client.request(method, path, headers=staff_token(self.client, who), **kw)

    def agreement(self, who, point, schedule, **extra):
        body = {
            "name": "补贴",
            "funder_kind": "government",
            "stack_order": 1,
            "starts_on": "2030-01-01",
            "ends_on": "2030-12-31",
            "budget_cap": 10_000_000,
            "schedule": schedule,
            "meal_point_ids": [point.id],
            **extra,
        }
        return self.call(who, "POST", "/api/v1/funding-agreements", json=body)

    def diner(self, who, point, id17, **extra):
        body = {
            "name": "周玉兰",
            "community": "泉塘社区",
            "id_number": valid_id(id17),
            "home_point_id": point.id,
            "consent": True,
            **extra,
        }
        return self.call(who, "POST", "/api/v1/diners", json=body)

    def scan(self, who, point, diner_id):
        r = self.call(
            who,
            "POST",
            "/api/v1/scans",
            json={
                "payload": self.rt.codes.diner_card(diner_id, 1),
                "station_id": point.station_id,
                "scan_id": str(uuid.uuid4()),
            },
        )
        assert r.status_code == 200, r.text
        return r.json()

    def count(self, model):
        with self.rt.tx() as s:
            return s.query(model).count()


@pytest.fixture
def two(rt, client, clock):
    clock.at = LUNCH
    a, b = make_county(rt), make_county(rt)
    points = []
    with rt.tx() as s:
        for county, name in ((a, "泉心食堂"), (b, "星沙食堂")):
            points.append(
                service.create_meal_point(
                    s,
                    org_id=county.org_a,
                    name=name,
                    address="泉心路1号",
                    daily_capacity=300,
                    slots=[service.SlotInput("lunch", "11:00", "13:30", 1200)],
                    now=LUNCH,
                )
            )
    for key, county, point in (("a", a, points[0]), ("b", b, points[1])):
        staff_user(rt, f"county_{key}", "admin", org_id=county.base)
        staff_user(rt, f"admin_{key}", "admin", org_id=county.hub_a)
        staff_user(rt, f"counter_{key}", "coordinator", org_id=county.org_a, station_id=point.station_id)
    return Two(client, rt, a, b, *points)


def codes(two, who, **params):
    r = two.call(who, "GET", "/api/v1/meal-categories", params=params)
    assert r.status_code == 200, r.text
    return {i["code"]: i for i in r.json()["items"]}


def test_an_age_band_by_exact_years_starts_on_the_birthday(two, clock):
    """Born 5 June 1955: 74 on 4 June 2030 and 75 on 5 June; the county's 75+ band pays from then."""
    r = two.call(
        "county_a",
        "POST",
        "/api/v1/meal-categories",
        json={"code": "age_75_plus", "name": "75岁以上", "min_age": 75},
    )
    assert r.status_code == 201, r.text
    assert r.json() == {
        "code": "age_75_plus",
        "name": "75岁以上",
        "automatic": True,
        "min_age": 75,
        "max_age": None,
        "retired": False,
        "own": True,
    }
    assert (
        two.agreement(
            "admin_a", two.point_a, [{"categories": ["age_75_plus"], "slots": ["lunch"], "amount": 500}]
        ).status_code
        == 201
    )
    # the decades are rows with bounds too: 70-79 pays 1 yuan
    assert (
        two.agreement(
            "admin_a",
            two.point_a,
            [{"categories": ["age_70_79"], "slots": ["lunch"], "amount": 100}],
            stack_order=2,
        ).status_code
        == 201
    )
    diner = two.diner("admin_a", two.point_a, "43012119550605102")
    assert diner.status_code == 201, diner.text
    # a band is automatic: never assigned by hand
    refused = two.diner("admin_a", two.point_a, "43012119550605118", categories=["age_75_plus"])
    assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "unknown"
    day_before = two.scan("counter_a", two.point_a, diner.json()["id"])
    assert (day_before["outcome"], day_before["meal"]["subsidy"]) == ("meal_served", 100)
    clock.at = LUNCH + timedelta(days=1)  # her birthday
    birthday = two.scan("counter_a", two.point_a, diner.json()["id"])
    assert (birthday["outcome"], birthday["meal"]["subsidy"]) == ("meal_served", 600)
    # the county's band is its own: county B has the decades only
    assert "age_75_plus" in codes(two, "admin_a") and "age_75_plus" not in codes(two, "admin_b")


def test_a_countys_own_category_is_refused_in_another_county_naming_the_valid_codes(two):
    made = two.call("county_a", "POST", "/api/v1/meal-categories", json={"code": "shidu", "name": "失独家庭"})
    assert made.status_code == 201, made.text
    again = two.call("county_a", "POST", "/api/v1/meal-categories", json={"code": "tekun", "name": "特困"})
    assert (again.status_code, again.json()["code"]) == (409, "category_exists")
    # usable in county A's schedules and diners
    assert (
        two.agreement(
            "admin_a", two.point_a, [{"categories": ["shidu"], "slots": ["lunch"], "amount": 800}]
        ).status_code
        == 201
    )
    a = two.diner("admin_a", two.point_a, "43012119500301123", categories=["shidu"])
    assert (a.status_code, a.json()["categories"]) == (201, ["shidu"])
    assert two.scan("counter_a", two.point_a, a.json()["id"])["meal"]["subsidy"] == 800
    # refused in county B, by the hub's admin and the county's alike, naming B's codes
    before = (two.count(Diner), two.count(FundingAgreement))
    b = two.diner("admin_b", two.point_b, "43012119500301131", categories=["shidu"])
    assert b.status_code == 422, b.text
    [error] = b.json()["errors"]
    assert (error["field"], error["code"]) == ("categories", "unknown")
    assert error["message"].startswith("未知或按年龄自动计算的类别：shidu；可选：")
    assert "tekun（特困）" in error["message"] and "shidu" not in error["message"].split("valid codes:")[1]
    schedule = [{"categories": ["shidu"], "slots": ["lunch"], "amount": 800}]
    r = two.agreement("county_b", two.point_b, schedule)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "schedule[0].categories" and error["message"].startswith(
        "未知类别：shidu；可选：*（所有人）"
    )
    assert "tekun" in error["message"].split("valid codes:")[1]
    assert (two.count(Diner), two.count(FundingAgreement)) == before
    # listed per county: A's with its own, B's without; by a hub or a meal point too
    assert codes(two, "admin_a")["shidu"]["own"] and "shidu" not in codes(two, "admin_b")
    assert "shidu" in codes(two, "county_a", org_id=two.a.hub_a)
    assert "shidu" in codes(two, "counter_a", meal_point_id=two.point_a.id)
    other = two.call("admin_b", "GET", "/api/v1/meal-categories", params={"meal_point_id": two.point_a.id})
    assert (other.status_code, other.json()["code"]) == (403, "outside_your_scope")
    assert (
        two.call("admin_b", "GET", "/api/v1/meal-categories", params={"org_id": two.a.hub_a}).status_code
        == 403
    )
    # only a county's administrators keep its list
    hub = two.call("admin_a", "POST", "/api/v1/meal-categories", json={"code": "xyz", "name": "某类"})
    assert (hub.status_code, hub.json()["code"]) == (403, "county_admins_only")


def test_a_county_renames_and_retires_for_itself_and_what_names_it_keeps_working(two):
    renamed = two.call("county_a", "PATCH", "/api/v1/meal-categories/tekun", json={"name": "特困供养人员"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["own"]) == ("特困供养人员", True)
    assert codes(two, "admin_a")["tekun"]["name"] == "特困供养人员"
    assert codes(two, "admin_b")["tekun"]["name"] == "特困"  # the default, in county B
    # an age band re-banded: 60-69 becomes 65-69 in county A
    band = two.call(
        "county_a", "PATCH", "/api/v1/meal-categories/age_60_69", json={"min_age": 65, "max_age": 69}
    )
    assert (band.json()["min_age"], band.json()["max_age"]) == (65, 69)
    bad = two.call("county_a", "PATCH", "/api/v1/meal-categories/dibao", json={"min_age": 65})
    assert (bad.status_code, bad.json()["errors"][0]["code"]) == (422, "not_an_age_band")
    missing = two.call("county_a", "PATCH", "/api/v1/meal-categories/nothing", json={"name": "无"})
    assert (missing.status_code, missing.json()["code"]) == (404, "category_not_found")
    # retiring: offered no more, a diner who has it keeps it
    assert (
        two.agreement(
            "admin_a", two.point_a, [{"categories": ["dibao"], "slots": ["lunch"], "amount": 900}]
        ).status_code
        == 201
    )
    kept = two.diner("admin_a", two.point_a, "43012119500301123", categories=["dibao"])
    assert kept.status_code == 201, kept.text
    retired = two.call("county_a", "PATCH", "/api/v1/meal-categories/dibao", json={"retired": True})
    assert retired.json()["retired"] is True and codes(two, "admin_a")["dibao"]["retired"] is True
    new = two.diner("admin_a", two.point_a, "43012119500301131", categories=["dibao"])
    assert new.status_code == 422, new.text
    assert two.scan("counter_a", two.point_a, kept.json()["id"])["meal"]["subsidy"] == 900
    assert two.diner("admin_b", two.point_b, "43012119500301140", categories=["dibao"]).status_code == 201
    with two.rt.tx() as s:
        rows = {(r.scope, r.code) for r in s.query(MealCategory)}
    assert rows == {("/1/", "tekun"), ("/1/", "age_60_69"), ("/1/", "dibao")}  # only county A's own


def test_a_residence_condition_is_applied_and_refused(two):
    local = two.diner("admin_b", two.point_b, "43012119500301123", residence="local")
    assert local.status_code == 201, local.text
    assert (local.json()["residence"], local.json()["residence_name"]) == ("local", "本地户籍")
    other = two.diner("admin_b", two.point_b, "43012119500301131", residence="other")
    assert (other.json()["residence"], other.json()["residence_name"]) == ("other", "非本地户籍")
    unknown = two.diner("admin_b", two.point_b, "43012119500301140")  # not recorded
    assert unknown.json()["residence"] is None
    wrong = two.diner("admin_b", two.point_b, "43012119500301158", residence="abroad")
    assert [(e["field"], e["code"]) for e in wrong.json()["errors"]] == [("residence", "invalid")]
    bad_tier = two.agreement(
        "admin_b",
        two.point_b,
        [{"categories": ["*"], "slots": ["lunch"], "amount": 300, "residence": "here"}],
    )
    assert [e["field"] for e in bad_tier.json()["errors"]] == ["schedule[0].residence"]
    schedule = [{"categories": ["*"], "slots": ["lunch"], "amount": 300, "residence": "local"}]
    assert two.agreement("admin_b", two.point_b, schedule).status_code == 201
    served = two.scan("counter_b", two.point_b, local.json()["id"])
    assert (served["outcome"], served["meal"]["subsidy"]) == ("meal_served", 300)
    for diner in (other, unknown):
        refused = two.scan("counter_b", two.point_b, diner.json()["id"])
        assert (refused["outcome"], refused["reason"], refused["price"]) == ("rejected", "not_eligible", 1200)


def test_a_monthly_cap_is_reached_in_the_second_half_and_resets_on_the_first(two, clock):
    for cap in (0, 94):
        r = two.agreement(
            "admin_a", two.point_a, [{"categories": ["*"], "slots": ["lunch"], "amount": 500}], month_cap=cap
        )
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("month_cap", "out_of_range")]
    capped = two.agreement(
        "admin_a", two.point_a, [{"categories": ["*"], "slots": ["lunch"], "amount": 500}], month_cap=3
    )
    assert (capped.status_code, capped.json()["month_cap"]) == (201, 3)
    diner = two.diner("admin_a", two.point_a, "43012119500301123").json()["id"]
    outcomes = []
    for day in (26, 27, 28, 29, 30):  # Wednesday 26 June 2030 to Sunday 30th
        clock.at = datetime(2030, 6, day, 3, 30, tzinfo=UTC)
        answer = two.scan("counter_a", two.point_a, diner)
        outcomes.append((answer["outcome"], answer.get("reason"), answer.get("price")))
    assert outcomes == [("meal_served", None, None)] * 3 + [("rejected", "monthly_limit_reached", 1200)] * 2
    assert answer["message"].startswith("本月补贴次数已用完")
    clock.at = datetime(2030, 7, 1, 3, 30, tzinfo=UTC)  # a new month
    july = two.scan("counter_a", two.point_a, diner)
    assert (july["outcome"], july["meal"]["subsidy"]) == ("meal_served", 500)
    listed = two.call("admin_a", "GET", "/api/v1/funding-agreements").json()["items"]
    assert [a["month_cap"] for a in listed] == [3]


def test_whole_years_count_the_birthday_and_a_diner_may_be_in_several_bands():
    from datetime import date

    from meals.categories import Category, Rules, age_on

    rules = Rules(
        "/1/",
        (
            Category("age_60_69", "60-69岁", 60, 69),
            Category("age_65_plus", "65岁以上", 65, None),
            Category("age_70_79", "70-79岁", 70, 79),
            Category("age_75_plus", "75岁以上", 75, None),
            Category("tekun", "特困"),
        ),
    )
    born = date(1951, 12, 7)
    assert age_on(born, date(2026, 12, 6)) == 74 and age_on(born, date(2026, 12, 7)) == 75
    assert rules.bands_on(born, date(2026, 12, 6)) == {"age_65_plus", "age_70_79"}
    assert rules.bands_on(born, date(2026, 12, 7)) == {"age_65_plus", "age_70_79", "age_75_plus"}
    leap = date(1956, 2, 29)  # a year older on 1 March in other years
    assert age_on(leap, date(2026, 2, 28)) == 69 and age_on(leap, date(2026, 3, 1)) == 70
    assert rules.offered(automatic=False) == {"tekun": "特困"}
