"""The lunch rush's clients (午餐高峰的客户端): the counter tablets, volunteers' phones, couriers,
families and a partner of bench/rush.py, driven from processes of their own (one per 500 meal
points by default), each meal point's devices sharing a small connection pool; every answer is
kept in a Tally for the checks afterwards (bench/rush_checks.py)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import random
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bench.lean_http import HTTPError, Pool
from linli.qr import Codes

if TYPE_CHECKING:
    from bench.rush import Plan, Point


@dataclass
class Tally:
    """Every answer: latency by kind, statuses, and what the clients were told was recorded."""

    ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    at: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # when each was sent
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
            self.at[kind] += other.at[kind]
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


class Client:
    def __init__(self, http: Pool, tally: Tally) -> None:
        self.http, self.tally = http, tally

    async def call(self, kind: str, method: str, path: str, token: str | None = None, **kw) -> dict | None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        sent, t0 = time.time(), time.perf_counter()
        try:
            r = await self.http.request(method, path, headers, **kw)
        except HTTPError as exc:
            self.tally.errors.append(f"{kind}: {exc}")
            return None
        self.tally.ms[kind].append((time.perf_counter() - t0) * 1000)
        self.tally.at[kind].append(sent)
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


async def warm(base: str, plan: Plan) -> None:
    """A server at lunch has been up all morning: its pools and caches are warm."""
    async with Pool(base, 32) as http:
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
    async with contextlib.AsyncExitStack() as stack:

        async def pool() -> Client:
            """A meal point's devices share one pool, as on the point's wifi; so do the families."""
            return Client(await stack.enter_async_context(Pool(base, 8)), tally)

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
