"""The one periodic scheduler (定时任务), on RQ's own CronScheduler (what `rq cron` runs).

RQ's cron enqueues with the default (pickle) serializer; Linli's workers read JSON only, so the
scheduler here enqueues through JSON queues. Cron strings are read in UTC: 19:30 UTC is 03:30
in Asia/Shanghai.
"""

from __future__ import annotations

import logging

from rq.cron import CronJob, CronScheduler

from linli.queue import queue
from workers import jobs

SCHEDULE = [
    # (function, queue, cron in UTC)
    (jobs.prune, "default", "30 19 * * *"),
    (jobs.close_forgotten_checkouts, "default", "*/5 * * * *"),
    (jobs.generate_shift_activities, "default", "0 18 * * *"),  # 02:00 in Asia/Shanghai
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
        return queue(self.queue_name, connection).enqueue_call(
            func=self.func, args=self.args, kwargs=self.kwargs, **self.job_options
        )


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
