"""Report building at county scale (报表基准), on PostgreSQL.

On a copy of `linli demo --scale county` (18 hubs, 1,184 organizations, 148 meal points, a year
of lunches: about 1.3 million meals; see bench/common.py), for last month's `meal_usage`:
- through the real server and worker (`linli serve` + `linli worker`): from `POST /api/v1/reports`
  to `done`, for one partner and for the whole county;
- the job's own work in this process (`reports.service.build`), with its peak Python memory
  (tracemalloc) for a month and for the whole year: memory follows the number of rows of the
  report, not the number of meals;
- beside one hand-tuned SQL query computing the same meal breakdowns and their distinct totals
  (GROUPING SETS, PostgreSQL only), in the same run.
Writes its section of docs/performance.md; returns its summary rows.

    .venv/bin/python bench/reports.py [--repeat 3] [--quick]
"""

from __future__ import annotations

import secrets
import statistics
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import httpx  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from bench import common  # noqa: E402

NAME = "reports"

HAND_TUNED = text(
    """
    SELECT m.meal_point_id, m.slot, m.mode,
           count(*) AS meals, count(DISTINCT m.diner_id) AS diners,
           sum(m.price) AS price, sum(m.paid) AS paid, sum(m.subsidy) AS subsidy,
           NULL::bigint AS agreement_id, NULL AS tier
    FROM meals m
    WHERE m.meal_point_id = ANY(:points) AND m.service_day BETWEEN :start AND :end AND m.status = 'served'
    GROUP BY GROUPING SETS ((m.meal_point_id), (m.meal_point_id, m.slot), (m.meal_point_id, m.mode), ())
    UNION ALL
    SELECT s.meal_point_id, NULL, NULL, count(*), count(DISTINCT s.diner_id), NULL, NULL, sum(s.amount),
           s.agreement_id, s.tier
    FROM meal_subsidies s
    WHERE s.agreement_id = ANY(:agreements) AND s.service_day BETWEEN :start AND :end AND NOT s.voided
      AND s.meal_point_id = ANY(:points)
    GROUP BY GROUPING SETS ((s.meal_point_id, s.agreement_id, s.tier), ())
    """
)


def timed(fn, repeat: int) -> dict:
    """Run fn `repeat` times: the median (ms), and the rate it makes (runs per second)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"p50": statistics.median(times) * 1000, "rps": 1 / statistics.median(times)}


def build(rt, stored: dict, period_start, period_end) -> int:
    """The job's work in this process: a `meal_usage` XLSX of the stored scope (a partner's, or an
    org path's), requested and built in one transaction, never the same report twice. Its size."""
    from reports import service

    with rt.tx() as s:
        ask = service.ReportAsk("meal_usage", period_start, period_end, "xlsx")
        report, _ = service.request(
            s,
            None,
            ask,
            now=rt.clock.now(),
            tz=rt.settings.tz,
            scope=(stored, stored.get("partner_id"), None),
        )
        report.request_key = secrets.token_hex(8)  # never the same report: build each time
        service.build(s, report.id, now=rt.clock.now(), tz=rt.settings.tz)
        return report.size


