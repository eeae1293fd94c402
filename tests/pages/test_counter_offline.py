"""The counter tablet offline (离线暂估): a card scanned without the network shows what to collect,
from the rules cached while online, marked 暂估; after the upload the server's amounts are listed
beside the quotes, a difference shown; the day's cash sheet then takes the cash counted."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from meals.models import CashCount, Meal
from tests.fixtures.builders import PASSWORD, file_volunteer
from tests.fixtures.canteen import LUNCH, Canteen
from tests.fixtures.pages import TABLET, shot

pytestmark = pytest.mark.slow  # a real browser

WAIT = 15_000


def log_in(page, username: str) -> None:
    page.fill("#login-form [name=username]", username)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")


def scan(page, payload: str) -> None:
    page.keyboard.type(payload)
    page.keyboard.press("Enter")


def test_offline_the_tablet_quotes_what_to_collect_then_shows_the_real_amounts(rt, clock, open_page):
    clock.at = LUNCH
    canteen = Canteen(rt)
    volunteer = file_volunteer(rt, "13807310031", canteen.county.approval_team, name="周志愿")
    tablet = open_page(TABLET, "/counter")
    tablet.clock.set_system_time(LUNCH)
    log_in(tablet, "counter")
    expect(tablet.locator("#scan")).to_be_focused(timeout=WAIT)
    expect(tablet.locator("#meals-today")).to_contain_text("午餐", timeout=WAIT)
    for _ in range(100):  # the rules come with today's figures: cached before the network drops
        if tablet.evaluate("localStorage.getItem('linli_counter_rules') !== null"):
            break
        tablet.wait_for_timeout(100)
    rules = tablet.evaluate("JSON.parse(localStorage.getItem('linli_counter_rules'))")
    assert (rules["meal_point_id"], rules["day"]) == (canteen.point.id, "2030-06-04")

    tablet.context.set_offline(True)
    with rt.tx() as s:  # registered after the tablet fetched its rules: it does not know her
        newcomer = canteen.diner(s, "赵新兰", "1950", categories=("tekun",), serial=9)
    answer = tablet.locator("#answer")
    scan(tablet, canteen.card(canteen.grandma))  # 特困: the government pays 11.00 of 12.00
    expect(answer).to_have_class("queued", timeout=WAIT)
    for text in ("已离线保存", "暂估 请收 ¥1.00", "餐价 ¥12.00", "县民政助餐补贴 ¥11.00", "以系统结果为准"):
        expect(answer).to_contain_text(text)
    expect(answer.locator(".pay.provisional")).to_be_visible()
    expect(tablet.locator("#offline")).to_contain_text("暂估规则更新于")
    shot(tablet, "counter-offline-provisional")
    scan(tablet, canteen.card(canteen.grandpa))  # nobody's tier but the enterprise's 2.00
    expect(answer).to_contain_text("暂估 请收 ¥10.00", timeout=WAIT)
    scan(tablet, canteen.card(newcomer))  # unknown here: quoted by the rules for everyone
    expect(answer).to_contain_text("暂估 请收 ¥10.00", timeout=WAIT)
    expect(answer).to_contain_text("本机没有此长者的补贴类别")
    scan(tablet, rt.codes.volunteer_card(volunteer, 1))  # a volunteer's card: nothing to collect
    expect(tablet.locator("#offline")).to_contain_text("4", timeout=WAIT)
    expect(answer).to_have_class("queued")
    expect(answer).not_to_contain_text("暂估")
    assert canteen.count(Meal) == 0

    # back online: the upload is judged by the server; its amounts beside the quotes
    tablet.context.set_offline(False)
    expect(tablet.locator("#offline")).to_be_hidden(timeout=WAIT)
    answer.click()
    synced = tablet.locator("#synced li")
    expect(synced).to_have_count(4, timeout=WAIT)
    with rt.tx() as s:
        paid = {m.diner_id: m.paid for m in s.scalars(select(Meal))}
    assert paid == {canteen.grandma: 100, canteen.grandpa: 1000, newcomer: 100}
    mine = tablet.locator("#synced li", has_text="王桂英")
    expect(mine).to_contain_text("暂估 ¥1.00 → 实收 ¥1.00")
    expect(mine).to_contain_text("与暂估一致")
    theirs = tablet.locator("#synced li", has_text="赵新兰")
    expect(theirs).to_contain_text("暂估 ¥10.00 → 实收 ¥1.00")
    expect(theirs).to_contain_text("差额 −¥9.00")
    expect(theirs).to_have_class("differs")
    expect(tablet.locator("#synced li", has_text="周志愿")).to_contain_text("暂估 —")
    tablet.locator("#synced-box").scroll_into_view_if_needed()
    shot(tablet, "counter-offline-synced")

    # the day's cash sheet: what the server recorded, and the cash counted against it
    total = tablet.locator("#cash-list li.total")
    expect(total).to_contain_text("人次 3", timeout=WAIT)
    expect(total).to_contain_text("应收 ¥12.00")
    expect(tablet.locator("#cash-status")).to_contain_text("今天还没有清点现金")
    tablet.fill("#cash-form [name=counted]", "11.50")
    tablet.click("#cash-form button[type=submit]")
    expect(tablet.locator("#cash-note")).to_contain_text("已保存清点 ¥11.50 · 差额 −¥0.50", timeout=WAIT)
    expect(total).to_contain_text("实点 ¥11.50", timeout=WAIT)
    expect(tablet.locator("#cash-status")).to_contain_text("counter")
    with rt.tx() as s:
        counts = [(c.counted, c.expected) for c in s.scalars(select(CashCount))]
    assert counts == [(1150, 1200)]
    tablet.locator("#cash").scroll_into_view_if_needed()
    shot(tablet, "counter-cash-sheet")
    with tablet.expect_download() as got:
        tablet.click("#cash-csv")
    with open(got.value.path(), encoding="utf-8-sig") as f:
        assert '"合计 total","3","3","36.00","12.00"' in f.read()
