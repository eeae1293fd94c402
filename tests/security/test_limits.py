"""Hostile input and careless logs: rate limits kept in Redis and shared by every server process,
oversized bodies, security headers on pages, and no secret, token, phone or ID number in any log
line of a full run (限流、请求大小、安全响应头、日志)."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import uuid

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from api.app import create_app
from linli.logs import JsonFormatter
from linli.queue import redis_from_url
from linli.runtime import Runtime
from scans.models import Scan
from tests.fixtures.builders import PASSWORD, make_county, make_station, staff_token, staff_user, valid_id
from tests.fixtures.runtime import NO_REDIS


@pytest.fixture
def limits(rt, clock):
    """Small limits for the test; the runtime's own settings come back afterwards. The clock stands
    still, so a test's requests all fall in one window of the limits (on the real clock they could
    straddle a minute's end)."""
    before = rt.settings
    rt.settings = dataclasses.replace(before, scans_per_minute=5, logins_per_minute=8)
    yield rt
    rt.settings = before


def test_password_guessing_is_slowed_per_account_and_the_count_is_shared_by_every_server(limits, client):
    """Failed logins count; ten in a minute, wherever they landed, and the account waits."""
    rt = limits
    rt.settings = dataclasses.replace(rt.settings, logins_per_minute=100)  # this test: per account
    county = make_county(rt)
    staff_user(rt, "county", "admin", org_id=county.base)
    # a second server process: its own runtime and its own connections, the same Redis
    other = Runtime(rt.settings, clock=rt.clock)
    with TestClient(app=create_app(other)) as second:
        answers = []
        for i in range(11):
            c = client if i % 2 else second
            r = c.post("/api/v1/auth/tokens", json={"username": "county", "password": f"guess-{i}"})
            answers.append(r.status_code)
        assert answers[:10] == [401] * 10  # wrong passwords, counted wherever they landed
        assert answers[10] == 429
        r = client.post("/api/v1/auth/tokens", json={"username": "county", "password": PASSWORD})
        assert r.status_code == 429 and r.json()["code"] == "rate_limited" and r.json()["retry_after"] > 0
    other.close()


def test_failed_logins_from_one_address_are_limited_whatever_the_account_and_good_ones_never(limits, client):
    rt = limits
    county = make_county(rt)
    staff_user(rt, "tablet", "coordinator", org_id=county.org_a)
    for _ in range(20):  # a tablet logging in again and again with the right password
        assert (
            client.post("/api/v1/auth/tokens", json={"username": "tablet", "password": PASSWORD}).status_code
            == 201
        )
    answers = [
        client.post("/api/v1/auth/tokens", json={"username": f"nobody{i}", "password": "x"}).status_code
        for i in range(9)
    ]
    assert answers == [401] * 8 + [429]


def test_scans_are_limited_per_device_and_a_batch_counts_once(limits, client):
    rt = limits
    county = make_county(rt)
    station = make_station(rt, county.org_a)
    staff_user(rt, "tablet1", "coordinator", org_id=county.org_a, station_id=station)
    staff_user(rt, "tablet2", "coordinator", org_id=county.org_a, station_id=station)
    one, two = staff_token(client, "tablet1"), staff_token(client, "tablet2")

    def scan(headers):
        return client.post(
            "/api/v1/scans", json={"payload": "not-a-code", "station_id": station}, headers=headers
        )

    assert [scan(one).status_code for _ in range(5)] == [200] * 5
    refused = scan(one)
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert scan(two).status_code == 200  # another tablet is its own device
    batch = client.post(
        "/api/v1/scans/batch",
        json={
            "scans": [
                {
                    "payload": "x",
                    "station_id": station,
                    "scan_id": str(uuid.uuid4()),
                    "scanned_at": "2026-11-27T03:00:00Z",
                }
                for i in range(20)
            ]
        },
        headers=two,
    )
    assert batch.status_code == 200 and len(batch.json()["results"]) == 20, batch.text
    with rt.tx() as s:
        assert s.scalar(select(func.count()).select_from(Scan)) == 6 + 20  # the refused one wrote nothing


@pytest.mark.slow  # a dozen logins against a Redis that refuses
def test_limits_let_requests_through_when_redis_is_down(rt):
    """A counter keeps serving while Redis is away; the limits come back with it."""
    dead = Runtime(rt.settings, redis=redis_from_url(NO_REDIS))
    county = make_county(rt)
    staff_user(rt, "county", "admin", org_id=county.base)
    with TestClient(app=create_app(dead)) as c:
        for _ in range(12):  # more than the per-account limit
            r = c.post("/api/v1/auth/tokens", json={"username": "county", "password": PASSWORD})
            assert r.status_code == 201
    dead.close()


