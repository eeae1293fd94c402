"""The nightly points work and `linli ledger verify`: expiry notices 30 days ahead, lots expiring by
an explicit transfer, the ledger verified and the result recorded; job deliveries twice and a
worker killed between commit and acknowledgement change nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from accounts.sender import DEMO_INBOX_KEY
from cli.main import main
from linli.queue import queue
from points import verification
from points.models import Award, LedgerCheck, Transfer
from tests.fixtures.hub import Hub
from tests.fixtures.runtime import drain
from workers import jobs

START = datetime(2030, 6, 3, 2, 30, tzinfo=UTC)
LOT_END = datetime(2031, 12, 31, 16, 0, tzinfo=UTC)  # 2032-01-01 00:00 in Asia/Shanghai


def earned(client, rt, clock):
    clock.at = START + timedelta(hours=7)
    hub = Hub(client, rt)
    hub.settle(hub.attendance(120))
    assert hub.balances() == (120, 20)
    return hub


def test_volunteers_are_told_thirty_days_ahead_once(client, rt, clock):
    earned(client, rt, clock)
    clock.at = LOT_END - timedelta(days=31)
    assert jobs.points_nightly()["notices"] == 0
    clock.at = LOT_END - timedelta(days=29)
    assert jobs.points_nightly()["notices"] == 1
    # the notices of the award and of the expiry: at 00:00 local, held back by quiet hours
    assert drain(rt) == 2 and rt.redis.lrange(DEMO_INBOX_KEY, 0, -1) == []
    clock.at = LOT_END - timedelta(days=29, hours=-8)  # 08:00: quiet hours are over
    assert jobs.send_due_notices() == 2
    [notice] = [m.decode() for m in rt.redis.lrange(DEMO_INBOX_KEY, 0, -1) if "过期".encode() in m]
    assert notice.startswith("139****0001") and "20积分将于2031年12月31日后过期" in notice
    assert jobs.points_nightly()["notices"] == 0  # told once


def test_lots_expire_by_an_explicit_transfer(client, rt, clock):
    hub = earned(client, rt, clock)
    clock.at = LOT_END - timedelta(minutes=1)
    assert jobs.points_nightly()["points_expired"] == 0
    clock.at = LOT_END + timedelta(hours=1)
    assert jobs.points_nightly()["points_expired"] == 20
    assert jobs.points_nightly()["points_expired"] == 0
    assert hub.balances() == (120, 0)  # service time never expires
    with rt.tx() as s:
        t = s.scalar(select(Transfer).where(Transfer.reason == "expiry"))
        assert t.amount == 20 and t.id.endswith(":2032-01-01")


def test_verify_job_and_command(client, rt, clock, monkeypatch):
    earned(client, rt, clock)
    assert jobs.ledger_verify() == {"ok": True, "problems": 0, "transfers": 2}
    monkeypatch.setenv("LINLI_DATABASE_URL", rt.settings.database_url)
    monkeypatch.setenv("LINLI_REDIS_URL", rt.settings.redis_url)
    monkeypatch.setenv("LINLI_SECRET_KEY", ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys))
    ok = CliRunner().invoke(main, ["ledger", "verify"])
    assert ok.exit_code == 0 and "ledger ok" in ok.output
    with rt.tx() as s:
        s.execute(
            text("UPDATE ledger_accounts SET debits_posted = debits_posted + 5 WHERE kind = 'volunteer'")
        )
    bad = CliRunner().invoke(main, ["ledger", "verify"])
    assert bad.exit_code != 0 and "ledger mismatch" in bad.output
    assert jobs.ledger_verify()["ok"] is False
    with rt.tx() as s:
        assert [c.ok for c in s.scalars(select(LedgerCheck).order_by(LedgerCheck.id))] == [
            True,
            True,
            False,
            False,
        ]


@pytest.mark.slow  # a worker process killed
def test_a_worker_killed_after_commit_posts_once_when_the_job_runs_again(client, rt, clock, tmp_path):
    """The job commits, then its worker dies before RQ hears of it: the job is run again (as RQ
    retries an abandoned job) and posts nothing more."""
    clock.at = START + timedelta(hours=7)
    hub = Hub(client, rt)
    attendance = hub.attendance(120)
    job = queue("points", rt.redis).enqueue_call(
        func="tests.points.killer.settle_then_die", args=[attendance], job_id="attendance-closed-kill"
    )
    env = {
        **os.environ,
        "LINLI_DATABASE_URL": rt.settings.database_url,
        "LINLI_REDIS_URL": rt.settings.redis_url,
        "LINLI_SECRET_KEY": ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys),
        "LINLI_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    worker = subprocess.run(
        [str(Path(sys.executable).parent / "linli"), "worker", "--burst", "--queues", "points"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert worker.returncode == -signal.SIGKILL  # died mid-job, before acknowledging
    assert hub.balances() == (120, 20)  # its commit stands
    job.refresh()
    assert job.get_status() != "finished"
    jobs.attendance_closed(attendance)  # run again
    drain(rt)
    assert hub.balances() == (120, 20)
    with rt.tx() as s:
        assert len(s.scalars(select(Award)).all()) == 1
        assert verification.verify(s) == []
