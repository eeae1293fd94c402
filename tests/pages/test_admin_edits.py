"""The hub's set-up pages (/admin) in Chromium, at tablet and phone sizes: a meal point's lunch
price from tomorrow, an agreement's budget topped up and its tiers changed from a date, an
agreement ended early, a newly certified 低保 diner with the evidence; each edit asks its reason
and shows the history. Before: PATCH answered 404 and the pages only listed."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from meals.models import Diner, FundingAgreement, MealPoint, ScheduleVersion, SlotPrice
from tests.fixtures.builders import PASSWORD
from tests.fixtures.canteen import LUNCH, Canteen
from tests.fixtures.pages import PHONE, TABLET, shot

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms: generous, the machine is shared
SHANGHAI = {"timezone_id": "Asia/Shanghai"}


def log_in(page, username: str) -> None:
    page.fill("#login-form [name=username]", username)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")


@pytest.fixture
def canteen(rt, client, clock):
    clock.at = LUNCH  # Tuesday 4 June 2030, 11:30 in Asia/Shanghai
    return Canteen(rt, client)


def test_a_price_from_tomorrow_new_tiers_a_top_up_and_a_certified_diner_each_with_its_history(
    rt, canteen, open_page
):
    admin = open_page(TABLET, "/admin", fake_time=LUNCH, **SHANGHAI)
    log_in(admin, "admin_a")
    note = admin.locator("#note")

    # the lunch price from tomorrow
    admin.click("[data-tab=points]")
    admin.click(f"[data-edit-point='{canteen.point.id}']")
    form = admin.locator("#point-form")
    expect(form.locator("[name=effective_from]")).to_have_value("2030-06-05", timeout=WAIT)
    form.locator("[name=price_lunch]").fill("15.00")
    form.locator("[name=effective_from]").fill("2030-06-03")  # a day past: refused, nothing written
    form.locator("[name=reason]").fill("食材涨价，街道批复")
    form.locator("button[type=submit]").click()
    expect(note).to_contain_text("生效日期不能早于今天", timeout=WAIT)
    form.locator("[name=effective_from]").fill("2030-06-05")
    form.locator("button[type=submit]").click()
    expect(admin.locator("#meal-points")).to_contain_text("2030-06-05 生效 ¥15.00", timeout=WAIT)
    history = admin.locator("#point-history")
    expect(history).to_contain_text("食材涨价，街道批复", timeout=WAIT)
    expect(history).to_contain_text("午餐 ¥：1200 → 1500")
    history.scroll_into_view_if_needed()
    shot(admin, "admin-point-price-from-tomorrow")
    with rt.tx() as s:
        assert [(p.effective_from, p.price) for p in s.scalars(select(SlotPrice))] == [(date(2030, 6, 5), 1500)]

    # the government's tiers from tomorrow, and a top-up at once
    admin.click("[data-tab=agreements]")
    admin.click(f"[data-edit-agreement='{canteen.government}']")
    form = admin.locator("#agreement-form")
    expect(form.locator("tr.tier")).to_have_count(3, timeout=WAIT)
    form.locator("[name=budget_cap]").fill("120000.00")
    form.locator("tr.tier").first.locator("[name=value]").fill("10.00")
    form.locator("[name=reason]").fill("县民政局2030年6号文；追加预算")
    form.locator("button[type=submit]").click()
    expect(admin.locator("#agreements")).to_contain_text("待生效 2030-06-05", timeout=WAIT)
    expect(admin.locator("#agreements")).to_contain_text("¥120,000.00")
    agreement_history = admin.locator("#agreement-history")
    expect(agreement_history).to_contain_text("县民政局2030年6号文；追加预算", timeout=WAIT)
    expect(agreement_history).to_contain_text("预算：¥100,000.00 → ¥120,000.00")
    expect(agreement_history).to_contain_text("特困 午餐/晚餐 ¥10.00")
    form.locator("tr.tier").first.scroll_into_view_if_needed()
    expect(form.locator("tr.tier").first).to_contain_text("特困")
    shot(admin, "admin-agreement-tiers-and-top-up")
    with rt.tx() as s:
        assert s.get(FundingAgreement, canteen.government).budget_cap == 12_000_000
        version = s.scalar(select(ScheduleVersion))
        assert (version.effective_from, version.schedule[0]["amount"]) == (date(2030, 6, 5), 1000)

    # 李国华 newly certified 低保, with the evidence
    admin.click("[data-tab=diners]")
    admin.fill("#diner-form [name=q]", "李国华")
    admin.click("#diner-form button[type=submit]")
    admin.click(f"[data-edit-diner='{canteen.grandpa}']")
    form = admin.locator("#diner-edit")
    form.locator("[name=categories][value=dibao]").check()
    form.locator("[name=reason]").fill("新认定低保")
    form.locator("button[type=submit]").click()
    expect(note).to_contain_text("新增类别须注明依据", timeout=WAIT)
    form.locator("[name=category_evidence]").fill("低保证 430121-2030-0457，社区核实")
    form.locator("button[type=submit]").click()
    expect(admin.locator("#diner-history")).to_contain_text("补贴类别：— → 低保", timeout=WAIT)
    expect(admin.locator("#diners")).to_contain_text("低保")
    admin.locator("#diner-history").scroll_into_view_if_needed()
    shot(admin, "admin-diner-category-evidence")
    with rt.tx() as s:
        diner = s.get(Diner, canteen.grandpa)
        assert (diner.categories, diner.category_evidence) == (["dibao"], "低保证 430121-2030-0457，社区核实")


def test_an_agreement_ended_early_and_a_new_meal_point_on_a_phone(rt, canteen, open_page):
    phone = open_page(PHONE, "/admin", fake_time=LUNCH, **SHANGHAI)
    log_in(phone, "admin_a")
    phone.click("[data-tab=agreements]")
    phone.click(f"[data-edit-agreement='{canteen.enterprise}']")
    form = phone.locator("#agreement-form")
    expect(form.locator("tr.tier")).to_have_count(1, timeout=WAIT)
    form.locator("[name=ends_on]").fill("2030-06-04")
    form.locator("[name=reason]").fill("企业资助到期，提前终止")
    form.locator("button[type=submit]").click()
    expect(phone.locator("#agreements")).to_contain_text("2030-06-04", timeout=WAIT)
    expect(phone.locator("#agreement-history")).to_contain_text("企业资助到期，提前终止", timeout=WAIT)
    width = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    phone.locator("#agreement-history").scroll_into_view_if_needed()
    shot(phone, "admin-agreement-end-phone")
    with rt.tx() as s:
        assert s.get(FundingAgreement, canteen.enterprise).ends_on == date(2030, 6, 4)

    phone.click("[data-tab=points]")
    phone.click("#point-new")
    form = phone.locator("#point-form")
    form.locator("[name=org_id]").select_option(label="泉塘志愿者协会")
    form.locator("[name=name]").fill("星沙长者食堂")
    form.locator("[name=address]").fill("星沙街道2号")
    form.locator("[name=daily_capacity]").fill("80")
    form.locator("[name=price_lunch]").fill("13.50")
    form.locator("button[type=submit]").click()
    expect(phone.locator("#meal-points")).to_contain_text("星沙长者食堂", timeout=WAIT)
    width = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    shot(phone, "admin-meal-point-new-phone")
    with rt.tx() as s:
        assert s.scalar(select(MealPoint.daily_capacity).where(MealPoint.name == "星沙长者食堂")) == 80
