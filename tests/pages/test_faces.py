"""The faces of Linli in a real browser (Chromium through Playwright) against the real server:
the volunteer's journey from registration to points, a lunch at the counter, offline scans that
sync, and a partner downloading an XLSX report."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import openpyxl
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import func, select

from accounts.sender import DEMO_INBOX_KEY
from meals.models import Meal
from scans.models import Scan
from tests.fixtures.builders import PASSWORD, make_activity, volunteer_token
from tests.fixtures.canteen import LUNCH, Canteen
from tests.fixtures.pages import LAPTOP, PHONE, TABLET, shot
from tests.fixtures.runtime import drain

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms: generous, the machine is shared


def log_in(page, username: str) -> None:
    page.fill("#login-form [name=username]", username)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")


def scan(page, payload: str) -> None:
    """As a handheld scanner does: it types the code into whatever has focus, then Enter."""
    page.keyboard.type(payload)
    page.keyboard.press("Enter")


def yuan(fen: int) -> str:
    return f"¥{fen / 100:.2f}"


def test_a_volunteer_registers_is_filed_checks_in_and_out_at_the_tablet_and_sees_the_points(
    rt, client, clock, open_page
):
    clock.at = LUNCH
    canteen = Canteen(rt)
    county = canteen.county
    make_activity(rt, county.org_a, canteen.station, LUNCH - timedelta(minutes=30), hours=3.5)

    # the phone: a code by SMS proves the number (the demo sender's inbox), register, logged in
    phone = open_page(PHONE, "/me")
    phone.fill("#register-form [name=name]", "赵春兰")
    phone.fill("#register-form [name=phone]", "13807310088")
    phone.click("#register-code")
    expect(phone.locator("#note")).to_contain_text("验证码已发送", timeout=WAIT)
    drain(rt)  # the SMS job
    code = rt.redis.lrange(DEMO_INBOX_KEY, 0, 0)[0].decode().split()[1]
    phone.fill("#register-form [name=code]", code)
    phone.check("#register-form [name=consent]")
    shot(phone, "phone-login")
    phone.click("#register-form button[type=submit]")
    expect(phone.locator("#hello")).to_contain_text("赵春兰", timeout=WAIT)
    # once more on a fresh page: the phone is registered, so the code logs it in instead
    again = open_page(PHONE, "/me")
    again.fill("#register-form [name=name]", "赵春兰")
    again.fill("#register-form [name=phone]", "13807310088")
    again.click("#register-code")
    expect(again.locator("#note")).to_contain_text("验证码已发送", timeout=WAIT)
    drain(rt)
    again.fill("#register-form [name=code]", rt.redis.lrange(DEMO_INBOX_KEY, 0, 0)[0].decode().split()[1])
    again.check("#register-form [name=consent]")
    again.click("#register-form button[type=submit]")
    expect(again.locator("#hello")).to_contain_text("赵春兰", timeout=WAIT)

    # my card, as generated: the payload the tablet will read
    card = phone.locator("#card-image")
    expect(card).to_have_attribute("src", re.compile("^blob:"), timeout=WAIT)
    phone.wait_for_function("document.querySelector('#card-image').naturalWidth > 0")
    shot(phone, "phone-card")
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(card.screenshot())))
    payload = found.text

    # 备案: apply to the team that needs approval
    phone.click("[data-tab=teams]")
    phone.click(f"[data-team='{county.approval_team}']")
    expect(phone.locator("#note")).to_contain_text("已提交备案申请", timeout=WAIT)
    expect(phone.locator("#my-filings")).to_contain_text("待审核")

    # the hub worker approves it
    admin = open_page(LAPTOP, "/admin")
    log_in(admin, "admin_a")
    expect(admin.locator("#filings")).to_contain_text("赵春兰", timeout=WAIT)
    expect(admin.locator("#filings")).to_contain_text("138****0088")
    shot(admin, "admin-filings")
    admin.click("[data-approve]")
    expect(admin.locator("#note")).to_contain_text("已处理", timeout=WAIT)

    # the counter tablet reads the card: checked in, then two hours later checked out
    tablet = open_page(TABLET, "/counter")
    log_in(tablet, "counter")
    expect(tablet.locator("#scan")).to_be_focused(timeout=WAIT)
    scan(tablet, payload)
    answer = tablet.locator("#answer")
    expect(answer).to_have_class("ok", timeout=WAIT)
    expect(answer).to_contain_text("签到成功")
    expect(answer).to_contain_text("赵春兰")
    expect(tablet.locator("#volunteers-today")).to_contain_text("赵春兰", timeout=WAIT)
    shot(tablet, "counter-checked-in")
    clock.at = LUNCH + timedelta(hours=2)
    scan(tablet, payload)
    expect(answer).to_contain_text("签退成功", timeout=WAIT)
    expect(answer).to_contain_text("120 分钟")

    # the award job runs; the phone shows the points the ledger holds
    drain(rt)
    phone.click("[data-tab=points]")
    balance = phone.locator("#balance")
    expect(balance).to_be_visible(timeout=WAIT)
    points = client.get("/api/v1/me/points", headers=volunteer_token(rt, "13807310088")).json()["balance"]
    assert points > 0
    expect(balance).to_have_text(f"{points} 积分")
    expect(phone.locator("#my-points")).to_contain_text("2")  # two hours of service
    shot(phone, "phone-points")
    phone.click("[data-tab=history]")
    expect(phone.locator("#my-history")).to_contain_text(f"+{points} 积分", timeout=WAIT)
    expect(phone.locator("#my-history")).to_contain_text("+120 分钟")

    # the points shop: an order reserves the points
    with rt.tx() as s:
        from points import shop

        shop.create_item(
            s,
            county.hub_a,
            shop.ItemInput(
                name="大米5斤", price=points, stock=3, per_volunteer_limit=1, limit_period="month"
            ),
            LUNCH,
        )
    phone.click("[data-tab=shop]")
    phone.locator("#shop").get_by_role("button", name="兑换").click()
    expect(phone.locator("#note")).to_contain_text("兑换成功", timeout=WAIT)
    expect(phone.locator("#orders")).to_contain_text("待领取", timeout=WAIT)
    shot(phone, "phone-shop")
    assert (
        client.get("/api/v1/me/points", headers=volunteer_token(rt, "13807310088")).json()["available"] == 0
    )
    phone.click("[data-tab=honours]")
    expect(phone.locator("#certificates")).to_contain_text("暂无", timeout=WAIT)


def test_a_lunch_at_the_counter_then_the_same_card_again_then_offline_scans_that_sync(rt, clock, open_page):
    clock.at = LUNCH
    canteen = Canteen(rt)
    with rt.tx() as s:
        third = canteen.diner(s, "陈玉梅", "1948", categories=("dibao",))
    tablet = open_page(TABLET, "/counter")
    tablet.clock.set_system_time(LUNCH)  # the tablet's clock agrees with the server's
    log_in(tablet, "counter")
    expect(tablet.locator("#scan")).to_be_focused(timeout=WAIT)
    expect(tablet.locator("#meals-today")).to_contain_text("午餐", timeout=WAIT)

    answer = tablet.locator("#answer")
    scan(tablet, canteen.card(canteen.grandma))
    expect(answer).to_have_class("ok", timeout=WAIT)
    with rt.tx() as s:
        meal = s.scalar(select(Meal).where(Meal.diner_id == canteen.grandma))
    for text in (
        "王桂英",
        "已供餐",
        f"请收 {yuan(meal.paid)}",
        yuan(meal.price),
        yuan(meal.subsidy),
        "低盐",
        "花生",
    ):
        expect(answer).to_contain_text(text)
    shot(tablet, "counter-meal-served")

    scan(tablet, canteen.card(canteen.grandma))  # the same lunch again
    expect(answer).to_have_class("again", timeout=WAIT)
    expect(answer).to_contain_text("王桂英")
    shot(tablet, "counter-again")
    scan(tablet, "hello")  # not a Linli code: red, and why
    expect(answer).to_have_class("no", timeout=WAIT)
    expect(answer).to_contain_text("无法识别的二维码")
    expect(tablet.locator("#meals-today")).to_contain_text("1 / 0", timeout=WAIT)  # served / booked

    # the network drops: scans wait on the tablet, the same card twice is caught there
    tablet.context.set_offline(True)
    scan(tablet, canteen.card(canteen.grandpa))
    expect(answer).to_have_class("queued", timeout=WAIT)
    offline = tablet.locator("#offline")
    expect(offline).to_contain_text("1")
    scan(tablet, canteen.card(canteen.grandpa))
    expect(answer).to_have_class("again", timeout=WAIT)
    expect(answer).to_contain_text("离线时已扫过这张卡")
    scan(tablet, canteen.card(third))
    expect(offline).to_contain_text("2", timeout=WAIT)
    answer.click()  # a touch dismisses the answer; the scan box has focus again
    expect(answer).to_be_hidden()
    expect(tablet.locator("#scan")).to_be_focused(timeout=WAIT)
    shot(tablet, "counter-offline")
    assert canteen.count(Meal, Meal.diner_id.in_([canteen.grandpa, third])) == 0
    queued = tablet.evaluate("JSON.parse(localStorage.getItem('linli_counter_queue'))")
    assert [q["payload"] for q in queued] == [canteen.card(canteen.grandpa), canteen.card(third)]

    # back online: they sync through the batch endpoint, once each, with the tablet's scan ids
    tablet.context.set_offline(False)
    expect(offline).to_be_hidden(timeout=WAIT)
    assert tablet.evaluate("JSON.parse(localStorage.getItem('linli_counter_queue'))") == []
    assert canteen.count(Meal, Meal.diner_id == canteen.grandpa) == 1
    assert canteen.count(Meal, Meal.diner_id == third) == 1
    with rt.tx() as s:
        stored = set(s.scalars(select(Scan.scan_id).where(Scan.scan_id.in_([q["scan_id"] for q in queued]))))
        assert stored == {q["scan_id"] for q in queued}
        assert s.scalar(select(func.count()).select_from(Meal)) == 3
    expect(tablet.locator("#recent")).to_contain_text("离线扫码已上传")


def test_a_partner_requests_an_xlsx_watches_it_finish_and_downloads_it(
    rt, client, clock, open_page, tmp_path
):
    from tests.fixtures.month import Month

    month = Month(rt, client, clock)  # June 2030 at a meal point the partner co-funds; now 2 July
    portal = open_page(LAPTOP, "/partner")
    portal.clock.set_system_time(clock.at)
    log_in(portal, "partner1")
    form = portal.locator("#report-form")
    expect(form.locator("[name=period_start]")).to_have_value("2030-06-01", timeout=WAIT)
    expect(form.locator("[name=period_end]")).to_have_value("2030-06-30")
    form.locator("[name=format]").select_option("xlsx")
    form.locator("button[type=submit]").click()
    expect(portal.locator("#note")).to_contain_text("已提交", timeout=WAIT)
    expect(portal.locator("[data-status=queued]")).to_be_visible(timeout=WAIT)
    drain(rt)  # the worker builds it; the page notices by itself
    button = portal.locator("[data-download]")
    expect(button).to_be_visible(timeout=WAIT)
    shot(portal, "partner-reports")
    with portal.expect_download() as got:
        button.click()
    assert got.value.suggested_filename == "linli-meal_usage-2030-06-01-2030-06-30.xlsx"
    saved = tmp_path / got.value.suggested_filename
    got.value.save_as(saved)
    book = openpyxl.load_workbook(saved, read_only=True)
    cells = [
        c for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row if c is not None
    ]
    expected = month.expected()
    enterprise_yuan = expected["funders"][month.enterprise] / 100
    assert enterprise_yuan in cells  # the partner's own money, in yuan, to the fen
    assert "星沙慈善基金" not in cells  # never another funder's

    # an API key: shown once, listed by its prefix, revoked
    portal.fill("#key-form [name=name]", "财务系统")
    portal.click("#key-form button[type=submit]")
    new_key = portal.locator("#new-key")
    expect(new_key).to_contain_text("lk_", timeout=WAIT)
    key = new_key.inner_text().split()[-1]
    keys = portal.locator("#keys")
    expect(keys).to_contain_text("财务系统")
    assert key not in keys.inner_text()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    portal.click("#keys button.danger")
    expect(keys).to_contain_text("已吊销", timeout=WAIT)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    shot(portal, "partner-keys")


def test_the_station_code_full_screen_renews_itself_and_a_phone_checks_in_with_it(rt, clock, open_page):
    from volunteer import service as volunteer_service

    clock.at = LUNCH
    canteen = Canteen(rt)
    make_activity(rt, canteen.county.org_a, canteen.station, LUNCH - timedelta(minutes=30), hours=3.5)
    with rt.tx() as s:
        volunteer = volunteer_service.register(
            s,
            rt.signer,
            volunteer_service.Registration(name="刘建国", phone="13807310099", id_number=None, consent=True),
            now=LUNCH,
            today=LUNCH.date(),
        )
        volunteer_service.apply(s, volunteer_id=volunteer.id, team_id=canteen.county.open_team, now=LUNCH)

    tablet = open_page(TABLET, "/counter", fake_time=LUNCH)
    log_in(tablet, "counter")
    expect(tablet.locator("#scan")).to_be_focused(timeout=WAIT)
    tablet.click("#code-button")
    image = tablet.locator("#code-image")
    expect(image).to_have_attribute("data-payload", re.compile("."), timeout=WAIT)
    tablet.wait_for_function("document.querySelector('#code-image').naturalWidth > 0")
    shot(tablet, "counter-station-code")
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.screenshot())))
    first = found.text
    assert first == image.get_attribute("data-payload") == rt.codes.station_code(canteen.station, LUNCH)

    # the code turns every 30 seconds: the screen fetches the next one by itself
    clock.at = LUNCH + timedelta(seconds=31)
    tablet.clock.fast_forward(31_000)
    expect(image).not_to_have_attribute("data-payload", first, timeout=WAIT)
    assert image.get_attribute("data-payload") == rt.codes.station_code(canteen.station, clock.at)

    # a volunteer's phone camera opens the code's link: the landing page checks them in
    phone = open_page(PHONE, "/me")
    token = volunteer_token(rt, "13807310099")["Authorization"].split()[1]
    phone.evaluate("token => localStorage.setItem('linli_token_me', token)", token)
    phone.goto(urlsplit(image.get_attribute("data-payload")).path)  # the code names LINLI_BASE_URL
    expect(phone.locator("#answer")).to_have_text("签到成功", timeout=WAIT)
    shot(phone, "phone-checked-in")


def test_a_hub_worker_sees_meal_points_and_budgets_pauses_a_diner_sets_rules_and_confirms_a_round(
    rt, clock, open_page
):
    from meals.models import Diner
    from points.models import CommendationRound, PointsRule

    clock.at = LUNCH
    canteen = Canteen(rt)
    admin = open_page(LAPTOP, "/admin", fake_time=LUNCH)
    log_in(admin, "admin_a")
    expect(admin.locator("#filings")).to_contain_text("暂无", timeout=WAIT)

    admin.click("[data-tab=points]")
    points = admin.locator("#meal-points")
    expect(points).to_contain_text("泉心食堂", timeout=WAIT)
    expect(points).to_contain_text("午餐 11:00–13:30 ¥12.00")
    admin.click("[data-tab=agreements]")
    expect(admin.locator("#agreements")).to_contain_text("县民政助餐补贴", timeout=WAIT)
    expect(admin.locator("#agreements")).to_contain_text("¥0.00 / ¥100,000.00")
    shot(admin, "admin-agreements")

    admin.click("[data-tab=diners]")
    admin.fill("#diner-form [name=q]", "王桂英")
    admin.click("#diner-form button[type=submit]")
    diners = admin.locator("#diners")
    expect(diners).to_contain_text("低盐", timeout=WAIT)
    diners.get_by_role("button", name="暂停助餐").click()
    expect(diners).to_contain_text("已暂停", timeout=WAIT)
    with rt.tx() as s:
        assert s.get(Diner, canteen.grandma).paused_from == LUNCH.date()
    shot(admin, "admin-diners")

    admin.click("[data-tab=rules]")
    expect(admin.locator("#rule")).to_contain_text("使用默认规则", timeout=WAIT)
    admin.fill("#rule-form [name=per_hour]", "12")
    admin.fill("#rule-form [name=delivery_points]", "6")
    admin.fill("#rule-form [name=daily_cap]", "0")
    admin.click("#rule-form button[type=submit]")
    expect(admin.locator("#note")).to_contain_text("已保存新版本规则", timeout=WAIT)
    expect(admin.locator("#rule")).to_contain_text("default 12", timeout=WAIT)
    with rt.tx() as s:
        rule = s.scalar(select(PointsRule).where(PointsRule.hub_id == canteen.county.hub_a))
        assert (rule.version, rule.points_per_hour["default"], rule.delivery_points) == (1, 12, 6)

    admin.click("[data-tab=rounds]")
    admin.fill("#round-form [name=title]", "五月之星")
    admin.fill("#round-form [name=period_start]", "2030-05-01")  # over: a round is confirmed after its period
    admin.fill("#round-form [name=min_hours]", "2")
    admin.click("#round-form button[type=submit]")
    expect(admin.locator("#rounds")).to_contain_text("五月之星", timeout=WAIT)
    admin.click("[data-confirm]")
    expect(admin.locator("#rounds")).to_contain_text("已确认", timeout=WAIT)
    with rt.tx() as s:
        assert s.scalar(select(CommendationRound.status)) == "confirmed"
    shot(admin, "admin-rounds")


def test_make_run_serves_the_pages_a_volunteer_and_a_coordinator_use(browser, tmp_path):
    """The pages through `linli serve --demo` itself: the demo volunteer logs in with a code read on
    /demo/codes and sees the card; the demo coordinator's tablet shows its meal point."""
    from tests.fixtures.processes import serve_demo

    with serve_demo(tmp_path) as (base, _):
        context = browser.new_context(viewport=PHONE, base_url=base, locale="zh-CN")
        phone = context.new_page()
        phone.goto("/me")
        phone.fill("#code-form [name=phone]", "13807310000")
        phone.click("#code-form button[type=submit]")
        expect(phone.locator("#note")).to_contain_text("验证码已发送", timeout=WAIT)
        codes = context.new_page()
        for _ in range(100):  # the worker `serve` started sends it
            codes.goto("/demo/codes")
            sent = re.search(r"138\*{4}0000 (\d{6})", codes.inner_text("main"))
            if sent:
                break
            codes.wait_for_timeout(100)
        phone.fill("#login-form [name=code]", sent[1])
        phone.click("#login-form button[type=submit]")
        expect(phone.locator("#card-image")).to_have_attribute("src", re.compile("^blob:"), timeout=WAIT)
        tablet = browser.new_context(viewport=TABLET, base_url=base, locale="zh-CN").new_page()
        tablet.goto("/counter")
        tablet.fill("#login-form [name=username]", "quanxin_counter")
        tablet.fill("#login-form [name=password]", "linli-demo-2026")
        tablet.click("#login-form button[type=submit]")
        expect(tablet.locator("#station-name")).to_have_text("泉心食堂", timeout=WAIT)
        expect(tablet.locator("#scan")).to_be_focused()
        tablet.context.close()
        context.close()


