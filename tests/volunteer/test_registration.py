"""Registering volunteers through the API (志愿者注册)."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from linli.outbox import OutboxMessage
from tests.fixtures.builders import place_code, register, valid_id
from volunteer.models import Volunteer


def count_volunteers(rt) -> int:
    with rt.tx() as s:
        return s.scalar(select(func.count()).select_from(Volunteer))


def test_register_returns_masked_record_and_stores_no_id_number(client, rt):
    id_number = valid_id()
    body = register(client, name="阿依古丽·买买提", phone="+86 138 0731 0001", id_number=id_number)
    assert body["name"] == "阿依古丽·买买提"
    assert body["phone"] == "138****0001"
    assert body["id_number_last4"] == id_number[-4:]
    assert body["consent_terms_version"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})  # logged in
    assert me.status_code == 200 and me.json()["volunteer"]["id"] == body["id"]
    with rt.tx() as s:
        row = s.scalar(select(Volunteer))
        assert row.phone == "13807310001"
        assert id_number not in (row.id_hash or "")
        assert row.id_hash.startswith("k1$") and len(row.id_hash) > 60
        assert row.consented_at is not None


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"name": "王", "phone": "13807310001", "consent": True}, {"name": "length"}),
        ({"name": "", "phone": "13807310001", "consent": True}, {"name": "required"}),
        ({"name": "张" * 21, "phone": "13807310001", "consent": True}, {"name": "length"}),
        ({"name": "Tom", "phone": "13807310001", "consent": True}, {"name": "not_chinese"}),
        ({"name": "王秀英", "phone": "2380731000", "consent": True}, {"phone": "invalid_phone"}),
        ({"name": "王秀英", "phone": "13807310001", "consent": False}, {"consent": "required"}),
        ({"name": "王秀英", "phone": "13807310001"}, {"consent": "required"}),
        (
            {"name": "王秀英", "phone": "13807310001", "consent": True, "id_number": "110105194912310021"},
            {"id_number": "invalid_checksum"},
        ),
        (
            {"name": "", "phone": "1", "consent": False, "id_number": "123", "code": ""},
            {
                "name": "required",
                "phone": "invalid_phone",
                "consent": "required",
                "id_number": "invalid_format",
                "code": "required",
            },
        ),
    ],
)
def test_bad_input_is_422_field_by_field_and_writes_nothing(client, rt, payload, expected):
    r = client.post("/api/v1/volunteers", json={"code": place_code(rt, "13807310001"), **payload})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "validation_failed" and body["status"] == 422
    assert {e["field"]: e["code"] for e in body["errors"]} == expected
    assert count_volunteers(rt) == 0


def test_wrong_types_are_422_not_500(client, rt):
    r = client.post("/api/v1/volunteers", json={"name": 12, "phone": "13807310001", "consent": True})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "name"
    r = client.post("/api/v1/volunteers", content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    assert r.json()["code"] in ("bad_request", "validation_failed")
    assert count_volunteers(rt) == 0


def test_phone_already_registered_is_told_only_to_whoever_proved_the_phone(client, rt):
    register(client, phone="13807310001")
    body = {"name": "李建国", "phone": "138-0731-0001", "consent": True}
    r = client.post("/api/v1/volunteers", json=body | {"code": "000000"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_code"
    code = place_code(rt, "13807310001")
    r = client.post("/api/v1/volunteers", json=body | {"code": code})
    assert r.status_code == 409
    assert r.json()["code"] == "phone_taken"
    assert count_volunteers(rt) == 1
    # the code was not spent on the refusal: the owner logs in with it
    r = client.post("/api/v1/auth/tokens", json={"phone": "13807310001", "code": code})
    assert r.status_code == 201


def test_an_id_number_registered_already_is_not_told_and_its_holder_is(client, rt):
    from tests.fixtures.runtime import drain

    first = register(client, phone="13807310001", id_number=valid_id())
    again = register(client, name="李建国", phone="13807310002", id_number=valid_id().lower())
    fresh = register(client, name="张秀兰", phone="13807310003", id_number=valid_id("43012119800101555"))
    assert again.keys() == fresh.keys()  # answered as any new registration
    assert again["id_number_last4"] == valid_id()[-4:]
    with rt.tx() as s:
        rows = {v.phone: v for v in s.scalars(select(Volunteer))}
        assert rows["13807310002"].id_hash is None  # the ID is not bound to the second phone
        assert rows["13807310001"].id_hash and rows["13807310003"].id_hash
        [event] = s.scalars(select(OutboxMessage).where(OutboxMessage.event == "volunteer.id_number_reused"))
        assert event.args == [first["id"], "138****0002"]
    drain(rt)
    inbox = [e.decode() for e in rt.redis.lrange("linli:demo:sms", 0, -1)]
    assert any(e.startswith("138****0001 ") and "138****0002" in e for e in inbox)  # the holder is told


def test_id_number_found_after_key_rotation(client, rt):
    """A number hashed under the old key is still recognised once a new key signs."""
    from linli.signing import Signer
    from volunteer import service
    from volunteer.service import Registration

    holder = register(client, phone="13807310001", id_number=valid_id())
    rotated = Signer((("k2", b"a-brand-new-signing-key-1234"), *rt.settings.secret_keys))
    with rt.tx() as s:
        v = service.register(
            s,
            rotated,
            Registration("李建国", "13807310002", valid_id(), True),
            now=rt.clock.now(),
            today=rt.clock.now().date(),
        )
        assert v.id_hash is None
        assert s.scalar(
            select(OutboxMessage.args).where(OutboxMessage.event == "volunteer.id_number_reused")
        ) == [
            holder["id"],
            "138****0002",
        ]


def test_concurrent_registrations_of_one_phone_exactly_one_wins(live_server, rt):
    codes = [place_code(rt, "13807310009") for _ in range(16)]  # each its own proof of the phone

    def attempt(i: int) -> int:
        with httpx.Client(base_url=live_server.url, timeout=30) as c:
            body = {"name": "王秀英", "phone": "13807310009", "consent": True, "code": codes[i]}
            r = c.post("/api/v1/volunteers", json=body)
            assert r.status_code in (201, 409), r.text
            if r.status_code == 409:
                assert r.json()["code"] == "phone_taken"
            return r.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(16)))
    assert statuses.count(201) == 1
    assert statuses.count(409) == 15
    assert count_volunteers(rt) == 1
