"""The volunteer's notices on the phone (/me, 通知) at 390 px in Chromium: the unread count on the
tab, the list newest first, one marked read and then all, and the settings (quiet hours, SMS per
kind) saved, with never a sideways scroll."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.fixtures.builders import file_volunteer, make_activity, make_county, make_station, volunteer_token
from tests.fixtures.pages import PHONE, shot
from volunteer import activities
from volunteer import service as volunteer_service

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms
ME = "13807310077"


def fits(page) -> None:
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def notices_made(rt) -> None:
    """A filing rejected with its reason, then approved on applying again, and a sign-up."""
    county = make_county(rt)
    hall = make_station(rt, county.org_a, name="泉塘社区活动中心")
    volunteer = file_volunteer(rt, ME, county.open_team, name="赵春兰")
    now = rt.clock.now()
    with rt.tx() as s:
        for decision, reason in (("rejected", "请补充身份证信息"), ("approved", "")):
            filing = volunteer_service.apply(s, volunteer_id=volunteer, team_id=county.approval_team, now=now)
            volunteer_service.decide(
                s, filing_id=filing.id, decision=decision, staff_user_id=None, admin_paths=["/"],
                reason=reason, now=now,
            )
    activity = make_activity(rt, county.org_a, hall, now + timedelta(days=2), title="周末课堂")
    with rt.tx() as s:
        activities.sign_up(s, activity_id=activity, volunteer_id=volunteer, now=now, tz=rt.settings.tz)


def test_the_inbox_and_its_settings_on_a_phone(open_page, rt, client):
    notices_made(rt)
    page = open_page(PHONE, "/me")
    token = volunteer_token(rt, ME)
    page.evaluate("t => localStorage.setItem('linli_token_me', t)", token["Authorization"].split()[1])
    page.reload()
    expect(page.locator("#hello")).to_contain_text("赵春兰", timeout=WAIT)
    expect(page.locator("#unread-badge")).to_have_text("3", timeout=WAIT)

    page.click("[data-tab=notices]")
    items = page.locator("#notices li")
    expect(items).to_have_count(3, timeout=WAIT)
    expect(items.nth(0)).to_contain_text("报名成功")  # newest first
    expect(items.nth(0)).to_contain_text("“周末课堂”")
    expect(items.nth(2)).to_contain_text("理由：请补充身份证信息")
    expect(page.locator("#notices li.unread")).to_have_count(3)
    expect(page.locator("#unread-line")).to_have_text("3 条未读")
    fits(page)
    shot(page, "me-notices-phone")

    items.nth(2).get_by_role("button", name="标为已读").click()
    expect(page.locator("#notices li.unread")).to_have_count(2, timeout=WAIT)
    expect(page.locator("#unread-badge")).to_have_text("2")

    # settings: quiet from 22:00 to 07:00, no SMS for reminders
    form = page.locator("#notice-settings")
    expect(form.locator("input[name=quiet_start]")).to_have_value("21:00", timeout=WAIT)
    form.locator("input[name=quiet_start]").fill("22:00")
    form.locator("input[name=quiet_end]").fill("07:00")
    form.get_by_label("活动提醒").uncheck()
    form.get_by_role("button", name="保存设置").click()
    expect(page.locator("#note")).to_have_text("通知设置已保存", timeout=WAIT)
    saved = client.get("/api/v1/me/notice-settings", headers=token).json()
    assert (saved["quiet_start"], saved["quiet_end"], saved["sms_off"]) == ("22:00", "07:00", ["activity_reminder"])
    form.scroll_into_view_if_needed()
    fits(page)
    shot(page, "me-notice-settings-phone")

    page.click("#read-all")
    expect(page.locator("#notices li.unread")).to_have_count(0, timeout=WAIT)
    expect(page.locator("#unread-badge")).to_be_hidden()
    assert client.get("/api/v1/me/notices", headers=token).json()["unread"] == 0

    # in English: the same notices in English
    page.goto("/me?lang=en")
    page.click("[data-tab=notices]")
    expect(page.locator("#notices li").nth(0)).to_contain_text("You are signed up for 周末课堂", timeout=WAIT)
