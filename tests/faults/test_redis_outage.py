"""Redis stopped in the middle of check-ins and meals, and started again (故障注入: Redis 停机).

A redis-server of the test's own (with its append-only file, as a production Redis keeps what was
queued across a restart), the app under uvicorn, HTTP from a counter tablet, volunteers' phones
and a partner. Before the stop a real worker runs some of the work and the relay puts one more job
on the queue; while Redis is down volunteers check in and out, diners are served and meals are
delivered, a partner logs in and asks for a report (it goes through the outbox): every answer is
2xx with the right outcome, and the work waits in the outbox. After the start the project's relay
and a real worker (`linli worker --burst`) do everything once: each closed attendance and each
delivery is credited exactly once (`linli ledger verify` passes), each report asked for is built
once; and delivering every job a second time changes nothing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import select

from linli.outbox import OutboxMessage
from linli.queue import QUEUES, queue
from meals.models import FundingAgreement, Meal
from orgs import service as orgs_service
from points.models import Award
from reports.models import Report
from tests.fixtures.builders import file_volunteer, make_activity, staff_token, staff_user, volunteer_token
from tests.fixtures.canteen import LUNCH, Deliveries
from tests.fixtures.runtime import LiveServer, drain, redis_of_our_own, until_redis_answers
from volunteer.models import Attendance
from workers.relay import relay_once

pytestmark = pytest.mark.slow  # fault injection: left out of `make test-quick`

LINLI = str(Path(sys.executable).parent / "linli")
START = LUNCH - timedelta(hours=1)  # 10:30 local: the lunch shift at the counter, to 13:00
SHIFT = {"13807310031": "赵一", "13807310032": "钱二", "13807310033": "孙三", "13807310034": "李四"}
LATE = ("13807310035", "周五")  # checks in while Redis is down
WALKER, RUNNER = "13807310011", "13807310012"  # the delivery volunteers of tests/meals/test_delivery.py


@pytest.fixture
def own(rt, clock, tmp_path):
    with redis_of_our_own(tmp_path, rt, persist=True, clock=clock) as pair:
        yield pair


def linli(rt, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "LINLI_DATABASE_URL": rt.settings.database_url,
        "LINLI_REDIS_URL": f"redis://127.0.0.1:{rt.redis.connection_pool.connection_kwargs['port']}/0",
        "LINLI_SECRET_KEY": ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys),
        "LINLI_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    return subprocess.run([LINLI, *args], env=env, capture_output=True, text=True, timeout=60)


def test_redis_stopped_mid_lunch_scans_go_on_and_every_award_and_report_happens_once(own, clock, tmp_path):
    server, rt = own
    clock.at = LUNCH - timedelta(hours=2)  # 09:30
    with LiveServer(rt) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        world = Deliveries(rt, http)
        with rt.tx() as s:
            partner = orgs_service.create_partner(s, name="泉心社会企业", now=clock.now()).id
            s.get(FundingAgreement, world.enterprise).partner_id = partner
            more = [
                world.diner(s, name, "1948", (), serial=300 + n)
                for n, name in enumerate(("陈德胜", "张秀兰"))
            ]
        staff_user(rt, "partner1", "partner", partner_id=partner)
        shift = [
            file_volunteer(rt, phone, world.county.open_team, name=name) for phone, name in SHIFT.items()
        ]
        late = file_volunteer(rt, LATE[0], world.county.open_team, name=LATE[1])
        make_activity(rt, world.county.org_a, world.station, START, hours=2.5, capacity=10)
        tablet = staff_token(http, "counter")
        statuses: list[int] = []

        def post(path, body, headers):
            r = http.post(path, json=body, headers=headers)
            statuses.append(r.status_code)
            assert r.status_code < 300, r.text
            return r.json()

        def card(volunteer_id, at):
            clock.at = at
            payload = rt.codes.volunteer_card(volunteer_id, 1)
            body = {"payload": payload, "station_id": world.station, "scan_id": str(uuid.uuid4())}
            return post("/api/v1/scans", body, tablet)

        def counter(diner, at):
            clock.at = at
            body = {"payload": world.card(diner), "station_id": world.station, "scan_id": str(uuid.uuid4())}
            return post("/api/v1/scans", body, tablet)

        def door(phone, diner, at):
            clock.at = at
            body = {"payload": world.card(diner), "scan_id": str(uuid.uuid4())}
            return post("/api/v1/scans", body, volunteer_token(rt, phone))

        # 09:30: the day's delivery runs, each taken by a volunteer
        runs = post(
            f"/api/v1/meal-points/{world.point.id}/delivery-runs",
            {"day": LUNCH.date().isoformat(), "slot": "lunch"},
            staff_token(http, "counter"),
        )["items"]
        for community, phone in (("泉塘社区", WALKER), ("星沙社区", RUNNER)):
            run = next(r for r in runs if r["community"] == community)
            post(f"/api/v1/delivery-runs/{run['id']}/claim", {}, volunteer_token(rt, phone))

        # Redis up: the shift checks in, lunch starts, a first delivery, an early leaver
        for n, v in enumerate(shift):
            assert card(v, START - timedelta(minutes=5, seconds=-n))["outcome"] == "checked_in"
        assert counter(world.grandma, LUNCH)["outcome"] == "meal_served"
        assert door(WALKER, world.home[0], LUNCH + timedelta(minutes=5))["outcome"] == "delivered"
        assert card(shift[0], START + timedelta(minutes=70))["minutes"] == 70
        worker = linli(rt, tmp_path, "worker", "--burst")  # a worker runs what is there
        assert worker.returncode == 0, worker.stderr[-2000:]
        assert len(_credited(rt)) == 2  # the early leaver's hours and the first delivery
        assert counter(world.grandpa, LUNCH + timedelta(minutes=15))["outcome"] == "meal_served"
        assert card(shift[1], START + timedelta(minutes=80))["minutes"] == 80
        assert relay_once(rt) == 2  # relayed, not yet run, when Redis stops (and the first award's notice)
        in_flight = queue("points", rt.redis).job_ids

        server.stop()  # 11:50, in the middle of lunch
        assert http.get("/readyz").status_code == 503
        assert door(RUNNER, world.home[2], LUNCH + timedelta(minutes=25))["outcome"] == "delivered"
        assert door(WALKER, world.home[1], LUNCH + timedelta(minutes=30))["outcome"] == "delivered"
        for n, diner in enumerate(more):
            assert counter(diner, LUNCH + timedelta(minutes=35 + n))["outcome"] == "meal_served"
        again = counter(world.grandma, LUNCH + timedelta(minutes=40))
        assert (again["outcome"], again["reason"]) == ("rejected", "already_served")
        assert card(late, START + timedelta(minutes=100))["outcome"] == "checked_in"
        assert card(shift[2], START + timedelta(minutes=130))["minutes"] == 130
        assert card(shift[3], START + timedelta(minutes=131))["minutes"] == 131
        assert card(late, START + timedelta(minutes=140))["minutes"] == 40
        # a partner logs in and asks for a report; an admin asks for one too: queued in the outbox
        partner_login = post(
            "/api/v1/auth/tokens", {"username": "partner1", "password": "correct-horse-battery"}, {}
        )
        day = {"period_start": LUNCH.date().isoformat(), "period_end": LUNCH.date().isoformat()}
        asked = [
            post(
                "/api/v1/reports",
                {"kind": "meal_usage", "format": "csv", **day},
                {"Authorization": f"Bearer {partner_login['token']}"},
            ),
            post(
                "/api/v1/reports",
                {"kind": "volunteer_contribution", "format": "json", **day},
                staff_token(http, "admin_a"),
            ),
        ]
        assert statuses[-2:] == [202, 202] and {a["status"] for a in asked} == {"queued"}
        assert relay_once(rt) == 0  # the relay cannot reach Redis: the work waits
        with rt.tx() as s:
            waiting = s.scalars(
                select(OutboxMessage).where(OutboxMessage.enqueued_at.is_(None)).order_by(OutboxMessage.id)
            ).all()  # in the relay's order
        assert len(waiting) == 2 + 3 + 2  # deliveries, check-outs, reports
        # the first row's attempt is counted with its error; the relay stops at the first failure
        # (by then the client's circuit breaker is open: nothing waited for Redis)
        assert waiting[0].attempts == 1 and "RedisUnavailable" in waiting[0].last_error

        server.start()  # the same server, with what it had queued
        until_redis_answers(rt.redis)  # the breaker tries again after its cool-down
        assert queue("points", rt.redis).job_ids == in_flight
        worker = linli(rt, tmp_path, "worker", "--burst")  # the relay, then every queue
        assert worker.returncode == 0, worker.stderr[-2000:]
        worker = linli(rt, tmp_path, "worker", "--burst")  # the notices of the awards it made
        assert worker.returncode == 0, worker.stderr[-2000:]
        assert set(statuses) <= {200, 201, 202}

        reports_asked = [a["id"] for a in asked]
        clock.at = datetime.now(UTC)  # the worker built the files on the real clock; kept 90 days from then
        for report_id, who in zip(
            reports_asked,
            ({"Authorization": f"Bearer {partner_login['token']}"}, staff_token(http, "admin_a")),
            strict=True,
        ):
            status = http.get(f"/api/v1/reports/{report_id}", headers=who).json()
            assert status["status"] == "done", status
            got = http.get(status["file"], headers=who)
            assert got.status_code == 200
            assert (
                hashlib.sha256(got.content).hexdigest()
                == got.headers["x-checksum-sha256"]
                == status["sha256"]
            )

    credited = _credited(rt)
    expected = _expected(rt, [*shift, late])
    assert credited == expected
    verify = linli(rt, tmp_path, "ledger", "verify")
    assert verify.returncode == 0 and "ledger ok" in verify.stdout, verify.stdout + verify.stderr
    with rt.tx() as s:
        assert sorted(r.id for r in s.scalars(select(Report))) == sorted(reports_asked)  # one each
        assert {r.status for r in s.scalars(select(Report))} == {"done"}
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.enqueued_at.is_(None))).all() == []
        jobs = [(row.job_id, row.queue) for row in s.scalars(select(OutboxMessage))]
    for name in QUEUES:
        assert FailedJobRegistry(name, connection=rt.redis, serializer=JSONSerializer).count == 0
    assert {Job.fetch(j, connection=rt.redis, serializer=JSONSerializer).get_status() for j, _ in jobs} == {
        "finished"
    }

    # every job delivered once more (a relay that died before marking, a redelivery): nothing changes
    for job_id, name in jobs:
        row = Job.fetch(job_id, connection=rt.redis, serializer=JSONSerializer)
        queue(name, rt.redis).enqueue_call(func=row.func_name, args=row.args, job_id=job_id)
    assert drain(rt) == len(jobs)
    assert _credited(rt) == expected
    with rt.tx() as s:
        assert sorted(r.id for r in s.scalars(select(Report))) == sorted(reports_asked)


def _credited(rt) -> dict[str, tuple[int, int, int]]:
    """Every award: its key → (volunteer, minutes, points)."""
    with rt.tx() as s:
        return {a.key: (a.volunteer_id, a.minutes, a.points) for a in s.scalars(select(Award))}


def _expected(rt, volunteers) -> dict[str, tuple[int, int, int]]:
    """One service award per closed attendance (minutes in whole quarter hours at 10 points an
    hour), one delivery award (5 points) per delivered meal, and nothing else."""
    with rt.tx() as s:
        attendances = s.scalars(select(Attendance).where(Attendance.volunteer_id.in_(volunteers))).all()
        delivered = s.scalars(select(Meal).where(Meal.delivered_by.is_not(None))).all()
    assert len(attendances) == 5 and all(a.state == "closed" for a in attendances)
    assert len(delivered) == 3
    return {
        f"attendance:{a.id}": (a.volunteer_id, a.minutes, a.minutes // 15 * 15 * 10 // 60)
        for a in attendances
    } | {f"delivery:meal:{m.id}": (m.delivered_by, 0, 5) for m in delivered}
