"""The scheduler enqueues JSON jobs the workers can read, and housekeeping prunes (定时任务)."""

import json
import zlib
from datetime import timedelta

from sqlalchemy import func, select

from accounts.models import LoginCode
from linli.queue import queue
from tests.fixtures.runtime import drain
from workers.cron import SCHEDULE, build_scheduler


def test_cron_jobs_are_json_and_run(rt):
    scheduler = build_scheduler(rt.redis)
    assert [j.func for j in scheduler.get_jobs()] == [f for f, _, _ in SCHEDULE]
    now = rt.clock.now()
    with rt.tx() as s:
        s.add(
            LoginCode(
                phone="13807310001",
                code_hash="x",
                client_ip="t",
                created_at=now - timedelta(days=2),
                expires_at=now - timedelta(days=2),
                failed_attempts=0,
            )
        )
        s.add(
            LoginCode(
                phone="13807310001",
                code_hash="y",
                client_ip="t",
                created_at=now,
                expires_at=now + timedelta(minutes=5),
                failed_attempts=0,
            )
        )
    for cron_job in scheduler.get_jobs():
        cron_job.enqueue(rt.redis)
    raw = rt.redis.hget(f"rq:job:{queue('default', rt.redis).job_ids[0]}", "data")
    # JSON, not pickle (which the workers refuse): RQ stores it zlib-compressed
    assert json.loads(zlib.decompress(raw))[0] == "workers.jobs.prune"
    assert drain(rt) == len(SCHEDULE)  # every scheduled job ran without failing
    with rt.tx() as s:
        assert s.scalar(select(func.count()).select_from(LoginCode)) == 1
