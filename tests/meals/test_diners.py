"""Registering diners (助餐对象登记): the birth date and sex come from the resident ID number, and the
subsidy categories are listed by the API and named in every refusal of an unknown one."""

from __future__ import annotations

import pytest

from meals.models import Diner, FundingAgreement
from tests.fixtures.builders import staff_token, valid_id
from tests.fixtures.canteen import LUNCH, Canteen

BORN_1955 = valid_id("43012119550501102")  # 17th digit 0: a woman born 1 May 1955


@pytest.fixture
def canteen(client, rt, clock):
    clock.at = LUNCH  # 4 June 2030
    return Canteen(rt, client)


def diner(canteen, **fields):
    return {
        "name": "周玉兰",
        "community": "泉塘社区",
        "id_number": BORN_1955,
        "home_point_id": canteen.point.id,
        "consent": True,
        **fields,
    }


def test_a_birth_date_that_disagrees_with_the_id_number_is_refused_and_nothing_written(canteen, client):
    """Typed as 1950, she would be 80 and in the government's age_80_89 tier; her ID says 1955."""
    admin = staff_token(client, "admin_a")
    r = client.post("/api/v1/diners", json=diner(canteen, birth_date="1950-05-01"), headers=admin)
    assert r.status_code == 422, r.text
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("birth_date", "id_number_mismatch")]
    assert r.json()["errors"][0]["message"].startswith("出生日期与身份证号不符（身份证号为1955-05-01）")
    assert canteen.count(Diner) == 2  # the fixture's two
    # the date the number carries is accepted, typed or not
    same = client.post("/api/v1/diners", json=diner(canteen, birth_date="1955-05-01"), headers=admin)
    assert same.status_code == 201, same.text


def test_the_id_number_gives_the_birth_date_and_sex_and_so_the_tier(canteen, client):
    admin = staff_token(client, "admin_a")
    r = client.post("/api/v1/diners", json=diner(canteen), headers=admin)
    assert r.status_code == 201, r.text
    assert (r.json()["birth_date"], r.json()["sex"]) == ("1955-05-01", "female")
    with canteen.rt.tx() as s:
        stored = s.get(Diner, r.json()["id"])
        assert (str(stored.birth_date), stored.sex) == ("1955-05-01", "female")
    # 75 on the day: no government tier, only the enterprise's 2 yuan
    meal = canteen.scan(canteen.card(r.json()["id"]))["meal"]
    assert (meal["subsidy"], [p["agreement_id"] for p in meal["split"]]) == (200, [canteen.enterprise])
    man = client.post(
        "/api/v1/diners",
        json=diner(canteen, name="周国强", id_number=valid_id("43012119290917113")),
        headers=admin,
    )
    assert (man.json()["birth_date"], man.json()["sex"]) == ("1929-09-17", "male")


def test_the_categories_are_listed_with_their_chinese_names(canteen, client):
    r = client.get("/api/v1/meal-categories", headers=staff_token(client, "counter"))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    plain = {"min_age": None, "max_age": None, "retired": False, "own": False}
    assert {"code": "tekun", "name": "特困", "automatic": False, **plain} in items
    assert {
        **plain,
        "code": "age_80_89",
        "name": "80-89岁",
        "automatic": True,
        "min_age": 80,
        "max_age": 89,
    } in items
    assert len(items) == 12 and r.json()["next"] is None
    assert [i["code"] for i in items] == sorted(i["code"] for i in items)


def test_an_unknown_category_names_the_valid_codes(canteen, client):
    admin = staff_token(client, "admin_a")
    r = client.post(
        "/api/v1/diners",
        json=diner(canteen, birth_date="1955-05-01", categories=["vip", "age_70_79", "tekun"]),
        headers=admin,
    )
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert (error["field"], error["code"]) == ("categories", "unknown")
    message = error["message"]
    assert message.startswith("未知或按年龄自动计算的类别：vip、age_70_79；可选：")
    assert "tekun（特困）" in message and "dibao（低保）" in message and "age_80_89" not in message
    assert message.index("特困") < message.index("valid codes:")
    assert canteen.count(Diner) == 2
    # an agreement's tier naming an unknown category
    body = {
        "name": "新补贴",
        "funder_kind": "charity",
        "stack_order": 5,
        "starts_on": str(LUNCH.date()),
        "ends_on": "2030-12-31",
        "budget_cap": 100_000,
        "schedule": [{"categories": ["tekun", "laonian"], "slots": ["lunch"], "amount": 100}],
        "meal_point_ids": [canteen.point.id],
    }
    r = client.post("/api/v1/funding-agreements", json=body, headers=admin)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "schedule[0].categories"
    assert error["message"].startswith("未知类别：laonian；可选：*（所有人）、age_60_69（60-69岁）")
    assert "tekun" in error["message"].split("valid codes:")[1]
    assert canteen.count(FundingAgreement) == 2
