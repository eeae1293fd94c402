"""The volunteer's phone (/me) at 390 px in Chromium: finding an activity, signing up and cancelling,
teams that take invitations only, the history in words with a shop order on one line, and the
service-record certificate, with never a sideways scroll."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from points import awards, shop
from points.models import TRANSFER_REASONS
from tests.fixtures.builders import (
    file_volunteer,
    make_activity,
    make_county,
    make_station,
    staff_token,
    staff_user,
    volunteer_token,
)
from tests.fixtures.pages import PHONE, shot
from volunteer.models import Attendance, Signup

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms: generous, the machine is shared
TZ = ZoneInfo("Asia/Shanghai")
ME = "13807310066"


def page_texts(html: str) -> dict:
    return json.loads(
        re.search(r'<script id="page-texts" type="application/json">(.*?)</script>', html, re.S)[1]
    )


def test_every_kind_of_transfer_has_its_words_in_chinese_and_english(client):
    zh = page_texts(client.get("/me?lang=zh").text)["transfer_reasons"]
    en = page_texts(client.get("/me?lang=en").text)["transfer_reasons"]
    for reason in TRANSFER_REASONS:
        assert reason in zh and reason in en, reason
        assert "_" not in zh[reason] and zh[reason] != en[reason], reason
        assert re.search("[\u4e00-\u9fff]", zh[reason]) and not re.search("[\u4e00-\u9fff]", en[reason])


def fits(page) -> None:
    """Nothing wider than the phone: no sideways scrolling."""
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def logged_in(open_page, rt, path="/me"):
    page = open_page(PHONE, path)
    token = volunteer_token(rt, ME)["Authorization"].split()[1]
    page.evaluate("t => localStorage.setItem('linli_token_me', t)", token)
    page.reload()
    expect(page.locator("#hello")).to_contain_text("赵春兰", timeout=WAIT)
    return page


class Phone:
    """A hub with a canteen, a volunteer filed a week ago with its open team, and what is coming."""

    def __init__(self, rt, clock):
        self.rt, now = rt, clock.now()
        self.county = make_county(rt)
        self.canteen = make_station(rt, self.county.org_a, name="泉心食堂取餐台")
        self.hall = hall = make_station(rt, self.county.org_a, name="泉塘社区活动中心")
        clock.at = now - timedelta(days=7)
        self.volunteer = file_volunteer(rt, ME, self.county.open_team, name="赵春兰")
        clock.at = now
        tomorrow = now + timedelta(days=1)
        self.lunch = make_activity(
            rt, self.county.org_a, self.canteen, tomorrow, capacity=4, title="午餐助餐服务"
        )
        self.named = make_activity(
            rt, self.county.org_a, hall, tomorrow, team_ids=[self.county.invitation_team], title="周末课堂"
        )
        self.past = make_activity(
            rt, self.county.org_a, hall, now - timedelta(days=1), hours=3, title="昨天的服务"
        )

    def serve_two_hours(self):
        """Yesterday's two hours, checked out and awarded (20 points, 120 minutes)."""
        start = self.rt.clock.now() - timedelta(days=1)
        with self.rt.tx() as s:
            a = Attendance(
                activity_id=self.past,
                volunteer_id=self.volunteer,
                station_id=self.hall,
                state="closed",
                checked_in_at=start,
                checked_out_at=start + timedelta(minutes=120),
                minutes=120,
                flagged=False,
                created_at=start,
            )
            s.add(a)
            s.flush()
            awards.settle_attendance(s, a.id, f"attendance:{a.id}", now=self.rt.clock.now(), tz=TZ)


