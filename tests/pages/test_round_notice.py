"""The public notice of a micro-grant round (公示), in Chromium at phone size, without a login:
the approved projects, their organizations and amounts, and an objection sent from the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from grants.models_rounds import GrantObjection
from tests.fixtures.grants import grant_world
from tests.fixtures.pages import PHONE, shot

pytestmark = pytest.mark.slow  # a real browser

WAIT = 15_000  # ms: the machine is shared


def published_round(w) -> int:
    r = w.open_round()
    rid = r["id"]
    a = w.propose(rid, "org_admin", w.county.org_a, title="长者助餐志愿服务")
    b = w.propose(rid, "org_admin2", w.org_a2, title="护河行动", field="environment")
    w.call("admin_a", "POST", f"/api/v1/rounds/{rid}/reviewers", 201, json={"staff_user_id": w.staff["r1"]})
    w.close_call(r)
    w.score("r1", a["id"], [9, 8, 8])
    w.score("r1", b["id"], [7, 7, 7])
    w.call("admin_a", "POST", f"/api/v1/rounds/{rid}/close-review", 200)
    w.call("admin_a", "POST", f"/api/v1/proposals/{a['id']}/approve", 200, json={"amount": 1_500_000})
    w.call("admin_a", "POST", f"/api/v1/proposals/{b['id']}/approve", 200, json={"amount": 1_200_000})
    w.call("admin_a", "POST", f"/api/v1/rounds/{rid}/publish", 200)
    return rid


def test_the_notice_shows_the_grants_and_takes_an_objection_on_a_phone(rt, client, clock, open_page):
    w = grant_world(rt, client, clock)
    rid = published_round(w)
    page = open_page(PHONE, f"/rounds/{rid}")
    rows = page.locator("#approved tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("长者助餐志愿服务")
    expect(rows.nth(0)).to_contain_text("泉塘志愿者协会")
    expect(rows.nth(0)).to_contain_text("15000.00")
    expect(page.locator("main")).to_contain_text("合计27000.00元")
    # nothing wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "round-notice-phone")
    page.fill("#objection [name=text]", "护河行动与去年项目重复")
    page.fill("#objection [name=contact]", "王先生")
    page.click("#objection button[type=submit]")
    expect(page.locator("#objection-answer")).to_contain_text("已收到您的异议", timeout=WAIT)
    with rt.tx() as s:
        got = s.execute(select(GrantObjection.text, GrantObjection.contact)).all()
    assert [tuple(g) for g in got] == [("护河行动与去年项目重复", "王先生")]
    english = open_page(PHONE, f"/rounds/{rid}?lang=en")
    expect(english.locator("h1")).to_contain_text("public notice")
    expect(english.locator("#objection button[type=submit]")).to_have_text("Send the objection")
