"""Who is registered cannot be found out, and no one can lock a volunteer out (防枚举、防锁定).

A caller who has not proven a phone (with the code sent to it) gets the same answers, from the
same work (the same SQL statements, so the same time class), for registered and unregistered
phones and resident ID numbers: asking for a code, registering, logging in with a wrong code.
Limits slow an attacker down, per address; they never lock the phone's owner out.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import event

from accounts.sender import DEMO_INBOX_KEY
from tests.fixtures.builders import register, valid_id
from tests.fixtures.runtime import drain

KNOWN, UNKNOWN = "13807310001", "13807310002"
T0 = "2026-11-26 03:30:00"


@contextmanager
def statements(rt):
    """The SQL statements run meanwhile (their text, without the values)."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(rt.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(rt.engine, "before_cursor_execute", record)


def answer(r) -> tuple[int, dict]:
    body = r.json()
    body.pop("request_id", None)
    return r.status_code, body


def inbox(rt) -> list[str]:
    drain(rt)
    return [e.decode() for e in rt.redis.lrange(DEMO_INBOX_KEY, 0, -1)]


def code_for(rt, phone: str) -> str:
    masked = phone[:3] + "****" + phone[-4:]
    return next(e.split()[1] for e in inbox(rt) if e.startswith(masked + " "))


def ask(client, phone):
    return client.post("/api/v1/auth/codes", json={"phone": phone})


def login(client, phone, code):
    return client.post("/api/v1/auth/tokens", json={"phone": phone, "code": code})


def test_asking_for_a_code_answers_alike_and_sends_one_either_way(client, rt):
    register(client, phone=KNOWN)
    with freeze_time(T0):
        with statements(rt) as known_sql:
            known = ask(client, KNOWN)
        with statements(rt) as unknown_sql:
            unknown = ask(client, UNKNOWN)
        assert answer(known) == answer(unknown) and known.status_code == 202
        assert known_sql == unknown_sql  # the same work: no time to tell them apart
        sent = inbox(rt)
        assert any(e.startswith("138****0001 ") for e in sent) and any(
            e.startswith("138****0002 ") for e in sent
        )
        # and the cool-down answers alike too
        assert answer(ask(client, KNOWN)) == answer(ask(client, UNKNOWN))


def test_registration_probes_answer_alike_for_registered_and_new_phones_and_ids(client, rt):
    register(client, phone=KNOWN, id_number=valid_id())
    probe = {"name": "李建国", "consent": True}
    for code in ("", "123456"):
        with statements(rt) as known_sql:
            known = client.post("/api/v1/volunteers", json=probe | {"phone": KNOWN, "code": code})
        with statements(rt) as unknown_sql:
            unknown = client.post("/api/v1/volunteers", json=probe | {"phone": UNKNOWN, "code": code})
        assert answer(known) == answer(unknown)
        assert known.status_code == (422 if not code else 401)
        assert known_sql == unknown_sql
    # a caller who proved their own phone learns nothing of an ID number either
    with freeze_time(T0) as frozen:
        answers = []
        for phone, id_number in ((UNKNOWN, valid_id()), ("13807310003", valid_id("43012119800101555"))):
            ask(client, phone)
            r = client.post(
                "/api/v1/volunteers",
                json=probe | {"phone": phone, "id_number": id_number, "code": code_for(rt, phone)},
            )
            body = r.json()
            answers.append((r.status_code, sorted(body), body["id_number_last4"] == id_number[-4:]))
            frozen.tick(timedelta(seconds=1))
    assert answers[0] == answers[1] == (201, answers[0][1], True)


def test_wrong_login_codes_answer_alike_for_registered_and_unknown_phones(client, rt):
    register(client, phone=KNOWN)
    with freeze_time(T0):
        ask(client, KNOWN), ask(client, UNKNOWN)
        known = [answer(login(client, KNOWN, "000000")) for _ in range(7)]
        unknown = [answer(login(client, UNKNOWN, "000000")) for _ in range(7)]
        never_asked = [answer(login(client, "13807310004", "000000")) for _ in range(7)]
    assert known == unknown == never_asked
    assert {status for status, _ in known} == {401} and {b["code"] for _, b in known} == {"invalid_code"}


def test_registrations_with_wrong_codes_are_limited_per_address(client, rt):
    probe = {"name": "李建国", "consent": True, "code": "123456"}
    answers = [
        client.post("/api/v1/volunteers", json=probe | {"phone": f"139000000{i:02d}"}).status_code
        for i in range(11)
    ]
    assert answers == [401] * 10 + [429]
    r = client.post("/api/v1/volunteers", json=probe | {"phone": "13900000099"})
    assert r.status_code == 429 and r.json()["code"] == "rate_limited" and 0 < r.json()["retry_after"] <= 600


def test_an_attacker_cannot_lock_the_owner_out(client, rt):
    """An attacker asks for code after code for the owner's phone and guesses wrong after each; the
    owner, whose phone receives them, still logs in: with a code already received, or a fresh one
    after a short wait."""
    register(client, phone=KNOWN)
    with freeze_time(T0) as frozen:
        assert ask(client, KNOWN).status_code == 202
        held = code_for(rt, KNOWN)  # the code the owner's phone received
        frozen.tick(timedelta(seconds=60))
        assert ask(client, KNOWN).status_code == 202  # a newer code does not void the older
        assert login(client, KNOWN, held).status_code == 201

        for _ in range(8):  # half an hour of asking and guessing
            while (r := ask(client, KNOWN)).status_code == 429:
                frozen.tick(timedelta(seconds=r.json()["retry_after"]))
            sent = code_for(rt, KNOWN)
            for guess in (f"{n:06d}" for n in range(13) if f"{n:06d}" != sent):
                r = login(client, KNOWN, guess)
                assert r.status_code == 401 and r.json()["code"] == "invalid_code"  # never 429 for the phone
        # the owner asks: at most ten minutes' wait, never an hour, and the fresh code works
        r = ask(client, KNOWN)
        if r.status_code == 429:
            assert r.json()["retry_after"] <= 600
            frozen.tick(timedelta(seconds=r.json()["retry_after"]))
            r = ask(client, KNOWN)
        assert r.status_code == 202
        r = login(client, KNOWN, code_for(rt, KNOWN))
        assert r.status_code == 201 and r.json()["kind"] == "volunteer"
