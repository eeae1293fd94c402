"""A partner's meal usage report gives no hidden cell away: whatever the meals of a few days, no
hidden figure can be solved from the shown ones (`tests.reports.disclosure`), the two ways it was
done on the report as it was, and the periods a partner may ask for across reports."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meals.models import FundingAgreement
from orgs import service as orgs_service
from reports import queries
from reports.models import Report
from reports.render import render
from tests.fixtures.builders import staff_token, staff_user
from tests.fixtures.canteen import Canteen
from tests.fixtures.database import truncate
from tests.fixtures.runtime import drain
from tests.reports.disclosure import disclosed

FIRST = date(2030, 6, 3)  # a Monday
AT = {"breakfast": (0, 0), "lunch": (3, 30), "dinner": (10, 0)}  # UTC: 08:00, 11:30, 18:00 local
# the partner's schedule: 5 yuan a meal for 特困 diners, 1 yuan for everyone else at lunch and dinner
SCHEDULE = [
    {"categories": ["tekun"], "slots": ["breakfast", "lunch", "dinner"], "amount": 500},
    {"categories": ["*"], "slots": ["lunch", "dinner"], "amount": 100},
]
KINDS = {"tekun": ("tekun",), "dibao": ("dibao",), "none": ()}


class World(Canteen):
    """The canteen, its enterprise funder a partner with the schedule above, and diners."""

    def __init__(self, rt, client, kinds: list[str]):
        super().__init__(rt, client)
        with rt.tx() as s:
            self.partner = orgs_service.create_partner(s, name="泉心社会企业", now=rt.clock.now()).id
            agreement = s.get(FundingAgreement, self.enterprise)
            agreement.partner_id, agreement.schedule = self.partner, SCHEDULE
            self.people = [
                self.diner(s, "长者" + "甲乙丙丁戊己庚辛壬癸子丑"[n], "1958", KINDS[kind], serial=200 + n)
                for n, kind in enumerate(kinds)
            ]
        staff_user(rt, "partner1", "partner", partner_id=self.partner)
        self.counter = staff_token(client, "counter")

    def eat(self, diner: int, day: date, slot: str, mode: str = "dine_in") -> None:
        hour, minute = AT[slot]
        self.rt.clock.at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        r = self.client.post(
            "/api/v1/scans",
            json={
                "payload": self.card(diner),
                "station_id": self.station,
                "scan_id": str(uuid.uuid4()),
                "mode": mode,
            },
            headers=self.counter,
        )
        assert r.status_code == 200, r.text
        if r.json().get("reason") == "not_eligible":  # no subsidy for this meal: full price
            r = self.client.post(
                "/api/v1/meals",
                json={"diner_id": diner, "meal_point_id": self.point.id, "mode": mode},
                headers=self.counter,
            )
            assert r.status_code == 201, r.text
            return
        assert r.json()["outcome"] == "meal_served", r.text

    def report(self, start: date, end: date, granularity: str, who: str = "partner1") -> tuple[dict, dict]:
        """A report as the API gives it (the partner's, or the hub's not internal one: what the
        hub passes on to funders), and the same built without suppression."""
        self.rt.clock.at = datetime(end.year, end.month, end.day, 4, 0, tzinfo=UTC) + timedelta(days=3)
        who = staff_token(self.client, who)
        ask = {
            "kind": "meal_usage",
            "format": "json",
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "granularity": granularity,
        }
        r = self.client.post("/api/v1/reports", json=ask, headers=who)
        assert r.status_code == 202, r.text
        drain(self.rt)
        body = self.client.get(f"/api/v1/reports/{r.json()['id']}/file", headers=who).json()
        with self.rt.tx() as s:
            stored = s.get(Report, r.json()["id"]).scope
            scope = dataclasses.replace(queries.resolve_scope(s, stored), suppress=False)
            today = self.rt.clock.now().date()
            sheets = queries.meal_usage(s, scope, start, end, granularity, today)
        return body, json.loads(render("json", {}, sheets))


def sheet(body, key):
    return next(s for s in body["sheets"] if s["key"] == key)


def test_one_diner_on_one_day_is_not_read_from_the_budget_or_the_tier(rt, client, clock):
    """The finding: a report for one day on which one 特困 diner had breakfast (the government
    pays no breakfast) showed the funder's period subsidy, 500, in the budget sheet (with the
    schedule's 500/100, one 特困 diner), and its by_tier row was labelled 特困, figures hidden."""
    clock.at = datetime(2030, 6, 3, 0, 0, tzinfo=UTC)
    world = World(rt, client, ["tekun", "none"])
    world.eat(world.people[0], FIRST, "breakfast")
    body, truth = world.report(FIRST, FIRST, "day")
    assert sheet(truth, "budgets")["rows"][0]["period_subsidy"] == 500
    assert disclosed(body, truth) == []
    budget = sheet(body, "budgets")["rows"][0]
    assert budget["period_subsidy"] == "<5" and budget["runs_out_on"] == "<5"
    assert budget["budget_used"] == budget["budget_left"] == "<5"  # it has only ever paid for her
    assert [r["tier"] for r in sheet(body, "by_tier")["rows"]] == ["<5"]
    assert "特困" not in json.dumps(body, ensure_ascii=False)