def test_find_an_activity_sign_up_and_cancel_at_390_px(rt, clock, open_page):
    world = Phone(rt, clock)
    phone = logged_in(open_page, rt)
    phone.click("[data-tab=activities]")
    lunch = phone.locator(f"#open-activities [data-activity='{world.lunch}']")
    for text in ("午餐助餐服务", "泉心食堂取餐台", "助餐服务", "泉塘志愿者协会", "余位 4 / 4"):
        expect(lunch).to_contain_text(text, timeout=WAIT)
    # the team-only class says why and offers no button (the API would answer 403)
    named = phone.locator(f"#open-activities [data-activity='{world.named}']")
    expect(named).to_contain_text("仅限指定服务队")
    expect(named.locator("button")).to_have_count(0)
    expect(phone.locator("#my-activities")).to_contain_text("暂无")
    fits(phone)
    shot(phone, "phone-activities")

    phone.click(f"[data-join='{world.lunch}']")
    expect(phone.locator("#note")).to_contain_text("报名成功", timeout=WAIT)
    mine = phone.locator(f"#my-activities [data-activity='{world.lunch}']")
    expect(mine).to_contain_text("已报名", timeout=WAIT)
    expect(mine).to_contain_text("余位 3 / 4")
    with rt.tx() as s:
        assert s.scalars(select(Signup.status).where(Signup.activity_id == world.lunch)).all() == [
            "confirmed"
        ]
    fits(phone)
    shot(phone, "phone-my-activities")

    phone.click(f"[data-cancel='{world.lunch}']")
    expect(phone.locator("#note")).to_contain_text("已取消报名", timeout=WAIT)
    expect(phone.locator("#my-activities")).to_contain_text("暂无", timeout=WAIT)
    expect(phone.locator(f"[data-join='{world.lunch}']")).to_be_visible()
    with rt.tx() as s:
        assert s.scalars(select(Signup.status).where(Signup.activity_id == world.lunch)).all() == [
            "cancelled"
        ]

    # teams: an invitation-only team says so, with no button to press
    phone.click("[data-tab=teams]")
    expect(phone.locator("#teams")).to_contain_text("仅限受邀", timeout=WAIT)
    expect(phone.locator(f"[data-team='{world.county.invitation_team}']")).to_have_count(0)
    expect(phone.locator(f"[data-team='{world.county.approval_team}']")).to_have_text("申请加入")
    fits(phone)


def test_history_in_words_one_line_per_order_and_the_service_record_certificate(rt, clock, client, open_page):
    world = Phone(rt, clock)
    world.serve_two_hours()
    with rt.tx() as s:
        shop.create_item(
            s,
            world.county.hub_a,
            shop.ItemInput(name="大米5斤", price=20, stock=3, per_volunteer_limit=1, limit_period="month"),
            clock.now(),
        )
    staff_user(rt, "counter", "coordinator", org_id=world.county.org_a, station_id=world.canteen)
    phone = logged_in(open_page, rt)
    phone.click("[data-tab=shop]")
    phone.locator("#shop").get_by_role("button", name="兑换").click()
    expect(phone.locator("#note")).to_contain_text("兑换成功", timeout=WAIT)
    [order] = client.get("/api/v1/me/orders", headers=volunteer_token(rt, ME)).json()["items"]

    history = phone.locator("#my-history")
    phone.click("[data-tab=history]")
    expect(history).to_contain_text("待领取（积分已冻结）", timeout=WAIT)
    # the counter hands the rice over: the same line goes from reserved to spent
    done = client.post(
        f"/api/v1/shop/orders/{order['id']}/fulfil",
        json={"payload": rt.codes.volunteer_card(world.volunteer, 1)},
        headers=staff_token(client, "counter"),
    )
    assert done.status_code == 200, done.text
    phone.click("[data-tab=card]")
    phone.click("[data-tab=history]")
    expect(history).to_contain_text("已领取", timeout=WAIT)
    rows = history.locator("tbody tr")
    expect(rows).to_have_count(3)  # the order, the points and the minutes of the service
    order_line = rows.filter(has_text="积分兑换")
    expect(order_line).to_have_count(1)
    expect(order_line).to_contain_text("-20 积分")
    expect(rows.filter(has_text="-20")).to_have_count(1)  # not twice
    expect(rows.filter(has_text="志愿服务")).to_have_count(2)
    expect(history).to_contain_text("+20 积分")
    expect(history).to_contain_text("+120 分钟")
    assert "_" not in history.inner_text()  # no codes such as service_award or shop_order
    fits(phone)
    shot(phone, "phone-history")

    # the service-record certificate: from registration to today, issued, listed and downloaded
    phone.click("[data-tab=honours]")
    expect(phone.locator("#certificates")).to_contain_text("暂无", timeout=WAIT)
    phone.get_by_role("button", name="开具服务记录证明").click()
    expect(phone.locator("#note")).to_contain_text("证明已开具", timeout=WAIT)
    certificates = phone.locator("#certificates")
    expect(certificates).to_contain_text("志愿服务记录证明", timeout=WAIT)
    expect(certificates).to_contain_text("2 小时")
    fits(phone)
    shot(phone, "phone-certificate")
    with phone.expect_download() as download:
        certificates.get_by_role("button", name="下载").click()
    with open(download.value.path(), "rb") as f:
        assert f.read(5) == b"%PDF-"

    # in English on request
    english = logged_in(open_page, rt, "/me?lang=en")
    english.click("[data-tab=history]")
    words = english.locator("#my-history")
    expect(words).to_contain_text("Points shop order", timeout=WAIT)
    expect(words).to_contain_text("Collected")
    expect(words).to_contain_text("Volunteer service")
    english.click("[data-tab=activities]")
    expect(english.locator(f"[data-join='{world.lunch}']")).to_have_text("Sign up", timeout=WAIT)
    expect(english.locator(f"[data-activity='{world.named}']")).to_contain_text("Named teams only")
    fits(english)
