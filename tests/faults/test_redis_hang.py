"""A Redis that hangs rather than refuses (Redis 挂起): paused with SIGSTOP in the middle of lunch,
or a listening socket that reads nothing. Before `linli.circuit`, requests waited for Redis with
redis-py's socket timeouts and retries and the server's threads filled up: routes that never touch
Redis took over a minute. Now a call to a hung Redis gives up at its deadline, the breaker opens
after two failures, and nothing waits for Redis until it answers again; the outbox keeps the work.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from linli.queue import redis_from_url
from linli.runtime import Runtime
from meals.models import Meal
from points.models import Award
from tests.fixtures.builders import file_volunteer, make_activity, staff_token
from tests.fixtures.canteen import LUNCH, Canteen
from tests.fixtures.runtime import LiveServer, drain, redis_of_our_own, until_redis_answers
from workers.relay import relay_once

pytestmark = pytest.mark.slow  # fault injection: left out of `make test-quick`

DINERS = 24
PHONES = [f"1380731{n:04d}" for n in range(41, 47)]
START = LUNCH - timedelta(hours=1)
NUMBERS = [a + b for a in "甲乙丙丁戊己" for b in "子丑寅卯"]  # names are Chinese characters only


def p99(seconds: list[float]) -> float:
    return sorted(seconds)[max(0, int(len(seconds) * 0.99) - 1)]


class Lunch:
    """A counter at lunch over real HTTP: diners to serve, a shift to check in and out."""

    def __init__(self, rt, http, clock):
        clock.at = START - timedelta(minutes=30)
        self.rt, self.http, self.clock = rt, http, clock
        self.canteen = Canteen(rt)
        with rt.tx() as s:
            self.diners = [
                self.canteen.diner(s, f"长者{NUMBERS[n]}", "1950", categories=(), serial=500 + n)
                for n in range(DINERS)
            ]
        self.shift = [
            file_volunteer(rt, phone, self.canteen.county.open_team, name="赵一") for phone in PHONES
        ]
        make_activity(rt, self.canteen.county.org_a, self.canteen.station, START, hours=2.5, capacity=10)
        self.tablet = staff_token(http, "counter")
        self.admin = staff_token(http, "admin_a")

    def scan(self, payload) -> dict:
        body = {"payload": payload, "station_id": self.canteen.station, "scan_id": str(uuid.uuid4())}
        r = self.http.post("/api/v1/scans", json=body, headers=self.tablet)
        assert r.status_code == 200, r.text
        return r.json()

    def listing(self) -> float:
        """GET /api/v1/meal-points: a route that never touches Redis; its time in seconds."""
        started = time.perf_counter()
        r = self.http.get("/api/v1/meal-points", headers=self.admin)
        assert r.status_code == 200, r.text
        return time.perf_counter() - started

    def listings(self, n: int, alongside=None) -> list[float]:
        """n listings from 8 clients at once, while `alongside` runs (the counter's scans)."""
        with ThreadPoolExecutor(9) as pool:
            other = pool.submit(alongside) if alongside else None
            times = list(pool.map(lambda _: self.listing(), range(n)))
            if other:
                other.result()
        return times

    def counter(self, diners, out: bool):
        """The counter's work alongside the listings: diners served, the shift checked in (or out)."""
        self.clock.at = LUNCH
        for diner in diners:
            assert self.scan(self.canteen.card(diner))["outcome"] == "meal_served"
        self.clock.at = START + timedelta(minutes=90) if out else START - timedelta(minutes=5)
        for v in self.shift:
            answer = self.scan(self.rt.codes.volunteer_card(v, 1))
            assert answer.get("minutes") == 90 if out else answer["outcome"] == "checked_in"


HALF = DINERS // 2


def test_a_redis_paused_mid_lunch_holds_up_no_request_and_its_work_drains_once(rt, clock, tmp_path):
    with redis_of_our_own(tmp_path, rt, persist=True, clock=clock) as (server, own):
        with LiveServer(own) as live, httpx.Client(base_url=live.url, timeout=30) as http:
            lunch = Lunch(own, http, clock)
            healthy = lunch.listings(200, alongside=lambda: lunch.counter(lunch.diners[:HALF], out=False))
            os.kill(server.proc.pid, signal.SIGSTOP)
            try:
                hung = lunch.listings(200, alongside=lambda: lunch.counter(lunch.diners[HALF:], out=True))
                assert http.get("/readyz").status_code == 503
            finally:
                os.kill(server.proc.pid, signal.SIGCONT)
        # the database-only route kept its pace while Redis hung: against the same route under the
        # same load with Redis answering, in the same run (this machine is shared and noisy)
        assert p99(hung) < max(0.1, 3 * p99(healthy)), (p99(healthy), p99(hung))
        until_redis_answers(own.redis)
        relay_once(own)
        drain(own)
        drain(own)  # a second pass finds nothing more to do
        with own.tx() as s:
            assert s.scalar(select(func.count()).select_from(Meal)) == DINERS
            awarded = s.scalars(select(Award.volunteer_id).where(Award.attendance_id.is_not(None))).all()
        assert sorted(awarded) == sorted(lunch.shift)  # every check-out credited, once


class Silent:
    """A server that accepts connections and never reads or answers (a Redis that hangs behind
    a load balancer, or a port taken by something else)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_a_redis_that_never_answers_holds_up_no_request(rt, clock):
    silent = Silent()
    quiet = Runtime(rt.settings, clock=clock, redis=redis_from_url(f"redis://127.0.0.1:{silent.port}/0"))
    try:
        # two servers on the same database: one with Redis answering, one with the silent one
        with (
            LiveServer(rt) as live,
            LiveServer(quiet) as hanging,
            httpx.Client(base_url=live.url, timeout=30) as http,
        ):
            lunch = Lunch(rt, http, clock)
            healthy = lunch.listings(200, alongside=lambda: lunch.counter(lunch.diners[:HALF], out=False))
            lunch.http = httpx.Client(base_url=hanging.url, timeout=30)
            with lunch.http:
                during = lunch.listings(200, alongside=lambda: lunch.counter(lunch.diners[HALF:], out=True))
                assert lunch.http.get("/readyz").status_code == 503
        # within the noise of the healthy run (3x missed by 1 % once, embedded in CI, on a busy machine);
        # that requests do not each wait for Redis is proved by the breaker's count below
        assert p99(during) < max(0.1, 4 * p99(healthy)), (p99(healthy), p99(during))
        # the breaker stopped the asking: a few connections, not one per request
        assert len(silent.accepted) <= 8, len(silent.accepted)
        with quiet.tx() as s:
            assert s.scalar(select(func.count()).select_from(Meal)) == DINERS
    finally:
        quiet.close()
        silent.close()
