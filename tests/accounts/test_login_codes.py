"""One-time login codes: single use, expiry, wrong tries, rate limits (验证码登录).

Every failure answers the same `invalid_code` (a used, expired or worn-out code is not told apart
from a wrong one: a used code would tell that the phone is registered)."""

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
        assert again.status_code == 401 and again.json()["code"] == "invalid_code"
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
        assert r.status_code == 401 and r.json()["code"] == "invalid_code"


def test_wrong_tries_wear_the_code_out_and_a_fresh_one_works(client, rt):
    register(client, phone=PHONE)
    with freeze_time(T0) as frozen:
        ask(client)
        code = sent_code(rt)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            r = login(client, wrong)
            assert r.status_code == 401 and r.json()["code"] == "invalid_code"
        with rt.tx() as s:
            assert s.scalar(select(LoginCode.failed_attempts).order_by(LoginCode.id.desc())) == 5  # kept
        r = login(client, code)
        assert r.status_code == 401 and r.json()["code"] == "invalid_code"  # worn out
        frozen.tick(timedelta(seconds=60))
        assert ask(client).status_code == 202
        assert login(client, sent_code(rt)).status_code == 201


def test_codes_are_stored_hashed(client, rt):
    register(client, phone=PHONE)
    with freeze_time(T0):
        ask(client)
        code = sent_code(rt)
    with rt.tx() as s:
        row = s.scalar(select(LoginCode))
    assert code not in row.code_hash and len(row.code_hash) > 40


def test_codes_per_phone_wait_longer_and_longer_but_never_an_hour(client, rt):
    register(client, phone=PHONE)
    with freeze_time(T0) as frozen:
        r = ask(client)
        assert r.status_code == 202 and r.json()["resend_after"] == 60
        r = ask(client)
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert 0 < int(r.headers["retry-after"]) <= 60
        waits = []
        for _ in range(8):
            wait = 0
            while (r := ask(client)).status_code == 429:
                wait += r.json()["retry_after"]
                frozen.tick(timedelta(seconds=r.json()["retry_after"]))
            waits.append(wait)
        assert waits == [60, 60, 120, 240, 480, 600, 600, 600]
        # a code the owner logs in with is not counted: the next may be asked at once
        assert login(client, sent_code(rt)).status_code == 201
        assert ask(client).status_code == 202


def test_rate_limit_per_client_address(client, rt):
    with freeze_time(T0):
        for i in range(20):
            assert ask(client, phone=f"139000000{i:02d}").status_code == 202
        r = ask(client, phone="13900000099")
        assert r.status_code == 429 and "address" in r.json()["detail"]


def test_an_unregistered_phone_gets_a_code_too_and_it_registers(client, rt):
    phone = "13900000001"
    with freeze_time(T0):
        r = ask(client, phone=phone)
        assert r.status_code == 202 and r.json()["sent"] is True
        with rt.tx() as s:
            assert s.scalar(select(OutboxMessage.event)) == "login_code.issued"
        drain(rt)
        code = rt.redis.lrange(DEMO_INBOX_KEY, 0, 0)[0].decode().split()[1]
        r = login(client, code, phone=phone)  # the phone is proven: its owner may know
        assert r.status_code == 404 and r.json()["code"] == "not_registered"
        r = client.post(
            "/api/v1/volunteers", json={"name": "王秀英", "phone": phone, "consent": True, "code": code}
        )
        assert r.status_code == 201 and r.json()["token"]


def test_bad_phone_is_422(client, rt):
    r = ask(client, phone="12345")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "phone"
    r = client.post("/api/v1/auth/tokens", json={"phone": PHONE})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "code"
    r = client.post("/api/v1/auth/tokens", json={})
    assert r.status_code == 422
