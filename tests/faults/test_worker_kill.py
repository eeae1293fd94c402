"""A worker killed with SIGKILL in the middle of an award job and in the middle of a report build
(故障注入: 杀死工作进程). The workers are the project's own command (`linli worker`), real
processes on the real database and Redis. The test stops each job at a real point of its work by
holding a database lock the job needs (nothing in the project is changed or mocked), sees from
Redis and the database that the job is there, and kills the worker with SIGKILL, as `kill -9` or
the kernel's OOM killer would. Then the project's own retry takes over: the next worker's RQ
maintenance finds the abandoned job (its execution in the started registry has expired: the test
moves that expiry to now instead of waiting four minutes), schedules the retry the relay gave it
(`Retry(max=3, interval=[10, 30, 60])`), and a scheduler enqueues it. The outcome is the run
without the kill: every attendance credited once, one report, the same file.

It found that a killed worker's job kept its PostgreSQL transaction, and its row locks, open: RQ
forks its scheduler from the worker, and the fork's copy of the database socket outlived the
worker, so every later award of the hub waited for ever. `linli.db` now drops those copies in
forked children.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.suspension import resume, suspend
from rq.worker import Worker as RqWorker
from sqlalchemy import func, select, text

from linli.outbox import OutboxMessage
from linli.queue import QUEUES, queue
from points import ledger, verification
from points.models import Award, Lot, Transfer
from reports import service as reports
from reports.models import Report
from tests.fixtures.builders import file_volunteer, make_activity, staff_token
from tests.fixtures.canteen import LUNCH, Canteen
from volunteer.models import Attendance, Notice
from workers.relay import relay_once

pytestmark = pytest.mark.slow  # fault injection: left out of `make test-quick`

LINLI = str(Path(sys.executable).parent / "linli")
START = LUNCH - timedelta(hours=1)  # 10:30 local: the lunch shift at the canteen's counter
PHONES = [f"1380731{n:04d}" for n in range(21, 27)]
NAMES = ["赵一", "钱二", "孙三", "李四", "周五", "吴六"]


class Worker:
    """`linli worker` as a real process, in a process group of its own (with the RQ scheduler
    process it forks)."""

    def __init__(self, rt, tmp_path, *args: str) -> None:
        self.log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
        self.proc = subprocess.Popen(
            [LINLI, "worker", *args],
            env=worker_env(rt, tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text()[-3000:]

    def kill(self) -> int:
        """SIGKILL to the worker, the process running the job (RQ's SimpleWorker runs jobs in its
        own process), as `kill -9` or the kernel's OOM killer would. The scheduler process it
        forked lives on, as it does in production, holding the queues' scheduler locks."""
        os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it; whatever is left of the group is then killed.
        (A worker once took up to a minute to stop: redis-py 8.2 made RQ's stop of its pub/sub
        listener wait; `workers.worker.Worker` bounds that wait.)"""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"linli worker ignored SIGTERM for 30 s:\n{self.output()}")
        finally:
            self.end()

    def end(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def job_stopped_by_lock(rt, table: str, mode: str):
    """Hold a lock the job needs, on a connection of the test's own. PostgreSQL: a table lock, so
    the job stops at a real point inside its work (awards: inserting its ledger transfers, after
    it locked its accounts and created the new ones; a report: reading meals, after `running` was
    committed). SQLite has one write lock for the whole database, so there the job stops at its
    first transaction."""
    with rt.engine.connect() as conn:
        tx = conn.begin()  # SQLite: BEGIN IMMEDIATE (the engine's begin hook): the write lock
        if not rt.settings.is_sqlite:
            conn.execute(text(f"LOCK TABLE {table} IN {mode} MODE"))
        try:
            yield
        finally:
            tx.rollback()


@contextlib.contextmanager
def worker_waiting(rt, start_worker, *args: str):
    """A worker started while workers are suspended (`rq suspend`): it opens its database and
    Redis connections and waits, taking no job, until resumed. (On SQLite even its start-up read
    needs the write lock the test is about to hold.)"""
    suspend(rt.redis)
    try:
        worker = start_worker(*args)
        deadline = time.monotonic() + 30
        while not any(
            w.pid == worker.proc.pid and w.get_state() == "suspended"
            for w in RqWorker.all(connection=rt.redis)
        ):
            assert worker.proc.poll() is None, worker.output()
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.05)
        yield worker
    finally:
        resume(rt.redis)


def wait_until_job_is_held(rt, queue_name: str, job_id: str, table: str, worker: Worker) -> None:
    """The job has started (RQ's started registry, in Redis) and waits on the lock (PostgreSQL:
    pg_locks shows a backend waiting for the table)."""
    registry = StartedJobRegistry(queue_name, connection=rt.redis, serializer=JSONSerializer)
    deadline = time.monotonic() + 30
    while not any(m.decode().startswith(f"{job_id}:") for m in rt.redis.zrange(registry.key, 0, -1)):
        assert worker.proc.poll() is None, worker.output()
        assert time.monotonic() < deadline, worker.output()
        time.sleep(0.05)
    if rt.settings.is_sqlite:
        time.sleep(0.5)  # it cannot get past its first transaction
        return
    waiting = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE NOT l.granted AND c.relname = :table "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    with rt.engine.connect() as conn:
        while not conn.execute(waiting, {"table": table}).scalar():
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.05)
            conn.rollback()


def no_transaction_left_open(rt) -> None:
    """PostgreSQL has rolled the killed job's transaction back: no session of this database is
    left idle in a transaction (holding its locks)."""
    if rt.settings.is_sqlite:
        return
    left = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 10
    with rt.engine.connect() as conn:
        while conn.execute(left).scalar():
            assert time.monotonic() < deadline, "the killed job's transaction is still open"
            time.sleep(0.05)
            conn.rollback()


def expire_abandoned(rt, queue_name: str) -> list[str]:
    """What waiting out an abandoned job's execution TTL would do (a SimpleWorker's is the job
    timeout, 180 s, plus 60 s): its entry in the started registry is moved to now, so the next
    worker's maintenance (on start, then every 10 minutes) sees it as abandoned."""
    registry = StartedJobRegistry(queue_name, connection=rt.redis, serializer=JSONSerializer)
    entries = rt.redis.zrange(registry.key, 0, -1, withscores=True)
    for member, expires in entries:
        assert expires > time.time() + 120  # the heartbeat TTL the kill left behind
        rt.redis.zadd(registry.key, {member: time.time() - 1}, xx=True)
    return [m.decode().split(":")[0] for m, _ in entries]


