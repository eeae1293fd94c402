"""Identity numbers for service records (证件信息): checked by type, stored encrypted and bound to
their row, read only by a county administrator with the export grant (audited), keys rotated in
the background, and the full number nowhere else: not in the database, the logs or any answer."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from accounts import service as accounts_service
from cli.main import main
from integrity.models import AuditEntry
from linli.db import Base
from linli.idcrypt import IdCryptError, IdKeyring, derived_keys, keyring_for, parse_id_keys, row_binding
from linli.outbox import OutboxMessage
from tests.fixtures.builders import (
    file_volunteer,
    make_county,
    staff_token,
    staff_user,
    valid_id,
    volunteer_token,
)
from tests.fixtures.runtime import drain
from volunteer import identity
from volunteer.models import Volunteer
from workers import jobs

PHONES = ("13807310001", "13807310002", "13807310003")
ID_X = valid_id("11010519491231002")  # its check character is X
ID = valid_id("43012119800101123")


def _wrong(number: str) -> str:
    """The number with another check character."""
    return number[:17] + ("0" if number[17] != "0" else "1")


def _key(kid: str) -> tuple[str, bytes]:
    return kid, os.urandom(32)


@pytest.fixture
def world(client, rt):
    county = make_county(rt)
    vols = [file_volunteer(rt, p, county.open_team) for p in PHONES[:2]]
    vols.append(file_volunteer(rt, PHONES[2], county.team_b))
    staff_user(rt, "county", "admin", org_id=county.base)
    staff_user(rt, "county2", "admin", org_id=county.base)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    return county, vols


def put(client, rt, phone, id_type, id_number):
    return client.put(
        "/api/v1/me/identity",
        json={"id_type": id_type, "id_number": id_number},
        headers=volunteer_token(rt, phone),
    )


def stored(rt, volunteer_id) -> Volunteer:
    with rt.tx() as s:
        v = s.get(Volunteer, volunteer_id)
        s.expunge(v)
        return v


def test_x_check_digit_fixture_is_x():
    assert ID_X.endswith("X")


@pytest.mark.parametrize(
    ("id_type", "number", "expected"),
    [
        ("resident_id", ID, None),
        ("resident_id", ID_X.lower(), None),  # a lower-case x is the same number
        ("resident_id", _wrong(ID), {"id_number": "invalid_checksum"}),
        ("resident_id", _wrong(ID_X), {"id_number": "invalid_checksum"}),
        ("resident_id", valid_id("43012119800230123"), {"id_number": "invalid_birth_date"}),  # 30 February
        ("resident_id", "4301211980010112", {"id_number": "invalid_format"}),
        ("resident_id", "", {"id_number": "required"}),
        ("hk_macao_permit", "H12345678", None),
        ("hk_macao_permit", "M1234567801", None),
        ("hk_macao_permit", valid_id("81000019900101123"), None),  # 港澳居民居住证
        ("hk_macao_permit", "X12345678", {"id_number": "invalid_format"}),
        ("hk_macao_permit", _wrong(valid_id("81000019900101123")), {"id_number": "invalid_checksum"}),
        ("taiwan_permit", "12345678", None),
        ("taiwan_permit", valid_id("83000019900101123"), None),  # 台湾居民居住证
        ("taiwan_permit", "1234567", {"id_number": "invalid_format"}),
        ("passport", "E12345678", None),
        ("passport", "e 1234 5678", None),  # spaces and case are normalised
        ("passport", "E1", {"id_number": "invalid_format"}),
        ("passport", "E1234567$", {"id_number": "invalid_format"}),
        ("foreign_permanent", "USA110012345678", None),  # 2017 card
        ("foreign_permanent", valid_id("91184019900101123"), None),  # 2023 card, starts with 9
        ("foreign_permanent", "USA11001234567", {"id_number": "invalid_format"}),
        ("driving_licence", ID, {"id_type": "invalid_id_type"}),
        ("", ID, {"id_type": "invalid_id_type"}),
    ],
)
def test_each_id_type_is_checked_field_by_field_and_nothing_written(
    client, rt, world, id_type, number, expected
):
    _, vols = world
    r = put(client, rt, PHONES[0], id_type, number)
    mine = client.get("/api/v1/me/identity", headers=volunteer_token(rt, PHONES[0])).json()
    if expected is None:
        assert r.status_code == 200, r.text
        clean = identity.normalize(number)
        assert r.json() == mine
        assert mine["present"] is True and mine["id_type"] == id_type and mine["last4"] == clean[-4:]
        assert clean not in r.text
        v = stored(rt, vols[0])
        assert v.id_key_id == rt.id_keys.current and v.id_number_enc.startswith(v.id_key_id + ":")
        assert clean not in v.id_number_enc and v.id_hash.startswith("k1$")
    else:
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == "validation_failed"
        assert {e["field"]: e["code"] for e in body["errors"]} == expected
        assert mine == {"present": False, "id_type": None, "id_type_name": None, "last4": None}
        v = stored(rt, vols[0])
        assert v.id_hash is None and v.id_number_enc is None


def test_the_hash_is_registrations_and_a_number_is_held_once(client, rt, world):
    _, vols = world
    # registration's keyed hash and this one agree: registering with ID then giving it is the same
    assert put(client, rt, PHONES[0], "resident_id", ID_X).status_code == 200
    with rt.tx() as s:
        assert s.get(Volunteer, vols[0]).id_hash == rt.signer.keyed_hash("resident-id", ID_X)
    again = put(client, rt, PHONES[0], "resident_id", ID_X)  # the same volunteer again: fine
    assert again.status_code == 200
    taken = put(client, rt, PHONES[1], "resident_id", ID_X.lower())
    assert taken.status_code == 409 and taken.json()["code"] == "id_number_taken"
    assert stored(rt, vols[1]).id_number_enc is None
    # the same characters as another type are another document
    assert put(client, rt, PHONES[1], "passport", "E12345678").status_code == 200
    assert put(client, rt, PHONES[2], "passport", "E12345678").json()["code"] == "id_number_taken"
    # changing one's number frees the old one
    assert put(client, rt, PHONES[0], "resident_id", ID).status_code == 200
    assert put(client, rt, PHONES[2], "resident_id", ID_X).status_code == 200


def _audits(rt, action):
    with rt.tx() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()
        return [(r.subject, r.staff_user_id, r.org_path, dict(r.detail)) for r in rows]


def test_reveal_needs_a_county_admin_with_the_export_grant_and_is_audited(client, rt, world):
    county, vols = world
    assert put(client, rt, PHONES[0], "resident_id", ID_X).status_code == 200
    url = f"/api/v1/volunteers/{vols[0]}/identity/reveal"
    county_h = staff_token(client, "county")
    with rt.tx() as s:
        county_id = accounts_service.find_staff(s, "county").id
        admin_a_id = accounts_service.find_staff(s, "admin_a").id

    refused = client.post(url, json={"reason": "出具服务记录证明"}, headers=county_h)
    assert refused.status_code == 403 and refused.json()["code"] == "export_grant_required"
    assert ID_X not in refused.text
    assert _audits(rt, "identity.reveal_refused") == [
        (
            f"volunteer:{vols[0]}",
            county_id,
            "/1/",
            {"reason": "出具服务记录证明", "why": "export_grant_required"},
        )
    ]

    # a hub admin may neither give nor hold the grant
    body = {"staff_user_id": admin_a_id, "county_id": county.base}
    r = client.post("/api/v1/records/export-grants", json=body, headers=staff_token(client, "admin_a"))
    assert r.status_code == 403 and r.json()["code"] == "county_admins_only"
    r = client.post("/api/v1/records/export-grants", json=body, headers=county_h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "not_county_admin"
    r = client.post(
        "/api/v1/records/export-grants",
        json={"staff_user_id": county_id, "county_id": county.hub_a},
        headers=county_h,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "not_a_county"

    r = client.post(
        "/api/v1/records/export-grants",
        json={"staff_user_id": county_id, "county_id": county.base},
        headers=county_h,
    )
    assert r.status_code == 201 and r.json()["role"] == "records_export"
    assert _audits(rt, "records_export.granted")[0][:2] == (f"staff_user:{county_id}", county_id)
    county_h = staff_token(client, "county")  # grants are read at log-in (cached a few seconds)

    no_reason = client.post(url, json={"reason": " "}, headers=county_h)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    ok = client.post(url, json={"reason": "出具服务记录证明"}, headers=county_h)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"volunteer_id": vols[0], "id_type": "resident_id", "id_number": ID_X}
    revealed = _audits(rt, "identity.revealed")
    assert len(revealed) == 1
    subject, who, path, detail = revealed[0]
    assert (subject, who, path) == (f"volunteer:{vols[0]}", county_id, "/1/")
    assert detail["reason"] == "出具服务记录证明" and ID_X not in str(detail)

    # admin_a holds no grant: refused; a volunteer, not staff: refused; no number: 404
    r = client.post(url, json={"reason": "出具服务记录证明"}, headers=staff_token(client, "admin_a"))
    assert r.status_code == 403 and r.json()["code"] == "export_grant_required"
    r = client.post(url, json={"reason": "出具服务记录证明"}, headers=volunteer_token(rt, PHONES[1]))
    assert r.status_code == 403 and r.json()["code"] == "staff_only"
    r = client.post(
        f"/api/v1/volunteers/{vols[1]}/identity/reveal", json={"reason": "出具证明"}, headers=county_h
    )
    assert r.status_code == 404 and r.json()["code"] == "identity_not_given"
    assert len(_audits(rt, "identity.revealed")) == 1


def test_a_value_copied_to_another_row_does_not_decrypt(client, rt, world):
    county, vols = world
    keys = IdKeyring((_key("k1"),))
    value, _ = keys.encrypt(ID, row_binding(7))
    assert keys.decrypt(value, row_binding(7)) == ID
    with pytest.raises(IdCryptError):
        keys.decrypt(value, row_binding(8))
    with pytest.raises(IdCryptError):
        keys.decrypt(value[:-4] + "AAAA", row_binding(7))

    assert put(client, rt, PHONES[0], "resident_id", ID).status_code == 200
    with rt.tx() as s:
        a, b = s.get(Volunteer, vols[0]), s.get(Volunteer, vols[1])
        b.id_type, b.id_number_enc, b.id_key_id = a.id_type, a.id_number_enc, a.id_key_id
        staff = accounts_service.find_staff(s, "county").id
        accounts_service.add_export_grant(s, user_id=staff, county_id=county.base, now=rt.clock.now())
    h = staff_token(client, "county")
    r = client.post(f"/api/v1/volunteers/{vols[1]}/identity/reveal", json={"reason": "出具证明"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "identity_unreadable"
    r = client.post(f"/api/v1/volunteers/{vols[0]}/identity/reveal", json={"reason": "出具证明"}, headers=h)
    assert r.json()["id_number"] == ID


def test_keys_from_the_settings():
    raw = "k2:" + base64.b64encode(b"2" * 32).decode() + ",k1:" + base64.b64encode(b"1" * 32).decode()
    keys = keyring_for(parse_id_keys(raw), ())
    assert keys.current == "k2" and keys.key_ids == ["k2", "k1"]
    for bad in ("k1:short", "nokey", "k1:" + base64.b64encode(b"x" * 31).decode()):
        with pytest.raises(ValueError):
            parse_id_keys(bad)
    derived = keyring_for((), (("k1", b"a-long-enough-secret"), ("k0", b"the-older-secret-000")))
    again = keyring_for((), (("k1", b"a-long-enough-secret"),))
    assert derived.current == again.current and derived.current.startswith("s")
    other = derived_keys((("k1", b"another-secret-0000000"),))[0][0]
    assert other != derived.current  # a changed secret under the same name is another key id
    value, _ = derived.encrypt(ID, row_binding(1))
    assert again.decrypt(value, row_binding(1)) == ID


def _rotate_to(rt, monkeypatch, new_keys):
    monkeypatch.setattr(rt, "id_keys", new_keys)


def test_rotate_ids_command_and_job_reencrypt_under_the_new_key(client, rt, world, monkeypatch):
    _, vols = world
    for phone, number in zip(PHONES, (ID, ID_X, "E12345678"), strict=True):
        kind = "passport" if number.startswith("E") else "resident_id"
        assert put(client, rt, phone, kind, number).status_code == 200
    new_raw = (_key("k9"), *_raw(rt))
    new = IdKeyring(new_raw)
    monkeypatch.setenv("LINLI_DATABASE_URL", rt.settings.database_url)
    monkeypatch.setenv("LINLI_REDIS_URL", rt.settings.redis_url)
    monkeypatch.setenv("LINLI_SECRET_KEY", ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys))
    monkeypatch.setenv(
        "LINLI_ID_KEYS", ",".join(f"{kid}:{base64.b64encode(k).decode()}" for kid, k in new_raw)
    )
    r = CliRunner().invoke(main, ["keys", "rotate-ids"])
    assert r.exit_code == 0, r.output
    assert "3 " in r.output and "k9" in r.output
    with rt.tx() as s:
        rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.event == "identity_keys.rotation_requested")
        )
        assert len(rows.all()) == 1

    _rotate_to(rt, monkeypatch, new)  # the worker's processes restarted with the new key set
    assert drain(rt) >= 1  # the relay hands the job to RQ; a worker runs it
    with rt.tx() as s:
        assert identity.count_not_under(s, "k9") == 0
    assert jobs.rotate_identity_keys(batch=2) == {"reencrypted": 0, "key_id": "k9"}  # idempotent
    only_new = IdKeyring(new_raw[:1])
    with rt.tx() as s:
        for vid in vols:
            v = s.get(Volunteer, vid)
            assert v.id_key_id == "k9" and v.id_number_enc.startswith("k9:")
            assert only_new.decrypt(v.id_number_enc, row_binding(vid)) in (ID, ID_X, "E12345678")


def _raw(rt) -> tuple[tuple[str, bytes], ...]:
    """The suite's key set (derived from its secret key), for the test to build the next set."""
    assert not rt.settings.id_keys
    return derived_keys(rt.settings.secret_keys)


