"""At the meal-point counter: diners' cards through the one scan door, subsidies split per funder,
refusals that write nothing, voids, offline tablets and a card scanned by two tablets at once."""

from __future__ import annotations

import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import event, func, select, update

from meals import service
from meals.models import FundingAgreement, Meal, MealSubsidy
from scans.models import Scan
from tests.fixtures.builders import make_station, staff_token, staff_user, valid_id, volunteer_token
from tests.fixtures.canteen import LUNCH, Canteen


@pytest.fixture
def canteen(client, rt, clock):
    clock.at = LUNCH
    return Canteen(rt, client)


def test_a_card_at_lunch_is_a_meal_with_its_subsidy_split(canteen, clock):
    r = canteen.scan(canteen.card(canteen.grandma))
    assert r["outcome"] == "meal_served" and r["message"] == "已供餐 Meal served"
    assert r["diner"] == {
        "id": canteen.grandma,
        "name": "王桂英",
        "dietary_notes": "低盐",
        "allergies": "花生",
    }
    meal = r["meal"]
    assert (meal["slot"], meal["price"], meal["subsidy"], meal["paid"]) == ("lunch", 1200, 1100, 100)
    assert meal["split"] == [{"agreement_id": canteen.government, "funder": "县民政助餐补贴", "amount": 1100}]
    # 李国华 is 68: no government tier, and the enterprise pays 2 yuan of 12
    other = canteen.scan(canteen.card(canteen.grandpa))["meal"]
    assert (other["subsidy"], other["paid"], [p["amount"] for p in other["split"]]) == (200, 1000, [200])
    with canteen.rt.tx() as s:
        assert s.get(FundingAgreement, canteen.government).budget_used == 1100
        assert s.get(FundingAgreement, canteen.enterprise).budget_used == 200


def test_a_second_scan_is_a_duplicate_then_already_served(canteen, clock):
    first = canteen.scan(canteen.card(canteen.grandma))
    clock.at = LUNCH + timedelta(seconds=20)
    again = canteen.scan(canteen.card(canteen.grandma), tablet="counter2")
    assert again["outcome"] == "duplicate" and again["meal"]["id"] == first["meal"]["id"]
    clock.at = LUNCH + timedelta(minutes=5)
    later = canteen.scan(canteen.card(canteen.grandma))
    assert (later["outcome"], later["reason"], later["meal"]["id"]) == (
        "rejected",
        "already_served",
        first["meal"]["id"],
    )
    extra = canteen.client.post(
        "/api/v1/meals",
        json={"diner_id": canteen.grandma, "meal_point_id": canteen.point.id, "mode": "pick_up"},
        headers=staff_token(canteen.client, "counter"),
    )
    assert extra.status_code == 201 and (extra.json()["paid"], extra.json()["subsidized"]) == (1200, False)
    assert canteen.count(Meal) == 2 and canteen.count(MealSubsidy) == 1


