"""The one periodic scheduler (定时任务), on RQ's own CronScheduler (what `rq cron` runs).

RQ's cron enqueues with the default (pickle) serializer; Linli's workers read JSON only, so the
scheduler here enqueues through JSON queues. Cron strings are read in UTC: 19:30 UTC is 03:30
in Asia/Shanghai.

Exactly one scheduler: RQ's CronScheduler has no lock of its own (two `rq cron` enqueue every job
twice), so `linli cron` may be started on several hosts and only the one holding the scheduler's
lock (`linli.leader`: PostgreSQL's advisory lock, a file lock embedded) schedules; the others
stand by and try the lock every `POLL` seconds. The leader checks it still holds the lock before
every tick and at least every `POLL` seconds, and stops scheduling when it does not. Takeover: a
leader killed or stopped frees the lock at once, so a standby leads within `POLL` s; a leader
whose host is gone, within about 16 + `POLL` s (PostgreSQL finds the session dead by keepalives).
A new leader goes on from the last enqueue of each job (`resume`): a tick that fell in the gap
is enqueued once when it leads, none twice.
"""

from __future__ import annotations

import logging
import signal
import time
from contextlib import suppress
from datetime import UTC, datetime

from redis.exceptions import RedisError
from rq import cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.utils import now

from linli.leader import LeaderLock, scheduler_lock
from linli.queue import queue
from workers import jobs

log = logging.getLogger("linli.cron")
POLL = 5.0  # seconds between a standby's tries of the lock, and at most between a leader's checks
MAKE_UP = 600  # seconds: a tick missed by at most this much is enqueued by the next leader

SCHEDULE = [
    # (function, queue, cron in UTC)
    (jobs.prune, "default", "30 19 * * *"),
    (jobs.close_forgotten_checkouts, "default", "*/5 * * * *"),
    (jobs.generate_shift_activities, "default", "0 18 * * *"),  # 02:00 in Asia/Shanghai
    (jobs.partitions_ahead, "default", "15 16 * * *"),  # 00:15: the month partitions ahead (PostgreSQL)
    (jobs.points_nightly, "points", "0 17 * * *"),  # 01:00: orders, reservations and lots that expired
    (jobs.ledger_verify, "points", "30 18 * * *"),  # 02:30
    # every 15 minutes: a point's day closes at 21:30, or after its last slot if that ends later
    (jobs.close_meal_days, "default", "*/15 * * * *"),
    (jobs.grants_take_effect, "default", "*/15 * * * *"),  # rounds whose notice ended: projects made
    (jobs.integrity_sweep, "default", "45 13 * * *"),  # 21:45: the day's anomalies (integrity.detect)
    (jobs.monthly_reports, "reports", "0 18 * * *"),  # 02:00; it acts on the first of the month
    (jobs.remind_activities, "default", "*/15 * * * *"),  # sign-ups of activities within 24 hours
    (jobs.send_due_notices, "default", "*/5 * * * *"),  # SMS held back by quiet hours
]


class JsonCronJob(CronJob):
    def enqueue(self, connection):
        """Enqueue, and record when in RQ's registry of cron jobs (as RQ's own enqueue does), in
        one transaction: a new leader reads it to make up a tick missed in the takeover."""
        with connection.pipeline() as pipeline:
            job = queue(self.queue_name, connection).enqueue_call(
                func=self.func, args=self.args, kwargs=self.kwargs, **self.job_options, pipeline=pipeline
            )
            cron_job_registry.add(self.name, pipeline, enqueue_timestamp=time.time())
            pipeline.execute()
        return job


class JsonCronScheduler(CronScheduler):
    def register(self, func, queue_name, **kwargs):
        cron_job = super().register(func, queue_name, **kwargs)
        cron_job.__class__ = JsonCronJob
        return cron_job


def build_scheduler(redis) -> JsonCronScheduler:
    scheduler = JsonCronScheduler(connection=redis, logging_level=logging.INFO)
    for func, queue_name, cron in SCHEDULE:
        scheduler.register(func, queue_name, cron=cron)
    return scheduler


def resume(scheduler: JsonCronScheduler) -> None:
    """A new leader's schedule goes on from the last enqueue of each job (any leader's, read from
    RQ's registry): a tick that fell due since then, within `MAKE_UP` seconds, is enqueued at once,
    so a takeover neither repeats a tick nor skips one. Older ticks (no scheduler ran for a while)
    are not made up, as before: the next comes at its time."""
    current = now()
    for job in scheduler.get_jobs():
        score = scheduler.connection.zscore(cron_job_registry.get_registry_key(), job.name)
        if score is None:
            continue
        fresh = job.next_enqueue_time  # counted from now when the job was registered
        job.latest_enqueue_time = datetime.fromtimestamp(score, UTC)
        due = job.get_next_enqueue_time()
        if due < fresh and (current - due).total_seconds() <= MAKE_UP:
            job.next_enqueue_time = due  # in the past: enqueued at the first tick
        else:
            job.latest_enqueue_time = None


class _Stop:
    """SIGTERM or SIGINT: finish the current tick, free the lock, exit."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._request)

    def _request(self, signum, _frame) -> None:
        self.requested = True

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.requested and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))


def run(rt, lock: LeaderLock | None = None, poll: float = POLL) -> None:
    """`linli cron`: stand by until this process holds the scheduler's lock, then schedule while
    it holds it; stand by again if it is lost. Returns on SIGTERM or SIGINT."""
    lock = lock or scheduler_lock(rt.settings.direct_url)
    stop = _Stop()
    standing_by = False
    try:
        while not stop.requested:
            if lock.acquire():
                log.info("成为调度主进程 became leader: this process schedules the periodic jobs")
                lead(rt, lock, stop, poll)
                if not stop.requested:
                    log.warning("失去调度锁，停止调度 lost the scheduler's lock: stopped scheduling")
                standing_by = False
            elif not standing_by:
                log.info("待命 standing by: another linli cron is the leader; trying every %s s", poll)
                standing_by = True
            stop.sleep(poll)
    finally:
        lock.release()
        log.info("调度进程退出 linli cron stopped")


def lead(rt, lock: LeaderLock, stop: _Stop, poll: float) -> None:
    """Schedule while `lock` is held (asked before every tick): RQ's CronScheduler's loop, with
    the check added and Redis's failures waited out rather than fatal."""
    scheduler = build_scheduler(rt.redis)  # next runs counted from now
    with suppress(RedisError):
        resume(scheduler)
        scheduler.register_birth()
    try:
        while not stop.requested and lock.held():
            try:
                if scheduler.enqueue_jobs():
                    scheduler.save()
                scheduler.heartbeat()
                wait = scheduler.calculate_sleep_interval()
            except RedisError as exc:
                log.warning("调度时 Redis 不可用 Redis unavailable while scheduling: %s", exc)
                wait = 1.0
            stop.sleep(min(max(wait, 0.05), poll))
    finally:
        with suppress(RedisError):
            scheduler.register_death()
