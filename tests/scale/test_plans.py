"""Hot queries cost what their scope holds, not what the database holds (issue 24): each operation
below runs once for real (the API, the scan door, the report jobs) on a small scoped world with
one county of other data beside it (N), its statements captured as sent; then the database grows
to eight counties of other data (8N) and each captured statement is EXPLAINed again (planned for
its values, and at the scan door also once for any, as its connections plan them). No statement
scans a large table whole, and none touches much more at 8N than at N (shared buffers, rows).
PostgreSQL only: holds with or without monthly partitions (a whole scan of an empty or small
partition is no finding; buffers are counted over the whole plan)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from linli.clock import FixedClock, SystemClock
from meals import categories
from tests.fixtures.database import truncate
from tests.scale.plans import captured, explain, explained
from tests.scale.world import JULY_2, SETTLED, World, grow
from workers import context

JUNE = {"period_start": "2030-06-01", "period_end": "2030-06-30"}
SLACK_BUFFERS, SLACK_ROWS = 8, 50  # a few pages (an index one level deeper) and rows more at 8N


def _scan_door(w, headers):
    assert w.volunteer_scan(headers)["outcome"] == "checked_out"  # the fast path: a check-out
    assert w.volunteer_scan(headers)["outcome"] == "duplicate"  # and a double tap


def _counter(w, headers):
    assert w.card_scan(w.card(w.grandpa), headers)["outcome"] == "meal_served"


def _get(path):
    def run(w, headers):
        r = w.client.get(path(w), headers=headers)
        assert r.status_code == 200, r.text

    return run


def _claim(w, headers):
    r = w.client.post(f"/api/v1/delivery-runs/{w.run}/claim", headers=headers)
    assert r.status_code == 200, r.text
    assert [stop["diner_id"] for stop in r.json()["stops"]] == [w.grandma]


def _report(**period):
    return lambda w, headers: w.report(headers, **period)


YEAR = {"period_start": "2030-01-01", "period_end": "2030-12-31"}
# name: (when, who, what); each runs once, its statements captured
OPERATIONS = {
    "scan door (volunteer, fast path)": (JULY_2 + timedelta(hours=3), "counter", _scan_door),
    "counter (diner's meal)": (JULY_2 + timedelta(hours=1), "counter", _counter),  # 11:30, lunch
    "balance (my points)": (SETTLED, "volunteer", _get(lambda w: "/api/v1/me/points")),
    "balance (my transfers)": (SETTLED, "volunteer", _get(lambda w: "/api/v1/me/points/transfers")),
    "delivery runs (a volunteer's list)": (SETTLED, "volunteer", _get(lambda w: "/api/v1/delivery-runs")),
    "delivery run taken (its stops)": (SETTLED, "volunteer", _claim),
    "partner month report": (SETTLED, "partner1", _report(**JUNE)),
    "hub month report": (SETTLED, "admin_a", _report(**JUNE)),
    "county year report": (SETTLED, "county", _report(**YEAR)),
    "partner dashboard": (SETTLED, "partner1", _get(lambda w: "/api/v1/dashboards/partner?month=2030-06")),
    "hub dashboard": (SETTLED, "admin_a", _get(lambda w: f"/api/v1/dashboards/hubs/{w.county.hub_a}")),
    "volunteer dashboard": (SETTLED, "volunteer", _get(lambda w: "/api/v1/dashboards/me")),
}


# the scan door's: its connections plan each prepared statement once, for any values (`Runtime.door_engine`)
DOOR = ("scan door (volunteer, fast path)", "counter (diner's meal)")


def plans(url, name, statements):
    """Each statement planned for its values, and at the scan door once for any values too."""
    return explain(url, statements) + (explain(url, statements, generic=True) if name in DOOR else [])


@pytest.fixture(scope="module")
def measured(session_rt, app):
    """{operation: [(plan at N, plan at 8N), ...]}, one pair per statement it ran and way of
    planning it."""
    rt = session_rt
    if rt.settings.is_sqlite:
        pytest.skip("EXPLAIN plans are PostgreSQL's")
    truncate(rt)
    categories.forget()
    rt.redis.flushdb()
    context.set_runtime(rt)
    rt.clock = clock = FixedClock(SETTLED)
    try:
        with TestClient(app=app) as client:
            world = World(rt, client, clock)
            clock.at = SETTLED
            grow(rt, world, range(2, 3))
            statements, at_n = {}, {}
            for name, (at, who, run) in OPERATIONS.items():
                clock.at = at
                headers = world.token(who)
                rt.redis.flushdb()  # the dashboards' cache, the callers' limits
                with captured() as got:
                    run(world, headers)
                statements[name] = explained(got)
                at_n[name] = plans(rt.settings.database_url, name, statements[name])
            clock.at = SETTLED
            grow(rt, world, range(3, 10))
            yield {
                name: list(
                    zip(at_n[name], plans(rt.settings.database_url, name, statements[name]), strict=True)
                )
                for name in OPERATIONS
            }
    finally:
        rt.clock = SystemClock()
        context.set_runtime(None)
        truncate(rt)


def table(measured) -> str:
    """The figures, for a person: buffers and rows of each operation at N and 8N."""
    lines = [
        "| operation | statements | buffers N | buffers 8N | rows N | rows 8N |",
        "|---|---|---|---|---|---|",
    ]
    for name, pairs in measured.items():
        n = sum(a.buffers for a, _ in pairs), sum(b.buffers for _, b in pairs)
        r = sum(a.rows for a, _ in pairs), sum(b.rows for _, b in pairs)
        lines.append(f"| {name} | {len(pairs)} | {n[0]} | {n[1]} | {r[0]} | {r[1]} |")
    return "\n".join(lines)


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_no_statement_scans_a_large_table_whole(measured, name):
    pairs = measured[name]
    assert pairs, "the operation ran no statement we could explain"
    found = [(b.seq_scans, b.sql, *b.shape) for _, b in pairs if b.seq_scans]
    assert not found, "\n".join(str(line) for f in found for line in f)


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_cost_follows_the_scope_not_the_database(measured, name):
    print("\n" + table(measured))
    grew = [
        (
            f"buffers {a.buffers} -> {b.buffers}, rows {a.rows} -> {b.rows}",
            b.sql,
            "N:",
            *a.shape,
            "8N:",
            *b.shape,
        )
        for a, b in measured[name]
        if b.buffers > 1.5 * a.buffers + SLACK_BUFFERS or b.rows > 1.5 * a.rows + SLACK_ROWS
    ]
    assert not grew, "\n".join(line for g in grew for line in g)


def test_the_scan_door_plans_once_for_any_values_and_the_rest_for_theirs(session_rt):
    rt = session_rt
    if rt.settings.is_sqlite:
        pytest.skip("PostgreSQL's plan cache")
    with rt.statements() as door:
        assert door.execute(text("SHOW plan_cache_mode"), {}).fetchone()[0] == "force_generic_plan"
    with rt.tx(door=True) as s:
        assert s.scalar(text("SHOW plan_cache_mode")) == "force_generic_plan"
    with rt.tx() as s:
        assert s.scalar(text("SHOW plan_cache_mode")) == "auto"
