"""The volunteer's phone at 390 px in Chromium, away from the counter: a station code opened by a
phone that is not logged in (log in there, checked in without scanning again, the activity named;
a code gone stale meanwhile is said to be expired), and a claimed delivery run (the doors in order,
what to collect at each, a door marked delivered by the diner's card)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from accounts.sender import DEMO_INBOX_KEY
from tests.fixtures.builders import make_activity, staff_token, volunteer_token
from tests.fixtures.canteen import LUNCH, Canteen, Deliveries
from tests.fixtures.pages import PHONE, shot
from tests.fixtures.runtime import drain

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms: generous, the machine is shared


def fits(page) -> None:
    """Nothing wider than the phone: no sideways scrolling."""
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def volunteer(rt, team, phone, name):
    from volunteer import service as volunteer_service

    with rt.tx() as s:
        v = volunteer_service.register(
            s,
            rt.signer,
            volunteer_service.Registration(name=name, phone=phone, id_number=None, consent=True),
            now=rt.clock.now(),
            today=rt.clock.now().date(),
        )
        volunteer_service.apply(s, volunteer_id=v.id, team_id=team, now=rt.clock.now())


def log_in_here(page, rt, phone):
    """The login on the page: the phone, a code by SMS (read from the demo sender's inbox)."""
    page.fill("#code-form [name=phone]", phone)
    page.click("#code-form button[type=submit]")
    expect(page.locator("#note")).to_contain_text("验证码已发送", timeout=WAIT)
    drain(rt)  # the SMS job
    page.fill("#login-form [name=code]", rt.redis.lrange(DEMO_INBOX_KEY, 0, 0)[0].decode().split()[1])


def test_a_phone_not_logged_in_logs_in_on_the_station_code_page_and_is_checked_in(rt, clock, open_page):
    clock.at = LUNCH
    canteen = Canteen(rt)
    make_activity(
        rt,
        canteen.county.org_a,
        canteen.station,
        LUNCH - timedelta(minutes=30),
        hours=3.5,
        title="泉心食堂午餐帮厨",
    )
    volunteer(rt, canteen.county.open_team, "13807310077", "孙志强")
    volunteer(rt, canteen.county.open_team, "13807310078", "李慢慢")

    phone = open_page(PHONE, urlsplit(rt.codes.station_code(canteen.station, LUNCH)).path)
    expect(phone.locator("#answer")).to_contain_text("请先登录", timeout=WAIT)
    log_in_here(phone, rt, "13807310077")
    fits(phone)
    shot(phone, "phone-scan-login")
    clock.at = LUNCH + timedelta(seconds=20)  # logging in takes a moment: the code is still good
    phone.click("#login-form button[type=submit]")
    expect(phone.locator("#answer")).to_have_text("签到成功", timeout=WAIT)
    expect(phone.locator("#activity")).to_contain_text("泉心食堂午餐帮厨")
    expect(phone.locator("#guest")).to_be_hidden()
    fits(phone)
    shot(phone, "phone-scan-checked-in")

    # too slow: the code turned twice meanwhile, so it is refused as expired, with a word on why
    clock.at = LUNCH
    slow = open_page(PHONE, urlsplit(rt.codes.station_code(canteen.station, LUNCH)).path)
    expect(slow.locator("#answer")).to_contain_text("请先登录", timeout=WAIT)
    log_in_here(slow, rt, "13807310078")
    clock.at = LUNCH + timedelta(seconds=70)
    slow.click("#login-form button[type=submit]")
    expect(slow.locator("#answer")).to_contain_text("二维码已过期", timeout=WAIT)
    expect(slow.locator("#answer")).to_contain_text("请重新扫描")
    fits(slow)
    shot(slow, "phone-scan-expired")


def test_a_volunteer_sees_the_claimed_run_door_by_door_and_marks_one_delivered(rt, client, clock, open_page):
    clock.at = LUNCH - timedelta(hours=2)
    world = Deliveries(rt, client)
    runs = client.post(
        f"/api/v1/meal-points/{world.point.id}/delivery-runs",
        json={"day": LUNCH.date().isoformat(), "slot": "lunch"},
        headers=staff_token(client, "counter"),
    ).json()["items"]
    quantang = next(r for r in runs if r["community"] == "泉塘社区")
    claimed = client.post(
        f"/api/v1/delivery-runs/{quantang['id']}/claim", headers=volunteer_token(rt, "13807310011")
    )
    assert claimed.status_code == 200

    clock.at = LUNCH
    page = open_page(PHONE, "/me")
    token = volunteer_token(rt, "13807310011")["Authorization"].split()[1]
    page.evaluate("t => localStorage.setItem('linli_token_me', t)", token)
    page.reload()
    expect(page.locator("#hello")).to_contain_text("周送餐", timeout=WAIT)
    page.click("[data-tab=delivery]")
    stops = page.locator(".stops > li")
    expect(stops).to_have_count(2, timeout=WAIT)
    expect(page.locator(".run h3")).to_have_text("泉心食堂 · 午餐 · 泉塘社区")
    # in order, with what to collect at each door: 特困 pays 1 yuan, aged 86 3 yuan
    assert [stops.nth(i).locator(".title").inner_text() for i in range(2)] == ["赵桂兰", "钱永福"]
    expect(stops.nth(0)).to_contain_text("泉塘社区3栋2单元101")
    expect(stops.nth(0).locator(".collect")).to_have_text("到门收取 ¥1.00")
    expect(stops.nth(1).locator(".collect")).to_have_text("到门收取 ¥3.00")
    fits(page)
    stops.nth(1).scroll_into_view_if_needed()
    shot(page, "phone-delivery-run")

    # at the first door: the card's code typed (as the camera would read it), delivered
    page.fill("#door-code", world.card(world.home[0]))
    page.click("#door-form button[type=submit]")
    expect(page.locator("#door-answer")).to_contain_text("赵桂兰：已送达", timeout=WAIT)
    expect(page.locator("#door-answer")).to_contain_text("¥1.00")
    expect(stops.nth(0).locator(".state")).to_have_text("已送达", timeout=WAIT)
    expect(stops.nth(1).locator(".state")).to_have_count(0)
    expect(page.locator(".run")).to_contain_text("已送达 1 / 2")
    fits(page)
    shot(page, "phone-delivery-delivered")
