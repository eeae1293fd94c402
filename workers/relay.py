"""The outbox relay (转发): moves committed outbox rows to RQ, each as the job its event names
(`workers.registry`).

Runs beside every worker (`linli worker`) and, in embedded mode, inside `linli serve`. If Redis is
down the rows stay and are retried; an RQ job id equal to the outbox job id makes a second
delivery of the same row a no-op (`unique=True`).
"""

from __future__ import annotations

import logging
import threading

from redis.exceptions import RedisError
from rq import Retry
from rq.exceptions import DuplicateJobError

from linli import outbox
from linli.queue import QUEUES, queue
from linli.runtime import Runtime
from workers.registry import JOBS, SECRET

log = logging.getLogger("linli.relay")

RETRY = Retry(max=3, interval=[10, 30, 60])


def relay_once(rt: Runtime, limit: int = 200) -> int:
    """Move up to `limit` rows; returns how many reached RQ (0 when Redis is down)."""
    now = rt.clock.now()
    with rt.tx() as session:
        rows = outbox.pending(session, limit, QUEUES)
        moved = 0
        for row in rows:
            job = JOBS.get(row.event)
            if job is None:  # a release that emits an event this worker does not know yet
                row.attempts += 1
                row.last_error = f"unknown event {row.event!r}"
                log.error("outbox row %s: unknown event %r; it waits", row.id, row.event)
                continue
            try:
                queue(row.queue, rt.redis).enqueue_call(
                    func=job,
                    args=row.args,
                    job_id=row.job_id,
                    description=row.job_id,  # not the arguments: they may hold personal data
                    result_ttl=0 if row.event in SECRET else 3600,
                    failure_ttl=600 if row.event in SECRET else 30 * 86400,
                    retry=RETRY,
                    unique=True,
                )
            except DuplicateJobError:
                pass  # delivered before; the relay stopped before it could mark the row
            except RedisError as exc:
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning(
                    "redis unavailable, %d outbox rows wait: %s", len(rows) - moved, type(exc).__name__
                )
                break
            row.enqueued_at = now
            if row.event in SECRET:
                row.args = []  # RQ has them now, for as long as the job needs them
            moved += 1
        return moved


def run_relay(rt: Runtime, stop: threading.Event, interval: float = 0.5) -> None:
    while not stop.is_set():
        try:
            moved = relay_once(rt)
        except Exception:  # the database may be down; try again shortly
            log.exception("relay pass failed")
            moved = 0
        if not moved:
            stop.wait(interval)


def start_relay_thread(rt: Runtime) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=run_relay, args=(rt, stop), name="linli-relay", daemon=True)
    thread.start()
    return thread, stop
