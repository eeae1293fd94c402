"""What the lunch rush checks and reports afterwards (午餐高峰的核对): the worker caught up, the
database holds exactly what the clients were told, and the figures for docs/performance.md
(bench/rush.py runs these)."""

from __future__ import annotations

import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from bench import common
from linli.runtime import Runtime

if TYPE_CHECKING:
    from bench.rush import Plan
    from bench.rush_clients import Tally

ROOT = Path(__file__).resolve().parent.parent
P99_TARGET_MS = 200


def settle(rt: Runtime, timeout: float = 300) -> float:
    """Wait until the relay has moved every outbox row to RQ and the worker has run every job;
    seconds waited. A failed job is an error of the rush."""
    from rq.registry import StartedJobRegistry

    from linli.queue import QUEUES, queue, queue_figures

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        figures = queue_figures(rt)
        busy = sum(StartedJobRegistry(queue=queue(name, rt.redis)).count for name in QUEUES)
        waiting = figures["outbox_pending"] + busy + sum(q["waiting"] for q in figures["queues"].values())
        if not waiting:
            return time.monotonic() - t0
        time.sleep(1)
    raise RuntimeError(f"the worker did not catch up in {timeout:.0f} s ({figures})")


def verify(rt: Runtime, plan: Plan, tally: Tally, env: dict) -> list[tuple[str, bool, str]]:
    """What the database holds against what the clients were told."""
    from meals.models import Booking, Meal
    from points.models import Award
    from reports.models import Report
    from scans.models import Scan
    from volunteer.models import Attendance

    checks = []
    ids = [p.id for p in plan.points]
    with rt.tx() as s:
        meals = dict(
            s.execute(
                select(Meal.id, Meal.diner_id).where(
                    Meal.meal_point_id.in_(ids), Meal.served_at >= plan.started, Meal.status == "served"
                )
            ).all()
        )
        doubled = s.execute(
            select(Meal.diner_id, Meal.service_day, Meal.slot)
            .where(Meal.meal_point_id.in_(ids), Meal.status == "served")
            .group_by(Meal.diner_id, Meal.service_day, Meal.slot)
            .having(func.count() > 1)
        ).all()
        attendances = {
            a.id: a
            for a in s.scalars(
                select(Attendance).where(
                    Attendance.station_id.in_([p.station_id for p in plan.points]),
                    Attendance.created_at >= plan.started,
                )
            )
        }
        awarded = Counter(
            s.scalars(
                select(Award.attendance_id).where(
                    Award.attendance_id.in_(list(attendances) or [0]), Award.key.like("attendance:%")
                )
            )
        )
        stored_scans = set(s.scalars(select(Scan.scan_id).where(Scan.received_at >= plan.started)))
        booked = set(s.scalars(select(Booking.id).where(Booking.id.in_(list(tally.bookings) or [0]))))
        reports = {
            r.id: r for r in s.scalars(select(Report).where(Report.id.in_(list(tally.reports) or [0])))
        }
    checks.append(
        (
            "every acknowledged meal is in the database once, and no other was recorded",
            meals == tally.meals,
            f"{len(tally.meals)} acknowledged, {len(meals)} in the database",
        )
    )
    checks.append(("no diner served twice in a slot", not doubled, f"{len(doubled)} doubled"))
    open_ok = all(a in attendances for a in tally.check_ins)
    closed_ok = all(
        a in attendances and attendances[a].state == "closed" and attendances[a].minutes == m
        for a, m in tally.check_outs.items()
    )
    checks.append(
        (
            "every acknowledged check-in and check-out is in the database once, and no other",
            open_ok and closed_ok and set(attendances) == tally.check_ins,
            f"{len(tally.check_ins)} check-ins and {len(tally.check_outs)} check-outs acknowledged, "
            f"{len(attendances)} attendances in the database",
        )
    )
    closed = [a for a in attendances.values() if a.state == "closed"]
    checks.append(
        (
            "every closed attendance awarded exactly once",
            all(awarded[a.id] == 1 for a in closed) and sum(awarded.values()) == len(closed),
            f"{len(closed)} closed, {sum(awarded.values())} awards",
        )
    )
    checks.append(
        (
            "every acknowledged booking is in the database",
            booked == tally.bookings,
            f"{len(tally.bookings)} acknowledged",
        )
    )
    checks.append(
        ("every answered scan is stored", tally.scans <= stored_scans, f"{len(tally.scans)} scans answered")
    )
    built = [r for r in reports.values() if r.status == "done"]
    checks.append(
        (
            "every report requested was built, once",
            len(built) == len(tally.reports),
            f"{len(tally.reports)} requested, {len(built)} built",
        )
    )
    from linli.queue import queue_figures

    failed = sum(q["failed"] for q in queue_figures(rt)["queues"].values())
    checks.append(("no job failed", failed == 0, f"{failed} failed jobs"))
    ledger = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "linli"), "ledger", "verify"], env=env, capture_output=True, text=True
    )
    checks.append(
        (
            "`linli ledger verify` passes",
            ledger.returncode == 0,
            (ledger.stdout or ledger.stderr).strip()[-200:],
        )
    )
    return checks