@pytest.fixture
def start_worker(rt, tmp_path):
    """Starts `linli worker` processes; every one left (the killed workers' schedulers) is ended
    with the test."""
    started: list[Worker] = []

    def start(*args: str) -> Worker:
        started.append(Worker(rt, tmp_path, *args))
        return started[-1]

    yield start
    for worker in started:
        worker.end()


def test_a_worker_killed_mid_award_and_mid_report_retries_to_the_same_outcome(
    rt, client, clock, tmp_path, start_worker
):
    clock.at = START - timedelta(minutes=30)
    canteen = Canteen(rt, client)
    volunteers = [
        file_volunteer(rt, phone, canteen.county.open_team, name=name)
        for phone, name in zip(PHONES, NAMES, strict=True)
    ]
    make_activity(rt, canteen.county.org_a, canteen.station, START, hours=2.5, capacity=10)
    tablet = staff_token(client, "counter")

    def scan(payload):
        r = client.post(
            "/api/v1/scans",
            json={"payload": payload, "station_id": canteen.station, "scan_id": str(uuid.uuid4())},
            headers=tablet,
        )
        assert r.status_code == 200, r.text
        return r.json()

    clock.at = START - timedelta(minutes=5)
    for v in volunteers:
        assert scan(rt.codes.volunteer_card(v, 1))["outcome"] == "checked_in"
    clock.at = LUNCH
    for diner in (canteen.grandma, canteen.grandpa):
        assert scan(canteen.card(diner))["outcome"] == "meal_served"
    clock.at = START + timedelta(minutes=130)
    for v in volunteers[:3]:
        assert scan(rt.codes.volunteer_card(v, 1))["minutes"] == 130

    # the first three awards: a worker as it runs every day
    first = subprocess.run(
        [LINLI, "worker", "--burst", "--queues", "points"],
        env=worker_env(rt, tmp_path),
        capture_output=True,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr[-2000:]
    assert _awards(rt) == {v: (130, 20) for v in volunteers[:3]}

    clock.at = START + timedelta(minutes=135)
    for v in volunteers[3:]:
        assert scan(rt.codes.volunteer_card(v, 1))["minutes"] == 135
    admin = staff_token(client, "admin_a")
    asked = client.post(
        "/api/v1/reports",
        json={
            "kind": "meal_usage",
            "period_start": LUNCH.date().isoformat(),
            "period_end": LUNCH.date().isoformat(),
            "format": "json",
            "granularity": "day",
            "internal": True,
        },
        headers=admin,
    )
    assert asked.status_code == 202, asked.text
    report_id = asked.json()["id"]
    assert relay_once(rt) == 7  # three awards, the first three awards' notices and the report on RQ
    with rt.tx() as s:
        award_jobs = [f"attendance-closed-{a}" for a in _attendance_ids(s, volunteers[3:])]

    # 1. killed in the middle of the fourth volunteer's award
    with (
        worker_waiting(rt, start_worker, "--queues", "points") as worker,
        job_stopped_by_lock(rt, "ledger_transfers", "SHARE"),
    ):
        resume(rt.redis)
        wait_until_job_is_held(rt, "points", award_jobs[0], "ledger_transfers", worker)
        assert worker.kill() == -signal.SIGKILL
    no_transaction_left_open(rt)
    assert set(_awards(rt)) == set(volunteers[:3])  # the killed award's transaction left nothing
    with rt.tx() as s:  # not even the ledger accounts it had made for the fourth volunteer
        assert ledger.account_by_key(s, f"points:volunteer:{volunteers[3]}") is None
    assert Job.fetch(award_jobs[0], connection=rt.redis, serializer=JSONSerializer).get_status() == "started"
    assert queue("points", rt.redis).job_ids == award_jobs[1:]  # not started: still waiting

    # 2. killed in the middle of building the report
    with (
        worker_waiting(rt, start_worker, "--queues", "reports") as worker,
        job_stopped_by_lock(rt, "meals", "ACCESS EXCLUSIVE"),
    ):
        resume(rt.redis)
        wait_until_job_is_held(rt, "reports", f"report-{report_id}", "meals", worker)
        assert worker.kill() == -signal.SIGKILL
    no_transaction_left_open(rt)
    with rt.tx() as s:
        report = s.get(Report, report_id)
        killed_at = (report.status, report.attempts, report.content)
    # PostgreSQL: stopped inside the build, after `running` was committed; SQLite: before it
    assert killed_at == (("queued", 0, None) if rt.settings.is_sqlite else ("running", 1, None))

    # 3. the retry: the next worker's maintenance finds both abandoned jobs and retries them
    assert expire_abandoned(rt, "points") == [award_jobs[0]]
    assert expire_abandoned(rt, "reports") == [f"report-{report_id}"]
    worker = start_worker()  # `linli worker` as deployed: all queues, with its scheduler
    try:
        deadline = time.monotonic() + 45
        # and each award's notice (points_awarded) past its job, so none is left on the queue
        while len(_awards(rt)) < 6 or _status(rt, report_id) != "done" or _notice_jobs_done(rt) < 6:
            assert worker.proc.poll() is None, worker.output()
            assert time.monotonic() < deadline, (_awards(rt), _status(rt, report_id), worker.output())
            time.sleep(0.2)
    finally:
        worker.stop()
    for job_id in (award_jobs[0], f"report-{report_id}"):
        job = Job.fetch(job_id, connection=rt.redis, serializer=JSONSerializer)
        assert (job.get_status(), job.retries_left) == ("finished", 2)  # one retry, the abandoned run

    # the same outcome as without the kill: 130 minutes are 120 counted (whole quarter hours) at
    # 10 points an hour, 135 minutes 22 points
    assert _awards(rt) == {v: (130, 20) for v in volunteers[:3]} | {v: (135, 22) for v in volunteers[3:]}
    with rt.tx() as s:
        assert verification.verify(s) == []
        assert s.scalar(select(func.count()).select_from(Transfer)) == 12  # minutes and points, once each
        assert s.scalar(select(func.count()).select_from(Lot)) == 6
        for v, points in zip(volunteers, [20] * 3 + [22] * 3, strict=True):
            assert ledger.account_by_key(s, f"points:volunteer:{v}").balance == points
        assert (
            s.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.enqueued_at.is_(None))
            )
            == 0
        )
        [report] = s.scalars(select(Report)).all()  # one report for one request
        assert (report.id, report.status, report.attempts) == (
            report_id,
            "done",
            1 if rt.settings.is_sqlite else 2,  # the killed attempt counts on PostgreSQL
        )
        built, finished_at = json.loads(report.content), report.finished_at
    assert built["sheets"][0]["totals"]["meals"] == 2  # the two lunches
    # the file is what the same report builds undisturbed (in a transaction rolled back)
    twin = rt.session_factory()
    try:
        again = reports.build(twin, report_id, now=finished_at, tz=rt.settings.tz)
        assert json.loads(again.content) == built
    finally:
        twin.rollback()
        twin.close()
    for name in QUEUES:
        assert FailedJobRegistry(name, connection=rt.redis, serializer=JSONSerializer).count == 0
        assert ScheduledJobRegistry(name, connection=rt.redis, serializer=JSONSerializer).count == 0
        assert queue(name, rt.redis).count == 0


