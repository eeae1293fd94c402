"""Request ids, the access log, request counts and times by route, and queue figures for /metrics (可观测性)."""

from __future__ import annotations

import logging
import time
import uuid

from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("linli.access")
REQUESTS = Counter("linli_requests", "HTTP requests by route and status", ["method", "path", "status_code"])
DURATION = Histogram("linli_request_duration_seconds", "HTTP request time by route", ["method", "path"])


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming[:64] if incoming.isascii() and incoming else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).extend(
                    [
                        (b"x-request-id", request_id.encode()),
                        (b"x-content-type-options", b"nosniff"),  # every answer: no content sniffing
                        (b"referrer-policy", b"same-origin"),
                    ]
                )
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            # by route template (/api/v1/teams/{team_id}/filings), not by path: ids would explode the series
            path = scope.get("path_template")
            if path is not None and path != "/metrics":
                REQUESTS.labels(scope["method"], path, status).inc()
                DURATION.labels(scope["method"], path).observe(elapsed)
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": request_id,
                    "status": status,
                    "ms": round(elapsed * 1000, 1),
                },
            )

    return middleware


class QueueCollector:
    """Queue depth, failed jobs and undelivered outbox rows, read at scrape time."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime

    def collect(self):
        from linli.queue import queue_figures

        try:
            figures = queue_figures(self.runtime)
        except Exception:  # a scrape must not fail because Redis or the database is down
            return
        depth = GaugeMetricFamily("linli_queue_depth", "Jobs waiting in each RQ queue", labels=["queue"])
        failed = GaugeMetricFamily("linli_queue_failed", "Failed jobs in each RQ queue", labels=["queue"])
        for name, q in figures["queues"].items():
            depth.add_metric([name], q["waiting"])
            failed.add_metric([name], q["failed"])
        yield depth
        yield failed
        yield GaugeMetricFamily(
            "linli_outbox_pending", "Outbox rows not yet moved to RQ", value=figures["outbox_pending"]
        )


_collector: QueueCollector | None = None


def register_queue_collector(runtime) -> None:
    global _collector
    if _collector is not None:
        REGISTRY.unregister(_collector)
    _collector = QueueCollector(runtime)
    REGISTRY.register(_collector)