def test_money_paid_for_one_diner_is_hidden_where_the_meals_are_shown(rt, client, clock):
    """Six breakfasts, one of them a 特困 diner's, the only one the partner pays for: the meals
    describe six diners and show; the partner's 500 describes one and is hidden, in the summary,
    its totals and the budget (where it was shown before)."""
    clock.at = datetime(2030, 6, 3, 0, 0, tzinfo=UTC)
    world = World(rt, client, ["tekun"] + ["none"] * 5)
    for diner in world.people:
        world.eat(diner, FIRST, "breakfast")
    body, truth = world.report(FIRST, FIRST, "day")
    assert disclosed(body, truth) == []
    summary, funder = sheet(body, "summary"), f"funder_{world.enterprise}"
    assert summary["rows"][0]["meals"] == summary["totals"]["meals"] == 6
    assert summary["rows"][0][funder] == summary["totals"][funder] == "<5"
    assert sheet(truth, "budgets")["rows"][0]["period_subsidy"] == 500
    assert sheet(body, "budgets")["rows"][0]["period_subsidy"] == "<5"


def test_a_complementary_row_is_not_given_back_by_its_breakdown(rt, client, clock):
    """The finding: one diner on Monday, six on Tuesday. The summary hid Monday and, so that the
    totals would not give it back, Tuesday; but Tuesday's by_slot and by_mode rows (six diners)
    were shown and added up to Tuesday's row, and the totals minus Tuesday were Monday."""
    clock.at = datetime(2030, 6, 3, 1, 0, tzinfo=UTC)
    world = World(rt, client, ["none"] * 7)
    world.eat(world.people[0], FIRST, "lunch")
    for diner in world.people[1:]:
        world.eat(diner, FIRST + timedelta(days=1), "lunch")
    body, truth = world.report(FIRST, FIRST + timedelta(days=6), "day")
    assert disclosed(body, truth) == []
    summary = sheet(body, "summary")
    assert summary["totals"]["meals"] == 7  # the totals stay: they describe seven people
    assert [r["meals"] for r in summary["rows"]] == ["<5", "<5"]
    assert [r["meals"] for r in sheet(body, "by_slot")["rows"]] == ["<5", "<5"]


def test_the_checker_finds_what_subtraction_gives_away(rt, client, clock):
    """The checker itself, on the same week read without the rules that close the gaps (only
    each row of 1 to 4 people hidden, as a naive report would): it solves Monday's figures."""
    clock.at = datetime(2030, 6, 3, 1, 0, tzinfo=UTC)
    world = World(rt, client, ["none"] * 7)
    world.eat(world.people[0], FIRST, "lunch")
    for diner in world.people[1:]:
        world.eat(diner, FIRST + timedelta(days=1), "lunch")
    _, truth = world.report(FIRST, FIRST + timedelta(days=6), "day")
    naive = json.loads(json.dumps(truth))
    for s in naive["sheets"]:
        for row in s["rows"]:
            if 0 < row.get("diners", 0) < 5:
                for key in ("meals", "diners", "price", "subsidy"):
                    if key in row:
                        row[key] = "<5"
    found = disclosed(naive, truth)
    assert any("('summary', 0, 'meals') = 1 (solved)" in f for f in found), found