def test_oversized_bodies_are_refused_before_anything_is_read(client, rt):
    county = make_county(rt)
    station = make_station(rt, county.org_a)
    staff_user(rt, "tablet", "coordinator", org_id=county.org_a, station_id=station)
    headers = staff_token(client, "tablet")
    big = '{"payload": "' + "x" * (1024 * 1024) + f'", "station_id": {station}}}'
    r = client.post("/api/v1/scans", content=big, headers={**headers, "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    r = client.post("/api/v1/volunteers", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    with rt.tx() as s:
        assert s.scalar(select(func.count()).select_from(Scan)) == 0


def test_pages_carry_security_headers_and_every_answer_says_nosniff(client):
    for path in ("/", "/counter", "/me", "/partner", "/admin", "/verify/1-x"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
    api = client.get("/api/v1/teams")
    assert (
        api.headers["x-content-type-options"] == "nosniff" and api.headers["referrer-policy"] == "same-origin"
    )


def test_no_secret_token_phone_or_id_number_reaches_a_log_line(client, rt):
    """A full run through the API with every logger at DEBUG, formatted as the server writes them."""
    from tests.fixtures.runtime import drain

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    secrets_seen = []
    try:
        county = make_county(rt)
        staff_user(rt, "county", "admin", org_id=county.base)
        phone, id_number = "13807319876", valid_id("43012119800101555")
        client.post("/api/v1/auth/codes", json={"phone": phone})
        drain(rt)
        first = rt.redis.lrange("linli:demo:sms", 0, 0)[0].decode().split()[1]
        r = client.post(
            "/api/v1/volunteers",
            json={"name": "赵春兰", "phone": phone, "consent": True, "id_number": id_number, "code": first},
        )
        assert r.status_code == 201
        client.post("/api/v1/auth/codes", json={"phone": phone})
        drain(rt)
        code = rt.redis.lrange("linli:demo:sms", 0, 0)[0].decode().split()[1]
        token = client.post("/api/v1/auth/tokens", json={"phone": phone, "code": code}).json()["token"]
        me = {"Authorization": f"Bearer {token}"}
        client.get("/api/v1/me", headers=me)
        client.post("/api/v1/auth/tokens", json={"username": "county", "password": "wrong " + PASSWORD})
        admin_token = client.post(
            "/api/v1/auth/tokens", json={"username": "county", "password": PASSWORD}
        ).json()["token"]
        from orgs import service as orgs_service

        with rt.tx() as s:
            partner = orgs_service.create_partner(s, name="泉心社会企业", now=rt.clock.now()).id
        key = client.post(
            f"/api/v1/partners/{partner}/api-keys",
            json={"name": "月报"},
            headers={"Authorization": f"Bearer {admin_token}"},
        ).json()["key"]
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
        client.get("/api/v1/me", headers={"Authorization": "Bearer lt_forged-token"})
        client.post("/api/v1/volunteers", json={"name": "x", "phone": "13807319875", "id_number": "bad"})
        client.delete("/api/v1/auth/tokens/current", headers=me)
        card = rt.codes.diner_card(7, 1)  # a diner's card, opened as the phone's camera would
        card_path = "/Q/" + card.split("/Q/", 1)[1]
        client.get(card_path)
        drain(rt)
        secrets_seen = [
            first,
            code,
            token,
            r.json()["token"],
            admin_token,
            key,
            PASSWORD,
            phone,
            id_number,
            "13807319875",
        ]
        secrets_seen += [card_path, card_path.split(".", 2)[2]]  # the code's body and MAC
        secrets_seen += [k.decode() if isinstance(k, bytes) else k for _, k in rt.settings.secret_keys]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    text = out.getvalue()
    assert text.count("\n") > 20  # the run was logged (access lines, jobs)
    assert "138****9876" in text  # phones appear masked
    assert "/Q/D.K1.****" in text  # card codes too
    leaked = [s for s in secrets_seen if s and s in text]
    assert leaked == []
    # no full mobile number at all (digits inside a request id's hex are not one)
    assert not re.search(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])", text)


@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"a":', "}")])
def test_json_nested_beyond_the_decoder_is_a_400_not_a_500(client, opening, closing):
    """Thousands of `[` to routes that need no token: a problem document, as for any broken body."""
    deep = opening * 50_000 + ("1" if opening != "[" else "") + closing * 50_000
    for path in ("/api/v1/volunteers", "/api/v1/auth/tokens", "/api/v1/auth/codes"):
        r = client.post(path, content=deep, headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["code"] == "bad_request", (path, r.text[:200])
        assert r.headers["content-type"].startswith("application/problem+json")
