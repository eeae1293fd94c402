"""A notice's SMS is delivered once even when the worker is killed while sending it (故障注入:
发送短信时杀死工作进程). The worker is the project's own command (`linli worker`), a real process
on the real database and Redis, its sender a slow gateway named by LINLI_SMS_SENDER that writes
each text to a file (the phone) and then takes a minute to answer. The test sees the text arrive,
kills the worker with SIGKILL, and lets RQ's own retry run the job again in a new worker: the
retry finds the SMS claimed (`sending`) and sends nothing, while a notice made after the kill is
sent normally. Each text reaches the phone exactly once; the sweep then gives the killed one up
as `unknown` (the inbox keeps it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import select

from tests.fixtures.builders import make_county
from volunteer import notices
from volunteer import service as volunteer_service
from volunteer.models import Notice
from workers import jobs
from workers.relay import relay_once

pytestmark = pytest.mark.slow  # real worker processes

LINLI = str(Path(sys.executable).parent / "linli")
PHONE = "13807310031"


def worker_env(rt, tmp_path, sms_log: Path, sleep: float) -> dict:
    return {
        **os.environ,
        "LINLI_DATABASE_URL": rt.settings.database_url,
        "LINLI_REDIS_URL": rt.settings.redis_url,
        "LINLI_SECRET_KEY": ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys),
        "LINLI_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "LINLI_SMS_SENDER": "tests.faults.slow_sender:SlowSender",
        "LINLI_TEST_SMS_LOG": str(sms_log),
        "LINLI_TEST_SMS_SLEEP": str(sleep),
    }


@pytest.fixture
def start_worker(rt, tmp_path):
    """`linli worker` processes, each in a process group of its own (with the RQ scheduler it
    forks); whatever is left of them is ended with the test."""
    started: list[subprocess.Popen] = []

    def start(sms_log: Path, sleep: float) -> subprocess.Popen:
        log = tmp_path / f"worker-{len(started)}.log"
        started.append(
            subprocess.Popen(
                [LINLI, "worker", "--queues", "default"],
                env=worker_env(rt, tmp_path, sms_log, sleep),
                stdout=subprocess.DEVNULL,
                stderr=log.open("w"),
                start_new_session=True,
            )
        )
        return started[-1]

    yield start
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def approved_notice(rt, volunteer_id: int, team_id: int) -> int:
    """A filing approved by an admin: its notice (and its outbox event) commit with it."""
    with rt.tx() as s:
        now = rt.clock.now()
        filing = volunteer_service.apply(s, volunteer_id=volunteer_id, team_id=team_id, now=now)
        volunteer_service.decide(
            s, filing_id=filing.id, decision="approved", staff_user_id=None, admin_paths=["/"], reason="", now=now
        )
        return s.scalar(select(Notice.id).where(Notice.key == f"filing:{filing.id}:approved"))


def state(rt, notice_id: int) -> str:
    with rt.tx() as s:
        return s.scalar(select(Notice.sms_state).where(Notice.id == notice_id))


def wait_for(what, check, proc, within: float = 45):
    deadline = time.monotonic() + within
    while not check():
        assert proc.poll() is None, f"the worker ended while waiting for {what}"
        assert time.monotonic() < deadline, f"waited in vain for {what}"
        time.sleep(0.1)


def test_a_worker_killed_while_sending_sends_each_text_once(rt, clock, tmp_path, start_worker, monkeypatch):
    county = make_county(rt)
    with rt.tx() as s:
        volunteer = volunteer_service.register(
            s,
            rt.signer,
            volunteer_service.Registration("赵一", PHONE, None, True),
            now=rt.clock.now(),
            today=date.today(),
        ).id
        # no quiet hours: the workers send at the real time of day, whatever it is
        notices.save_settings(s, volunteer, quiet_start="12:00", quiet_end="12:00", sms_off=[], now=rt.clock.now())
    phone = tmp_path / "phone.txt"
    phone.touch()

    def received() -> list[str]:
        return phone.read_text(encoding="utf-8").splitlines()

    first = approved_notice(rt, volunteer, county.approval_team)
    assert relay_once(rt) == 1  # notice-<first> on RQ

    # 1. the worker takes the job, the text reaches the phone, the gateway has not answered: kill
    worker = start_worker(phone, sleep=120)
    wait_for("the first text", lambda: len(received()) == 1, worker)
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=10) == -signal.SIGKILL
    assert state(rt, first) == "sending"  # claimed and committed before the sender was called
    job = Job.fetch(f"notice-{first}", connection=rt.redis, serializer=JSONSerializer)
    assert job.get_status() == "started"  # abandoned mid-run, as RQ sees it

    # 2. a notice made after the kill
    second = approved_notice(rt, volunteer, county.team_b)

    # 3. what waiting out the abandoned job's execution TTL would do: its entry in the started
    # registry is moved to now, so the next worker's maintenance retries it (Retry(max=3))
    registry = StartedJobRegistry("default", connection=rt.redis, serializer=JSONSerializer)
    for member, _ in rt.redis.zrange(registry.key, 0, -1, withscores=True):
        rt.redis.zadd(registry.key, {member: time.time() - 1}, xx=True)
    worker = start_worker(phone, sleep=0)
    wait_for(
        "the retry and the second text",
        lambda: state(rt, second) == "sent"
        and Job.fetch(f"notice-{first}", connection=rt.redis, serializer=JSONSerializer).get_status()
        == "finished",
        worker,
    )
    job = Job.fetch(f"notice-{first}", connection=rt.redis, serializer=JSONSerializer)
    assert job.retries_left == 2  # run again once, after the kill
    assert state(rt, first) == "sending"  # the retry sent nothing

    # 4. the sweep gives the killed one up (here, with this process sending as the workers do)
    monkeypatch.setenv("LINLI_SMS_SENDER", "tests.faults.slow_sender:SlowSender")
    monkeypatch.setenv("LINLI_TEST_SMS_LOG", str(phone))
    clock.at = datetime.now(UTC) + notices.SENDING_GIVEN_UP + timedelta(minutes=1)
    assert jobs.send_due_notices() == 0
    assert state(rt, first) == "unknown"
    texts = received()
    assert len(texts) == 2, texts
    assert texts[0].startswith(f"{PHONE} 【邻里】您加入“助餐志愿服务队”的申请已通过")
    assert texts[1].startswith(f"{PHONE} 【邻里】您加入“星沙助老服务队”的申请已通过")
