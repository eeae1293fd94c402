"""Small things users noticed, in Chromium: the selected tab stands out, icons need no emoji font,
and a refused action is said in the page's language only (English with ?lang=en, Chinese without)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api import i18n
from linli.errors import not_found
from scans.answers import MESSAGES
from tests.fixtures.builders import PASSWORD, make_county, staff_user
from tests.fixtures.pages import PHONE, TABLET, shot
from tests.pages.test_pages import MEASURE

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms: the machine is shared
HAN = re.compile(r"[\u3400-\u9fff]")
# emoji and pictographs (U+1F300-U+1FAFF), dingbats and symbols (U+2600-U+27BF): a box without an emoji font
EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]")
ROOT = Path(__file__).parent.parent.parent


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.fill("#login-form [name=username]", username)
    page.fill("#login-form [name=password]", password)
    page.click("#login-form button[type=submit]")


TAB_STYLES = """() => [...document.querySelectorAll("[role=tab]")].map((b) => {
  const s = getComputedStyle(b);
  return { selected: b.getAttribute("aria-selected"), weight: s.fontWeight, shadow: s.boxShadow,
           background: s.backgroundColor, color: s.color };
})"""


@pytest.mark.parametrize("viewport", [TABLET, PHONE], ids=["tablet", "phone"])
def test_the_selected_tab_is_filled_bold_and_underlined(rt, open_page, viewport):
    """Before: the selected tab was drawn as an outlined button among filled ones, the same weight
    and no mark under it, so it read as the one not chosen."""
    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    page = open_page(viewport, "/admin")
    log_in(page, "admin_a")
    page.locator("[role=tab][aria-selected=true]").wait_for(timeout=WAIT)
    page.wait_for_load_state("networkidle")
    tabs = page.evaluate(TAB_STYLES)
    selected = [t for t in tabs if t["selected"] == "true"]
    others = [t for t in tabs if t["selected"] != "true"]
    assert len(selected) == 1 and others
    chosen, other = selected[0], others[0]
    assert int(chosen["weight"]) >= 700 > int(other["weight"])
    assert chosen["shadow"] != "none" and other["shadow"] == "none"  # the yellow bar under it
    assert chosen["background"] != other["background"] and chosen["color"] != other["color"]
    got = page.evaluate(MEASURE)  # the logged-in page, tabs included: sizes and AA contrast
    assert got["small"] == [] and got["low"] == [], got
    shot(page, f"admin-tabs-{'tablet' if viewport is TABLET else 'phone'}")


def test_no_emoji_is_used_as_an_icon():
    """Before: 📷 on the counter's camera button, ✓ on /verify and ★ for star levels on /me."""
    files = sorted((ROOT / "api/templates").glob("*.html")) + sorted((ROOT / "api/static").glob("*.js"))
    assert len(files) > 10
    found = [
        f"{f.name}:{n}: {line.strip()}"
        for f in files
        for n, line in enumerate(f.read_text().splitlines(), 1)
        if EMOJI.search(line)
    ]
    assert found == []


def test_the_camera_button_draws_its_icon_without_an_emoji_font(open_page):
    page = open_page(TABLET, "/counter")
    # the button waits behind the coordinator's login: shown here to be measured
    counter = page.evaluate("""() => {
      document.querySelectorAll(".hidden").forEach((e) => e.classList.remove("hidden"));
      const b = document.querySelector("#camera-button"), i = b.querySelector(".icon.camera");
      const r = i.getBoundingClientRect(), s = getComputedStyle(i);
      return { text: b.textContent.trim(), width: r.width, height: r.height,
               mask: s.maskImage || s.webkitMaskImage, fill: s.backgroundColor, color: getComputedStyle(b).color };
    }""")
    assert counter["text"] == "用摄像头扫码"
    assert counter["width"] >= 20 and counter["height"] >= 20
    assert counter["mask"].startswith('url("data:image/svg+xml') and counter["fill"] == counter["color"]


def test_a_refused_login_is_said_in_english_only_with_lang_en(rt, open_page):
    """Before: the API's "用户名或密码不正确 Wrong username or password" was shown as it came, Chinese
    first, on the English page. Chinese pages show the Chinese half only."""
    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    page = open_page(TABLET, "/admin?lang=en")
    log_in(page, "admin_a", "not-the-password")
    note = page.locator("#note")
    note.wait_for(timeout=WAIT)
    assert note.text_content() == "Wrong username or password"
    shot(page, "admin-refused-en")
    page = open_page(PHONE, "/admin?lang=zh")
    log_in(page, "admin_a", "not-the-password")
    page.locator("#note").wait_for(timeout=WAIT)
    assert page.locator("#note").text_content() == "用户名或密码不正确"


CASES = {
    "请先登录 Please log in": ("请先登录", "Please log in"),
    "API 密钥无效或已吊销 The API key is invalid or revoked": (
        "API 密钥无效或已吊销",
        "The API key is invalid or revoked",
    ),
    "应为0到1440分钟 0 to 1440 minutes": ("应为0到1440分钟", "0 to 1440 minutes"),
    "scan_id 应为 UUID 格式 scan_id must be a UUID": ("scan_id 应为 UUID 格式", "scan_id must be a UUID"),
    "与“龙舟 Training”时间冲突（同一场地）The station is already booked by “龙舟 Training”": (
        "与“龙舟 Training”时间冲突（同一场地）",
        "The station is already booked by “龙舟 Training”",
    ),
    "泉心食堂 12:05 已领取": ("泉心食堂 12:05 已领取", "泉心食堂 12:05 已领取"),
    "HTTP 502": ("HTTP 502", "HTTP 502"),
}


def test_the_page_and_the_server_split_bilingual_messages_alike(open_page):
    """One rule in api/i18n.py and api/static/linli.js: every scan answer and the hard cases."""
    messages = {**{m: i18n.split_message(m) for m in MESSAGES.values()}, **CASES}
    for message, (zh, en) in messages.items():
        assert i18n.split_message(message) == (zh, en)
        if message not in CASES:
            assert zh != en and not HAN.search(en) and not re.search(r"[A-Za-z]", zh), message
    page = open_page(TABLET, "/")
    assert page.evaluate("(ms) => ms.map((m) => L.split(m))", list(messages)) == [
        list(v) for v in messages.values()
    ]


def test_a_missing_thing_is_named_once_in_each_language():
    """Before: not_found("组织 Organization") said "组织 Organization不存在 组织 Organization not found"."""
    assert not_found("组织 Organization").detail == "组织不存在 Organization not found"
    assert i18n.split_message(not_found("餐次记录 Meal").detail) == ("餐次记录不存在", "Meal not found")
