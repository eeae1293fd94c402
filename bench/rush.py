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

import asyncio
import contextlib
import math
import multiprocessing
import os
import random
import ssl
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from bench import common  # noqa: E402
from bench.rush_checks import report, settle, verify  # noqa: E402
from linli.qr import Codes  # noqa: E402
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


@dataclass
class Tally:
    """Every answer: latency by kind, statuses, and what the clients were told was recorded."""

    ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    meals: dict[int, int] = field(default_factory=dict)  # meal id → diner id, as acknowledged
    scans: set[str] = field(default_factory=set)  # scan ids answered
    check_ins: set[int] = field(default_factory=set)  # attendance ids
    check_outs: dict[int, int] = field(default_factory=dict)  # attendance id → minutes
    reports: set[int] = field(default_factory=set)
    bookings: set[int] = field(default_factory=set)
    seconds: float = 0.0  # how long the rush lasted (the last phones check out after the clock)

    def add(self, other: Tally) -> None:
        """Take in another client process's answers."""
        for kind, values in other.ms.items():
            self.ms[kind] += values
        self.statuses += other.statuses
        self.outcomes += other.outcomes
        self.errors += other.errors
        self.meals |= other.meals
        self.scans |= other.scans
        self.check_ins |= other.check_ins
        self.check_outs |= other.check_outs
        self.reports |= other.reports
        self.bookings |= other.bookings
        self.seconds = max(self.seconds, other.seconds)


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


# --- the rush -----------------------------------------------------------------------------------


class Client:
    def __init__(self, http: httpx.AsyncClient, tally: Tally) -> None:
        self.http, self.tally = http, tally

    async def call(self, kind: str, method: str, path: str, token: str | None = None, **kw) -> dict | None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        t0 = time.perf_counter()
        try:
            r = await self.http.request(method, path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            self.tally.errors.append(f"{kind}: {type(exc).__name__}")
            return None
        self.tally.ms[kind].append((time.perf_counter() - t0) * 1000)
        self.tally.statuses[r.status_code] += 1
        if r.status_code >= 400:
            self.tally.errors.append(f"{kind}: {r.status_code} {r.text[:200]}")
            return None
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else {}

    async def scan(self, kind: str, token: str, payload: str, station_id: int | None = None) -> dict | None:
        scan_id = str(uuid.uuid4())
        body = {"payload": payload, "scan_id": scan_id}
        if station_id is not None:
            body["station_id"] = station_id
        answer = await self.call(kind, "POST", "/api/v1/scans", token, json=body)
        if answer is None:
            return None
        t = self.tally
        t.scans.add(scan_id)
        t.outcomes[answer["reason"] or answer["outcome"]] += 1
        if answer["outcome"] in ("meal_served", "delivered"):
            t.meals[answer["meal"]["id"]] = answer["diner"]["id"]
        elif answer["outcome"] == "checked_in":
            t.check_ins.add(answer["attendance_id"])
        elif answer["outcome"] == "checked_out":
            t.check_outs[answer["attendance_id"]] = answer["minutes"]
        return answer


async def counter(c: Client, p: Point, until: float, interval: float, rng: random.Random) -> None:
    """The counter tablet: diners in a queue, a double tap now and then, someone coming back."""
    queue = list(p.cards)
    rng.shuffle(queue)
    served: list[str] = []
    while time.monotonic() < until:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * interval)
        roll = rng.random()
        if served and roll < 0.05:
            card = rng.choice(served)  # back for a second lunch: already_served
        elif queue:
            card = queue.pop()
            served.append(card)
        else:
            break  # everyone is served
        await c.scan("counter scan", p.tablet, card, p.station_id)
        if roll > 0.95:
            await c.scan("counter scan", p.tablet, card, p.station_id)  # a double tap: duplicate
        if rng.random() < 0.05:
            await c.call("counter today", "GET", f"/api/v1/stations/{p.station_id}/meals-today", p.tablet)


async def volunteer(
    c: Client, codes: Codes, p: Point, token: str, minutes: float, rng: random.Random
) -> None:
    """A volunteer's phone: check in at the station's code early in the rush, out later."""
    start = time.monotonic()
    await asyncio.sleep(rng.uniform(0, minutes * 60 * 0.3))
    await c.scan("volunteer scan", token, codes.station_code(p.station_id, datetime.now(UTC)))
    checked_in = time.monotonic()
    await c.call("volunteer me", "GET", "/api/v1/me/points", token)
    leave = max(start + rng.uniform(0.5, 0.9) * minutes * 60, checked_in + 65)  # sooner is a double tap
    await asyncio.sleep(leave - time.monotonic())
    await c.scan("volunteer scan", token, codes.station_code(p.station_id, datetime.now(UTC)))


async def courier(c: Client, p: Point, minutes: float, rng: random.Random) -> None:
    """The delivery volunteer: comes in early in the rush, takes the point's run, then scans a
    card at each door."""
    await asyncio.sleep(rng.uniform(0, 0.2) * minutes * 60)
    runs = await c.call("delivery runs", "GET", "/api/v1/delivery-runs", p.courier)
    run = next((r for r in (runs or {}).get("items", []) if r["meal_point_id"] == p.id), None)
    if run is None:
        c.tally.errors.append(f"delivery runs: no run offered at point {p.id}")
        return
    await c.call("delivery claim", "POST", f"/api/v1/delivery-runs/{run['id']}/claim", p.courier)
    for card in p.doors:
        await asyncio.sleep(rng.uniform(0.1, 0.3) * minutes * 60)
        await c.scan("door scan", p.courier, card)


