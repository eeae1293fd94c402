"""The hub's admin pages (/admin) in Chromium: a new activity picked by name, with a clash at the
shared community centre shown before saving and refused; a commendation round with its minimum
hours, refused while its period runs; the filings to decide on a 390 px phone."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from orgs import service as orgs_service
from tests.fixtures.builders import PASSWORD, make_activity, make_county, make_station, register, staff_user
from tests.fixtures.canteen import LUNCH
from tests.fixtures.hub import TZ
from tests.fixtures.pages import LAPTOP, PHONE, shot

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms: generous, the machine is shared
SHANGHAI = {"timezone_id": "Asia/Shanghai"}  # the hub's clock: datetime-local fields are read in it


def log_in(page, username: str) -> None:
    page.fill("#login-form [name=username]", username)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")


@pytest.fixture
def hub(rt, clock):
    clock.at = LUNCH  # Tuesday 4 June 2030, 11:30 in Asia/Shanghai
    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    with rt.tx() as s:
        dragon = orgs_service.create_child(
            s, parent_id=county.hub_a, name="泉塘龙舟协会", join_mode=None, now=LUNCH
        ).id
    centre = make_station(rt, county.hub_a, name="泉塘社区活动中心", shared=True)
    return county, dragon, centre


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width


def test_a_new_activity_is_picked_by_name_and_a_clash_at_the_shared_centre_is_shown_before_saving(
    rt, hub, open_page
):
    """Before: the form asked for an organization number and a station number, had no kind, team or
    description, and a second organization's booking of the shared centre at the same time was saved."""
    from volunteer.models import Activity

    county, dragon, centre = hub
    tomorrow = datetime(2030, 6, 5, 14, 30, tzinfo=TZ)
    held = make_activity(rt, dragon, centre, tomorrow, hours=2, title="龙舟赛志愿者培训")
    admin = open_page(LAPTOP, "/admin", fake_time=LUNCH, **SHANGHAI)
    log_in(admin, "admin_a")
    admin.click("[data-tab=activities]")
    expect(admin.locator("#calendar")).to_contain_text("龙舟赛志愿者培训 · 泉塘社区活动中心", timeout=WAIT)

    form = admin.locator("#activity-form")
    form.locator("[name=title]").fill("周末课堂：书法")
    form.locator("[name=org_id]").select_option(label="泉塘志愿者协会")
    form.locator("[name=team_id]").select_option(label="周末课堂服务队")
    form.locator("[name=station_id]").select_option(label="泉塘社区活动中心（共用）")
    form.locator("[name=kind]").select_option("weekend_class")
    form.locator("[name=description]").fill("书法课，需要两位志愿者维持秩序")
    form.locator("[name=starts_at]").fill("2030-06-05T15:00")
    form.locator("[name=ends_at]").fill("2030-06-05T17:00")
    clash = admin.locator("#activity-clash")
    expect(clash).to_contain_text("该地点此时已有活动，不能保存：龙舟赛志愿者培训", timeout=WAIT)
    shot(admin, "admin-activity-clash")
    form.locator("button[type=submit]").click()
    expect(admin.locator("#note")).to_contain_text("时间冲突：龙舟赛志愿者培训", timeout=WAIT)
    with rt.tx() as s:
        assert s.scalar(select(func.count()).select_from(Activity)) == 1

    # after the club's training the centre is free
    form.locator("[name=starts_at]").fill("2030-06-05T16:30")
    form.locator("[name=ends_at]").fill("2030-06-05T18:00")
    expect(clash).to_be_hidden(timeout=WAIT)
    form.locator("button[type=submit]").click()
    expect(admin.locator("#note")).to_contain_text("活动已创建", timeout=WAIT)
    expect(admin.locator("#calendar")).to_contain_text("周末课堂：书法 · 泉塘社区活动中心", timeout=WAIT)
    with rt.tx() as s:
        made = s.scalar(select(Activity).where(Activity.id != held))
        assert (made.org_id, made.station_id, made.kind, made.team_ids, made.description) == (
            county.org_a,
            centre,
            "weekend_class",
            [county.invitation_team],
            "书法课，需要两位志愿者维持秩序",
        )
        assert made.starts_at == datetime(2030, 6, 5, 16, 30, tzinfo=TZ)

    phone = open_page(PHONE, "/admin", fake_time=LUNCH, **SHANGHAI)
    log_in(phone, "admin_a")
    phone.click("[data-tab=activities]")
    expect(phone.locator("#calendar")).to_contain_text("周末课堂：书法", timeout=WAIT)
    no_sideways_scroll(phone)
    shot(phone, "admin-activities-phone")