def _by_minute(tally: Tally, kind: str) -> str:
    """A kind's p99 in each minute of the rush (by when the request was sent)."""
    start = min((t for sent in tally.at.values() for t in sent), default=0.0)
    minutes: dict[int, list[float]] = defaultdict(list)
    for sent, ms in zip(tally.at.get(kind, []), tally.ms.get(kind, []), strict=True):
        minutes[int((sent - start) // 60)].append(ms)
    return ", ".join(f"{m + 1}: {common.percentile(v, 99):.0f}" for m, v in sorted(minutes.items())) or "none"


def report(
    tally: Tally, checks: list, figures: dict, minutes: float, interval: float, stamp: str
) -> tuple[str, list[dict]]:
    every = [ms for values in tally.ms.values() for ms in values]
    rows = []
    for kind in sorted(tally.ms):
        values = tally.ms[kind]
        rows.append(
            f"| {kind} | {len(values)} | {len(values) / tally.seconds:.1f} | "
            f"{common.percentile(values, 50):.1f} | {common.percentile(values, 99):.1f} |"
        )
    p50, p99 = common.percentile(every, 50), common.percentile(every, 99)
    by_minute = _by_minute(tally, "counter scan")
    total_rps = len(every) / tally.seconds
    ok = not tally.errors and p99 < P99_TARGET_MS and all(passed for _, passed, _ in checks)
    lines = "\n".join(f"- {'✓' if passed else '✗'} {what}: {detail}" for what, passed, detail in checks)
    errors = "\n".join(f"  - {e}" for e in Counter(tally.errors).most_common(5)) if tally.errors else ""
    section = f"""## Lunch rush (bench/rush.py)

Last run: {stamp}, {minutes:g} minutes. `linli serve --workers 2` and one
`linli worker` on PostgreSQL and Redis, the county of `linli demo --scale county`, {figures["points"]} meal
points at once: at each a counter tablet scanning a card every {interval:g} s or so, four volunteers
checking in and out by the station's code, a courier taking the delivery run and scanning at three doors;
families booking with a diner's card; a partner pulling its month's usage (XLSX) every minute;
from {figures["clients"]} client process{"es" if figures["clients"] > 1 else ""}. Peak memory of the server processes: {figures["memory"]:.0f} MB.

| request | count | req/s | p50 ms | p99 ms |
|---|---|---|---|---|
{chr(10).join(rows)}
| **all** | {len(every)} | {total_rps:.1f} | {p50:.1f} | {p99:.1f} |

Counter scans' p99 (ms) by minute of the rush: {by_minute}.

Answers: {", ".join(f"{k} {v}" for k, v in sorted(tally.outcomes.items()))}.
Errors (non-2xx or no answer): {len(tally.errors)}.{chr(10) + errors if errors else ""}
The worker had caught up {figures["settled"]:.0f} s after the rush ended. Then:
{lines}

Target: no errors, p99 under {P99_TARGET_MS} ms, the checks above. This run: {"meets" if ok else "misses"} it.
"""
    summary = [
        common.row(
            "rush",
            f"county lunch rush: {figures['points']} meal points, every kind of request, {minutes:g} min",
            total_rps,
            "req/s",
            p50,
            p99,
            figures["memory"],
            target=f"no errors, p99 < {P99_TARGET_MS} ms, all acknowledged exactly once, ledger verifies",
            met=ok,
        )
    ]
    return section, summary
