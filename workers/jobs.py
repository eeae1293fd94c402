"""RQ job functions (任务). Plain, synchronous, module-level; arguments are JSON values.

Each runs its effects once per job id: `job_runs` is written in the same transaction as the
effects, so a job RQ delivers twice does nothing the second time.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rq import get_current_job
from sqlalchemy import delete

from accounts.models import AuthToken, LoginCode
from accounts.sender import configured_sender
from linli import outbox
from workers.context import runtime

log = logging.getLogger("linli.jobs")


def _job_id() -> str | None:
    job = get_current_job()
    return job.id if job else None


def send_login_code(phone: str, code: str) -> None:
    rt = runtime()
    job_id = _job_id()
    with rt.tx() as session:
        if job_id and outbox.already_ran(session, job_id):
            return
        configured_sender(rt.redis).send(phone, code)
        if job_id:
            outbox.mark_ran(session, job_id, rt.clock.now())


def prune() -> dict:
    """Daily housekeeping: delivered outbox rows, old login codes, long-dead tokens, job marks."""
    rt = runtime()
    now = rt.clock.now()
    with rt.tx() as session:
        counts = {
            "outbox": session.execute(
                delete(outbox.OutboxMessage).where(outbox.OutboxMessage.enqueued_at < now - timedelta(days=7))
            ).rowcount,
            "login_codes": session.execute(
                delete(LoginCode).where(LoginCode.created_at < now - timedelta(days=1))
            ).rowcount,
            "auth_tokens": session.execute(
                delete(AuthToken).where(AuthToken.expires_at < now - timedelta(days=30))
            ).rowcount,
            "job_runs": session.execute(
                delete(outbox.JobRun).where(outbox.JobRun.finished_at < now - timedelta(days=30))
            ).rowcount,
        }
    log.info("pruned", extra={"counts": counts})
    return counts