def test_a_round_takes_its_minimum_hours_and_confirming_before_its_end_is_refused(rt, hub, open_page):
    """Before: the form had no minimum, and a June round was confirmed on 4 June."""
    from points.models import CommendationRound

    admin = open_page(LAPTOP, "/admin", fake_time=LUNCH, **SHANGHAI)
    log_in(admin, "admin_a")
    admin.click("[data-tab=rounds]")
    admin.fill("#round-form [name=title]", "六月之星")
    admin.fill("#round-form [name=period_start]", "2030-06-01")
    admin.fill("#round-form [name=min_hours]", "4")
    admin.click("#round-form button[type=submit]")
    rounds = admin.locator("#rounds")
    expect(rounds).to_contain_text("六月之星", timeout=WAIT)
    expect(rounds).to_contain_text("最低服务时长 4 小时")
    admin.click("[data-confirm]")
    expect(admin.locator("#note")).to_contain_text("本期尚未结束，不能确认（2030-06-30）", timeout=WAIT)
    shot(admin, "admin-round-early")
    with rt.tx() as s:
        round_ = s.scalar(select(CommendationRound))
        assert (round_.status, round_.rules["floor_minutes"]) == ("proposed", 240)


def propose_june_round(page) -> None:
    page.fill("#round-form [name=title]", "六月之星")
    page.fill("#round-form [name=period_start]", "2030-06-01")
    page.fill("#round-form [name=min_hours]", "4")
    page.click("#round-form button[type=submit]")


def hold_first(page, pattern: str) -> list:
    """Holds the first request to `pattern` (a slow network); the held route is in the list."""
    held = []
    page.route(pattern, lambda route: route.continue_() if held else held.append(route))
    return held


def test_a_round_posted_before_the_hubs_came_goes_to_the_picked_hub(rt, hub, open_page):
    """Before (CI, stop 29): on a busy machine the hubs came late, the round was posted to no hub
    and the page said 暂无."""
    from points.models import CommendationRound

    admin = open_page(LAPTOP, "/admin")
    held = hold_first(admin, "**/api/v1/organizations?kind=hub*")
    log_in(admin, "admin_a")
    admin.click("[data-tab=rounds]")
    propose_june_round(admin)
    expect(admin.locator("#rounds")).to_contain_text("六月之星", timeout=WAIT)
    held[0].continue_()
    with rt.tx() as s:
        assert s.scalar(select(func.count()).select_from(CommendationRound)) == 1


def test_the_tabs_late_first_list_is_not_drawn_over_a_new_round(rt, hub, open_page):
    """Before: the tab's first list, empty and late, was drawn over the new round (暂无)."""
    admin = open_page(LAPTOP, "/admin")
    held = hold_first(admin, "**/api/v1/hubs/*/commendation-rounds?*")
    log_in(admin, "admin_a")
    admin.click("[data-tab=rounds]")
    admin.wait_for_function("() => document.querySelector('#round-hub').options.length > 0", timeout=WAIT)
    propose_june_round(admin)
    rounds = admin.locator("#rounds")
    expect(rounds).to_contain_text("六月之星", timeout=WAIT)
    with admin.expect_response("**/commendation-rounds?*", timeout=WAIT):
        held[0].fulfill(json={"items": [], "next": None})
    admin.wait_for_timeout(300)  # time to draw the late answer, were it drawn
    expect(rounds).to_contain_text("六月之星")


def test_the_filings_fit_a_phone(client, rt, hub, open_page):
    """Before: at 390 px the team's name wrapped one character a line and the buttons ran off the
    screen."""
    county, _, _ = hub
    with rt.tx() as s:
        team = orgs_service.create_child(
            s, parent_id=county.org_a, name="泉心食堂助餐志愿服务队", join_mode="approval", now=LUNCH
        ).id
    me = register(client, name="欧阳娜娜", phone="13807310077")
    headers = {"Authorization": f"Bearer {me['token']}"}
    assert client.post(f"/api/v1/teams/{team}/filings", json={}, headers=headers).status_code == 201
    phone = open_page(PHONE, "/admin", fake_time=LUNCH + timedelta(minutes=1), **SHANGHAI)
    log_in(phone, "admin_a")
    filings = phone.locator("#filings")
    expect(filings).to_contain_text("泉心食堂助餐志愿服务队", timeout=WAIT)
    no_sideways_scroll(phone)
    width = phone.evaluate("() => window.innerWidth")
    for button in filings.locator("button").all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    team_cell = filings.locator("td:nth-child(2)")
    line = float(team_cell.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    assert team_cell.bounding_box()["height"] < 2 * line, (team_cell.bounding_box(), line)
    shot(phone, "admin-filings-phone")
