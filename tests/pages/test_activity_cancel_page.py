"""Cancelling an activity from the admin calendar (/admin, 取消活动) in Chromium at tablet size:
the button asks for the reason, the calendar then shows 已取消 with it, and the volunteer signed up
sees it on /me as cancelled, with a notice."""

from __future__ import annotations

from datetime import datetime

import pytest
from playwright.sync_api import expect

from tests.fixtures.builders import (
    PASSWORD,
    file_volunteer,
    make_activity,
    make_county,
    make_station,
    staff_user,
    volunteer_token,
)
from tests.fixtures.canteen import LUNCH
from tests.fixtures.hub import TZ
from tests.fixtures.pages import PHONE, TABLET, shot
from volunteer import activities
from volunteer.models import Activity, Notice

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms
SHANGHAI = {"timezone_id": "Asia/Shanghai"}
ME = "13807310066"
REASON = "场地临时停电"


def test_an_admin_cancels_an_activity_with_a_reason_and_the_volunteer_sees_it(rt, clock, open_page):
    clock.at = LUNCH  # Tuesday 4 June 2030, 11:30 in Asia/Shanghai
    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    hall = make_station(rt, county.org_a, name="泉塘社区活动中心")
    volunteer = file_volunteer(rt, ME, county.open_team, name="赵春兰")
    activity = make_activity(rt, county.org_a, hall, datetime(2030, 6, 5, 14, 30, tzinfo=TZ), title="周末课堂")
    make_activity(rt, county.org_a, hall, datetime(2030, 6, 6, 9, 0, tzinfo=TZ), title="探访长者")
    with rt.tx() as s:
        activities.sign_up(s, activity_id=activity, volunteer_id=volunteer, now=LUNCH, tz=rt.settings.tz)

    admin = open_page(TABLET, "/admin", fake_time=LUNCH, **SHANGHAI)
    admin.fill("#login-form [name=username]", "admin_a")
    admin.fill("#login-form [name=password]", PASSWORD)
    admin.click("#login-form button[type=submit]")
    admin.click("[data-tab=activities]")
    row = admin.locator(f"#calendar li[data-activity='{activity}']")
    expect(row).to_contain_text("周末课堂 · 泉塘社区活动中心", timeout=WAIT)
    row.get_by_role("button", name="取消活动").click()
    row.get_by_placeholder("取消理由（将通知已报名的志愿者）").fill(REASON)
    shot(admin, "admin-activity-cancel-reason")
    row.get_by_role("button", name="确认取消").click()
    expect(admin.locator("#note")).to_contain_text("活动已取消，已通知报名的志愿者", timeout=WAIT)
    row = admin.locator(f"#calendar li[data-activity='{activity}']")
    expect(row).to_contain_text(f"已取消：{REASON}", timeout=WAIT)
    expect(row.get_by_role("button", name="取消活动")).to_have_count(0)
    expect(admin.locator("#calendar")).to_contain_text("探访长者")  # the other keeps its button
    shot(admin, "admin-activity-cancelled")
    with rt.tx() as s:
        assert s.get(Activity, activity).cancel_reason == REASON
        assert s.query(Notice).filter(Notice.kind == "activity_cancelled").count() == 1

    phone = open_page(PHONE, "/me", fake_time=LUNCH, **SHANGHAI)
    token = volunteer_token(rt, ME)["Authorization"].split()[1]
    phone.evaluate("t => localStorage.setItem('linli_token_me', t)", token)
    phone.reload()
    phone.click("[data-tab=activities]")
    mine = phone.locator(f"#my-activities [data-activity='{activity}']")
    expect(mine).to_contain_text(f"已取消：{REASON}", timeout=WAIT)
    expect(mine.get_by_role("button")).to_have_count(0)
    expect(phone.locator(f"#open-activities [data-activity='{activity}']")).to_have_count(0)
    shot(phone, "me-activity-cancelled-phone")