async def families(c: Client, plan: Plan, until: float, rng: random.Random, day: str) -> None:
    """Families book the day after tomorrow's lunch with a diner's card; some cancel."""
    cards = [card for p in plan.points for card in p.cards]
    rng.shuffle(cards)  # each family books once (a second booking would rightly be refused)
    while time.monotonic() < until and cards:
        await asyncio.sleep(rng.uniform(0.2, 0.6))
        card = cards.pop()
        booked = await c.call(
            "card booking", "POST", "/api/v1/card-bookings/", json={"card": card, "day": day, "slot": "lunch"}
        )
        if booked and "id" in booked:
            c.tally.bookings.add(booked["id"])
            if rng.random() < 0.2:
                await c.call(
                    "card booking",
                    "POST",
                    f"/api/v1/card-bookings/{booked['id']}/cancel",
                    json={"card": card},
                )


async def partner(c: Client, plan: Plan, until: float, month_start: str, month_end: str) -> None:
    """A partner's accountant pulls last month's usage every minute and downloads it when built. An
    ended whole month may be asked again; a month still running may not (two of its reports,
    subtracted, would show what aggregation hides: 422 `period_overlaps_earlier`, a 10-county run
    that asked this month's twice)."""
    while time.monotonic() < until:
        asked = await c.call(
            "report request",
            "POST",
            "/api/v1/reports",
            plan.partner,
            json={
                "kind": "meal_usage",
                "period_start": month_start,
                "period_end": month_end,
                "format": "xlsx",
            },
        )
        if asked:
            c.tally.reports.add(asked["id"])
            for _ in range(120):
                await asyncio.sleep(1)
                got = await c.call("report status", "GET", f"/api/v1/reports/{asked['id']}", plan.partner)
                if got and got["status"] in ("done", "failed"):
                    if got["status"] == "done":
                        await c.call(
                            "report file", "GET", f"/api/v1/reports/{asked['id']}/file", plan.partner
                        )
                    else:
                        c.tally.errors.append(f"report {asked['id']} failed: {got['error']}")
                    break
        await asyncio.sleep(max(0.0, min(60.0, until - time.monotonic())))


def _http(base: str, tls: ssl.SSLContext, connections: int) -> httpx.AsyncClient:
    """A small pool: httpcore's work per request grows with the square of the connections in its
    pool (a process's one pool of 400 ran a core flat while the server idled)."""
    # idle connections dropped before the server's keep-alive (5 s) ends them under a request
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=3
    )
    return httpx.AsyncClient(base_url=base, timeout=30, limits=limits, verify=tls)


async def warm(base: str, plan: Plan) -> None:
    """A server at lunch has been up all morning: its pools and caches are warm."""
    async with _http(base, ssl.create_default_context(), 32) as http:
        c = Client(http, Tally())
        calls = [("GET", f"/api/v1/stations/{p.station_id}/meals-today", p.tablet) for p in plan.points]
        calls += [("GET", "/api/v1/me/points", p.courier) for p in plan.points]
        for start in range(0, len(calls) * 2, 32):
            batch = (calls * 2)[start : start + 32]
            await asyncio.gather(*(c.call("warm", method, path, token) for method, path, token in batch))
        if c.tally.errors:
            raise RuntimeError(f"warming up: {c.tally.errors[:3]}")


async def drive(
    base: str, codes: Codes, plan: Plan, minutes: float, interval: float, start: float, share: tuple[int, int]
) -> Tally:
    """One client process's part of the rush, `share` = (n, of): every of-th meal point from the
    n-th, from `start` (time.time()) on; the first also runs the families and the partner."""
    n, of = share
    tally = Tally()
    rng = random.Random(2026 + n)
    local = plan.today
    tls = ssl.create_default_context()  # one for all the pools (each would load the CA bundle)
    async with contextlib.AsyncExitStack() as stack:

        async def pool() -> Client:
            """A meal point's devices share one pool, as on the point's wifi; so do the families."""
            return Client(await stack.enter_async_context(_http(base, tls, 8)), tally)

        first = await pool() if n == 0 else None
        points = [(p, await pool()) for p in plan.points[n::of]]
        await asyncio.sleep(max(0.0, start - time.time()))
        until = time.monotonic() + minutes * 60
        tasks = []
        if first:
            last_end = local.replace(day=1) - timedelta(days=1)  # last month, ended
            tasks.append(
                partner(first, plan, until, last_end.replace(day=1).isoformat(), last_end.isoformat())
            )
            tasks.append(
                families(first, plan, until, random.Random(1), (local + timedelta(days=2)).isoformat())
            )
        for p, c in points:
            tasks.append(counter(c, p, until, interval, random.Random(rng.random())))
            tasks.append(courier(c, p, minutes, random.Random(rng.random())))
            tasks += [volunteer(c, codes, p, t, minutes, random.Random(rng.random())) for t in p.phones]
        await asyncio.gather(*tasks)
        tally.seconds = time.monotonic() - (until - minutes * 60)
    return tally


def _client(args: tuple) -> Tally:
    """In a client process of its own."""
    return asyncio.run(drive(*args))


def rush(base: str, codes: Codes, plan: Plan, minutes: float, interval: float, clients: int) -> Tally:
    """Warm the server, then the rush from `clients` processes at once, their answers together."""
    # a thread of its own: the caller (a test run) may already have an event loop running here
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, warm(base, plan)).result()
    start = time.time() + 10  # a client process takes a few seconds to start and import
    spawn = multiprocessing.get_context("spawn")  # not a fork of this process's pools and threads
    with ProcessPoolExecutor(clients, mp_context=spawn) as pool:
        parts = list(
            pool.map(
                _client, [(base, codes, plan, minutes, interval, start, (n, clients)) for n in range(clients)]
            )
        )
    tally = Tally()
    for part in parts:
        tally.add(part)
    return tally


# --- afterwards ---------------------------------------------------------------------------------


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