@pytest.mark.slow
def test_rotation_under_load_leaves_every_value_under_the_new_key(client, rt, world, monkeypatch):
    if rt.settings.is_sqlite:
        pytest.skip("concurrent writers: PostgreSQL (SQLite has one writer at a time)")
    county, _ = world
    phones = [f"1390731{n:04d}" for n in range(60)]
    ids = [file_volunteer(rt, p, county.open_team) for p in phones]
    with rt.tx() as s:
        for n, vid in enumerate(ids):
            identity.give(
                s,
                rt.signer,
                rt.id_keys,
                vid,
                id_type="passport",
                id_number=f"P{n:07d}",
                today=rt.clock.now().date(),
            )
    new_raw = (_key("k7"), *_raw(rt))
    new = IdKeyring(new_raw)
    _rotate_to(rt, monkeypatch, new)
    stop, going, written, errors = threading.Event(), threading.Event(), [], []
    busy = ids[:30]  # written to while the rotation runs; the other half only the rotation touches

    def writer():
        n = 0
        while not stop.is_set():
            vid = busy[n % len(busy)]
            try:
                with rt.tx() as s:
                    identity.give(
                        s,
                        rt.signer,
                        new,
                        vid,
                        id_type="passport",
                        id_number=f"W{n:07d}",
                        today=rt.clock.now().date(),
                    )
                written.append((vid, f"W{n:07d}"))
                if len(written) >= 5:
                    going.set()
            except Exception as exc:
                errors.append(repr(exc))
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert going.wait(60), errors  # the writer is busy before the rotation starts
        result = jobs.rotate_identity_keys(batch=7)
    finally:
        stop.set()
        thread.join()
    assert errors == [] and len(written) >= 5
    # the half nobody wrote to can only have come under k7 through the rotation
    assert result["key_id"] == "k7" and result["reencrypted"] >= len(ids) - len(busy)
    latest = dict(written)
    only_new = IdKeyring(new_raw[:1])
    with rt.tx() as s:
        for n, vid in enumerate(ids):
            v = s.get(Volunteer, vid)
            assert v.id_key_id == "k7"
            assert only_new.decrypt(v.id_number_enc, row_binding(vid)) == latest.get(vid, f"P{n:07d}")
        assert identity.count_not_under(s, "k7") == 0


