"""The dashboards (看板) in Chromium: the partner's, the hub's on /admin and full screen on /wall,
and the volunteer's year on /me. Each chart is an SVG drawn by ECharts with as many series as the
API answers and the API's numbers (fen in yuan, minutes in hours); a cell the API hides ("<5") is a
gap in the chart, never a number, and "<5" in the table; the CSV link downloads the API's CSV; the
wall fits 1920x1080 without scrolling; no Content-Security-Policy violation on the way."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from meals.models import MealPoint
from points import awards
from tests.fixtures.builders import (
    PASSWORD,
    file_volunteer,
    make_activity,
    make_county,
    make_station,
    volunteer_token,
)
from tests.fixtures.month import Month
from tests.fixtures.pages import LAPTOP, PHONE, shot
from volunteer.models import Attendance

pytestmark = pytest.mark.slow  # a real browser: left out of `make test-quick`

WAIT = 15_000  # ms: generous, the machine is shared

WALL = {"width": 1920, "height": 1080}
SETTLED = datetime(2030, 7, 4, 2, 0, tzinfo=UTC)  # June 2030 has settled (two days after it ended)

FETCH = """async ([face, path, csv]) => {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + localStorage.getItem("linli_token_" + face) } });
  if (!r.ok) throw new Error(path + " " + r.status);
  return csv ? r.text() : r.json();
}"""
DRAWN = """() => Object.fromEntries([...document.querySelectorAll(".chart[data-chart]")].map((el) => [
  el.dataset.chart,
  { svg: el.querySelectorAll("svg path").length, series: echarts.getInstanceByDom(el).getOption().series.map((s) => s.data) },
]))"""


def watch(page) -> list[str]:
    """The console's complaints (a CSP violation is one)."""
    said: list[str] = []
    page.on("console", lambda m: said.append(m.text) if m.type in ("error", "warning") else None)
    return said


def log_in(page, username: str) -> None:
    page.fill("#login-form [name=username]", username)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")


def plotted(unit: str, v):
    """What the chart must hold for the API's value (dash.js `plotted`, the same arithmetic)."""
    if not isinstance(v, int):
        return None  # "<5" and null are gaps
    if unit == "fen":
        return v / 100
    if unit == "minutes":
        return math.floor(v / 6 + 0.5) / 10
    return v


def same_as_api(page, face: str, path: str) -> dict:
    """Every chart of the page against the API's answer for the same token: an SVG, as many
    series, the same numbers, "<5" only as a gap and in the table. Returns the API's answer."""
    api = page.evaluate(FETCH, [face, path, False])
    assert api["charts"]
    page.wait_for_function(
        "n => document.querySelectorAll('.chart[data-chart] svg').length >= n", arg=len(api["charts"])
    )
    drawn = page.evaluate(DRAWN)
    assert set(drawn) == {c["key"] for c in api["charts"]}
    for chart in api["charts"]:
        got = drawn[chart["key"]]
        assert got["svg"] > 0, chart["key"]
        assert len(got["series"]) == len(chart["series"]), chart["key"]
        for s, data in zip(chart["series"], got["series"], strict=True):
            assert data == [plotted(chart["unit"], v) for v in s["data"]], (chart["key"], s["key"])
        hidden = sum(v == "<5" for s in chart["series"] for v in s["data"])
        cells = page.locator(f"[data-table='{chart['key']}'] td[data-suppressed]")
        expect(cells).to_have_count(hidden)
        if hidden:
            expect(cells.first).to_have_text("<5")
    return api


def suppressed_somewhere(api: dict) -> bool:
    return any(v == "<5" for c in api["charts"] for s in c["series"] for v in s["data"])


def downloads_csv(page, face: str, path: str, key: str) -> str:
    with page.expect_download() as got:
        page.click(f"[data-csv='{key}']")
    text = open(got.value.path(), encoding="utf-8-sig", newline="").read()  # as it came
    sep = "&" if "?" in path else "?"
    api = page.evaluate(FETCH, [face, f"{path}{sep}chart={key}&format=csv", True])
    assert text == api.removeprefix("\ufeff")
    return text


