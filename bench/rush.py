"""The county's lunch rush (午餐高峰): every meal point of `linli demo --scale county` at once.

At each meal point a counter tablet scans diners' cards, volunteers on the lunch shift check in
and out with their phones (the station's rotating code), a volunteer takes the point's delivery
run and scans cards at the doors, families book meals with a diner's card, and a partner
enterprise pulls its usage report, all at the same time, for `--minutes` (10 by default), against
`linli serve --workers 2` and a `linli worker` on PostgreSQL and Redis.

Every answer is kept. Afterwards, once the worker has caught up: no errors and p99 under 200 ms;
`linli ledger verify` passes; every meal and attendance acknowledged to a client is in the
database exactly once (and nothing else was recorded); every closed attendance was awarded once;
every report was built once. The result goes into docs/performance.md.

    .venv/bin/python bench/rush.py [--minutes 10] [--points 0 (all)] [--interval 3] [--quick]

Works in a copy of the county (bench/common.py); `--quick`: one minute, 20 meal points. The
clients run in processes of their own, one for every 500 meal points (`--clients` to choose), so
that a province's rush measures the server and not one Python process driving thousands of tablets.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from bench import common  # noqa: E402
from bench.rush_checks import report, settle, verify  # noqa: E402
from bench.rush_clients import Tally, rush  # noqa: E402
from linli.runtime import Runtime  # noqa: E402
from linli.settings import Settings, parse_secret_keys  # noqa: E402
from migrations.models import import_models  # noqa: E402

SECRET = "rush:rush-secret-key-0123456789abcdef"


@dataclass
class Point:
    id: int
    station_id: int
    tablet: str  # the coordinator's token
    cards: list[str]  # its diners' cards
    phones: list[str]  # tokens of the volunteers on the lunch shift
    courier: str  # token of the volunteer who takes the delivery run
    doors: list[str]  # cards of its delivery diners


@dataclass
class Plan:
    points: list[Point]
    partner: str  # a partner enterprise's staff token
    started: datetime
    today: date  # where the county is


# --- set-up -------------------------------------------------------------------------------------


def prepare(rt: Runtime, minutes: float, points_wanted: int, interval: float) -> Plan:
    """On top of the county, for this run only (so runs can follow each other): lunch open now at
    every meal point; at each, today's queue of new diners, three of them on a new delivery run, a
    coordinator, and a lunch shift with four new volunteers filed with the point's team and a
    fifth to deliver; a partner's login."""
    from accounts import service as accounts_service
    from meals import delivery
    from meals.models import Diner, FundingAgreement, MealPoint, MealSlot
    from orgs.models import Organization
    from volunteer.models import Activity, Filing, Signup, Volunteer

    now = rt.clock.now()
    today = now.astimezone(rt.settings.tz).date()
    tag = f"{int(time.time()) % 10**5:05d}"  # phones: 17 + tag + 4 digits (1,480 points × 5)
    queue = int(minutes * 60 / interval * 1.2) + 5  # diners per counter: more than it can serve
    with rt.tx() as s:
        points = list(s.scalars(select(MealPoint).order_by(MealPoint.id)))[: points_wanted or None]
        ids = [p.id for p in points]
        # lunch is whenever the rush runs
        s.execute(
            update(MealSlot).where(MealSlot.meal_point_id.in_(ids)).values(starts="00:00", ends="23:59")
        )
        s.execute(update(MealPoint).where(MealPoint.id.in_(ids)).values(daily_capacity=100_000))
        team_of = dict(
            s.execute(
                select(Organization.parent_id, Organization.id).where(
                    Organization.parent_id.in_([p.org_id for p in points])
                )
            ).all()
        )
        s.execute(
            insert(Volunteer),
            [
                {
                    "name": "李秀兰",
                    "phone": f"17{tag}{n:04d}",
                    "consent_terms_version": "rush",
                    "consented_at": now,
                    "created_at": now,
                }
                for n in range(5 * len(points))
            ],
        )
        crew = list(
            s.scalars(select(Volunteer.id).where(Volunteer.phone.like(f"17{tag}%")).order_by(Volunteer.id))
        )
        s.execute(
            insert(Filing),
            [
                {
                    "volunteer_id": v,
                    "team_id": team_of[points[n // 5].org_id],
                    "status": "approved",
                    "created_at": now,
                    "decided_at": now,
                }
                for n, v in enumerate(crew)
            ],
        )
        s.execute(
            insert(Diner),
            [
                {
                    "name": "张桂兰",
                    "birth_date": date(1936 + n % 20, 5, 1),
                    "community": f"社区{p.id}-{tag}",
                    "id_hash": f"rush{tag}${p.id}${n}",
                    "id_last4": f"{n:04d}",
                    "consent_by": "self",
                    "consented_at": now,
                    "dietary_notes": "",
                    "allergies": "",
                    "categories": [["tekun"], ["dibao"], [], []][n % 4],
                    "home_point_id": p.id,
                    "delivery": n < 3,
                    "address": "长沙县助餐路1号" if n < 3 else None,
                    "card_version": 1,
                    "created_at": now,
                }
                for p in points
                for n in range(queue + 3)
            ],
        )
        diners = defaultdict(list)
        for diner_id, point_id in s.execute(
            select(Diner.id, Diner.home_point_id).where(Diner.id_hash.like(f"rush{tag}$%")).order_by(Diner.id)
        ):
            diners[point_id].append(diner_id)
        out = []
        for n, p in enumerate(points):
            user = accounts_service.create_staff_user(
                s,
                username=f"rush{tag}_{p.id}",
                password="rush-password-1",
                role="coordinator",
                org_id=p.org_id,
                station_id=p.station_id,
                now=now,
            )
            # written as is, not through the booking's clash check: a second run's shift overlaps the
            # first's at the same counter (its volunteers check in to the one they signed up for)
            shift = Activity(
                org_id=p.org_id,
                station_id=p.station_id,
                title="午餐助餐服务 lunch service",
                kind="meal_service",
                starts_at=now - timedelta(minutes=5),
                ends_at=now + timedelta(minutes=minutes + 30),
                capacity=10,
                walk_ins=True,
                created_at=now,
            )
            s.add(shift)
            s.flush()
            shift_crew = crew[5 * n : 5 * n + 5]
            s.execute(
                insert(Signup),
                [
                    {"activity_id": shift.id, "volunteer_id": v, "status": "confirmed", "created_at": now}
                    for v in shift_crew[:4]
                ],
            )
            delivery.plan(s, p.id, today, "lunch", now)

            def token(**who) -> str:
                return accounts_service.issue_token(s, now=now, ttl_seconds=86400, **who).token

            out.append(
                Point(
                    id=p.id,
                    station_id=p.station_id,
                    tablet=token(staff_user_id=user.id),
                    cards=[rt.codes.diner_card(d, 1) for d in diners[p.id][3:]],
                    phones=[token(volunteer_id=v) for v in shift_crew[:4]],
                    courier=token(volunteer_id=shift_crew[4]),
                    doors=[rt.codes.diner_card(d, 1) for d in diners[p.id][:3]],
                )
            )
        agreement = s.scalars(
            select(FundingAgreement)
            .where(FundingAgreement.partner_id.is_not(None))
            .order_by(FundingAgreement.id)
        ).first()
        partner_user = accounts_service.create_staff_user(
            s,
            username=f"rush{tag}_partner",
            password="rush-password-1",
            role="partner",
            partner_id=agreement.partner_id,
            now=now,
        )
        partner = accounts_service.issue_token(
            s, now=now, ttl_seconds=86400, staff_user_id=partner_user.id
        ).token
    return Plan(out, partner, now, today)


# --- running it ---------------------------------------------------------------------------------


def wait_for_midnight(now: datetime, tz, minutes: float) -> float:
    """Seconds to wait so that a rush of `minutes` does not span midnight where the county is: it
    plans today's queues, runs and shifts before it starts (3 minutes allowed for the preparing and
    the settling)."""
    local = now.astimezone(tz)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tz)
    left = (midnight - local).total_seconds()
    return left + 1 if left < minutes * 60 + 180 else 0.0


def run(
    database_url: str,
    redis_url: str,
    minutes: float,
    points: int,
    interval: float,
    workers: int,
    county_days: int = 2,
    clients: int = 0,
) -> tuple[Tally, list, dict]:
    """The rush against a database holding the county (`make bench` gives a copy of it; an empty
    one, as a test's, gets a small county first: the same places, `county_days` of meals), from
    `clients` processes (0: one for every 500 meal points)."""
    env = {**os.environ, **common.linli_env(database_url, redis_url, SECRET)}
    subprocess.run([common.LINLI, "db", "upgrade"], env=env, check=True, capture_output=True)
    import_models()
    rt = Runtime(
        Settings(database_url=database_url, redis_url=redis_url, secret_keys=parse_secret_keys(SECRET)),
        jobs=True,
    )
    with rt.tx() as s:
        if s.execute(text("SELECT count(*) FROM meal_points")).scalar() == 0:
            from cli import demo_scale

            demo_scale.load_county(s, rt, volunteers=3000, days=county_days)
    rt.redis.flushdb()  # the rush's own Redis database: failed jobs of earlier runs would count
    time.sleep(wait_for_midnight(rt.clock.now(), rt.settings.tz, minutes))
    plan = prepare(rt, minutes, points, interval)
    with (
        common.Server([common.LINLI, "worker"], env, ready=False),
        common.Server([common.LINLI, "serve", "--workers", str(workers)], env) as server,
    ):
        clients = clients or math.ceil(len(plan.points) / 500)
        tally = rush(server.url, rt.codes, plan, minutes, interval, clients)
        waited = settle(rt)
        memory = server.peak_mb()
    checks = verify(rt, plan, tally, env)
    rt.close()
    return (
        tally,
        checks,
        {"settled": waited, "memory": memory, "points": len(plan.points), "clients": clients},
    )


def main(argv: list[str] | None = None) -> list[dict]:
    ap = common.parser(__doc__)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--points", type=int, default=0, help="meal points taking part; 0: all")
    ap.add_argument(
        "--interval", type=float, default=3.0, help="seconds between a counter's scans, on average"
    )
    ap.add_argument("--clients", type=int, default=0, help="client processes; 0: one per 500 meal points")
    args = common.parse(ap, argv, quick={"minutes": 1.0, "points": 20})
    setup = common.prepare(args, "rush")
    tally, checks, figures = run(
        setup.database_url,
        setup.redis_url,
        args.minutes,
        args.points,
        args.interval,
        args.workers,
        clients=args.clients,
    )
    section, summary = report(tally, checks, figures, args.minutes, args.interval, common.stamp(args))
    common.write_section(Path(args.out), "Lunch rush", section)
    print(section)
    return summary


if __name__ == "__main__":
    main()
