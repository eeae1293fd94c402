"""Liveness and readiness (健康检查)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import text

from linli.runtime import Runtime

log = logging.getLogger("linli.health")


class Health(msgspec.Struct):
    status: str  # ok


class QueueFigures(msgspec.Struct):
    waiting: int
    failed: int


class ReplicaFigures(msgspec.Struct):
    used: bool  # reads that may lag go to the replica; false: to the primary
    state: str  # ok | not_checked | lagging | not_a_standby | unreachable: <error>
    lag_seconds: float | None  # at most this far behind; null: unknown
    since: datetime | None  # when reads went to the primary (null while the replica is used)
    checked_at: datetime | None


class Readiness(msgspec.Struct, omit_defaults=True):
    status: str  # ready | unavailable
    database: str  # ok, or "unavailable: <error>"
    redis: str
    queues: dict[str, QueueFigures] | None = None  # when ready: jobs waiting and failed per queue
    outbox_pending: int | None = None  # when ready: work committed, not yet on a queue
    # with LINLI_DATABASE_REPLICA_URL: whether the read replica is used; one down or lagging is
    # not unreadiness (its reads go to the primary), so it is said here and the answer stays 200
    replica: ReplicaFigures | None = None


@get("/healthz", operation_id="healthz", tags=["运维 ops"], sync_to_thread=False, summary="The process is up")
def healthz() -> Health:
    return Health(status="ok")


@get(
    "/readyz",
    operation_id="readyz",
    tags=["运维 ops"],
    sync_to_thread=True,
    summary="Database and Redis reachable (503 otherwise), with queue figures and the read replica's state",
    responses={
        503: ResponseSpec(
            data_container=Readiness,
            description="The database or Redis is unreachable; which one, and why",
            generate_examples=False,
        )
    },
)
def readyz(rt: NamedDependency[Runtime]) -> Response[Readiness]:
    body: dict = {"database": "ok", "redis": "ok"}
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        body["database"] = f"unavailable: {type(exc).__name__}"
    try:
        rt.redis.ping()
    except Exception as exc:
        body["redis"] = f"unavailable: {type(exc).__name__}"
    ready = body["database"] == "ok" and body["redis"] == "ok"
    if rt.replica is not None:
        rt.replica.healthy()  # checked again when its last check is old
        body["replica"] = asdict(rt.replica.state)
    if ready:
        from linli.queue import queue_figures

        try:
            body.update(queue_figures(rt))
        except Exception:
            log.exception("queue figures")
    body["status"] = "ready" if ready else "unavailable"
    return Response(msgspec.convert(body, Readiness), status_code=200 if ready else 503)