def no_csp_violation(said: list[str]) -> None:
    assert not [m for m in said if "Content Security Policy" in m], said


def test_the_partner_sees_its_month_as_charts_with_small_cells_hidden(rt, client, clock, open_page):
    month = Month(rt, client, clock)  # June 2030 at a point it co-funds; 3 diners at dinner on 30 June
    with rt.tx() as s:  # a name as given, ending in English: shown whole, never split by language
        s.get(MealPoint, month.point.id).name = "泉心食堂 Point 2"
    clock.at = SETTLED
    portal = open_page(LAPTOP, "/partner")
    said = watch(portal)
    log_in(portal, "partner1")
    expect(portal.locator("#partner-dash .chart svg").first).to_be_visible(timeout=WAIT)
    api = same_as_api(portal, "partner", "/api/v1/dashboards/partner")
    assert api["period_start"] == "2030-06-01"
    assert suppressed_somewhere(api)  # the dinner of 3 on 30 June
    shot(portal, "partner-dashboard")
    # 表格 shows the chart's numbers, a hidden cell as "<5"
    portal.click("[data-chart-tile=meals_by_period] summary")
    table = portal.locator("[data-table=meals_by_period]")
    expect(table.locator("caption")).to_have_text("每日用餐人次")
    expect(table.locator("thead th").nth(1)).to_have_text("泉心食堂 Point 2")
    expect(table.locator("td[data-suppressed]").first).to_be_visible()
    csv = downloads_csv(portal, "partner", "/api/v1/dashboards/partner", "meals_by_period")
    assert "<5" in csv
    # week by week for the month picked
    portal.fill("#dash-form [name=month]", "2030-06")
    portal.select_option("#dash-form [name=granularity]", "week")
    portal.click("#dash-form button[type=submit]")
    expect(portal.locator(".chart[data-chart=meals_by_period]")).to_be_visible(timeout=WAIT)
    portal.wait_for_load_state("networkidle")
    same_as_api(portal, "partner", "/api/v1/dashboards/partner?month=2030-06&granularity=week")
    expect(portal.locator("[data-chart-tile=meals_by_period] details")).to_have_attribute(
        "open", ""
    )  # kept open
    no_csp_violation(said)


def test_the_hub_dashboard_on_admin_and_the_wall_fits_1920x1080(rt, client, clock, open_page):
    month = Month(rt, client, clock)
    clock.at = SETTLED
    hub = month.county.hub_a
    admin = open_page(LAPTOP, "/admin")
    said = watch(admin)
    log_in(admin, "admin_a")
    admin.click("[data-tab=dashboard]")
    expect(admin.locator("#hub-dash .chart svg").first).to_be_visible(timeout=WAIT)
    admin.select_option("#dash-form [name=org]", str(hub))
    admin.fill("#dash-form [name=month]", "2030-06")
    admin.dispatch_event("#dash-form [name=month]", "change")
    expect(admin.locator(".dash-meta")).to_contain_text("2030-06-01", timeout=WAIT)
    path = f"/api/v1/dashboards/hubs/{hub}?month=2030-06"
    api = same_as_api(admin, "admin", path)
    assert suppressed_somewhere(api)  # 30 June: 3 diners
    expect(admin.locator("#wall-link")).to_have_attribute("href", f"/wall/{hub}")
    admin.locator("#dash-form [name=month]").blur()
    shot(admin, "admin-dashboard")
    downloads_csv(admin, "admin", path, "month_meals")
    no_csp_violation(said)

    # the wall: the same login (this browser's localStorage), full screen at 1920x1080
    token = admin.evaluate("localStorage.getItem('linli_token_admin')")
    wall = open_page(WALL, f"/wall/{hub}?month=2030-06", fake_time=datetime.now(UTC))
    said = watch(wall)
    expect(wall.locator("#wall-login")).to_be_visible(timeout=WAIT)  # a new browser: no login yet
    expect(wall.locator("#wall-login a")).to_have_attribute("href", "/admin")
    wall.evaluate("t => localStorage.setItem('linli_token_admin', t)", token)
    wall.reload()
    expect(wall.locator("#wall-title")).to_have_text("泉塘街道服务中心", timeout=WAIT)
    same_as_api(wall, "admin", path)
    wall.wait_for_load_state("networkidle")
    size = wall.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.scrollHeight]")
    assert size[0] <= WALL["width"] and size[1] <= WALL["height"], size
    for el in wall.locator(".chart").all():  # every chart on the screen, none squeezed away
        box = el.bounding_box()
        assert box["height"] > 150 and box["y"] + box["height"] <= WALL["height"], box
    expect(wall.locator("#wall-clock")).not_to_be_empty()
    shot(wall, "wall")
    # fetched again after refresh_seconds (30 s on the wall's clock)
    asked = []
    wall.on("request", lambda r: asked.append(r.url) if "/api/v1/dashboards/hubs/" in r.url else None)
    wall.clock.run_for(api["refresh_seconds"] * 1000 + 1000)
    wall.wait_for_load_state("networkidle")
    assert len(asked) == 1, asked
    # in English the titles are the English halves of the API's bilingual ones
    wall.goto(f"/wall/{hub}?month=2030-06&lang=en")
    expect(wall.locator("[data-chart-tile=month_meals] h3")).to_have_text(
        "meals per day this month", timeout=WAIT
    )
    expect(wall.locator("[data-figure=meals_today] .figure-title")).to_have_text("meals today")
    no_csp_violation(said)


