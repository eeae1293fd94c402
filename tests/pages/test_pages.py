"""Every page: Chinese by default and English on request from the gettext catalog, nothing left
untranslated, and sizes and colours for older eyes and gloved fingers, measured in the browser."""

from __future__ import annotations

import json
import re

import pytest
from babel.messages.extract import extract_from_dir

from api import i18n
from tests.fixtures.pages import PHONE, TABLET, shot

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

PAGES = ["/", "/counter", "/me", "/partner", "/admin", "/wall/1"]


def test_every_string_in_the_templates_has_its_english():
    found = {
        message
        for _, _, message, *_ in extract_from_dir(
            "api/templates", method_map=[("**.html", "jinja2")], options_map={"**.html": {}}
        )
    }
    assert len(found) > 100
    english = i18n.translations("en")
    missing = sorted(m for m in found if english.gettext(m) == m)
    assert missing == []


def test_pages_are_chinese_first_and_english_on_request(client):
    for path in PAGES:
        zh = client.get(path, headers={"accept-language": "en-GB"})
        assert zh.status_code == 200 and zh.headers["content-type"].startswith("text/html")
    client.cookies.clear()
    page = client.get("/counter")
    assert '<html lang="zh-CN">' in page.text and "取餐台" in page.text
    english = client.get("/counter?lang=en")
    assert '<html lang="en">' in english.text and "Counter" in english.text and "取餐台" not in english.text
    assert "linli_lang=en" in english.headers["set-cookie"]
    assert '<html lang="en">' in client.get("/me").text  # remembered
    client.cookies.clear()
    assert '<html lang="en">' in client.get("/me", headers={"accept-language": "en-US,en"}).text
    assert '<html lang="zh-CN">' in client.get("/me", headers={"accept-language": "zh-CN,zh"}).text
    # the engine's bilingual answers reach each page in its language
    assert texts(client.get("/counter?lang=zh").text)["reasons"]["checked_in"] == "签到成功"
    assert texts(client.get("/counter?lang=en").text)["reasons"]["checked_in"] == "Checked in"


def texts(html: str) -> dict:
    return json.loads(re.search(r'<script id="texts" type="application/json">(.*?)</script>', html, re.S)[1])


MEASURE = """() => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((c) => {
      c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c && !c.startsWith("rgba(0, 0, 0, 0)") && c !== "transparent") return c;
    }
    return "rgb(255, 255, 255)";
  };
  const visible = (el) => el.offsetParent !== null && getComputedStyle(el).visibility !== "hidden";
  const out = { small: [], low: [], fontSize: parseFloat(getComputedStyle(document.body).fontSize) };
  for (const el of document.querySelectorAll("button, input, select, a.button")) {
    if (!visible(el) || el.type === "checkbox") continue;
    const r = el.getBoundingClientRect();
    if (r.height < 48 || r.width < 48) out.small.push(el.outerHTML.slice(0, 80) + " " + r.width + "x" + r.height);
  }
  for (const el of document.querySelectorAll("h1, h2, p, label, li, button, a, td, th, span")) {
    if (!visible(el) || !el.textContent.trim()) continue;
    const s = getComputedStyle(el);
    const [a, b] = [lum(s.color), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) out.low.push(el.tagName + " " + el.textContent.trim().slice(0, 30) + " " + ratio.toFixed(2));
  }
  return out;
}"""


@pytest.mark.parametrize("viewport", [TABLET, PHONE], ids=["tablet", "phone"])
def test_every_page_has_big_text_big_targets_and_enough_contrast(open_page, viewport):
    for path in PAGES:
        page = open_page(viewport, path)
        page.wait_for_load_state("networkidle")
        got = page.evaluate(MEASURE)
        assert got["fontSize"] >= 18, (path, got["fontSize"])
        assert got["small"] == [], (path, got["small"])
        assert got["low"] == [], (path, got["low"])
        name = path.strip("/").replace("/", "-") or "home"
        shot(page, f"{name}-{'tablet' if viewport is TABLET else 'phone'}")
