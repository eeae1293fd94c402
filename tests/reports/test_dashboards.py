"""Dashboards (看板): the partner's, the hub's and the volunteer's numbers equal the reports' and the
records', suppressed where the reports suppress, scoped like the reports, cached in Redis."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from redis import Redis

from meals import service as meals_service
from meals.models import MealPoint
from reports import dashboards
from tests.fixtures.builders import staff_token, staff_user, volunteer_token
from tests.fixtures.canteen import LUNCH, Canteen
from tests.fixtures.hub import PHONE, START, Hub
from tests.fixtures.month import Month

SETTLED_JUNE = datetime(2030, 7, 5, 2, 0, tzinfo=UTC)


@pytest.fixture
def month(client, rt, clock):
    return Month(rt, client, clock)


def chart(board, key):
    return next(c for c in board["charts"] if c["key"] == key)


def sheet(body, key):
    return next(s for s in body["sheets"] if s["key"] == key)


def series(c, name):
    return next(s["data"] for s in c["series"] if s["name"] == name)


def test_a_partners_dashboard_is_its_reports_cells_suppressed_alike(month, client, clock):
    clock.at = SETTLED_JUNE
    partner = staff_token(client, "partner1")
    board = client.get("/api/v1/dashboards/partner?month=2030-06", headers=partner)
    assert board.status_code == 200, board.text
    board = board.json()
    assert (board["period_start"], board["period_end"]) == ("2030-06-01", "2030-06-30")
    for private in ("王桂英", "李国华", "特困长者甲", "1380"):
        assert private not in str(board)

    # meals per day: one series per meal point, each day the report's cell (granularity day)
    _, got = month.report(partner, granularity="day")
    rows = sheet(got.json(), "summary")["rows"]
    per_day = chart(board, "meals_by_period")
    assert len(per_day["x"]) == 30 and [s["name"] for s in per_day["series"]] == [month.point.name]
    data = dict(zip(per_day["x"], per_day["series"][0]["data"], strict=True))
    assert {r["period"]: r["meals"] for r in rows} == {
        d: v for d, v in data.items() if d in {r["period"] for r in rows}
    }
    assert sum(1 for v in data.values() if v != 0) == 4
    assert data["2030-06-30"] == "<5"  # the dinner of three diners, hidden in the report and here
    assert all(v == 0 for d, v in data.items() if d not in {r["period"] for r in rows})

    # the month's breakdowns and budgets: the month report's cells
    _, got = month.report(partner, granularity="month")
    report = got.json()
    modes = chart(board, "by_mode")
    assert modes["x"] == [month.point.name]
    shown = {r["mode"]: r["meals"] for r in sheet(report, "by_mode")["rows"] if r["mode"] != "<5"}
    assert {s["name"]: s["data"][0] for s in modes["series"]} == shown
    tiers = {s["name"]: s["data"][0] for s in chart(board, "by_tier")["series"]}
    assert tiers == {
        f"{r['funder']} · {r['tier']}": r["meals"]
        for r in sheet(report, "by_tier")["rows"]
        if r["tier"] != "<5"
    }
    budget = sheet(report, "budgets")["rows"]
    use = chart(board, "budget_use")
    assert use["x"] == [r["funder"] for r in budget] == ["泉心社会企业"]
    assert series(use, "已用 used") == [r["budget_used"] for r in budget]
    assert series(use, "剩余 left") == [r["budget_left"] for r in budget]
    totals = sheet(report, "summary")["totals"]
    figures = {f["key"]: f["value"] for f in board["figures"]}
    assert figures["meals"] == totals["meals"] == month.expected()["meals"]
    assert figures["subsidy"] == totals[f"funder_{month.enterprise}"]
    # nothing the report hides reaches the charts as a number
    hidden = [(c["key"], s["name"]) for c in board["charts"] for s in c["series"] if "<5" in s["data"]]
    assert ("meals_by_period", month.point.name) in hidden

    # one chart's numbers as CSV: what a spreadsheet opens, the hidden cell kept hidden
    got = client.get(
        "/api/v1/dashboards/partner?month=2030-06&chart=meals_by_period&format=csv", headers=partner
    )
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert table[0] == ["日期 day", month.point.name] and ["2030-06-30", "<5"] in table
    # a name given by a hub's admin cannot run as a formula in Excel
    with month.rt.tx() as s:
        s.get(MealPoint, month.point.id).name = '=HYPERLINK("http://x")'
    month.rt.redis.flushdb()
    got = client.get("/api/v1/dashboards/partner?month=2030-06&chart=by_mode&format=csv", headers=partner)
    table = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert table[1][0] == '\'=HYPERLINK("http://x")'
    weekly = client.get("/api/v1/dashboards/partner?month=2030-06&granularity=week", headers=partner).json()
    assert chart(weekly, "meals_by_period")["x"][0] == "2030-05-27"  # the week of 1 June, from Monday


def test_a_partner_sees_only_settled_months_and_others_see_no_partner_board(month, client, clock):
    partner = staff_token(client, "partner1")
    clock.at = datetime(2030, 7, 2, 2, 0, tzinfo=UTC)  # June ended a day ago: not settled
    r = client.get("/api/v1/dashboards/partner?month=2030-06", headers=partner)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "month_not_settled"
    # by default, the last settled month (May)
    assert client.get("/api/v1/dashboards/partner", headers=partner).json()["period_start"] == "2030-05-01"
    for bad in ("2030-13", "June", "2030-6"):
        r = client.get(f"/api/v1/dashboards/partner?month={bad}", headers=partner)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", bad
    assert client.get("/api/v1/dashboards/partner?granularity=hour", headers=partner).status_code == 422
    admin = staff_token(client, "admin_a")
    r = client.get("/api/v1/dashboards/partner", headers=admin)
    assert r.status_code == 403 and r.json()["code"] == "not_a_partner"
    clock.at = SETTLED_JUNE
    r = client.get("/api/v1/dashboards/partner?month=2030-06&chart=nothing", headers=partner)
    assert r.status_code == 404 and r.json()["code"] == "chart_not_found"


def test_a_hubs_dashboard_counts_the_month_like_its_report_and_hides_small_days(month, client, clock):
    clock.at = datetime(2030, 6, 30, 12, 30, tzinfo=UTC)  # 20:30 on 30 June: three diners at dinner
    admin = staff_token(client, "admin_a")
    r = client.get(f"/api/v1/dashboards/hubs/{month.county.hub_a}", headers=admin)
    assert r.status_code == 200, r.text
    board = r.json()
    meals = chart(board, "month_meals")
    by_day = dict(zip(meals["x"], series(meals, "用餐人次 meals served"), strict=True))
    assert sorted(v for v in by_day.values() if v not in (0, "<5")) == [14, 14]
    assert by_day["2030-06-30"] == "<5"  # three diners
    # the lone small day brings the smallest other day with it: no subtraction from the total
    assert sum(1 for v in by_day.values() if v == "<5") == 2
    figures = {f["key"]: f["value"] for f in board["figures"]}
    assert figures["meals_month"] == month.expected()["meals"]
    assert figures["meals_today"] == "<5"  # today (30 June) three diners so far
    today = chart(board, "today_by_point")
    assert today["x"] == [month.point.name] and series(today, "已供餐 served") == ["<5"]
    # the internal report of the same month, day by day: every shown day equals it
    _, got = month.report(admin, granularity="day", internal=True, period_end="2030-06-30")
    exact = {r["period"]: r["meals"] for r in sheet(got.json(), "summary")["rows"]}
    assert {d: v for d, v in by_day.items() if v not in (0, "<5")} == {
        d: v for d, v in exact.items() if by_day[d] != "<5" and v
    }
    budget = chart(board, "budget_use")
    assert len(budget["x"]) == 3  # government, enterprise and the charity co-funding the point

    # another hub's admin, a station-bound coordinator, a partner: refused; no such organization: 404
    staff_user(month.rt, "admin_b", "admin", org_id=month.county.hub_b)
    for who, code in (
        ("admin_b", "outside_your_scope"),
        ("counter", "staff_only"),
        ("partner1", "staff_only"),
    ):
        r = client.get(f"/api/v1/dashboards/hubs/{month.county.hub_a}", headers=staff_token(client, who))
        assert r.status_code == 403 and r.json()["code"] == code, who
    assert client.get("/api/v1/dashboards/hubs/999999", headers=admin).json()["code"] == "org_not_found"


def test_a_hubs_day_shows_volunteers_on_shift_forgotten_check_outs_and_stars(client, rt, clock):
    hub = Hub(client, rt)
    clock.at = START
    a = hub.attendance(140)
    hub.settle(a)
    staff_user(rt, "admin_a", "admin", org_id=hub.county.hub_a)
    clock.at = START + timedelta(hours=2)
    board = client.get(
        f"/api/v1/dashboards/hubs/{hub.county.hub_a}", headers=staff_token(client, "admin_a")
    ).json()
    figures = {f["key"]: f["value"] for f in board["figures"]}
    assert figures["volunteer_minutes_month"] == 140 and figures["filings_waiting"] == 0
    hours = chart(board, "month_volunteer_hours")
    assert dict(zip(hours["x"], hours["series"][0]["data"], strict=True))["2030-06-03"] == 140
    points = chart(board, "month_points")
    assert dict(zip(points["x"], series(points, "发放 earned"), strict=True))["2030-06-03"] == 22
    stars = chart(board, "star_levels")
    assert stars["series"][0]["data"][0] == 1  # the one filed volunteer, no star yet
    # a second volunteer checked in and never checked out: counted now, and forgotten once it ends
    hub.attendance(0)
    with rt.tx() as s:
        from sqlalchemy import update

        from volunteer.models import Attendance

        s.execute(update(Attendance).where(Attendance.minutes == 0).values(state="open", checked_out_at=None))
    rt.redis.flushdb()
    board = client.get(
        f"/api/v1/dashboards/hubs/{hub.county.hub_a}", headers=staff_token(client, "admin_a")
    ).json()
    figures = {f["key"]: f["value"] for f in board["figures"]}
    assert (figures["checked_in"], figures["forgotten_checkouts"]) == (1, 0)
    clock.at = START + timedelta(hours=7)  # the activity ended at 16:30
    rt.redis.flushdb()
    board = client.get(
        f"/api/v1/dashboards/hubs/{hub.county.hub_a}", headers=staff_token(client, "admin_a")
    ).json()
    assert {f["key"]: f["value"] for f in board["figures"]}["forgotten_checkouts"] == 1


def test_a_volunteers_year_is_their_awards_by_month(client, rt, clock):
    hub = Hub(client, rt)
    for days, minutes in ((0, 140), (1, 60), (40, 120)):
        a = hub.attendance(minutes, start=START + timedelta(days=days))
        hub.settle(a, now=START + timedelta(days=days, hours=7))
    clock.at = START + timedelta(days=60)  # 2 August 2030
    me = volunteer_token(rt, PHONE)
    board = client.get("/api/v1/dashboards/me", headers=me).json()
    hours = chart(board, "hours_by_month")
    assert hours["x"][-1] == "2030-08" and len(hours["x"]) == 12
    by_month = dict(zip(hours["x"], hours["series"][0]["data"], strict=True))
    assert (by_month["2030-06"], by_month["2030-07"], by_month["2030-08"]) == (200, 120, 0)
    figures = {f["key"]: f["value"] for f in board["figures"]}
    assert figures["service_minutes"] == 320 and figures["star_level"] == 0
    earned = series(chart(board, "points_by_month"), "获得 earned")
    assert sum(earned) == figures["balance"] > 0
    r = client.get("/api/v1/dashboards/me", headers=staff_token(client, "counter"))
    assert r.status_code == 403 and r.json()["code"] == "volunteers_only"
    got = client.get("/api/v1/dashboards/me?chart=hours_by_month&format=csv", headers=me)
    assert got.status_code == 200 and "2030-06" in got.content.decode("utf-8-sig")


def test_dashboards_are_kept_in_redis_briefly_and_built_without_it(client, rt, clock):
    hub = Hub(client, rt)
    clock.at = START + timedelta(days=1)
    me = volunteer_token(rt, PHONE)
    first = client.get("/api/v1/dashboards/me", headers=me).json()
    keys = [k.decode() for k in rt.redis.keys(dashboards.KEY + "me:*")]
    assert len(keys) == 1 and 0 < rt.redis.ttl(keys[0]) <= dashboards.TTL["me"]
    hub.settle(hub.attendance(90))  # new minutes: the kept board answers until it expires
    assert client.get("/api/v1/dashboards/me", headers=me).json() == first
    rt.redis.delete(keys[0])
    assert client.get("/api/v1/dashboards/me", headers=me).json()["figures"] != first["figures"]

    # a Redis that refuses connections costs only the build: the board is made and answered
    nowhere = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    built = []
    assert dashboards.cached(nowhere, "x", 5, lambda: built.append(1) or {"ok": 1}) == {"ok": 1}
    assert built == [1]


def test_month_and_settled_month_in_shanghai():
    assert dashboards.settled_month(date(2030, 7, 2)) == date(2030, 5, 1)
    assert dashboards.settled_month(date(2030, 7, 3)) == date(2030, 6, 1)
    assert dashboards.month_of("2030-02", "month", date(2030, 1, 1)) == (date(2030, 2, 1), date(2030, 2, 28))


def test_a_hubs_day_counts_a_diner_at_two_points_once_before_showing_it(client, rt, clock):
    """Few diners who ate at two meal points the same day are 3 people, not 6: hidden, with the
    month's total (the day's closes count each point's diners; the small day is counted exactly)."""
    clock.at = LUNCH
    canteen = Canteen(rt, client)
    with rt.tx() as s:
        second = meals_service.create_meal_point(
            s,
            org_id=canteen.county.org_a,
            name="泉塘二食堂",
            address="泉塘街道泉塘路2号",
            daily_capacity=100,
            slots=[meals_service.SlotInput("dinner", "17:00", "20:00", 1200)],
            now=LUNCH,
        )
        third = canteen.diner(s, "赵老人", "1950", (), serial=130)
    staff_user(rt, "admin_a2", "admin", org_id=canteen.county.hub_a)
    diners = [canteen.grandma, canteen.grandpa, third]
    for d in diners:
        assert canteen.scan(canteen.card(d))["outcome"] == "meal_served"
    clock.at = LUNCH + timedelta(hours=6)  # 17:30 local: dinner at the second point, at full price
    admin = staff_token(client, "admin_a2")  # the hub's admin serves anyone of the hub
    for d in diners:
        got = client.post("/api/v1/meals", json={"diner_id": d, "meal_point_id": second.id}, headers=admin)
        assert got.status_code == 201, got.text
    clock.at = LUNCH + timedelta(hours=12)  # the day closed at both points: numbers from the closes
    from workers.jobs import close_meal_days

    assert close_meal_days() >= 2
    board = client.get(f"/api/v1/dashboards/hubs/{canteen.county.hub_a}", headers=admin).json()
    meals = chart(board, "month_meals")
    day = (LUNCH + timedelta(hours=8)).date().isoformat()
    by_day = dict(zip(meals["x"], series(meals, "用餐人次 meals served"), strict=True))
    assert by_day[day] == "<5"  # 6 meals, 6 diners point by point, but 3 people
    assert {f["key"]: f["value"] for f in board["figures"]}["meals_month"] == "<5"


def test_each_caller_may_ask_for_dashboards_so_often(client, rt, clock, monkeypatch):
    """A page refreshing every 30 s asks 120 times an hour; past the limit (600, 2 here) 429."""
    from api import dashboards as api_dashboards

    Hub(client, rt)
    monkeypatch.setattr(api_dashboards, "ASKS_PER_HOUR", 2)
    me = volunteer_token(rt, PHONE)
    assert [client.get("/api/v1/dashboards/me", headers=me).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/api/v1/dashboards/me", headers=me).json()["code"] == "rate_limited"
