"""The counter tablet beyond a scan, in Chromium at tablet size: after a refusal the coordinator
sees where and when a diner already ate and what to collect, records a meal at full price, voids a
meal of today with a reason; and in 积分兑换 mode hands a volunteer's shop order over with a tap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from meals.models import FundingAgreement, Meal
from points import ledger
from points.models import ShopOrder
from scans.models import Scan
from tests.fixtures.builders import file_volunteer, staff_token, volunteer_token
from tests.fixtures.canteen import LUNCH, Canteen
from tests.fixtures.pages import TABLET, shot
from tests.pages.test_faces import WAIT, log_in, scan

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`


def test_already_eaten_then_full_price_then_void_then_the_weekly_limit_at_full_price(
    rt, client, clock, open_page
):
    clock.at = LUNCH - timedelta(days=1)  # Monday: 李国华's lunch, the enterprise's one a week
    canteen = Canteen(rt, client, week_cap=1)
    with rt.tx() as s:
        s.get(FundingAgreement, canteen.enterprise).week_cap = 1
    assert canteen.scan(canteen.card(canteen.grandpa))["outcome"] == "meal_served"
    clock.at = LUNCH
    tablet = open_page(TABLET, "/counter")
    tablet.clock.set_system_time(LUNCH)
    log_in(tablet, "counter")
    expect(tablet.locator("#meals-today")).to_contain_text("午餐", timeout=WAIT)
    answer = tablet.locator("#answer")

    def dismiss():  # a touch on the answer, whether or not it has gone by itself meanwhile
        tablet.evaluate("document.querySelector('#answer').click()")
        expect(answer).to_be_hidden()

    scan(tablet, canteen.card(canteen.grandma))  # 11:30: lunch, subsidized
    expect(answer).to_have_class("ok", timeout=WAIT)
    dismiss()
    clock.at = LUNCH + timedelta(minutes=35)
    tablet.clock.set_system_time(LUNCH + timedelta(minutes=35))
    scan(tablet, canteen.card(canteen.grandma))  # 12:05: again
    expect(answer).to_have_class("again", timeout=WAIT)
    for text in ("王桂英", "本餐已领取", "泉心食堂 11:30 已领取", "按原价收 ¥12.00"):
        expect(answer).to_contain_text(text)
    shot(tablet, "counter-already-served")
    answer.locator("button.full-price").click()  # the coordinator's choice: a second lunch at full price
    expect(answer).to_contain_text("已按原价供餐", timeout=WAIT)
    expect(answer).to_contain_text("请收 ¥12.00")
    with rt.tx() as s:
        meals = s.scalars(select(Meal).where(Meal.diner_id == canteen.grandma).order_by(Meal.id)).all()
        assert [(m.subsidized, m.paid, m.status) for m in meals] == [
            (True, 100, "served"),
            (False, 1200, "served"),
        ]
        extra = meals[1].id
    dismiss()

    # the full-price lunch was a mistake: voided from 最近扫码, with a reason
    recent = tablet.locator(f'#recent li[data-meal="{extra}"]')
    recent.locator("button").click()
    screen = tablet.locator("#void-screen")
    expect(screen).to_be_visible()
    expect(screen).to_contain_text("王桂英 午餐")
    screen.locator("[name=reason]").fill("多记了一份")
    shot(tablet, "counter-void")
    screen.locator("button[type=submit]").click()
    expect(screen).to_be_hidden(timeout=WAIT)
    expect(answer).to_contain_text("已作废", timeout=WAIT)
    expect(recent).to_contain_text("已作废")
    with rt.tx() as s:
        voided = s.get(Meal, extra)
        assert (voided.status, voided.void_reason) == ("voided", "多记了一份")
    dismiss()
    expect(tablet.locator("#scan")).to_be_focused(timeout=WAIT)

    # 李国华 had this week's subsidized lunch on Monday: the price to collect, then at full price
    scan(tablet, canteen.card(canteen.grandpa))
    expect(answer).to_have_class("no", timeout=WAIT)
    for text in ("李国华", "本周补贴次数已用完", "按原价收 ¥12.00"):
        expect(answer).to_contain_text(text)
    shot(tablet, "counter-weekly-limit")
    answer.locator("button.full-price").click()
    expect(answer).to_have_class("ok", timeout=WAIT)
    expect(answer).to_contain_text("请收 ¥12.00")
    with rt.tx() as s:
        today = s.scalars(
            select(Meal).where(Meal.diner_id == canteen.grandpa, Meal.service_day == LUNCH.date())
        ).all()
        assert [(m.subsidized, m.paid) for m in today] == [(False, 1200)]


def test_a_volunteer_card_in_the_shop_mode_lists_the_orders_waiting_and_one_tap_hands_one_over(
    rt, client, clock, open_page
):
    clock.at = LUNCH
    canteen = Canteen(rt, client)
    county = canteen.county
    volunteer = file_volunteer(rt, "13807310055", county.open_team, name="赵春兰")
    with rt.tx() as s:
        issued = ledger.hub_account(s, "points", "hub_issued", county.hub_a, LUNCH)
        mine = ledger.volunteer_account(s, "points", volunteer, LUNCH)
        ledger.create_transfers(
            s,
            [
                ledger.TransferInput(
                    id="gift:page",
                    debit_account_id=issued,
                    credit_account_id=mine,
                    amount=200,
                    lot_expires_at=LUNCH + timedelta(days=400),
                )
            ],
            LUNCH,
        )
    item = client.post(
        f"/api/v1/shop/items?hub_id={county.hub_a}",
        json={"name": "大米5斤", "price": 80, "stock": 5},
        headers=staff_token(client, "admin_a"),
    ).json()["id"]
    order = client.post(
        "/api/v1/shop/orders", json={"item_id": item}, headers=volunteer_token(rt, "13807310055")
    ).json()["id"]
    card = rt.codes.volunteer_card(volunteer, 1)

    tablet = open_page(TABLET, "/counter")
    tablet.clock.set_system_time(LUNCH)
    log_in(tablet, "counter")
    expect(tablet.locator("#scan")).to_be_focused(timeout=WAIT)
    tablet.click("#shop-button")  # 兑换: the next cards are looked up in the shop, not checked in
    shop = tablet.locator("#shop")
    expect(shop).to_contain_text("兑换模式")
    expect(tablet.locator("#scan")).to_be_focused(timeout=WAIT)
    scan(tablet, canteen.card(canteen.grandma))  # a diner's card is no volunteer's
    expect(shop).to_contain_text("不是有效的志愿者卡", timeout=WAIT)
    scan(tablet, card)
    waiting = shop.locator(f'li[data-order="{order}"]')
    expect(shop).to_contain_text("赵春兰：待领取的兑换", timeout=WAIT)
    expect(waiting).to_contain_text("大米5斤 × 1（80 积分）")
    shot(tablet, "counter-shop-orders")
    waiting.locator("button").click()
    expect(waiting).to_contain_text("已交付", timeout=WAIT)
    shot(tablet, "counter-shop-handed-over")
    with rt.tx() as s:
        assert s.get(ShopOrder, order).status == "fulfilled"
        assert s.scalars(select(Scan).where(Scan.volunteer_id == volunteer)).all() == []  # no check-in
    points = client.get("/api/v1/me/points", headers=volunteer_token(rt, "13807310055")).json()
    assert (points["balance"], points["reserved"]) == (120, 0)
    expect(tablet.locator("#recent")).to_contain_text("赵春兰 大米5斤 已交付")
    tablet.click("#shop-close")
    expect(shop).to_be_hidden()