def test_a_hub_worker_approves_a_meal_held_for_review(rt, clock, open_page):
    """The 补贴核查 tab: an offline meal uploaded too late waits there, and is paid once approved."""
    from scans import door
    from scans.schemas import Device, ScanInput

    clock.at = LUNCH
    canteen = Canteen(rt)
    tablet = Device("staff", "staff:0 tablet", staff_user_id=None, org_paths=("/",))
    [answer] = door.scan_batch(
        rt,
        tablet,
        [ScanInput(canteen.card(canteen.grandma), canteen.station, str(uuid.uuid4()), LUNCH)],
        received_at=LUNCH + timedelta(hours=8),
    )
    assert (answer["outcome"], answer["held"]) == ("meal_served", True)
    admin = open_page(LAPTOP, "/admin", fake_time=LUNCH)
    log_in(admin, "admin_a")
    admin.click("[data-tab=integrity]")
    flags = admin.locator("#flags")
    expect(flags).to_contain_text("离线补传过晚", timeout=WAIT)
    shot(admin, "admin-integrity")
    flags.get_by_role("button", name="通过", exact=True).click()
    expect(admin.locator("#note")).to_contain_text("已处理", timeout=WAIT)
    expect(flags).to_contain_text("暂无", timeout=WAIT)
    with rt.tx() as s:
        assert s.get(Meal, answer["meal"]["id"]).status == "served"