def test_refusals_say_why_and_write_no_meal(client, rt, clock):
    clock.at = LUNCH
    canteen = Canteen(rt, client, budget=1000, week_cap=None)
    # the government has 10 yuan left, not 11: it pays nothing and the answer says so; the enterprise pays
    meal = canteen.scan(canteen.card(canteen.grandma))["meal"]
    assert (meal["subsidy"], meal["budget_exhausted"]) == (200, ["县民政助餐补贴"])
    r = canteen.scan(canteen.card(canteen.grandma, version=2))
    assert r["reason"] == "revoked_card"
    clock.at = LUNCH - timedelta(hours=1, minutes=30)  # 10:00: between breakfast and lunch
    assert canteen.scan(canteen.card(canteen.grandpa))["reason"] == "outside_window"
    clock.at = LUNCH
    elsewhere = make_station(rt, canteen.county.org_a, name="活动室")
    staff_user(rt, "roomstaff", "coordinator", org_id=canteen.county.org_a, station_id=elsewhere)
    assert (
        canteen.scan(canteen.card(canteen.grandpa), tablet="roomstaff", station=elsewhere)["reason"]
        == "not_allowed_here"
    )
    with rt.tx() as s:
        service.pause(s, canteen.grandpa, LUNCH.date(), LUNCH.date() + timedelta(days=3))
    assert canteen.scan(canteen.card(canteen.grandpa))["reason"] == "diner_paused"
    assert canteen.count(Meal) == 1  # the refusals wrote no meal
    assert canteen.count(Scan) == 5  # every scan is stored with its reason
    bad = client.post(
        "/api/v1/scans",
        json={"payload": canteen.card(canteen.grandpa), "station_id": canteen.station, "mode": "takeaway"},
        headers=staff_token(client, "counter"),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "mode"


def test_weekly_limit_and_void_the_same_day_only(client, rt, clock):
    clock.at = LUNCH
    canteen = Canteen(rt, client, week_cap=2)
    first = canteen.scan(canteen.card(canteen.grandma))["meal"]
    clock.at = LUNCH + timedelta(days=1)
    canteen.scan(canteen.card(canteen.grandma))
    clock.at = LUNCH + timedelta(days=2)
    third = canteen.scan(
        canteen.card(canteen.grandma)
    )  # the government's limit is 2 a week; the enterprise still pays
    assert third["outcome"] == "meal_served" and third["meal"]["subsidy"] == 200
    counter = staff_token(client, "counter")
    late = client.post(f"/api/v1/meals/{first['id']}/void", json={"reason": "录错了"}, headers=counter)
    assert late.status_code == 409 and late.json()["code"] == "meal_day_past"
    r = client.post(
        f"/api/v1/meals/{third['meal']['id']}/void",
        json={"reason": ""},
        headers=counter,
    )
    assert r.status_code == 422
    r = client.post(
        f"/api/v1/meals/{third['meal']['id']}/void", json={"reason": "老人未取餐"}, headers=counter
    )
    assert r.status_code == 200 and r.json()["status"] == "voided"
    with rt.tx() as s:  # the third meal's 2 yuan went back to the enterprise
        assert s.get(FundingAgreement, canteen.enterprise).budget_used == 0
        assert s.get(FundingAgreement, canteen.government).budget_used == 2 * 1100
    assert (
        canteen.scan(canteen.card(canteen.grandma))["outcome"] == "meal_served"
    )  # voided: may be served again


def test_after_a_refusal_the_counter_sees_where_and_what_to_collect_and_serves_at_full_price(
    client, rt, clock
):
    """already_served names the meal point and time of the first meal and the price of another;
    weekly_limit_reached the price to collect; either may become a full-price meal, not once a day
    is closed."""
    from meals import counter_day

    clock.at = LUNCH
    canteen = Canteen(rt, client, week_cap=1)
    with rt.tx() as s:  # both funders allow one subsidized meal a week
        s.get(FundingAgreement, canteen.enterprise).week_cap = 1
        elsewhere = service.create_meal_point(
            s,
            org_id=canteen.county.org_a,
            name="泉塘助餐点",
            address="泉塘社区2栋",
            daily_capacity=50,
            slots=[service.SlotInput("lunch", "11:00", "13:30", 1000)],
            now=LUNCH,
        )
    staff_user(rt, "counter3", "coordinator", org_id=canteen.county.org_a, station_id=elsewhere.station_id)
    first = canteen.scan(canteen.card(canteen.grandma))
    assert (first["meal"]["meal_point_id"], first["meal"]["meal_point"]) == (canteen.point.id, "泉心食堂")
    clock.at = LUNCH + timedelta(minutes=35)  # 12:05 at the other point: eaten at 泉心食堂 11:30
    again = canteen.scan(canteen.card(canteen.grandma), tablet="counter3", station=elsewhere.station_id)
    assert (again["reason"], again["meal"]["id"], again["meal"]["meal_point"]) == (
        "already_served",
        first["meal"]["id"],
        "泉心食堂",
    )
    assert again["meal"]["served_at"] == LUNCH.isoformat() and again["price"] == 1000  # this point's price

    assert canteen.scan(canteen.card(canteen.grandpa))["meal"]["subsidy"] == 200  # the enterprise's 2 yuan
    clock.at = LUNCH + timedelta(days=1)  # Wednesday: this week's subsidized meal was Tuesday's
    refused = canteen.scan(canteen.card(canteen.grandpa))
    assert (refused["outcome"], refused["reason"], refused["price"]) == (
        "rejected",
        "weekly_limit_reached",
        1200,
    )
    counter = staff_token(client, "counter")
    body = {"diner_id": canteen.grandpa, "meal_point_id": canteen.point.id}
    full = client.post("/api/v1/meals", json=body, headers=counter)
    assert full.status_code == 201, full.text
    assert (full.json()["price"], full.json()["paid"], full.json()["subsidized"]) == (1200, 1200, False)
    with rt.tx() as s:
        counter_day.close_day(s, canteen.point.id, (LUNCH + timedelta(days=1)).date(), clock.at)
    closed = client.post("/api/v1/meals", json=body, headers=counter)
    assert closed.status_code == 409 and closed.json()["code"] == "day_closed"
    assert canteen.count(Meal) == 3


def test_a_dinner_late_on_the_last_day_of_a_month_belongs_to_that_day(client, rt, clock):
    clock.at = LUNCH
    canteen = Canteen(rt, client)
    clock.at = datetime(2030, 6, 30, 11, 55, tzinfo=UTC)  # 19:55 on 30 June in Asia/Shanghai
    r = canteen.scan(canteen.card(canteen.grandma))
    assert (r["meal"]["slot"], r["meal"]["service_day"]) == ("dinner", "2030-06-30")


def test_offline_tablets_make_one_subsidy_and_one_flagged_scan(canteen, clock):
    clock.at = LUNCH + timedelta(hours=2)
    for tablet, minutes in (("counter", 0), ("counter2", 3)):
        r = canteen.client.post(
            "/api/v1/scans/batch",
            json={
                "scans": [
                    {
                        "payload": canteen.card(canteen.grandma),
                        "station_id": canteen.station,
                        "scan_id": str(uuid.uuid4()),
                        "scanned_at": (LUNCH + timedelta(minutes=minutes)).isoformat(),
                    }
                ]
            },
            headers=staff_token(canteen.client, tablet),
        )
        assert r.status_code == 200
    assert canteen.count(Meal) == 1 and canteen.count(MealSubsidy) == 1
    assert canteen.count(Scan, Scan.flagged.is_(True)) == 1
    assert r.json()["results"][0]["reason"] == "already_served"


def test_a_hundred_scans_of_one_card_at_two_tablets_make_one_subsidized_meal(rt, clock, live_server):
    clock.at = LUNCH
    with httpx.Client(base_url=live_server.url) as http:
        canteen = Canteen(rt, http)
        heads = [staff_token(http, "counter"), staff_token(http, "counter2")]
        payload = canteen.card(canteen.grandma)

        def scan(i):
            return http.post(
                "/api/v1/scans",
                json={"payload": payload, "station_id": canteen.station, "scan_id": str(uuid.uuid4())},
                headers=heads[i % 2],
            ).json()["outcome"]

        with ThreadPoolExecutor(20) as pool:
            outcomes = list(pool.map(scan, range(100)))
    assert outcomes.count("meal_served") == 1 and outcomes.count("duplicate") == 99
    assert canteen.count(Meal) == 1
    with rt.tx() as s:
        assert s.get(FundingAgreement, canteen.government).budget_used == 1100


def test_diners_register_once_and_their_card_scans(canteen, client):
    admin = staff_token(client, "admin_a")
    body = {
        "name": "赵淑芬",
        "birth_date": "1944-05-06",
        "community": "泉塘社区",
        "id_number": valid_id("43012119440506123"),
        "home_point_id": canteen.point.id,
        "consent": True,
        "guardian_name": "赵敏",
        "phone": "13912340088",
        "categories": ["living_alone"],
    }
    r = client.post("/api/v1/diners", json=body, headers=admin)
    assert (
        r.status_code == 201 and r.json()["phone"] == "139****0088" and r.json()["consent_by"] == "guardian"
    )
    again = client.post("/api/v1/diners", json=body, headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "id_number_taken"
    bad = client.post(
        "/api/v1/diners",
        json={
            **body,
            "name": "x",
            "id_number": "123",
            "birth_date": "1800-01-01",
            "consent": False,
            "categories": ["vip"],
        },
        headers=admin,
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {
        "name",
        "id_number",
        "birth_date",
        "consent",
        "categories",
    }
    png = client.get(f"/api/v1/diners/{r.json()['id']}/card.png", headers=admin)
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))[0].text
    assert canteen.rt.codes.parse(decoded).kind == "diner_card"
    found = client.get(
        f"/api/v1/diners?meal_point_id={canteen.point.id}&last4=0088", headers=staff_token(client, "counter")
    )
    assert [d["name"] for d in found.json()["items"]] == ["赵淑芬"]


@contextmanager
def budget_taken_meanwhile(rt, agreement_id: int, left: int):
    """Other meals take a funder's budget down to `left` on a connection of their own, once the
    scan has read it and written its meal's subsidies, before it takes its part (the race a busy
    county has at the moment a budget runs out)."""
    fired = []

    def other_meals(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO MEAL_SUBSIDIES") and not fired:
            fired.append(statement)
            with rt.engine.begin() as other:
                other.execute(
                    update(FundingAgreement)
                    .where(FundingAgreement.id == agreement_id)
                    .values(budget_used=FundingAgreement.budget_cap - left)
                )

    event.listen(rt.door_engine, "after_cursor_execute", other_meals)  # the scan door's
    try:
        yield fired
    finally:
        event.remove(rt.door_engine, "after_cursor_execute", other_meals)


def test_a_budget_taken_meanwhile_is_judged_again_on_what_is_left(canteen):
    """Budgets are read without a lock and taken last, just before the commit: where other meals
    took one in between, everything the scan wrote is rolled back and the scan judged again, so the
    funder pays only what it still has and the diner is told (one meal, one scan, budgets to the fen)."""
    if canteen.rt.settings.is_sqlite:
        pytest.skip("SQLite has one writer at a time: no other meal can take a budget meanwhile")
    with budget_taken_meanwhile(canteen.rt, canteen.government, left=500) as fired:
        r = canteen.scan(canteen.card(canteen.grandma))
    assert fired  # the race happened
    assert r["outcome"] == "meal_served" and r["meal"]["budget_exhausted"] == ["县民政助餐补贴"]
    assert [(p["agreement_id"], p["amount"]) for p in r["meal"]["split"]] == [(canteen.enterprise, 200)]
    assert (canteen.count(Meal), canteen.count(MealSubsidy), canteen.count(Scan)) == (1, 1, 1)
    with canteen.rt.tx() as s:
        assert s.get(FundingAgreement, canteen.government).budget_used == 10_000_000 - 500  # theirs only
        assert s.get(FundingAgreement, canteen.enterprise).budget_used == 200


def test_a_scan_that_keeps_losing_the_race_is_refused_and_writes_nothing(canteen, clock):
    """The door judges a scan again a few times at most; past that the tablet is asked to scan
    again (409 concurrent_change), and nothing the scan wrote is kept."""
    from linli.errors import LinliError
    from scans import door
    from scans.schemas import Device, ScanInput

    if canteen.rt.settings.is_sqlite:
        pytest.skip("SQLite has one writer at a time: no other meal can take a budget meanwhile")
    item = ScanInput(canteen.card(canteen.grandma), canteen.station, str(uuid.uuid4()), None, None)
    device = Device("staff", "staff:1 counter", staff_user_id=1, station_ids=frozenset({canteen.station}))
    with (
        budget_taken_meanwhile(canteen.rt, canteen.government, left=1000),
        pytest.raises(LinliError) as refused,
    ):
        with canteen.rt.tx(door=True) as s:
            door.store(
                s,
                canteen.rt.codes,
                device,
                item,
                received_at=LUNCH,
                offline=False,
                settings=canteen.rt.settings,
                tries=1,
            )
    assert refused.value.code == "concurrent_change" and refused.value.status == 409
    assert (canteen.count(Meal), canteen.count(MealSubsidy), canteen.count(Scan)) == (0, 0, 0)


def test_capacity_a_replayed_scan_id_and_set_up_mistakes(canteen, client, clock):
    from sqlalchemy import update

    from meals.models import MealPoint

    first = str(uuid.uuid4())
    r = client.post(
        "/api/v1/scans",
        json={"payload": canteen.card(canteen.grandma), "station_id": canteen.station, "scan_id": first},
        headers=staff_token(client, "counter"),
    )
    assert r.json()["diner"]["allergies"] == "花生"
    staff_user(canteen.rt, "outsider", "coordinator", org_id=canteen.county.org_b)
    stolen = client.post(
        "/api/v1/scans", json={"payload": "x", "scan_id": first}, headers=staff_token(client, "outsider")
    ).json()
    assert (stolen["outcome"], stolen["reason"], stolen["diner"]) == ("rejected", "scan_id_taken", None)
    with canteen.rt.tx() as s:
        s.execute(update(MealPoint).values(daily_capacity=1))
    assert canteen.scan(canteen.card(canteen.grandpa))["reason"] == "capacity_full"
    admin = staff_token(client, "admin_a")
    overlapping = client.post(
        "/api/v1/meal-points",
        json={
            "org_id": canteen.county.org_a,
            "name": "二号点",
            "address": "泉塘路2号",
            "daily_capacity": 50,
            "slots": [
                {"slot": "breakfast", "starts": "07:00", "ends": "12:00", "price": 500},
                {"slot": "lunch", "starts": "11:00", "ends": "13:00", "price": 1200},
                {"slot": "dinner", "starts": "１７:００", "ends": "²0:00", "price": 1200},
            ],
        },
        headers=admin,
    )
    assert overlapping.status_code == 422
    assert {e["field"] for e in overlapping.json()["errors"]} == {"slots", "slots[2].starts"}
    for schedule in (
        [{"categories": ["*"], "slots": [["lunch"]], "amount": 100}],
        [{"categories": ["*"], "slots": ["lunch"], "amount": 100, "min_self_pay": "x"}],
        [{"categories": ["tekung"], "slots": ["lunch"], "amount": 100}],
    ):
        r = client.post(
            "/api/v1/funding-agreements",
            json={
                "name": "慈善",
                "funder_kind": "charity",
                "stack_order": 3,
                "starts_on": "2030-06-01",
                "ends_on": "2030-06-30",
                "budget_cap": 100000,
                "schedule": schedule,
                "meal_point_ids": [canteen.point.id],
            },
            headers=admin,
        )
        assert r.status_code == 422, (schedule, r.text)
    r = client.post(
        "/api/v1/funding-agreements",
        json={
            "name": "慈善",
            "funder_kind": "charity",
            "stack_order": 3,
            "starts_on": "2030-06-01",
            "ends_on": "2030-06-30",
            "budget_cap": 100000,
            "schedule": [{"categories": ["*"], "slots": ["lunch"], "amount": 100}],
            "meal_point_ids": [canteen.point.id],
            "partner_id": 999999,
        },
        headers=admin,
    )
    assert r.status_code == 404 and r.json()["code"] == "partner_not_found"


def test_the_day_is_closed_after_the_last_slot_and_stays_closed(canteen, client, clock):
    from meals.models import DayClose
    from workers.jobs import close_meal_days

    served = canteen.scan(canteen.card(canteen.grandma))["meal"]
    canteen.scan(canteen.card(canteen.grandpa))
    clock.at = LUNCH + timedelta(minutes=10)
    counter = staff_token(client, "counter")
    extra = client.post(
        "/api/v1/meals",
        json={"diner_id": canteen.grandpa, "meal_point_id": canteen.point.id},
        headers=counter,
    ).json()
    assert (
        client.post(
            f"/api/v1/meals/{extra['id']}/void", json={"reason": "重复登记"}, headers=counter
        ).status_code
        == 200
    )
    clock.at = datetime(2030, 6, 4, 13, 30, tzinfo=UTC)  # 21:30 local
    assert close_meal_days() == 1
    assert close_meal_days() == 0
    with canteen.rt.tx() as s:
        day = s.scalar(select(DayClose))
    assert (day.meals, day.subsidized, day.diners, day.voided) == (2, 2, 2, 1)
    assert (day.price_total, day.subsidy_total, day.paid_total) == (2400, 1100 + 200, 2400 - 1300)
    assert day.by_funder == {str(canteen.government): 1100, str(canteen.enterprise): 200}
    late = client.post(f"/api/v1/meals/{served['id']}/void", json={"reason": "晚了"}, headers=counter)
    assert late.status_code == 409 and late.json()["code"] == "meal_day_past"


def test_many_diners_at_once_share_the_funders_budgets_without_deadlock(rt, clock, live_server):
    """Every meal takes from the same two budgets: forty diners at two tablets at once all get their
    meal (no deadlock, no 5xx), and the budgets used equal the subsidies recorded, to the fen."""
    clock.at = LUNCH
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        canteen = Canteen(rt, http)
        with rt.tx() as s:
            diners = [
                canteen.diner(
                    s,
                    f"张{'一二三四五六七八九十'[i % 10]}{'甲乙丙丁'[i // 10]}",
                    "1948",
                    ("dibao",),
                    serial=i,
                )
                for i in range(40)
            ]
        heads = [staff_token(http, "counter"), staff_token(http, "counter2")]

        def scan(i):
            r = http.post(
                "/api/v1/scans",
                json={
                    "payload": canteen.card(diners[i]),
                    "station_id": canteen.station,
                    "scan_id": str(uuid.uuid4()),
                },
                headers=heads[i % 2],
            )
            return r.status_code, r.json().get("outcome")

        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(scan, range(40)))
    assert results == [(200, "meal_served")] * 40
    with rt.tx() as s:
        used = s.scalar(select(func.sum(FundingAgreement.budget_used)))
        paid = s.scalar(select(func.sum(MealSubsidy.amount)))
    assert used == paid == 40 * (900 + 200)


def test_money_must_be_whole_fen_and_nothing_is_written(canteen, client):
    admin = staff_token(client, "admin_a")
    agreement = {
        "name": "慈善",
        "funder_kind": "charity",
        "stack_order": 3,
        "starts_on": "2030-06-01",
        "ends_on": "2030-06-30",
        "budget_cap": 100000,
        "schedule": [{"categories": ["*"], "slots": ["lunch"], "amount": 100}],
        "meal_point_ids": [canteen.point.id],
    }
    for change in (
        {"budget_cap": -1},
        {"budget_cap": 1000.5},
        {"schedule": [{"categories": ["*"], "slots": ["lunch"], "amount": -100}]},
        {"schedule": [{"categories": ["*"], "slots": ["lunch"], "amount": 12.5}]},
        {"schedule": [{"categories": ["*"], "slots": ["lunch"], "percent": 25, "cap": -3}]},
    ):
        r = client.post("/api/v1/funding-agreements", json={**agreement, **change}, headers=admin)
        assert r.status_code in (400, 422), (change, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    point = {
        "org_id": canteen.county.org_a,
        "name": "二号点",
        "address": "泉塘路2号",
        "daily_capacity": 50,
    }
    for price in (-1, 12.5, 1e12):
        r = client.post(
            "/api/v1/meal-points",
            json={**point, "slots": [{"slot": "lunch", "starts": "11:00", "ends": "13:00", "price": price}]},
            headers=admin,
        )
        assert r.status_code in (400, 422), (price, r.text)
    assert canteen.count(FundingAgreement) == 2
    from meals.models import MealPoint

    assert canteen.count(MealPoint) == 1


@pytest.mark.slow  # a Redis of its own, stopped
def test_meals_are_recorded_and_delivered_with_redis_down(own_redis, clock):
    from litestar.testing import TestClient

    from api.app import create_app
    from linli.outbox import OutboxMessage
    from tests.fixtures.canteen import Deliveries

    server, rt = own_redis
    rt.clock = clock
    clock.at = LUNCH - timedelta(hours=2)
    server.stop()
    with TestClient(app=create_app(rt)) as client:
        world = Deliveries(rt, client)
        runs = client.post(
            f"/api/v1/meal-points/{world.point.id}/delivery-runs",
            json={"day": LUNCH.date().isoformat(), "slot": "lunch"},
            headers=staff_token(client, "counter"),
        ).json()["items"]
        run = next(r for r in runs if r["community"] == "泉塘社区")
        assert (
            client.post(
                f"/api/v1/delivery-runs/{run['id']}/claim", headers=volunteer_token(rt, "13807310011")
            ).status_code
            == 200
        )
        clock.at = LUNCH
        assert world.scan(world.card(world.grandma))["outcome"] == "meal_served"
        assert world.door("13807310011", world.home[0])["outcome"] == "delivered"
    assert world.count(Meal) == 2
    assert world.count(OutboxMessage, OutboxMessage.event == "meal.delivered") == 1


def test_a_scan_is_served_while_every_other_request_thread_is_taken(canteen, client):
    """A wave of phones and couriers can take all of a server's request threads; the counter's scan
    runs on the door's own (`api.deps.door_threads`) and is served meanwhile."""
    import threading

    import anyio

    card = canteen.card(canteen.grandma)
    headers = staff_token(client, "counter")  # logged in first: a login needs a thread of the pool
    threads = client.blocking_portal.call(anyio.to_thread.current_default_thread_limiter)
    holders = [object() for _ in range(int(threads.total_tokens))]
    for holder in holders:  # every request thread taken, as by requests still at work
        client.blocking_portal.call(threads.acquire_on_behalf_of_nowait, holder)
    answers = []
    try:
        scan = threading.Thread(
            target=lambda: answers.append(
                client.post(
                    "/api/v1/scans",
                    json={"payload": card, "station_id": canteen.station, "scan_id": str(uuid.uuid4())},
                    headers=headers,
                )
            )
        )
        scan.start()
        scan.join(timeout=20)
        assert answers, "the scan waited for a request thread"
    finally:
        for holder in holders:
            client.blocking_portal.call(threads.release_on_behalf_of, holder)
        scan.join(timeout=20)
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["outcome"] == "meal_served"