def worker_env(rt, tmp_path) -> dict:
    return {
        **os.environ,
        "LINLI_DATABASE_URL": rt.settings.database_url,
        "LINLI_REDIS_URL": rt.settings.redis_url,
        "LINLI_SECRET_KEY": ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys),
        "LINLI_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }


def _attendance_ids(session, volunteers) -> list[int]:
    ids = dict(session.execute(select(Attendance.volunteer_id, Attendance.id)).all())
    return [ids[v] for v in volunteers]


def _awards(rt) -> dict[int, tuple[int, int]]:
    """Each volunteer's service award: (minutes, points); fails if any attendance has two."""
    with rt.tx() as s:
        rows = s.execute(select(Award.volunteer_id, Award.key, Award.minutes, Award.points)).all()
        attendances = dict(s.execute(select(Attendance.id, Attendance.volunteer_id)).all())
    assert len({key for _, key, _, _ in rows}) == len(rows)
    assert all(
        key == f"attendance:{a}" and attendances[a] == v
        for v, key, _, _ in rows
        for a in [int(key.split(":")[1])]
    )
    awards: dict[int, tuple[int, int]] = {}
    for v, _, minutes, points in rows:
        assert v not in awards
        awards[v] = (minutes, points)
    return awards


def _notice_jobs_done(rt) -> int:
    """Notices whose SMS job has finished (sent, or held back by quiet hours for the sweep)."""
    with rt.tx() as s:
        ids = s.scalars(select(Notice.id)).all()
    done = 0
    for notice_id in ids:
        with contextlib.suppress(NoSuchJobError):
            job = Job.fetch(f"notice-{notice_id}", connection=rt.redis, serializer=JSONSerializer)
            done += job.get_status() == "finished"
    return done


