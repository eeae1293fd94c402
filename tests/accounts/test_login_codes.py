"""One-time login codes: single use, expiry, wrong tries, rate limits (验证码登录)."""

from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import select

from accounts.models import LoginCode
from accounts.sender import DEMO_INBOX_KEY
from linli.outbox import OutboxMessage
from tests.fixtures.builders import register
from tests.fixtures.runtime import drain

PHONE = "13807310001"
T0 = "2026-11-26 03:30:00"  # 11:30 in Asia/Shanghai


def ask(client, phone=PHONE):
    return client.post("/api/v1/auth/codes", json={"phone": phone})


def sent_code(rt) -> str:
    """The code as the sender received it: run the queued job and read the demo inbox."""
    drain(rt)
    newest = rt.redis.lrange(DEMO_INBOX_KEY, 0, 0)[0].decode()
    masked, code = newest.split()
    assert masked == PHONE[:3] + "****" + PHONE[-4:]
    return code


def login(client, code, phone=PHONE):
    return client.post("/api/v1/auth/tokens", json={"phone": phone, "code": code})


def test_code_logs_in_once_and_the_token_works(client, rt):
    register(client, phone=PHONE)
    with freeze_time(T0):
        r = ask(client)
        assert r.status_code == 202 and r.json()["sent"] is True
        code = sent_code(rt)
        r = login(client, code)
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        assert r.json()["kind"] == "volunteer"
        again = login(client, code)
        assert again.status_code == 401 and again.json()["code"] == "code_used"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["volunteer"]["phone"] == "138****0001"


def test_code_expires_after_five_minutes(client, rt):
    register(client, phone=PHONE)
    with freeze_time(T0) as frozen:
        ask(client)
        code = sent_code(rt)
        frozen.tick(timedelta(minutes=4, seconds=59))
        # still valid one second before expiry: prove it with a wrong code first (no use consumed)
        assert login(client, "000000" if code != "000000" else "111111").json()["code"] == "invalid_code"
        frozen.tick(timedelta(seconds=1))
        r = login(client, code)
        assert r.status_code == 401 and r.json()["code"] == "code_expired"


def test_wrong_tries_are_counted_and_lock_the_code(client, rt):
    register(client, phone=PHONE)
    with freeze_time(T0):
        ask(client)
        code = sent_code(rt)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            r = login(client, wrong)
            assert r.status_code == 401 and r.json()["code"] == "invalid_code"
        with rt.tx() as s:
            assert s.scalar(select(LoginCode.failed_attempts)) == 5  # kept although each request failed
        r = login(client, code)
        assert r.json()["code"] == "code_locked"


def test_codes_are_stored_hashed(client, rt):
    register(client, phone=PHONE)
    with freeze_time(T0):
        ask(client)
        code = sent_code(rt)
    with rt.tx() as s:
        row = s.scalar(select(LoginCode))
    assert code not in row.code_hash and len(row.code_hash) > 40


def test_rate_limit_per_phone(client, rt):
    register(client, phone=PHONE)
    with freeze_time(T0) as frozen:
        assert ask(client).status_code == 202
        r = ask(client)
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert 0 < int(r.headers["retry-after"]) <= 60
        for _ in range(4):
            frozen.tick(timedelta(seconds=61))
            assert ask(client).status_code == 202
        frozen.tick(timedelta(seconds=61))
        r = ask(client)  # the sixth within the hour
        assert r.status_code == 429
        frozen.tick(timedelta(hours=1))
        assert ask(client).status_code == 202


def test_rate_limit_per_client_address(client, rt):
    with freeze_time(T0):
        for i in range(20):
            assert ask(client, phone=f"139000000{i:02d}").status_code == 202
        r = ask(client, phone="13900000099")
        assert r.status_code == 429 and "address" in r.json()["detail"]


def test_unregistered_phone_gets_the_same_answer_but_no_message(client, rt):
    with freeze_time(T0):
        r = ask(client, phone="13900000001")
    assert r.status_code == 202 and r.json()["sent"] is True
    with rt.tx() as s:
        assert s.scalar(select(OutboxMessage)) is None
    r = login(client, "123456", phone="13900000001")
    assert r.status_code == 401 and r.json()["code"] == "invalid_code"


def test_bad_phone_is_422(client, rt):
    r = ask(client, phone="12345")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "phone"
    r = client.post("/api/v1/auth/tokens", json={"phone": PHONE})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "code"
    r = client.post("/api/v1/auth/tokens", json={})
    assert r.status_code == 422
