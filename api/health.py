"""Liveness and readiness (健康检查)."""

from __future__ import annotations

import logging

from litestar import Response, get
from litestar.di import NamedDependency
from sqlalchemy import text

from linli.runtime import Runtime

log = logging.getLogger("linli.health")


@get("/healthz", operation_id="healthz", tags=["运维 ops"], sync_to_thread=False, summary="The process is up")
def healthz() -> dict:
    return {"status": "ok"}


@get(
    "/readyz",
    operation_id="readyz",
    tags=["运维 ops"],
    sync_to_thread=True,
    summary="Database and Redis reachable (503 otherwise), with queue figures",
)
def readyz(rt: NamedDependency[Runtime]) -> Response:
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
    if ready:
        from workers.relay import queue_figures

        try:
            body.update(queue_figures(rt))
        except Exception:
            log.exception("queue figures")
    body["status"] = "ready" if ready else "unavailable"
    return Response(body, status_code=200 if ready else 503)