def served(url: str, username: str, extra: dict, start, end, repeat: int, rt) -> dict:
    """From POST /api/v1/reports to `done`, through the server and the worker."""
    token = httpx.post(
        url + "/api/v1/auth/tokens", json={"username": username, "password": "linli-demo-2026"}
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    ask = {
        "kind": "meal_usage",
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "format": "xlsx",
        **extra,
    }

    def one():
        with rt.engine.begin() as conn:  # a settled month is built once: forget the earlier ones
            conn.execute(text("UPDATE reports SET request_key = md5(random()::text)"))
        r = httpx.post(url + "/api/v1/reports", json=ask, headers=headers)
        r.raise_for_status()
        while True:
            status = httpx.get(f"{url}/api/v1/reports/{r.json()['id']}", headers=headers).json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        assert status["status"] == "done", status
        assert httpx.get(url + status["file"], headers=headers).content

    return timed(one, repeat)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = common.parser(__doc__)
    ap.add_argument("--repeat", type=int, default=3, help="builds of each report")
    args = common.parse(ap, argv, quick={"repeat": 1})
    setup = common.prepare(args, NAME)
    rt = setup.runtime()
    from accounts import service as accounts_service
    from meals.models import FundingAgreement, Meal
    from orgs.models import Organization, Partner
    from reports import queries, service

    today = rt.clock.now().astimezone(rt.settings.tz).date()
    start, end = service.last_month(today)
    with rt.tx() as s:
        meals_total = s.scalar(select(func.count()).select_from(Meal))
        month_meals = s.scalar(
            select(func.count()).select_from(Meal).where(Meal.service_day.between(start, end))
        )
        agreements = s.scalar(select(func.count()).select_from(FundingAgreement))
        partner = s.scalar(select(Partner).where(Partner.name == "泉心社会企业"))
        base = s.scalar(select(Organization).where(Organization.kind == "base"))
        accounts_service.create_staff_user(
            s,
            username="bench_partner",
            password="linli-demo-2026",
            role="partner",
            partner_id=partner.id,
            now=rt.clock.now(),
        )
    print(f"{meals_total:,} meals; last month {start}..{end}: {month_meals:,}")

    # in-process: the job's work, and the hand-tuned query
    scopes = {
        "one partner": {"partner_id": partner.id, "meal_point_ids": []},
        "whole county": {"org_path": base.path, "meal_point_ids": [], "internal": True},
    }
    results = {}
    for label, stored in scopes.items():
        results[label] = timed(lambda stored=stored: build(rt, stored, start, end), args.repeat)
        with rt.tx() as s:
            scope = queries.resolve_scope(s, stored)
        params = {
            "points": list(scope.meal_point_ids),
            "agreements": list(scope.agreement_ids),
            "start": start,
            "end": end,
        }

        def hand_tuned(params=params):
            with rt.engine.connect() as conn:
                conn.execute(HAND_TUNED, params).all()

        results[label + " hand-tuned"] = timed(hand_tuned, args.repeat)
        print(
            label,
            f"build {results[label]['p50']:.0f} ms, hand-tuned {results[label + ' hand-tuned']['p50']:.0f} ms",
        )
    memory = {}
    for label, period_start in (("a month", start), ("the year", today - timedelta(days=365))):
        tracemalloc.start()
        build(rt, scopes["whole county"], period_start, end)
        memory[label] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"peak Python memory, county, {label}: {memory[label]:.1f} MiB")

    # through the real server and worker: the peak memory is both processes'
    with (
        common.Server([common.LINLI, "serve", "--workers", "1"], setup.env) as server,
        common.Server([common.LINLI, "worker"], setup.env, ready=False) as worker,
    ):
        for label, username, extra in (
            ("one partner", "bench_partner", {}),
            ("whole county", "county_admin", {"internal": True}),
        ):
            server.reset_peak()
            worker.reset_peak()
            r = served(server.url, username, extra, start, end, args.repeat, rt)
            results[label + " served"] = {**r, "peak_mb": server.peak_mb() + worker.peak_mb()}
            print(f"{label}: {r['p50']:.0f} ms from request to done")
    rt.close()

    def ratio(label: str) -> float:  # how many times the hand-tuned query's time the build takes
        return results[label]["p50"] / results[label + " hand-tuned"]["p50"]

    def seconds(key: str) -> str:
        return f"{results[key]['p50'] / 1000:.2f} s"

    section = f"""## Reports (bench/reports.py)

Last run: {common.stamp(args)}, on `linli demo --scale county`: {meals_total:,} meals over a year at 148 meal
points ({agreements} funding agreements), last month ({start} to {end}) holds {month_meals:,}.
`meal_usage`, XLSX, median of {args.repeat}:

| scope | through the server and worker | the job's build | one hand-tuned query | build ÷ hand-tuned |
|---|---|---|---|---|
| one partner (49 points) | {seconds("one partner served")} | {seconds("one partner")} | {seconds("one partner hand-tuned")} | {ratio("one partner"):.2f} |
| whole county (148 points) | {seconds("whole county served")} | {seconds("whole county")} | {seconds("whole county hand-tuned")} | {ratio("whole county"):.2f} |

Target: the county month under 5 s, within 2 times the hand-tuned query. The hand-tuned query
(GROUPING SETS over the month's meals, and over the funders' parts by tier) computes the meal
breakdowns and their totals only; the build also reads bookings, reversals and budgets and writes the file.
For one partner that fixed work (about a dozen small queries and the XLSX) is most of the time.
Peak Python memory of a county build: {memory["a month"]:.1f} MiB for a month, {memory["the year"]:.1f} MiB
for the whole year: rows are aggregated in the database, so memory follows the report's rows.
Peak memory of the server and the worker (`linli serve --workers 1`, `linli worker`) while they built
the county month: {results["whole county served"]["peak_mb"]:.0f} MB.
"""
    common.write_section(Path(args.out), "Reports", section)
    print(section)

    rows = []
    for label in scopes:
        hand, job, via = (results[label + suffix] for suffix in (" hand-tuned", "", " served"))
        county = label == "whole county"  # the targets are the county's
        base_row = common.row_of(NAME, f"hand-tuned query, {label} month", hand, "queries/s")
        rows += [
            base_row,
            common.row_of(
                NAME,
                f"meal_usage build, {label} month (in-process)",
                job,
                "reports/s",
                against=base_row,
                **({"target": "≥ 0.5 × hand-tuned", "met": ratio(label) <= 2} if county else {}),
            ),
            common.row_of(
                NAME,
                f"meal_usage via server and worker, {label} month",
                via,
                "reports/s",
                against=base_row,
                **({"target": "< 5 s", "met": via["p50"] < 5000} if county else {}),
            ),
        ]
    return rows


if __name__ == "__main__":
    main()
