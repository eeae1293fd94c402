"""A guest reviewer (an outsider the hub invites by phone) logs in with an SMS code, as volunteers
do: the same endpoints, code rules (single use, 5 minutes, worn out by wrong tries) and limits;
the password shown to the hub still works. Staff with a role grant never log in by code."""

from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time

from tests.accounts.test_login_codes import T0, ask, sent_code
from tests.fixtures.builders import register
from tests.fixtures.grants import grant_world

GUEST = "13907310088"


def invite(w, phone=GUEST) -> dict:
    r = w.open_round()
    return w.call(
        "admin_a", "POST", f"/api/v1/rounds/{r['id']}/reviewers", 201, json={"phone": phone, "name": "李教授"}
    ).json() | {"round_id": r["id"]}


def code_of(rt, phone=GUEST) -> str:
    import tests.accounts.test_login_codes as codes

    old, codes.PHONE = codes.PHONE, phone  # sent_code checks the masked phone
    try:
        return sent_code(rt)
    finally:
        codes.PHONE = old


def login(client, code, phone=GUEST, **extra):
    return client.post("/api/v1/auth/tokens", json={"phone": phone, "code": code, **extra})


def test_a_guest_logs_in_with_a_code_and_reviews(client, rt, clock):
    w = grant_world(rt, client, clock)
    invited = invite(w)
    with freeze_time(T0):
        assert ask(client, GUEST).status_code == 202
        code = code_of(rt)
        r = login(client, code)
        assert r.status_code == 201, r.text
        assert r.json()["kind"] == "staff"
        token = {"Authorization": f"Bearer {r.json()['token']}"}
        assert login(client, code).json()["code"] == "invalid_code"  # single use
    me = client.get("/api/v1/me", headers=token).json()
    assert (me["kind"], me["staff_user_id"], me["grants"]) == ("staff", invited["staff_user_id"], [])
    rounds = client.get("/api/v1/rounds", headers=token).json()["items"]
    assert [x["id"] for x in rounds] == [invited["round_id"]]
    # the password the hub was shown still logs in
    by_password = client.post(
        "/api/v1/auth/tokens", json={"username": GUEST, "password": invited["password"]}
    )
    assert by_password.status_code == 201


def test_a_wrong_or_expired_code_is_refused_and_wrong_tries_wear_it_out(client, rt, clock):
    w = grant_world(rt, client, clock)
    invite(w)
    with freeze_time(T0) as frozen:
        ask(client, GUEST)
        code = code_of(rt)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            r = login(client, wrong)
            assert r.status_code == 401 and r.json()["code"] == "invalid_code"
        assert login(client, code).json()["code"] == "invalid_code"  # worn out
        frozen.tick(timedelta(minutes=10))
        ask(client, GUEST)
        fresh = code_of(rt)
        frozen.tick(timedelta(minutes=5))
        r = login(client, fresh)
        assert r.status_code == 401 and r.json()["code"] == "invalid_code"  # expired


def test_codes_for_a_guest_are_rate_limited_as_any_phones(client, rt, clock):
    w = grant_world(rt, client, clock)
    invite(w)
    with freeze_time(T0):
        assert ask(client, GUEST).status_code == 202
        again = ask(client, GUEST)
        assert again.status_code == 429 and again.json()["code"] == "rate_limited"


def test_staff_with_a_role_never_log_in_by_code_and_a_volunteer_guest_chooses(client, rt, clock):
    w = grant_world(rt, client, clock)
    # a staff login named by a phone but holding a role: password only
    from tests.fixtures.builders import staff_user

    staff_user(rt, "13907310077", "admin", org_id=w.county.hub_a)
    with freeze_time(T0) as frozen:
        ask(client, "13907310077")
        r = login(client, code_of(rt, "13907310077"), phone="13907310077")
        assert r.status_code == 404 and r.json()["code"] == "not_registered"
        # a guest who is also a volunteer: the volunteer by default, the guest when asked
        register(client, phone=GUEST)
        invited = invite(w)
        frozen.tick(timedelta(minutes=1))
        ask(client, GUEST)
        code = code_of(rt)
        assert login(client, code).json()["kind"] == "volunteer"
        frozen.tick(timedelta(minutes=2))
        ask(client, GUEST)
        r = login(client, code_of(rt), kind="staff")
        assert r.status_code == 201 and r.json()["kind"] == "staff"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
    assert me["staff_user_id"] == invited["staff_user_id"]
