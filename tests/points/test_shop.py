"""The points shop through the API: orders reserve points and stock, the counter fulfils by card,
cancellation and expiry give points and stock back, limits, and the last item under a race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from points import ledger, shop, verification
from points.models import ShopItem
from tests.fixtures.builders import (
    file_volunteer,
    make_county,
    make_station,
    staff_token,
    staff_user,
    volunteer_token,
)

NOW = datetime(2030, 6, 3, 2, 30, tzinfo=UTC)


class Shop:
    def __init__(self, client, rt):
        self.client, self.rt = client, rt
        self.county = make_county(rt)
        self.station = make_station(rt, self.county.org_a)
        staff_user(rt, "admin_a", "admin", org_id=self.county.hub_a)
        staff_user(rt, "counter", "coordinator", org_id=self.county.org_a, station_id=self.station)
        staff_user(rt, "admin_b", "admin", org_id=self.county.hub_b)
        self.volunteers = [file_volunteer(rt, f"1390000000{i}", self.county.open_team) for i in range(3)]
        self.phones = [f"1390000000{i}" for i in range(3)]

    def give(self, n, points):
        with self.rt.tx() as s:
            issued = ledger.hub_account(s, "points", "hub_issued", self.county.hub_a, NOW)
            mine = ledger.volunteer_account(s, "points", self.volunteers[n], NOW)
            assert ledger.create_transfers(
                s,
                [
                    ledger.TransferInput(
                        id=f"gift:{n}:{points}",
                        debit_account_id=issued,
                        credit_account_id=mine,
                        amount=points,
                        lot_expires_at=NOW + timedelta(days=400),
                    )
                ],
                NOW,
            ) == ["created"]

    def item(self, **body):
        r = self.client.post(
            f"/api/v1/shop/items?hub_id={self.county.hub_a}",
            json={"name": "大米5斤", "price": 50, "stock": 10, **body},
            headers=staff_token(self.client, "admin_a"),
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def me(self, n=0):
        return volunteer_token(self.rt, self.phones[n])

    def order(self, item, n=0, **extra):
        return self.client.post("/api/v1/shop/orders", json={"item_id": item, **extra}, headers=self.me(n))

    def points(self, n=0):
        return self.client.get("/api/v1/me/points", headers=self.me(n)).json()

    def card(self, n=0):
        return self.rt.codes.volunteer_card(self.volunteers[n], 1)


@pytest.fixture
def world(client, rt, clock):
    clock.at = NOW
    return Shop(client, rt)


def test_order_then_fulfil_at_the_counter_by_card(world):
    world.give(0, 120)
    item = world.item()
    r = world.order(item, quantity=2, request_id="phone-req-1")
    assert r.status_code == 201 and r.json()["status"] == "reserved" and r.json()["points"] == 100
    again = world.order(item, quantity=2, request_id="phone-req-1")  # a retry: the same order
    assert again.json()["id"] == r.json()["id"]
    p = world.points()
    assert (p["balance"], p["available"], p["reserved"]) == (120, 20, 100)
    order = r.json()["id"]
    counter = staff_token(world.client, "counter")
    wrong = world.client.post(
        f"/api/v1/shop/orders/{order}/fulfil", json={"payload": world.card(1)}, headers=counter
    )
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_volunteer"
    done = world.client.post(
        f"/api/v1/shop/orders/{order}/fulfil", json={"payload": world.card(0)}, headers=counter
    )
    assert done.status_code == 200 and done.json()["status"] == "fulfilled"
    tap = world.client.post(
        f"/api/v1/shop/orders/{order}/fulfil", json={"payload": world.card(0)}, headers=counter
    )
    assert tap.status_code == 200  # a double tap changes nothing
    p = world.points()
    assert (p["balance"], p["available"], p["reserved"]) == (20, 20, 0)
    outsider = world.client.post(
        f"/api/v1/shop/orders/{order}/cancel", headers=staff_token(world.client, "admin_b")
    )
    assert outsider.status_code == 403
    late = world.client.post(f"/api/v1/shop/orders/{order}/cancel", headers=world.me(0))
    assert late.status_code == 409 and late.json()["code"] == "order_fulfilled"
    # the order is one line of the history, reserved then spent: not -100 twice
    history = world.client.get("/api/v1/me/points/transfers", headers=world.me(0)).json()["items"]
    assert [(t["kind"], t["reason"], t["amount"], t["state"]) for t in history] == [
        ("pending", "shop_order", -100, "spent"),
        ("single", "", 120, None),
    ]
    assert history[0]["resolved_at"] is not None
    with world.rt.tx() as s:
        assert s.get(ShopItem, item).stock == 8
        assert verification.verify(s) == []


def test_the_counter_scans_a_card_sees_its_waiting_orders_of_its_hub_and_hands_one_over(world, clock):
    """Staff list a card's waiting orders (GET /shop/orders is a volunteer's own list elsewhere):
    only reserved, unexpired orders, only in the shops of hubs they work for."""
    world.give(0, 300)
    rice, oil = world.item(), world.item(name="食用油", price=30)
    r = world.client.post(
        f"/api/v1/shop/items?hub_id={world.county.hub_b}",
        json={"name": "挂面", "price": 5, "stock": 5},
        headers=staff_token(world.client, "admin_b"),
    )
    noodles = r.json()["id"]
    first, second = world.order(rice).json()["id"], world.order(oil).json()["id"]
    elsewhere = world.order(noodles).json()["id"]
    dropped = world.order(rice).json()["id"]
    assert world.client.post(f"/api/v1/shop/orders/{dropped}/cancel", headers=world.me(0)).status_code == 200
    counter = staff_token(world.client, "counter")

    def waiting(headers=counter, payload=None):
        return world.client.post(
            "/api/v1/shop/orders/waiting", json={"payload": payload or world.card(0)}, headers=headers
        )

    r = waiting()
    assert r.status_code == 200, r.text
    listed = r.json()
    assert (listed["volunteer_id"], listed["volunteer_name"], listed["next"]) == (
        world.volunteers[0],
        "王秀英",
        None,
    )
    assert [(o["id"], o["item_name"], o["status"]) for o in listed["items"]] == [
        (first, "大米5斤", "reserved"),
        (second, "食用油", "reserved"),
    ]
    b = waiting(staff_token(world.client, "admin_b")).json()["items"]  # hub B's counter: B's order only
    assert [o["id"] for o in b] == [elsewhere]
    done = world.client.post(
        f"/api/v1/shop/orders/{first}/fulfil", json={"payload": world.card(0)}, headers=counter
    )
    assert done.status_code == 200 and done.json()["status"] == "fulfilled"
    assert [o["id"] for o in waiting().json()["items"]] == [second]
    assert waiting(payload=world.card(1)).json()["items"] == []  # another volunteer's card
    clock.at = NOW + timedelta(days=8)  # past the week an order waits: nothing to hand over
    assert waiting().json()["items"] == []
    clock.at = NOW
    bad = waiting(payload="hello")
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "invalid_card"
    old = waiting(payload=world.rt.codes.volunteer_card(world.volunteers[0], 0))
    assert old.status_code == 409 and old.json()["code"] == "revoked_card"
    assert waiting(world.me(0)).status_code == 403  # volunteers see their own at /me/orders


def test_refusals_write_nothing(world):
    world.give(0, 60)
    item = world.item(per_volunteer_limit=1, limit_period="month")
    assert world.order(item, quantity=2).json()["code"] == "limit_reached"
    r = world.order(item)
    assert r.status_code == 201
    assert world.order(item).json()["code"] == "limit_reached"
    poor = world.order(world.item(price=500))
    assert poor.status_code == 409 and poor.json()["code"] == "not_enough_points"
    gone = world.order(world.item(stock=0))
    assert gone.json()["code"] == "out_of_stock"
    later = world.order(world.item(visible_from=(NOW + timedelta(days=1)).isoformat()))
    assert later.json()["code"] == "item_not_available"
    bad = world.order(item, quantity=0)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "quantity"
    assert world.points()["available"] == 10
    with world.rt.tx() as s:
        assert [i.stock for i in s.scalars(select(ShopItem).order_by(ShopItem.id))] == [9, 10, 0, 10]
    base = world.client.post(
        f"/api/v1/shop/items?hub_id={world.county.base}",
        json={"name": "x", "price": 1, "stock": 1},
        headers=staff_token(world.client, "admin_a"),
    )
    assert base.status_code == 404 and base.json()["code"] == "hub_not_found"
    r = world.client.post(
        f"/api/v1/shop/items?hub_id={world.county.hub_a}",
        json={"name": "", "price": 0, "stock": -1, "limit_period": "fortnight"},
        headers=staff_token(world.client, "admin_a"),
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"name", "price", "stock", "limit_period"}


def test_cancel_and_expiry_give_points_and_stock_back(world, clock):
    world.give(0, 100)
    item = world.item(stock=2)
    first = world.order(item).json()["id"]
    second = world.order(item).json()["id"]
    history = world.client.get("/api/v1/me/points/transfers", headers=world.me(0)).json()["items"]
    assert [(t["amount"], t["state"], t["resolved_at"]) for t in history[:2]] == [
        (-50, "reserved", None),
        (-50, "reserved", None),
    ]
    r = world.client.post(f"/api/v1/shop/orders/{first}/cancel", headers=world.me(0))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert world.points()["available"] == 50
    clock.at = NOW + shop.ORDER_TTL + timedelta(minutes=1)
    counter = staff_token(world.client, "counter")
    late = world.client.post(
        f"/api/v1/shop/orders/{second}/fulfil", json={"payload": world.card(0)}, headers=counter
    )
    assert late.status_code == 409 and late.json()["code"] == "order_expired"
    assert world.points()["available"] == 100  # released at once, not left to the nightly job
    history = world.client.get("/api/v1/me/points/transfers", headers=world.me(0)).json()["items"]
    assert [(t["kind"], t["state"]) for t in history] == [
        ("pending", "expired"),
        ("pending", "cancelled"),
        ("single", None),
    ]
    with world.rt.tx() as s:
        assert s.get(ShopItem, item).stock == 2
        assert shop.expire_orders(s, clock.now()) == 0
        assert verification.verify(s) == []


def test_the_nightly_job_expires_uncollected_orders(world, clock):
    world.give(0, 100)
    item = world.item(stock=1)
    order = world.order(item).json()["id"]
    with world.rt.tx() as s:
        assert shop.expire_orders(s, NOW + timedelta(days=1)) == 0
        assert shop.expire_orders(s, NOW + shop.ORDER_TTL) == 1
    mine = world.client.get("/api/v1/me/orders", headers=world.me(0)).json()["items"]
    assert [(o["id"], o["status"]) for o in mine] == [(order, "expired")]
    assert world.points()["available"] == 100
    with world.rt.tx() as s:
        assert s.get(ShopItem, item).stock == 1


def test_the_last_item_goes_to_exactly_one_volunteer(rt, clock, live_server):
    clock.at = NOW
    world = Shop(None, rt)
    with httpx.Client(base_url=live_server.url) as http:
        world.client = http
        item = world.item(stock=1)
        for n in range(3):
            world.give(n, 100)
        heads = [world.me(n % 3) for n in range(20)]

        def order(h):
            return http.post("/api/v1/shop/orders", json={"item_id": item}, headers=h)

        with ThreadPoolExecutor(20) as pool:  # twenty phones at once for the last bag of rice
            results = list(pool.map(order, heads))
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [409] * 19
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"out_of_stock"}
    with rt.tx() as s:
        assert s.get(ShopItem, item).stock == 0
        assert verification.verify(s) == []


def test_item_times_need_their_offset_and_a_request_id_names_one_order(world):
    r = world.client.post(
        f"/api/v1/shop/items?hub_id={world.county.hub_a}",
        json={
            "name": "米",
            "price": 1,
            "stock": 1,
            "visible_from": "2030-01-01T00:00:00",
            "visible_until": "2030-02-01T00:00:00Z",
        },
        headers=staff_token(world.client, "admin_a"),
    )
    assert r.status_code == 422 and r.json()["errors"][0] == {
        "field": "visible_from",
        "code": "timezone_required",
        "message": "时间须带时区 Give the time with its offset",
    }
    world.give(0, 100)
    item = world.item()
    assert world.order(item, request_id="r-1").status_code == 201
    other = world.order(item, quantity=2, request_id="r-1")
    assert other.status_code == 409 and other.json()["code"] == "request_id_taken"