@pytest.mark.slow
def test_no_hidden_cell_of_random_meal_days_can_be_solved(rt, client, clock):
    """Random small meal days served through the counter (up to twelve diners of each kind; each
    day a lunch crowd of any size, a few breakfasts and dinners, some meals picked up), reported
    to the partner and shared by the hub, by day, week or month: no hidden figure is determined
    by the shown ones, and no hidden meal count is pinned by their bounds."""

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=12),
        days=st.lists(st.integers(0, 12), min_size=1, max_size=4, unique=True),
        eats=st.data(),
        granularity=st.sampled_from(["day", "week", "month"]),
    )
    def check(kinds, days, eats, granularity):
        truncate(rt)
        rt.redis.flushdb()
        clock.at = datetime(2030, 6, 3, 1, 0, tzinfo=UTC)
        world = World(rt, client, kinds)
        anyone = st.integers(0, len(kinds) - 1)
        for day in sorted(days):
            crowd = st.integers(min(5, len(kinds)), len(kinds))  # small and large lunches alike
            lunch = eats.draw(
                st.one_of(st.integers(0, 4), crowd).map(lambda n: min(n, len(kinds))), label="lunch"
            )
            others = eats.draw(
                st.sets(st.tuples(anyone, st.sampled_from(["breakfast", "dinner"])), max_size=4)
            )
            pick_up = eats.draw(st.sets(anyone, max_size=3), label="picked up")
            meals = {(n, "lunch") for n in range(lunch)} | others
            for n, slot in sorted(meals, key=lambda m: (AT[m[1]], m[0])):
                world.eat(
                    world.people[n],
                    FIRST + timedelta(days=day),
                    slot,
                    "pick_up" if n in pick_up else "dine_in",
                )
        for who in ("partner1", "admin_a"):
            body, truth = world.report(date(2030, 6, 1), date(2030, 6, 30), granularity, who)
            assert disclosed(body, truth) == [], who

    check()


def test_a_partner_cannot_ask_for_periods_whose_difference_is_less_than_whole_months(rt, client, clock):
    """Across reports the checker cannot help: June minus 2-30 June would be 1 June, unsuppressed,
    and a running month asked on the 10th and again on the 11th would be the 10th's meals. A
    partner's report that overlaps one it has is refused unless both periods had ended and each
    one's days outside the other are whole months."""
    clock.at = datetime(2030, 6, 3, 1, 0, tzinfo=UTC)
    World(rt, client, ["none"])  # the partner and its point
    clock.at = datetime(2030, 7, 5, 2, 0, tzinfo=UTC)
    partner, admin = staff_token(client, "partner1"), staff_token(client, "admin_a")

    def ask(who, start, end, kind="meal_usage", **extra):
        body = {"kind": kind, "format": "json", "period_start": start, "period_end": end, **extra}
        return client.post("/api/v1/reports", json=body, headers=who)

    def refused(r):
        return r.status_code == 422 and r.json()["code"] == "period_overlaps_earlier"

    assert ask(partner, "2030-06-01", "2030-06-30").status_code == 202
    assert refused(ask(partner, "2030-06-02", "2030-06-30"))
    assert refused(ask(partner, "2030-05-20", "2030-06-30"))  # 20-31 May: not a whole month
    assert ask(partner, "2030-05-01", "2030-06-30").status_code == 202  # one whole month more
    assert ask(partner, "2030-06-01", "2030-06-30", granularity="day").status_code == 202  # the same
    assert ask(partner, "2030-06-02", "2030-06-30", kind="volunteer_contribution").status_code == 202
    assert ask(admin, "2030-06-02", "2030-06-30").status_code == 202  # the hub sees its own records
    # a month still running: asked once, not again (the difference is the meals in between)
    assert ask(partner, "2030-07-01", "2030-07-31").status_code == 202
    drain(rt)
    clock.at += timedelta(minutes=11)  # not given again: it would be built anew
    assert refused(ask(partner, "2030-07-01", "2030-07-31"))
    assert refused(ask(partner, "2030-07-01", "2030-07-04"))
    assert ask(partner, "2030-08-01", "2030-08-31").status_code == 202  # no overlap
