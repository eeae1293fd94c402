"""Exactly one scheduler (选主): `linli cron` started twice schedules in one process only, and a
standby takes over when the leader is killed (real processes, the suite's database and Redis)."""

import os
import signal
import subprocess
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest
from rq import cron_job_registry
from rq.cron import CronScheduler
from sqlalchemy import create_engine, text

from linli.leader import FileLock, PostgresLock, scheduler_lock
from linli.queue import queue
from tests.fixtures.processes import LINLI, cron_lock_holder
from workers import cron

TAKEOVER_BOUND = 15.0  # seconds: cron.POLL (5 s) after a killed leader freed the lock, with room


def _env(settings) -> dict[str, str]:
    return {
        **os.environ,
        "LINLI_DATABASE_URL": settings.database_url,
        "LINLI_REDIS_URL": settings.redis_url,
        "LINLI_SECRET_KEY": ",".join(f"{k}:{v.decode()}" for k, v in settings.secret_keys),
    }


def _wait_for(predicate, timeout: float, step: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if found := predicate():
            return found
        time.sleep(step)
    return predicate()


def _scheduling_pids(redis) -> set[int]:
    """The processes registered in RQ's registry of running cron schedulers (only a leader registers)."""
    return {s.pid for s in CronScheduler.all(redis)}


def _lock_holder(settings) -> int | None:
    """The pid of the `linli cron` whose session holds the advisory lock, or whose pid the lock file names."""
    if settings.is_sqlite:
        lock = scheduler_lock(settings.database_url)
        probe = FileLock(lock.path)
        if probe.acquire():  # nobody holds it
            probe.release()
            return None
        return int(lock.path.read_text().split()[0])
    engine = create_engine(settings.sqlalchemy_url)
    try:
        return cron_lock_holder(engine)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_two_cron_processes_one_leads_and_a_standby_takes_over_from_a_killed_leader(settings, rt, tmp_path):
    with ExitStack() as stack:
        procs, logs = [], []
        for n in range(2):
            log = tmp_path / f"cron{n}.err"
            proc = subprocess.Popen(
                [LINLI, "cron"], env=_env(settings), stderr=log.open("w"), stdout=subprocess.DEVNULL
            )
            stack.callback(lambda p=proc: (p.kill(), p.wait()))
            procs.append(proc)
            logs.append(log)

        def said(n: int, words: str) -> bool:
            return words in logs[n].read_text()

        assert _wait_for(lambda: all(said(n, "became leader") or said(n, "standing by") for n in (0, 1)), 40)
        leaders = [n for n in (0, 1) if said(n, "became leader")]
        assert len(leaders) == 1, [log.read_text()[-2000:] for log in logs]
        leader, standby = leaders[0], 1 - leaders[0]
        assert said(standby, "standing by")
        time.sleep(cron.POLL + 1)  # the standby has tried the lock again, and again failed
        assert not said(standby, "became leader")
        assert _lock_holder(settings) == procs[leader].pid
        assert _wait_for(lambda: _scheduling_pids(rt.redis) == {procs[leader].pid}, 5)

        procs[leader].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert _wait_for(lambda: said(standby, "became leader"), TAKEOVER_BOUND + 5, step=0.05)
        takeover = time.monotonic() - killed
        print(f"takeover after SIGKILL: {takeover:.1f} s")
        assert takeover < TAKEOVER_BOUND
        assert _lock_holder(settings) == procs[standby].pid
        assert _wait_for(lambda: procs[standby].pid in _scheduling_pids(rt.redis), 5)

        procs[standby].send_signal(signal.SIGTERM)  # a clean stop frees the lock and says so
        assert procs[standby].wait(timeout=10) == 0
        assert said(standby, "linli cron stopped")
        # the server ends the backend a moment after the process exits: its lock goes with it
        assert _wait_for(lambda: _lock_holder(settings) is None, 5)


def test_the_lock_is_held_once_and_freed_when_its_holder_goes(settings, tmp_path):
    if settings.is_sqlite:
        first, second = FileLock(tmp_path / "x.lock"), FileLock(tmp_path / "x.lock")
    else:
        first, second = PostgresLock(settings.database_url), PostgresLock(settings.database_url)
    try:
        assert first.acquire() and first.held()
        if not settings.is_sqlite:  # the server finds a vanished leader's session dead by keepalives
            assert first._conn.execute("SHOW tcp_keepalives_idle").fetchone()[0] in ("10", "10s")
            assert first._conn.execute("SHOW statement_timeout").fetchone()[0] == "2s"
        assert not second.acquire() and not second.held()
        first.release()
        assert not first.held()
        assert second.acquire() and second.held()
        assert not first.acquire()
    finally:
        first.release()
        second.release()


def test_a_leader_that_loses_its_lock_connection_stops_scheduling(settings, rt):
    """PostgreSQL ends the leader's lock session (as a lost connection would): the leader sees it at
    its next check and stops, and another process can take the lock."""
    if settings.is_sqlite:
        pytest.skip("a file lock has no connection to lose")
    lock = PostgresLock(settings.database_url, name="linli cron test")
    assert lock.acquire()

    def cut():
        time.sleep(1.0)
        engine = create_engine(settings.sqlalchemy_url)
        with engine.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n"),
                {"n": f"linli cron test {os.getpid()}"},
            )
            conn.commit()
        engine.dispose()

    cutter = threading.Thread(target=cut)
    cutter.start()
    started = time.monotonic()
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        cron.lead(rt, lock, cron._Stop(), poll=0.5)  # returns once the lock is found lost
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
        cutter.join()
    assert time.monotonic() - started < 5
    assert _scheduling_pids(rt.redis) == set()  # it left RQ's registry of running schedulers
    other = PostgresLock(settings.database_url)
    assert other.acquire()
    other.release()


def test_a_new_leader_makes_up_a_tick_missed_in_the_takeover_and_repeats_none(rt):
    scheduler = cron.build_scheduler(rt.redis)
    by_name = {j.func.__name__: j for j in scheduler.get_jobs()}
    missed, done, old = by_name["close_forgotten_checkouts"], by_name["send_due_notices"], by_name["prune"]
    current = datetime.now(UTC)
    tick = current.replace(minute=current.minute - current.minute % 5, second=0, microsecond=0)  # */5
    key = cron_job_registry.get_registry_key()
    rt.redis.zadd(key, {missed.name: (tick - timedelta(minutes=5) + timedelta(seconds=1)).timestamp()})
    rt.redis.zadd(key, {done.name: (tick + timedelta(seconds=1)).timestamp()})  # the dead leader's last
    rt.redis.zadd(key, {old.name: (current - timedelta(days=3)).timestamp()})  # no scheduler for days
    cron.resume(scheduler)
    assert [j.func for j in scheduler.enqueue_jobs()] == [missed.func]
    assert rt.redis.zscore(key, missed.name) >= current.timestamp()  # recorded with the enqueue
    assert queue("default", rt.redis).count == 1
