"""A micro-grant round driven through its pages, in Chromium: the hub opens it (desktop), an
organization's admin drafts, changes and submits a proposal (phone), a guest reviewer logs in with
an SMS code and scores, a proposal of the guest's own organization marked as a conflict of interest
(phone); the hub sees how many scored each, closes the review, reads the ranking with its tie
explained, approves one and rejects the other, publishes, reads an objection; after the notice it
pays a tranche in, the organization records a spending with its receipt (phone), and the hub
reverses it (desktop)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from accounts.sender import DEMO_INBOX_KEY
from grants import money
from points import verification
from tests.fixtures.builders import PASSWORD
from tests.fixtures.grant_money import png
from tests.fixtures.grants import grant_world
from tests.fixtures.pages import LAPTOP, PHONE, shot
from tests.fixtures.runtime import drain
from tests.pages.test_pages import MEASURE

pytestmark = pytest.mark.slow  # a real browser

WAIT = 15_000  # ms: the machine is shared
GUEST = "13907310088"


def log_in(page, username: str) -> None:
    page.fill("#login-form [name=username]", username)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")


def fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    got = page.evaluate(MEASURE)
    assert got["fontSize"] >= 18 and got["small"] == [] and got["low"] == [], got


def test_a_round_from_its_opening_to_its_money_through_the_pages(rt, client, clock, open_page):
    w = grant_world(rt, client, clock)

    # 1. the hub opens the round (desktop)
    hub = open_page(LAPTOP, "/admin/rounds")
    log_in(hub, "admin_a")
    form = hub.locator("#open-form")
    expect(form).to_be_visible(timeout=WAIT)
    form.locator("[name=name]").fill("2027年泉塘街道公益微创投")
    form.locator("[name=funder_name]").fill("街道民生资金")
    form.locator("[name=funder_amount]").fill("100000")
    hub.click("#add-funder")
    form.locator("[name=funder_kind]").nth(1).select_option("enterprise")
    form.locator("[name=funder_name]").nth(1).fill("泉心社会企业")
    form.locator("[name=funder_amount]").nth(1).fill("50000")
    for i, (name, weight) in enumerate([("需求分析", 40), ("执行能力", 35), ("预算合理", 25)]):
        if i:
            hub.click("#add-criterion")
        form.locator("[name=criterion_name]").nth(i).fill(name)
        form.locator("[name=criterion_weight]").nth(i).fill(str(weight))
    form.locator("[name=max_grants]").fill("2")
    form.locator("[name=grant_limit]").fill("50000")
    shot(hub, "grant-round-open")
    form.locator("button[type=submit]").click()
    expect(hub.locator("#round-name")).to_contain_text("2027年泉塘街道公益微创投", timeout=WAIT)
    rid = int(re.search(r"/admin/rounds/(\d+)", hub.url)[1])
    round_ = w.call("admin_a", "GET", f"/api/v1/rounds/{rid}", 200).json()
    assert round_["funds"] == 15_000_000 and round_["grant_limit"] == 5_000_000
    assert [c["name"] for c in round_["criteria"]] == ["需求分析", "执行能力", "预算合理"]
    # the page opened the call at the browser's minute, which may be after the server's fixed clock
    # (set when the test began): the server's time moves on to the call
    opens = datetime.fromisoformat(round_["call_opens_at"])
    clock.at = max(clock.at, opens) + timedelta(minutes=1)

    # 2. an organization's admin writes a draft, changes it and submits it (phone)
    org = open_page(PHONE, "/proposals")
    log_in(org, "org_admin")
    org.click(f"[data-write='{rid}']", timeout=WAIT)
    p = org.locator("#proposal-form")
    p.locator("[name=org_id]").select_option(str(w.county.org_a))
    p.locator("[name=title]").fill("长者助餐陪伴")
    p.locator("[name=summary]").fill("每周三次陪伴长者用餐")
    p.locator("[name=goal_activities]").fill("20")
    p.locator("[name=goal_served]").fill("2000")
    p.locator("[name=goal_volunteer_times]").fill("150")
    p.locator("[name=starts_on]").fill("2027-03-01")
    p.locator("[name=ends_on]").fill("2027-12-31")
    p.locator("[name=item]").fill("物料")
    p.locator("[name=line_amount]").fill("12000")
    fits(org, PHONE["width"])
    shot(org, "proposal-form-phone")
    p.locator("button[name=save]").click()
    expect(org.locator("#note")).to_contain_text("草稿已保存", timeout=WAIT)
    [mine] = w.call("org_admin", "GET", f"/api/v1/rounds/{rid}/proposals", 200).json()["items"]
    assert (mine["status"], mine["budget_total"]) == ("draft", 1_200_000)
    org.click(f"[data-edit='{mine['id']}']")
    p.locator("[name=title]").fill("长者助餐陪伴计划")
    org.click("#submit-proposal")
    expect(org.locator(f"[data-status='{mine['id']}']")).to_have_text("已提交", timeout=WAIT)
    got = w.call("org_admin", "GET", f"/api/v1/proposals/{mine['id']}", 200).json()
    assert (got["title"], got["status"]) == ("长者助餐陪伴计划", "submitted")
    other = w.propose(rid, "org_admin2", w.org_a2, title="护河行动", field="environment")

    # 3. reviewers: a guest of the second organization (added on the page), a staff reviewer
    hub.reload()
    hub.select_option("#reviewer-form [name=affiliation_org_id]", str(w.org_a2))
    hub.fill("#reviewer-form [name=phone]", GUEST)
    hub.fill("#reviewer-form [name=name]", "李教授")
    hub.click("#reviewer-form button[type=submit]")
    expect(hub.locator("#reviewer-answer")).to_contain_text("初始密码", timeout=WAIT)
    expect(hub.locator("#reviewer-answer")).to_contain_text("/review")
    w.call("admin_a", "POST", f"/api/v1/rounds/{rid}/reviewers", 201, json={"staff_user_id": w.staff["r1"]})
    clock.at = datetime.fromisoformat(round_["call_closes_at"]) + timedelta(minutes=1)
    w.score("r1", mine["id"], [8, 8, 8])
    w.score("r1", other["id"], [8, 8, 8])

    # 4. the guest logs in with an SMS code and scores; their own organization's is a conflict (phone)
    rev = open_page(PHONE, "/review")
    rev.fill("#code-form [name=phone]", GUEST)
    rev.click("#code-form button[type=submit]")
    expect(rev.locator("#note")).to_contain_text("验证码已发送", timeout=WAIT)
    drain(rt)  # the SMS job
    rev.fill("#code-login-form [name=code]", rt.redis.lrange(DEMO_INBOX_KEY, 0, 0)[0].decode().split()[1])
    rev.click("#code-login-form button[type=submit]")
    conflict = rev.locator(f"[data-proposal='{other['id']}']")
    expect(conflict).to_contain_text("须回避", timeout=WAIT)
    expect(conflict.locator("form")).to_have_count(0)
    expect(rev.locator("#sheet-state")).to_contain_text("只看得到自己的评分")
    sheet = rev.locator(f"[data-score='{mine['id']}']")
    for name in ("需求分析", "执行能力", "预算合理"):
        sheet.locator(f"select[name='{name}']").select_option("8")
    fits(rev, PHONE["width"])
    conflict.scroll_into_view_if_needed()
    shot(rev, "review-phone")
    sheet.locator("button[type=submit]").click()
    expect(rev.locator(f"[data-mine='{mine['id']}']")).to_contain_text("8.00", timeout=WAIT)

    # 5. the hub: progress, the review closed, the ranking with its tie, decisions, the notice
    hub.reload()
    expect(hub.locator(f"[data-scored='{mine['id']}']")).to_contain_text("2", timeout=WAIT)
    expect(hub.locator(f"[data-scored='{other['id']}']")).to_contain_text("1")
    hub.click("#close-review")
    tie = hub.locator(f"[data-tie='{mine['id']}']")
    expect(tie).to_contain_text("预算少者在前", timeout=WAIT)  # both 8.00: 12,000 yuan before 15,000
    row = hub.locator(f"[data-decide='{mine['id']}']")
    row.locator("[name=amount]").fill("10000")
    row.locator("[name=reason]").fill("评分第一")
    row.locator(f"[data-approve='{mine['id']}']").click()
    expect(hub.locator(f"[data-decision='{mine['id']}']")).to_contain_text("已批准", timeout=WAIT)
    row = hub.locator(f"[data-decide='{other['id']}']")
    row.locator("[name=reason]").fill("与往年项目重复")
    row.locator(f"[data-reject='{other['id']}']").click()
    expect(hub.locator(f"[data-decision='{other['id']}']")).to_contain_text("与往年项目重复", timeout=WAIT)
    fits(hub, LAPTOP["width"])
    shot(hub, "grant-round-ranking")
    hub.click("#publish")
    expect(hub.locator("#notice-part")).to_be_visible(timeout=WAIT)
    client.post(f"/api/v1/rounds/{rid}/objections", json={"text": "请公开评分细则", "contact": "王先生"})
    hub.reload()
    expect(hub.locator("#objections")).to_contain_text("请公开评分细则", timeout=WAIT)
    notice = open_page(PHONE, f"/rounds/{rid}")
    expect(notice.locator("#approved")).to_contain_text("长者助餐陪伴计划")
    expect(notice.locator("#approved")).not_to_contain_text("护河行动")

    # 6. after the notice: a tranche in (hub), a spending with its receipt (phone), reversed (hub)
    published = w.call("admin_a", "GET", f"/api/v1/rounds/{rid}", 200).json()
    clock.at = datetime.fromisoformat(published["notice_ends_at"]) + timedelta(minutes=1)
    hub.reload()
    card = hub.locator("[data-project]")
    expect(card).to_have_count(1, timeout=WAIT)
    project = int(card.get_attribute("data-project"))
    card.locator("[name=amount]").fill("5000")
    card.locator("[name=note]").fill("首期拨款")
    card.locator("button[type=submit]").click()
    expect(hub.locator(f"[data-account='{project}']")).to_contain_text("已拨付 ¥5,000.00", timeout=WAIT)
    org.reload()
    org.click(f"[data-spend='{project}']", timeout=WAIT)
    s = org.locator("#spend-form")
    s.locator("[name=amount]").fill("320")
    s.locator("[name=category]").select_option("meals")
    s.locator("[name=note]").fill("长者午餐")
    s.locator("[name=receipt]").set_input_files(
        {"name": "receipt.png", "mimeType": "image/png", "buffer": png()}
    )
    s.locator("button[type=submit]").click()
    expect(org.locator("#note")).to_contain_text("支出已记录", timeout=WAIT)
    expect(org.locator(f"[data-account='{project}']")).to_contain_text("余额 ¥4,680.00")
    # what the project delivered so far (GET .../delivery): nothing linked yet
    expect(org.locator(f"[data-delivery='{project}']")).to_have_text(
        "完成情况：活动 0 场，服务 0 人次，志愿者 0 人次（0 人），服务 0.0 小时"
    )
    fits(org, PHONE["width"])
    shot(org, "project-money-phone")
    hub.reload()
    reverse = hub.locator("form[data-reverse]")
    expect(reverse).to_have_count(1, timeout=WAIT)
    reverse.locator("[name=reason]").fill("票据录错了项目")
    reverse.locator("button[type=submit]").click()
    expect(hub.locator("[data-reversed]")).to_contain_text("票据录错了项目", timeout=WAIT)
    expect(hub.locator(f"[data-account='{project}']")).to_contain_text("余额 ¥5,000.00")
    fits(hub, LAPTOP["width"])
    shot(hub, "grant-round-money")
    acc = w.call("admin_a", "GET", f"/api/v1/projects/{project}/account", 200).json()
    assert (acc["paid_in"], acc["spent"], acc["balance"], acc["reversed"]) == (500_000, 0, 500_000, 32_000)
    with rt.tx() as session:
        assert verification.verify(session) == [] and money.verify(session) == []


def test_the_pages_are_in_english_on_request(open_page):
    for path, heading, button in [
        ("/admin/rounds?lang=en", "Micro-grants", "Log in"),
        ("/proposals?lang=en", "Proposals", "Log in"),
        ("/review?lang=en", "Project review", "Send me a code"),
    ]:
        page = open_page(PHONE, path)
        expect(page.locator("h1")).to_contain_text(heading)
        expect(page.locator("main")).to_contain_text(button)
        assert "评审" not in page.locator("main").inner_text()
