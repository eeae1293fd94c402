"""Home delivery: the delivery list per slot as runs per community, a volunteer claims a run, the
diner's card scanned at the door is a meal answered `delivered`, and the delivery award follows."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from meals import service
from meals.models import Meal
from points.models import Award
from tests.fixtures.builders import staff_token, staff_user, valid_id, volunteer_token
from tests.fixtures.canteen import LUNCH, Deliveries
from tests.fixtures.runtime import drain


def test_runs_are_planned_claimed_and_each_door_is_a_delivered_meal(client, rt, clock):
    clock.at = LUNCH - timedelta(hours=2)  # 09:30
    world = Deliveries(rt, client)
    coordinator = staff_token(client, "counter")
    url = f"/api/v1/meal-points/{world.point.id}/delivery-runs"
    day = LUNCH.date().isoformat()
    runs = client.post(url, json={"day": day, "slot": "lunch"}, headers=coordinator).json()["items"]
    assert [(r["community"], r["stops_total"], r["volunteer"]) for r in runs] == [
        ("星沙社区", 1, None),
        ("泉塘社区", 2, None),
    ]
    quantang = next(r for r in runs if r["community"] == "泉塘社区")
    assert {s["address"] for s in quantang["stops"]} == {"泉塘社区3栋2单元101", "泉塘社区5栋1单元302"}
    # planning again changes nothing
    again = client.post(url, json={"day": day, "slot": "lunch"}, headers=coordinator).json()["items"]
    assert [r["id"] for r in again] == [r["id"] for r in runs]

    # volunteers see open runs without addresses; a volunteer of another organization sees none
    seen = client.get("/api/v1/delivery-runs", headers=volunteer_token(rt, "13807310011")).json()["items"]
    assert {r["id"] for r in seen} == {r["id"] for r in runs} and all("stops" not in r for r in seen)
    assert (
        client.get("/api/v1/delivery-runs", headers=volunteer_token(rt, "13807310013")).json()["items"] == []
    )
    refused = client.post(
        f"/api/v1/delivery-runs/{quantang['id']}/claim", headers=volunteer_token(rt, "13807310013")
    )
    assert refused.status_code == 403 and refused.json()["code"] == "not_filed"

    # two volunteers claim the same run at once: one gets it
    def claim(phone):
        return client.post(
            f"/api/v1/delivery-runs/{quantang['id']}/claim", headers=volunteer_token(rt, phone)
        ).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(claim, ["13807310011", "13807310012"]))
    assert codes == [200, 409]
    with rt.tx() as s:
        from meals.models import DeliveryRun

        taker = s.get(DeliveryRun, quantang["id"]).volunteer_id
    phone, other = ("13807310011", "13807310012") if taker == world.walker else ("13807310012", "13807310011")
    mine = client.get("/api/v1/delivery-runs", headers=volunteer_token(rt, phone)).json()["items"]
    assert [s["name"] for s in mine[0]["stops"]] == ["赵桂兰", "钱永福"] or [
        s["name"] for s in mine[0]["stops"]
    ] == ["钱永福", "赵桂兰"]

    # at the door: delivered, with the subsidy as at the counter
    clock.at = LUNCH + timedelta(minutes=20)
    first = world.door(phone, world.home[0])
    assert first["outcome"] == "delivered" and first["message"] == "已送达 Delivered"
    assert (first["meal"]["mode"], first["meal"]["subsidy"], first["meal"]["paid"]) == ("delivery", 1100, 100)
    assert first["station_id"] == world.station
    clock.at += timedelta(seconds=10)
    assert world.door(phone, world.home[0])["outcome"] == "duplicate"
    # a diner on someone else's run, or not on any, is refused and nothing is written
    refused = world.door(other, world.home[1])
    assert (refused["outcome"], refused["reason"]) == ("rejected", "not_on_run")
    assert refused.get("diner") is None  # who the card belongs to is not this volunteer's to know
    assert world.door(phone, world.home[2])["reason"] == "not_on_run"  # 星沙社区: not this run
    assert world.door(phone, world.grandma)["reason"] == "not_on_run"  # eats at the counter
    second = world.door(phone, world.home[1])
    assert second["outcome"] == "delivered"
    with rt.tx() as s:
        meals = s.scalars(select(Meal).order_by(Meal.id)).all()
    assert [(m.diner_id, m.mode) for m in meals] == [(world.home[0], "delivery"), (world.home[1], "delivery")]

    # the run shows what was delivered; the delivery award reaches the ledger once per meal
    listed = client.get(f"{url}?day={day}", headers=coordinator).json()["items"]
    done = next(r for r in listed if r["id"] == quantang["id"])
    assert done["delivered"] == 2 and all(s["meal_id"] for s in done["stops"])
    drain(rt)
    drain(rt)
    with rt.tx() as s:
        delivered = s.scalars(select(Award).where(Award.kind == "delivery")).all()
    assert sorted(a.key for a in delivered) == sorted(f"delivery:meal:{m.id}" for m in meals)
    assert {a.volunteer_id for a in delivered} == {taker} and all(a.points == 5 for a in delivered)
    points = client.get("/api/v1/me/points", headers=volunteer_token(rt, phone)).json()
    assert points["balance"] == 10


def test_a_paused_diner_is_told_at_the_door_and_runs_refuse_bad_input(client, rt, clock):
    clock.at = LUNCH - timedelta(hours=2)
    world = Deliveries(rt, client)
    coordinator = staff_token(client, "counter")
    url = f"/api/v1/meal-points/{world.point.id}/delivery-runs"
    bad = client.post(url, json={"day": "2030-06-04", "slot": "brunch"}, headers=coordinator)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "slot"
    runs = client.post(url, json={"day": "2030-06-04", "slot": "lunch"}, headers=coordinator).json()["items"]
    quantang = next(r for r in runs if r["community"] == "泉塘社区")
    assert (
        client.post(
            f"/api/v1/delivery-runs/{quantang['id']}/claim", headers=volunteer_token(rt, "13807310011")
        ).status_code
        == 200
    )
    with rt.tx() as s:
        service.pause(s, world.home[0], LUNCH.date(), None)
    clock.at = LUNCH
    paused = world.door("13807310011", world.home[0])
    assert (paused["outcome"], paused["reason"]) == ("rejected", "diner_paused")
    # a volunteer gives the run back; another takes it
    assert (
        client.post(
            f"/api/v1/delivery-runs/{quantang['id']}/release", headers=volunteer_token(rt, "13807310011")
        ).json()["volunteer"]
        is None
    )
    taken = client.post(
        f"/api/v1/delivery-runs/{quantang['id']}/claim", headers=volunteer_token(rt, "13807310012")
    ).json()
    assert taken["volunteer"]["name"] == "吴跑腿"
    assert (
        client.post(
            f"/api/v1/delivery-runs/{quantang['id']}/release", headers=volunteer_token(rt, "13807310011")
        ).status_code
        == 404
    )
    # delivery diners need an address
    r = client.post(
        "/api/v1/diners",
        json={
            "name": "冯秀梅",
            "birth_date": "1940-01-01",
            "community": "泉塘社区",
            "id_number": valid_id("43012119400101155"),
            "home_point_id": world.point.id,
            "consent": True,
            "delivery": True,
        },
        headers=coordinator,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "address"
    # a staff tablet's scan is still a counter meal, never a delivery
    assert world.scan(world.card(world.home[1]))["outcome"] == "meal_served"


def test_a_voided_delivery_takes_its_points_back_and_a_closed_day_takes_no_more(client, rt, clock):
    from workers.jobs import close_meal_days

    clock.at = LUNCH - timedelta(hours=2)
    world = Deliveries(rt, client)
    coordinator = staff_token(client, "counter")
    runs = client.post(
        f"/api/v1/meal-points/{world.point.id}/delivery-runs",
        json={"day": "2030-06-04", "slot": "lunch"},
        headers=coordinator,
    ).json()["items"]
    run = next(r for r in runs if r["community"] == "泉塘社区")
    phone = "13807310011"
    assert (
        client.post(
            f"/api/v1/delivery-runs/{run['id']}/claim", headers=volunteer_token(rt, phone)
        ).status_code
        == 200
    )
    clock.at = LUNCH - timedelta(hours=1)  # 10:30: the run's window opens at 10:30
    assert world.door(phone, world.home[0])["outcome"] == "delivered"
    clock.at = LUNCH
    second = world.door(phone, world.home[1])
    assert second["outcome"] == "delivered"
    drain(rt)
    me = volunteer_token(rt, phone)
    assert client.get("/api/v1/me/points", headers=me).json()["balance"] == 10
    void = client.post(
        f"/api/v1/meals/{second['meal']['id']}/void", json={"reason": "送错了"}, headers=coordinator
    )
    assert void.status_code == 200
    drain(rt)
    assert client.get("/api/v1/me/points", headers=me).json()["balance"] == 5
    # too late for lunch: the window closed two hours after the slot
    clock.at = datetime(2030, 6, 4, 7, 31, tzinfo=UTC)  # 15:31
    late = world.door(phone, world.home[1])
    assert (late["outcome"], late["reason"]) == ("rejected", "outside_window")
    # after the day is closed, not even an offline upload adds a meal to it
    clock.at = datetime(2030, 6, 4, 13, 30, tzinfo=UTC)
    close_meal_days()
    batch = client.post(
        "/api/v1/scans/batch",
        json={
            "scans": [
                {
                    "payload": world.card(world.home[1]),
                    "station_id": world.station,
                    "scan_id": str(uuid.uuid4()),
                    "scanned_at": (LUNCH + timedelta(minutes=30)).isoformat(),
                }
            ]
        },
        headers=coordinator,
    ).json()["results"][0]
    assert (batch["outcome"], batch["reason"]) == ("rejected", "day_closed")
    assert world.count(Meal, Meal.status == "served") == 1


def test_bookings_only_for_diners_the_staff_serve(client, rt, clock):
    clock.at = LUNCH - timedelta(days=1)
    world = Deliveries(rt, client)
    with rt.tx() as s:
        other_point = service.create_meal_point(
            s,
            org_id=world.county.org_b,
            name="星沙食堂",
            address="星沙路1号",
            daily_capacity=100,
            slots=[service.SlotInput("lunch", "11:00", "13:30", 1000)],
            now=LUNCH,
        )
        service.pause(s, world.home[1], LUNCH.date(), None)
    staff_user(rt, "admin_b", "admin", org_id=world.county.hub_b)
    outsider = client.post(
        f"/api/v1/meal-points/{other_point.id}/bookings",
        json={"diner_id": world.home[0], "day": "2030-06-04", "slot": "lunch", "mode": "delivery"},
        headers=staff_token(client, "admin_b"),
    )
    assert outsider.status_code == 403 and outsider.json()["code"] == "outside_your_scope"
    coordinator = staff_token(client, "counter")
    url = f"/api/v1/meal-points/{world.point.id}/bookings"
    paused = client.post(
        url, json={"diner_id": world.home[1], "day": "2030-06-04", "slot": "lunch"}, headers=coordinator
    )
    assert paused.status_code == 422 and paused.json()["errors"][0]["code"] == "diner_paused"
    no_address = client.post(
        url,
        json={"diner_id": world.grandma, "day": "2030-06-04", "slot": "lunch", "mode": "delivery"},
        headers=coordinator,
    )
    assert no_address.status_code == 422 and no_address.json()["errors"][0]["code"] == "no_address"


def test_a_claimed_run_lists_its_doors_in_order_with_what_to_collect(client, rt, clock):
    clock.at = LUNCH - timedelta(hours=2)
    world = Deliveries(rt, client)
    url = f"/api/v1/meal-points/{world.point.id}/delivery-runs"
    runs = client.post(
        url, json={"day": LUNCH.date().isoformat(), "slot": "lunch"}, headers=staff_token(client, "counter")
    ).json()["items"]
    quantang = next(r for r in runs if r["community"] == "泉塘社区")
    walker = volunteer_token(rt, "13807310011")
    assert client.post(f"/api/v1/delivery-runs/{quantang['id']}/claim", headers=walker).status_code == 200

    def mine():
        r = client.get("/api/v1/delivery-runs", headers=volunteer_token(rt, "13807310011"))
        assert r.status_code == 200, r.text
        return next(x for x in r.json()["items"] if x.get("stops"))

    run = mine()
    assert run["meal_point_name"] == world.point.name
    # in order, each with the slot's price and what the diner pays: 特困 1 yuan, aged 86 3 yuan
    assert [(s["name"], s["price"], s["to_collect"]) for s in run["stops"]] == [
        ("赵桂兰", 1200, 100),
        ("钱永福", 1200, 300),
    ]
    clock.at = LUNCH
    assert world.door("13807310011", world.home[0])["outcome"] == "delivered"
    done = mine()["stops"][0]
    assert done["meal_id"] and done["to_collect"] == 100  # what the meal's diner paid
