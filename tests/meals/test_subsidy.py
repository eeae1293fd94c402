"""Subsidy schedules as published by cities, checked to the fen (pure: no database)."""

from __future__ import annotations

import pytest

from linli.errors import LinliError
from meals.subsidy import Funding, check_schedule, split
from tests.fixtures.builders import staff_token, staff_user

# A 12-yuan meal with 11, 9 or 7 yuan of subsidy by tier (特困, 低保, 80 and over).
TIERED = [
    {"categories": ["tekun"], "slots": ["lunch", "dinner"], "amount": 1100},
    {"categories": ["dibao"], "slots": ["lunch", "dinner"], "amount": 900},
    {"categories": ["age_80_89", "age_90_plus"], "slots": ["lunch", "dinner"], "amount": 700},
]
QUARTER = [{"categories": ["*"], "slots": ["lunch"], "percent": 25, "cap": 300}]
FIVE_IF_SPENT = [{"categories": ["*"], "slots": ["lunch"], "amount": 500, "min_price": 501}]


def funding(schedule, fid=1, order=1, budget=10**7, **extra):
    return Funding(id=fid, stack_order=order, schedule=schedule, budget_left=budget, **extra)


@pytest.mark.parametrize(
    ("schedule", "price", "categories", "slot", "want", "problem"),
    [
        (TIERED, 1200, {"tekun", "age_70_79"}, "lunch", [(1, 1100)], None),  # pays 1 yuan
        (TIERED, 1200, {"dibao", "age_80_89"}, "lunch", [(1, 900)], None),  # first matching tier
        (TIERED, 1200, {"age_90_plus"}, "dinner", [(1, 700)], None),
        (TIERED, 1200, {"age_60_69"}, "lunch", [], "not_eligible"),
        (TIERED, 1200, {"tekun"}, "breakfast", [], "not_eligible"),
        (QUARTER, 1000, {"age_60_69"}, "lunch", [(1, 250)], None),  # a quarter of 10 yuan
        (QUARTER, 1600, {"age_60_69"}, "lunch", [(1, 300)], None),  # capped at 3 yuan
        (QUARTER, 999, {"age_60_69"}, "lunch", [(1, 249)], None),  # rounded down to the fen
        (FIVE_IF_SPENT, 800, {"age_70_79"}, "lunch", [(1, 500)], None),
        (FIVE_IF_SPENT, 500, {"age_70_79"}, "lunch", [], "not_eligible"),  # spent no more than 5 yuan
    ],
)
def test_city_schedules(schedule, price, categories, slot, want, problem):
    assert split(price, categories, slot, True, [funding(schedule)]) == (want, problem, [])


def test_funders_stack_in_order_and_leave_the_minimum_self_payment():
    government = funding([{"categories": ["dibao"], "slots": ["lunch"], "amount": 600}], fid=7, order=1)
    enterprise = funding(
        [{"categories": ["*"], "slots": ["lunch"], "amount": 500, "min_self_pay": 200}], fid=3, order=2
    )
    charity = funding([{"categories": ["*"], "slots": ["lunch"], "amount": 300}], fid=5, order=3)
    parts, problem, _ = split(1200, {"dibao"}, "lunch", True, [charity, enterprise, government])
    # 12 yuan: the government 6, the enterprise 4 (the diner pays at least 2), the charity nothing
    assert (parts, problem) == ([(7, 600), (3, 400)], None)


def test_weekly_limit_other_point_and_budget():
    weekly = funding(TIERED, week_cap=5, used_this_week=5)
    assert split(1200, {"tekun"}, "lunch", True, [weekly]) == ([], "weekly_limit_reached", [])
    fourth = funding(TIERED, week_cap=5, used_this_week=4)
    assert split(1200, {"tekun"}, "lunch", True, [fourth]) == ([(1, 1100)], None, [])
    home = funding(TIERED, home_point_only=True)
    assert split(1200, {"tekun"}, "lunch", False, [home]) == ([], "other_meal_point", [])
    assert split(1200, {"tekun"}, "lunch", True, [funding(TIERED, budget=1099)]) == (
        [],
        "budget_exhausted",
        [1],
    )
    # one funder out of budget: the others still pay, and the answer names it
    topup = funding([{"categories": ["*"], "slots": ["lunch"], "amount": 200}], fid=2, order=2, budget=100)
    assert split(1200, {"dibao"}, "lunch", True, [funding(TIERED), topup]) == ([(1, 900)], None, [2])


