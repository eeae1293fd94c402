"""Health, readiness, metrics, request ids, OpenAPI and problem+json for every failure (运维)."""

import json
import logging

from litestar.testing import TestClient

from api.app import create_app
from linli.logs import JsonFormatter
from linli.runtime import Runtime
from tests.fixtures.builders import register


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready" and body["database"] == "ok" and body["redis"] == "ok"
    assert body["queues"]["default"] == {"waiting": 0, "failed": 0} and body["outbox_pending"] == 0


def test_database_down_is_503_everywhere_not_a_traceback(rt):
    down = Runtime(rt.settings.with_(database_url="postgresql://linli@127.0.0.1:1/nowhere"), redis=rt.redis)
    with TestClient(app=create_app(down)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["database"].startswith("unavailable")
        body = {"name": "王秀英", "phone": "13807310001", "consent": True, "code": "123456"}
        r = c.post("/api/v1/volunteers", json=body)
        assert r.status_code == 503
        assert r.json()["code"] == "service_unavailable"
        assert r.headers["content-type"].startswith("application/problem+json")
        r = c.get("/api/v1/me", headers={"Authorization": "Bearer lt_x"})
        assert r.status_code == 503
    down.close()


def test_a_statement_past_its_deadline_is_a_503_database_timeout_not_a_wait(rt):
    """Every PostgreSQL statement has a deadline (LINLI_STATEMENT_TIMEOUT, here 0.3 s): a request
    whose statement waits behind a table held by another transaction (a migration, a stuck job)
    is cancelled and answered 503 `database_timeout` with Retry-After, not held for as long as the
    other takes. Jobs and the command line get the longer deadline."""
    import threading
    import time

    import pytest
    from sqlalchemy import func, select, text
    from sqlalchemy.exc import OperationalError

    from linli.db import const, timed_out
    from tests.fixtures.builders import make_county, staff_token, staff_user

    if rt.settings.is_sqlite:
        pytest.skip(
            "SQLite has no statement deadline: its writers queue (busy_timeout) and readers never wait"
        )
    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    quick = Runtime(rt.settings.with_(statement_timeout=0.3), redis=rt.redis)
    holder = rt.engine.connect()
    try:
        with TestClient(app=create_app(quick)) as c:
            admin = staff_token(c, "admin_a")
            holder.execute(text("LOCK TABLE meal_points IN ACCESS EXCLUSIVE MODE"))
            released = threading.Timer(3, holder.rollback)  # without a deadline the listing waits 3 s
            released.start()
            started = time.monotonic()
            r = c.get("/api/v1/meal-points", headers=admin)
            took = time.monotonic() - started
            released.join()
            assert r.status_code == 503, r.text
            assert r.json()["code"] == "database_timeout" and r.json()["retry_after"] == 5
            assert r.headers["retry-after"] == "5" and took < 2
            assert c.get("/api/v1/meal-points", headers=admin).status_code == 200  # and after it, all is well
        with pytest.raises(OperationalError) as raised, quick.tx() as s:
            s.execute(select(func.pg_sleep(1)))
        assert timed_out(raised.value)
        with pytest.raises(OperationalError) as raised, quick.statements() as direct:  # the scans' path
            direct.execute(select(func.pg_sleep(const(1))), {})
        assert timed_out(raised.value)
    finally:
        holder.rollback()
        holder.close()
        quick.close()
    jobs = Runtime(rt.settings, redis=rt.redis, jobs=True)
    with jobs.tx() as s, rt.tx() as r:
        assert s.scalar(text("SHOW statement_timeout")) == "5min"
        assert r.scalar(text("SHOW statement_timeout")) == "5s"
    jobs.close()


def test_redis_down_makes_readyz_503(rt):
    from linli.queue import redis_from_url
    from tests.fixtures.runtime import NO_REDIS

    broken = Runtime(rt.settings, redis=redis_from_url(NO_REDIS))
    with TestClient(app=create_app(broken)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["redis"].startswith("unavailable")
    broken.close()


def test_request_id_and_metrics_grouped_by_route(client, rt):
    from tests.fixtures.builders import make_county, staff_token, staff_user

    r = client.get("/healthz", headers={"x-request-id": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert len(client.get("/healthz").headers["x-request-id"]) == 32
    client.post("/api/v1/teams/12345/filings")  # 401, but counted under the route template
    assert client.get("/metrics").status_code == 401  # not from this machine: an admin's token
    staff_user(rt, "county", "admin", org_id=make_county(rt).base)
    text = client.get("/metrics", headers=staff_token(client, "county")).text
    assert "linli_requests_total" in text
    assert 'path="/api/v1/teams/{team_id}/filings"' in text
    assert "/api/v1/teams/12345" not in text
    assert "linli_queue_depth" in text and "linli_outbox_pending" in text


def test_unknown_routes_and_methods_are_problems(client):
    r = client.get("/api/v1/nowhere")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert r.headers["content-type"].startswith("application/problem+json")
    r = client.put("/api/v1/volunteers", json={})
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


def test_openapi_documents_every_route_with_its_error_codes(client):
    spec = client.get("/schema/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/volunteers", "post"),
        ("/api/v1/auth/codes", "post"),
        ("/api/v1/auth/tokens", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/teams/{team_id}/filings", "post"),
        ("/api/v1/filings/{filing_id}/approve", "post"),
        ("/api/v1/filings/{filing_id}/reject", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/api/v1/activities", "post"),
        ("/api/v1/activities", "get"),
        ("/api/v1/stations/{station_id}/code", "get"),
        ("/api/v1/stations/{station_id}/code.png", "get"),
        ("/api/v1/scans", "post"),
        ("/api/v1/scans/batch", "post"),
        ("/api/v1/me/card.png", "get"),
        ("/api/v1/me/card.svg", "get"),
    ]:
        assert method in paths[path], path
    register_op = paths["/api/v1/volunteers"]["post"]
    assert "phone_taken" in register_op["responses"]["409"]["description"]
    assert "application/problem+json" in register_op["responses"]["422"]["content"]
    assert (
        "invitation_only"
        in paths["/api/v1/teams/{team_id}/filings"]["post"]["responses"]["403"]["description"]
    )
    assert "activity_clash" in paths["/api/v1/activities"]["post"]["responses"]["409"]["description"]
    assert client.get("/schema").status_code == 200


def test_logs_are_json_with_phones_masked(client, caplog):
    record = logging.LogRecord("linli.test", logging.INFO, __file__, 1, "code for %s", ("13807310001",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "code for 138****0001"
    with caplog.at_level(logging.INFO, logger="linli.access"):
        register(client, phone="13807310001")
    access = [r for r in caplog.records if r.name == "linli.access"]
    assert access and access[-1].request_id and access[-1].status == 201


def test_values_beyond_the_database_are_422_not_500(client, rt):
    from tests.fixtures.builders import make_county, staff_token, staff_user

    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    admin = staff_token(client, "admin_a")
    huge = 10**19  # beyond BIGINT
    r = client.post(f"/api/v1/filings/{huge}/approve", headers=admin)
    assert r.status_code in (404, 422), r.text
    r = client.post("/api/v1/organizations", json={"parent_id": huge, "name": "x"}, headers=admin)
    assert r.status_code in (404, 422), r.text
    r = client.post(
        "/api/v1/activities",
        headers=admin,
        json={
            "org_id": county.org_a,
            "station_id": huge,
            "title": "x",
            "kind": "other",
            "capacity": 1,
            "starts_at": "2030-01-01T10:00:00+08:00",
            "ends_at": "2030-01-01T11:00:00+08:00",
        },
    )
    assert r.status_code in (404, 422), r.text


def test_a_server_process_keeps_its_startup_objects_out_of_the_collector(rt, monkeypatch):
    """`api.main.app_factory` (what `linli serve` runs in each worker) freezes the heap once the app
    has started: the collector's full collections then skip the app's own objects (they paused a
    busy worker for 100-200 ms)."""
    import gc

    from api import main

    monkeypatch.setattr(main, "load_settings", lambda: rt.settings)
    monkeypatch.setattr(main, "setup_logging", lambda: None)  # pytest's log capture stays
    app = main.app_factory()
    gc.unfreeze()
    try:
        with TestClient(app=app) as c:
            assert c.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 10_000  # the modules, routes and models of the app
    finally:
        gc.unfreeze()
        app.state["runtime"].close()
