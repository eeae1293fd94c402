"""My service record on the phone (/me, 表彰与证书 tab) at 390 px in Chromium: the total, hours per
year, and the CSV download saying the same as the API, with never a sideways scroll."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.fixtures.builders import volunteer_token
from tests.fixtures.hub import PHONE as ME
from tests.fixtures.hub import START, Hub
from tests.fixtures.pages import PHONE, shot

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms


def test_my_record_shows_hours_per_year_and_downloads(open_page, rt, client):
    hub = Hub(client, rt)
    for start, minutes in ((START, 100), (START + timedelta(days=365), 50)):
        hub.settle(hub.attendance(minutes, start=start), now=start + timedelta(hours=7))
    token = volunteer_token(rt, ME)
    record = client.get("/api/v1/me/record", headers=token).json()
    assert [y["hours"] for y in record["by_year"]] == ["1.67", "0.83"]

    page = open_page(PHONE, "/me")
    page.evaluate("t => localStorage.setItem('linli_token_me', t)", token["Authorization"].split()[1])
    page.reload()
    page.click("[data-tab=honours]")
    expect(page.locator("#record-total")).to_have_text("2.50 小时", timeout=WAIT)
    rows = page.locator("#my-record tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("2030")
    expect(rows.nth(0)).to_contain_text("1.67")
    expect(rows.nth(1)).to_contain_text("2031")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "me-record-phone")

    with page.expect_download() as got:
        page.click("#record-csv")
    text = Path(got.value.path()).read_bytes().decode("utf-8-sig")
    assert text == client.get("/api/v1/me/record.csv", headers=token).content.decode("utf-8-sig")
    assert '"午餐助餐服务","泉塘志愿者协会"' in text and '"100","1.67"' in text