def test_schedules_that_could_not_work_are_refused_field_by_field():
    with pytest.raises(LinliError) as err:
        check_schedule(
            [
                {"categories": ["tekun"], "slots": ["lunch"], "amount": 1300},  # more than a 12-yuan meal
                {"categories": [], "slots": ["brunch"], "percent": 25.5},
                {"categories": ["*"], "slots": ["lunch"], "amount": 100, "percent": 10},
                {"categories": ["*"], "slots": ["lunch"], "amount": -5},
            ],
            prices=[("lunch", 1200), ("breakfast", 500)],
        )
    assert [(e.field, e.code) for e in err.value.errors] == [
        ("schedule[0].amount", "exceeds_price"),
        ("schedule[1].categories", "invalid"),
        ("schedule[1].slots", "invalid"),
        ("schedule[1].percent", "out_of_range"),
        ("schedule[2]", "amount_or_percent"),
        ("schedule[3].amount", "out_of_range"),
    ]


def test_meal_points_and_agreements_are_listed_within_the_staff_members_part_of_the_tree(client, rt, clock):
    from tests.fixtures.canteen import LUNCH, Canteen

    clock.at = LUNCH
    canteen = Canteen(rt, client)
    admin = staff_token(client, "admin_a")
    points = client.get("/api/v1/meal-points", headers=admin).json()["items"]
    assert [(p["id"], p["station_id"], [s["slot"] for s in p["slots"]]) for p in points] == [
        (canteen.point.id, canteen.station, ["breakfast", "lunch", "dinner"])
    ]
    agreements = client.get("/api/v1/funding-agreements", headers=admin).json()["items"]
    assert {(a["id"], tuple(a["meal_point_ids"]), a["budget_used"]) for a in agreements} == {
        (canteen.government, (canteen.point.id,), 0),
        (canteen.enterprise, (canteen.point.id,), 0),
    }
    assert [
        p["id"]
        for p in client.get("/api/v1/meal-points", headers=staff_token(client, "counter")).json()["items"]
    ] == [canteen.point.id]
    # another hub's admin sees neither; a coordinator does not see the money
    staff_user(rt, "admin_b", "admin", org_id=canteen.county.hub_b)
    other = staff_token(client, "admin_b")
    assert client.get("/api/v1/meal-points", headers=other).json() == {"items": [], "next": None}
    assert client.get("/api/v1/funding-agreements", headers=other).json() == {"items": [], "next": None}
    r = client.get("/api/v1/funding-agreements", headers=staff_token(client, "counter"))
    assert r.status_code == 403 and r.json()["code"] == "role_required"


def test_a_partner_is_named_on_an_agreement_by_an_admin_over_all_it_funds(client, rt, clock):
    """Before: any hub's admin could name any partner enterprise on an agreement of its own meal
    points (201), and that partner's reports then took in the hub's points."""
    from datetime import timedelta

    from meals import service
    from meals.models import FundingAgreement
    from orgs import service as orgs_service
    from tests.fixtures.canteen import LUNCH, Canteen

    clock.at = LUNCH
    canteen = Canteen(rt, client)
    county = canteen.county
    with rt.tx() as s:
        point_b = service.create_meal_point(
            s,
            org_id=county.org_b,
            name="星沙食堂",
            address="星沙路2号",
            daily_capacity=100,
            slots=[service.SlotInput("lunch", "11:00", "13:00", 1200)],
            now=LUNCH,
        ).id
        funds_a = orgs_service.create_partner(s, name="泉心社会企业", now=LUNCH).id
        new = orgs_service.create_partner(s, name="星沙慈善基金", now=LUNCH).id
        s.get(FundingAgreement, canteen.enterprise).partner_id = funds_a
    staff_user(rt, "county", "admin", org_id=county.base)
    staff_user(rt, "admin_b", "admin", org_id=county.hub_b)

    def name(who, point, partner):
        return client.post(
            "/api/v1/funding-agreements",
            json={
                "name": "企业补贴",
                "funder_kind": "enterprise",
                "stack_order": 3,
                "starts_on": str(LUNCH.date()),
                "ends_on": str(LUNCH.date() + timedelta(days=30)),
                "budget_cap": 100_000,
                "schedule": [{"categories": ["*"], "slots": ["lunch"], "amount": 100}],
                "meal_point_ids": [point],
                "partner_id": partner,
            },
            headers=staff_token(client, who),
        )

    r = name("admin_b", point_b, funds_a)  # A's partner onto B's point
    assert r.status_code == 403 and r.json()["code"] == "outside_your_scope", r.text
    assert name("admin_a", canteen.point.id, 999_999).json()["code"] == "partner_not_found"
    with rt.tx() as s:
        assert s.query(FundingAgreement).count() == 2
    assert name("admin_a", canteen.point.id, funds_a).status_code == 201  # it funds only A's points
    assert name("admin_b", point_b, new).status_code == 201  # it funds nothing yet: B brings it
    r = name("admin_a", canteen.point.id, new)  # now it funds B's point
    assert r.status_code == 403 and r.json()["code"] == "outside_your_scope", r.text
    assert name("county", canteen.point.id, new).status_code == 201  # the county's grant covers both