def _database_text(rt) -> str:
    """Every value of every table, as text; on PostgreSQL also pg_dump's."""
    parts = []
    with rt.tx() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)):
                parts.extend(str(v) for v in row)
    if not rt.settings.is_sqlite:
        url = rt.settings.database_url
        parts.append(
            subprocess.run(["pg_dump", "--data-only", url], capture_output=True, text=True, check=True).stdout
        )
        with rt.tx() as s:  # and nothing outside the models' tables
            names = s.scalars(  # a month's partition is its table's (pg_dump above read it)
                    text(
                        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
                    )
                ).all()
            assert set(Base.metadata.tables) >= set(names) - {"alembic_version"}
    return "\n".join(parts)


def test_the_full_number_is_only_in_the_reveal_answer(client, rt, world, caplog):
    caplog.set_level(logging.DEBUG)
    county, vols = world
    answers = []

    def call(method, url, headers, **kw):
        r = client.request(method, url, headers=headers, **kw)
        answers.append((method, url, r.status_code, r.text + str(dict(r.headers))))
        return r

    vol_h, other_h = volunteer_token(rt, PHONES[0]), volunteer_token(rt, PHONES[1])
    county_h = staff_token(client, "county")
    wrong = _wrong(ID)
    call("PUT", "/api/v1/me/identity", vol_h, json={"id_type": "resident_id", "id_number": wrong})
    assert (
        call(
            "PUT", "/api/v1/me/identity", vol_h, json={"id_type": "resident_id", "id_number": ID}
        ).status_code
        == 200
    )
    assert (
        call(
            "PUT", "/api/v1/me/identity", other_h, json={"id_type": "resident_id", "id_number": ID}
        ).status_code
        == 409
    )
    call("GET", "/api/v1/me/identity", vol_h)
    call("GET", "/api/v1/me", vol_h)
    call("POST", f"/api/v1/volunteers/{vols[0]}/identity/reveal", county_h, json={"reason": "出具证明"})
    with rt.tx() as s:
        county_id = accounts_service.find_staff(s, "county").id
    grant = {"staff_user_id": county_id, "county_id": county.base}
    assert call("POST", "/api/v1/records/export-grants", county_h, json=grant).status_code == 201
    county_h = staff_token(client, "county")
    url = f"/api/v1/volunteers/{vols[0]}/identity/reveal"
    assert call("POST", url, county_h, json={"reason": "出具证明"}).status_code == 200
    call("GET", "/api/v1/integrity/audit", county_h)
    call("GET", f"/api/v1/volunteers/{vols[0]}", county_h)

    holding = [(m, u, st) for m, u, st, body in answers if ID in body]
    assert holding == [("POST", url, 200)]
    assert sum(1 for *_, body in answers if ID[-4:] in body) >= 2  # the masked answers do show the last four
    assert ID not in _database_text(rt)
    assert ID not in caplog.text
    assert all(ID not in str(r.args) and ID not in r.getMessage() for r in caplog.records)
    assert len(caplog.records) > 0  # the requests were logged at all


def test_probing_for_registered_numbers_is_limited(client, rt, world):
    assert put(client, rt, PHONES[0], "passport", "E00000000").status_code == 200
    codes = [put(client, rt, PHONES[1], "passport", "E00000000").status_code for _ in range(6)]
    assert codes == [409] * 5 + [429]
    assert put(client, rt, PHONES[2], "passport", "E00000000").status_code == 409  # per volunteer
