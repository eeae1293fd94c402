"""The county's subsidy categories on the admin page (/admin) in Chromium: a county administrator
adds a category of the county's own and retires a default; the new-diner form offers the home
point's county's categories from the API (the retired one no more) and the registered residence."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from meals import service
from meals.models import Diner
from tests.fixtures.builders import PASSWORD, make_county, staff_user, valid_id
from tests.fixtures.canteen import LUNCH
from tests.fixtures.pages import LAPTOP, PHONE, shot

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms
SHANGHAI = {"timezone_id": "Asia/Shanghai"}


def log_in(page, username: str) -> None:
    page.fill("#login-form [name=username]", username)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")


@pytest.fixture
def county(rt, clock):
    clock.at = LUNCH
    county = make_county(rt)
    with rt.tx() as s:
        service.create_meal_point(
            s,
            org_id=county.org_a,
            name="泉心食堂",
            address="泉塘街道泉心路1号",
            daily_capacity=300,
            slots=[service.SlotInput("lunch", "11:00", "13:30", 1200)],
            now=LUNCH,
        )
    staff_user(rt, "county", "admin", org_id=county.base)
    return county


def test_a_county_category_is_added_and_offered_on_the_diner_form_with_the_residence(rt, county, open_page):
    admin = open_page(LAPTOP, "/admin", fake_time=LUNCH, **SHANGHAI)
    log_in(admin, "county")
    admin.click("[data-tab=categories]")
    listed = admin.locator("#categories")
    expect(listed).to_contain_text("独居", timeout=WAIT)
    expect(listed).to_contain_text("90岁及以上")
    admin.fill("#category-form [name=code]", "shidu")
    admin.fill("#category-form [name=name]", "失独家庭")
    admin.click("#category-form button[type=submit]")
    expect(admin.locator("#note")).to_contain_text("已新增类别", timeout=WAIT)
    expect(listed.locator("tr", has_text="失独家庭")).to_contain_text("本县设定", timeout=WAIT)
    listed.locator("tr", has_text="独居").get_by_role("button", name="停用").click()
    expect(listed.locator("tr", has_text="独居")).to_contain_text("已停用", timeout=WAIT)
    shot(admin, "admin-categories")

    admin.click("[data-tab=diners]")
    admin.click("#diner-new")  # 登记长者: the form, its choices from the home point's county
    choices = admin.locator("#diner-categories")
    expect(choices).to_contain_text("失独家庭", timeout=WAIT)
    expect(choices).not_to_contain_text("独居")  # retired: offered no more
    expect(admin.locator("#diner-bands")).to_contain_text("60–69岁")
    form = admin.locator("#diner-edit")
    form.locator("[name=name]").fill("周玉兰")
    form.locator("[name=id_number]").fill(valid_id("43012119550501102"))
    form.locator("[name=community]").fill("泉塘社区")
    form.locator("[name=residence]").select_option(label="本地户籍")
    choices.get_by_label("失独家庭").check()
    form.locator("[name=consent]").check()
    shot(admin, "admin-diner-new")
    form.locator("button[type=submit]").click()
    expect(admin.locator("#note")).to_contain_text("已保存", timeout=WAIT)
    expect(form).to_be_hidden(timeout=WAIT)
    with rt.tx() as s:
        diner = s.query(Diner).one()
        assert (diner.residence, diner.categories, str(diner.birth_date)) == (
            "local",
            ["shidu"],
            "1955-05-01",
        )

    phone = open_page(PHONE, "/admin", fake_time=LUNCH, **SHANGHAI)
    log_in(phone, "county")
    phone.click("[data-tab=categories]")
    expect(phone.locator("#categories")).to_contain_text("失独家庭", timeout=WAIT)
    width = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    shot(phone, "admin-categories-phone")