ME = "13807310066"


def test_my_year_hours_points_and_the_next_star(rt, clock, open_page):
    county = make_county(rt)
    now = clock.now()
    hall = make_station(rt, county.org_a, name="泉塘社区活动中心")
    clock.at = now - timedelta(days=100)
    volunteer = file_volunteer(rt, ME, county.open_team, name="赵春兰")
    # two services: 3 hours about three months ago, 2 hours yesterday (points awarded)
    for days, minutes in ((95, 180), (1, 120)):
        start = now - timedelta(days=days)
        clock.at = start
        activity = make_activity(rt, county.org_a, hall, start, hours=4, title="探访长者")
        with rt.tx() as s:
            a = Attendance(
                activity_id=activity,
                volunteer_id=volunteer,
                station_id=hall,
                state="closed",
                checked_in_at=start,
                checked_out_at=start + timedelta(minutes=minutes),
                minutes=minutes,
                flagged=False,
                created_at=start,
            )
            s.add(a)
            s.flush()
            awards.settle_attendance(
                s, a.id, f"attendance:{a.id}", now=start + timedelta(minutes=minutes), tz=rt.settings.tz
            )
    clock.at = now
    phone = open_page(PHONE, "/me")
    said = watch(phone)
    token = volunteer_token(rt, ME)["Authorization"].split()[1]
    phone.evaluate("t => localStorage.setItem('linli_token_me', t)", token)
    phone.reload()
    expect(phone.locator("#hello")).to_contain_text("赵春兰", timeout=WAIT)
    phone.click("[data-tab=year]")
    expect(phone.locator("#year-dash .chart svg").first).to_be_visible(timeout=WAIT)
    api = same_as_api(phone, "me", "/api/v1/dashboards/me")
    hours = next(c for c in api["charts"] if c["key"] == "hours_by_month")
    assert len(hours["x"]) == 12 and sum(hours["series"][0]["data"]) == 300
    figures = {f["key"]: f["value"] for f in api["figures"]}
    bar = phone.locator("#star-progress")
    if figures["next_level_hours"] is None:
        expect(phone.locator("#year-progress")).to_contain_text("已达最高星级")
    else:
        goal = figures["next_level_hours"] * 60
        assert float(bar.get_attribute("max")) == goal
        assert float(bar.get_attribute("value")) == goal - figures["minutes_to_go"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(phone, "phone-year")
    downloads_csv(phone, "me", "/api/v1/dashboards/me", "hours_by_month")
    no_csp_violation(said)
