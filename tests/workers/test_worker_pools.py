"""Worker pools per queue (工作进程池): a `linli worker` not listening on `reports` never takes a
report's job, so reports cannot hold up login codes or awards (real worker processes)."""

import os
import subprocess

import pytest

from linli.queue import queue
from tests.fixtures.processes import LINLI
from workers import jobs

pytestmark = pytest.mark.slow  # real worker processes


def _worker(settings, *queues: str) -> None:
    env = {
        **os.environ,
        "LINLI_DATABASE_URL": settings.database_url,
        "LINLI_REDIS_URL": settings.redis_url,
        "LINLI_SECRET_KEY": ",".join(f"{k}:{v.decode()}" for k, v in settings.secret_keys),
    }
    args = [arg for name in queues for arg in ("--queues", name)]
    done = subprocess.run(
        [LINLI, "worker", "--burst", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_pool_for_codes_and_awards_leaves_reports_to_their_own(rt, client, settings):
    from accounts.sender import DEMO_INBOX_KEY

    assert client.post("/api/v1/auth/codes", json={"phone": "13807310002"}).status_code == 202  # default
    reports = queue("reports", rt.redis)
    reports.enqueue_call(func=jobs.prune, job_id="a-report-s-place")  # any job waiting on `reports`
    _worker(settings, "default", "points")
    assert rt.redis.llen(DEMO_INBOX_KEY) == 1  # the code was sent
    assert reports.job_ids == ["a-report-s-place"]  # and the report's job left for its pool
    _worker(settings, "reports")
    assert reports.count == 0
