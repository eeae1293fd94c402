"""Asking for a 志愿服务记录证明 on the phone (/me, 表彰与证书 tab, 我的服务记录) at 390 px in
Chromium: the organization from my record, the period; without an ID number stored the page asks
for it inline, saves it (PUT /api/v1/me/identity) and asks again; the PDF downloads with the full
number, and never a sideways scroll."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.fixtures.builders import valid_id, volunteer_token
from tests.fixtures.hub import PHONE as ME
from tests.fixtures.hub import START, Hub
from tests.fixtures.pages import PHONE, shot

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms
ID_NUMBER = valid_id("43012119900307851")


def test_asking_for_a_certificate_gives_the_number_inline_then_downloads(open_page, rt, client, clock):
    clock.at = START - timedelta(days=1)
    hub = Hub(client, rt)
    for start, minutes in ((START, 100), (START + timedelta(hours=3), 50)):
        hub.settle(hub.attendance(minutes, start=start))
    now = START + timedelta(days=2)
    clock.at = now
    token = volunteer_token(rt, ME)

    page = open_page(PHONE, "/me", fake_time=now)
    page.evaluate("t => localStorage.setItem('linli_token_me', t)", token["Authorization"].split()[1])
    page.reload()
    page.click("[data-tab=honours]")
    form = page.locator("#record-cert-form")
    expect(form.locator("select[name=org_id] option")).to_have_text(["泉塘志愿者协会"], timeout=WAIT)
    expect(form.locator("input[name=period_end]")).to_have_value("2030-06-05")
    form.locator("input[name=period_start]").fill("2030-06-01")
    form.locator("button[type=submit]").click()

    ids = page.locator("#identity-form")
    expect(ids).to_be_visible(timeout=WAIT)
    expect(page.locator("#note")).to_contain_text("证件号码")
    ids.locator("input[name=id_number]").fill(ID_NUMBER)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.evaluate(
        "document.querySelector('#record-cert-form').previousElementSibling.previousElementSibling.scrollIntoView()"
    )
    shot(page, "me-record-certificate-identity")

    with page.expect_download() as got:
        ids.locator("button[type=submit]").click()
    pdf = Path(got.value.path()).read_bytes()
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    assert ID_NUMBER in text and "王秀英" in text and "2小时30分钟" in text
    expect(ids).to_be_hidden()
    expect(page.locator("#record-cert-answer a")).to_have_attribute("href", re.compile(r"/verify/R\w{15}$"))
    expect(page.locator("#record-cert-answer")).to_contain_text("泉塘志愿者协会 · 2.5")
    expect(page.locator("#record-cert-answer")).not_to_contain_text("null")
    assert client.get("/api/v1/me/identity", headers=token).json()["last4"] == ID_NUMBER[-4:]
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.evaluate(
        "document.querySelector('#record-cert-form').previousElementSibling.previousElementSibling.scrollIntoView()"
    )
    shot(page, "me-record-certificate-phone")
