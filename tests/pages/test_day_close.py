"""The day's close on the counter tablet (日结): today's state, a close refused while the day's
last slot is still on, made once it has ended, listed, and its sheet downloaded as a PDF."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.fixtures.builders import PASSWORD
from tests.fixtures.canteen import LUNCH, Canteen
from tests.fixtures.pages import PHONE, TABLET, shot

pytestmark = pytest.mark.slow  # a real browser

WAIT = 15_000
AFTER_DINNER = datetime(2030, 6, 4, 12, 5, tzinfo=UTC)  # 20:05 in Asia/Shanghai: dinner ended at 20:00


def log_in(page, username: str) -> None:
    page.fill("#login-form [name=username]", username)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")


def test_the_counter_closes_the_day_after_its_last_slot_and_prints_the_sheet(rt, clock, open_page):
    clock.at = LUNCH
    canteen = Canteen(rt)
    tablet = open_page(TABLET, "/counter")
    tablet.clock.set_system_time(LUNCH)
    log_in(tablet, "counter")
    expect(tablet.locator("#scan")).to_be_focused(timeout=WAIT)
    status = tablet.locator("#close-status")
    expect(status).to_contain_text("今日未日结", timeout=WAIT)
    expect(status).to_contain_text("21:30")
    expect(tablet.locator("#close-list")).to_contain_text("还没有日结记录")
    tablet.keyboard.type(canteen.card(canteen.grandma))
    tablet.keyboard.press("Enter")
    expect(tablet.locator("#answer")).to_have_class("ok", timeout=WAIT)
    tablet.locator("#answer").click()

    note = tablet.locator("#close-note")
    tablet.click("#close-button")  # lunch is still on: refused, and why
    expect(note).to_contain_text("供餐尚未结束", timeout=WAIT)
    expect(note).to_contain_text("20:00")

    clock.at = AFTER_DINNER
    tablet.click("#close-button")
    expect(note).to_contain_text("已日结", timeout=WAIT)
    expect(status).to_contain_text("今日已日结", timeout=WAIT)
    expect(tablet.locator("#close-button")).to_be_hidden()
    row = tablet.locator("#close-list li")
    expect(row).to_have_count(1)
    for text in ("06-04", "人次 1", "自付 ¥1.00", "补贴 ¥11.00", "打印日结单"):
        expect(row).to_contain_text(text)
    tablet.locator("#day-closes").scroll_into_view_if_needed()
    shot(tablet, "counter-day-close")

    with tablet.expect_download() as got:
        row.locator("button").click()
    path = got.value.path()
    with open(path, "rb") as f:
        assert f.read(5) == b"%PDF-"
    assert got.value.suggested_filename == "day-close-2030-06-04.pdf"

    phone = open_page(PHONE, "/counter")
    log_in(phone, "counter")
    expect(phone.locator("#close-list li")).to_have_count(1, timeout=WAIT)
    phone.locator("#day-closes").scroll_into_view_if_needed()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width  # no sideways scrolling on a phone
    shot(phone, "counter-day-close-phone")