def _status(rt, report_id: int) -> str:
    with rt.tx() as s:
        return s.scalar(select(Report.status).where(Report.id == report_id))


def test_a_killed_workers_dequeue_takes_no_job(rt, tmp_path, start_worker):
    """A worker killed alone while it waits for work (its forked scheduler lives on): its blocking
    dequeue ends with it. Before, the scheduler's copy of the worker's Redis socket kept that
    dequeue open in Redis, and it took the next job (here a login code), which nobody ran."""
    from accounts.sender import DEMO_INBOX_KEY

    db = int(rt.redis.connection_pool.connection_kwargs.get("db", 0))

    def dequeues() -> list[dict]:
        return [
            c
            for c in rt.redis.client_list()
            if c.get("cmd") in ("blmove", "blpop", "brpoplpush") and int(c.get("db", -1)) == db
        ]

    worker = start_worker("--queues", "default")
    deadline = time.monotonic() + 30
    while not dequeues():  # idle: waiting in Redis for a job
        assert worker.proc.poll() is None and time.monotonic() < deadline, worker.output()
        time.sleep(0.05)
    assert worker.kill() == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while dequeues() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dequeues() == []  # Redis saw the dead worker's connection end

    queue("default", rt.redis).enqueue("workers.jobs.send_login_code", "13807310099", "246810")
    done = subprocess.run(
        [LINLI, "worker", "--burst", "--queues", "default"],
        env=worker_env(rt, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert rt.redis.llen(DEMO_INBOX_KEY) == 1  # the code was sent
