"""Staff passwords, bearer tokens (expiry, revocation), partner API keys (令牌与密钥)."""

from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import select

from accounts.models import ApiKey, AuthToken, StaffUser
from tests.fixtures.builders import PASSWORD, make_county, staff_token, staff_user


def test_staff_login_with_argon2_password(client, rt):
    county = make_county(rt)
    staff_user(rt, "hub_admin", "admin", org_id=county.hub_a)
    with rt.tx() as s:
        assert s.scalar(select(StaffUser.password_hash)).startswith("$argon2id$")
    headers = staff_token(client, "hub_admin")
    me = client.get("/api/v1/me", headers=headers).json()
    assert me["kind"] == "staff" and me["username"] == "hub_admin"
    assert me["grants"] == [{"role": "admin", "org_id": county.hub_a, "partner_id": None, "station_id": None}]


def test_wrong_password_and_unknown_user_look_the_same(client, rt):
    county = make_county(rt)
    staff_user(rt, "hub_admin", "admin", org_id=county.hub_a)
    a = client.post("/api/v1/auth/tokens", json={"username": "hub_admin", "password": "wrong-password"})
    b = client.post("/api/v1/auth/tokens", json={"username": "nobody", "password": PASSWORD})
    assert a.status_code == b.status_code == 401
    assert a.json()["code"] == b.json()["code"] == "invalid_credentials"


def test_tokens_are_stored_hashed_and_can_be_revoked(client, rt):
    county = make_county(rt)
    staff_user(rt, "hub_admin", "admin", org_id=county.hub_a)
    headers = staff_token(client, "hub_admin")
    token = headers["Authorization"].split()[1]
    with rt.tx() as s:
        assert s.scalar(select(AuthToken.token_hash)) != token
    assert client.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 204
    r = client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


def test_tokens_expire(client, rt):
    county = make_county(rt)
    staff_user(rt, "hub_admin", "admin", org_id=county.hub_a)
    with freeze_time("2026-11-26 00:00:00") as frozen:
        headers = staff_token(client, "hub_admin")
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        frozen.tick(timedelta(seconds=rt.settings.token_ttl_seconds + 1))
        r = client.get("/api/v1/me", headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "invalid_token"


def test_missing_or_malformed_header_is_401_problem(client, rt):
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "missing_token"
    assert r.headers["content-type"].startswith("application/problem+json")
    r = client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer lt_not-a-real-token"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


def test_partner_api_key_is_shown_once_and_authenticates(client, rt):
    from orgs import service as orgs_service

    county = make_county(rt)
    with rt.tx() as s:
        partner = orgs_service.create_partner(s, name="泉心社会企业", now=rt.clock.now())
    staff_user(rt, "county_admin", "admin", org_id=county.base)
    staff_user(rt, "hub_admin", "admin", org_id=county.hub_a)

    r = client.post(
        f"/api/v1/partners/{partner.id}/api-keys",
        json={"name": "月报"},
        headers=staff_token(client, "hub_admin"),
    )
    assert r.status_code == 403 and r.json()["code"] == "county_admins_only"

    r = client.post(
        f"/api/v1/partners/{partner.id}/api-keys",
        json={"name": "月报"},
        headers=staff_token(client, "county_admin"),
    )
    assert r.status_code == 201
    key = r.json()["key"]
    with rt.tx() as s:
        row = s.scalar(select(ApiKey))
        assert row.key_hash != key and key not in row.key_hash
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json() == {
        "kind": "api_key",
        "volunteer": None,
        "staff_user_id": None,
        "username": None,
        "display_name": None,
        "grants": [],
        "partner_id": partner.id,
    }
    # a partner key is not staff: it cannot list filings
    r = client.get("/api/v1/filings", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403

    r = client.post("/api/v1/partners/999999/api-keys", json={}, headers=staff_token(client, "county_admin"))
    assert r.status_code == 404 and r.json()["code"] == "partner_not_found"


def test_api_keys_cannot_log_out_here(client, rt):
    from orgs import service as orgs_service

    county = make_county(rt)
    with rt.tx() as s:
        partner = orgs_service.create_partner(s, name="泉心社会企业", now=rt.clock.now())
    staff_user(rt, "county_admin", "admin", org_id=county.base)
    key = client.post(
        f"/api/v1/partners/{partner.id}/api-keys",
        json={"name": "月报"},
        headers=staff_token(client, "county_admin"),
    ).json()["key"]
    r = client.delete("/api/v1/auth/tokens/current", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403 and r.json()["code"] == "not_a_token"


def test_partner_users_log_in_and_see_no_people(client, rt):
    from orgs import service as orgs_service

    county = make_county(rt)
    with rt.tx() as s:
        partner = orgs_service.create_partner(s, name="泉心社会企业", now=rt.clock.now())
    staff_user(rt, "quanxin", "partner", partner_id=partner.id)
    headers = staff_token(client, "quanxin")
    me = client.get("/api/v1/me", headers=headers).json()
    assert me["grants"] == [{"role": "partner", "org_id": None, "partner_id": partner.id, "station_id": None}]
    for path in ("/api/v1/filings", "/api/v1/organizations", "/api/v1/attendances"):
        assert client.get(path, headers=headers).status_code == 403, path
    assert county


def test_partners_keep_their_own_api_keys_and_revoke_them_at_once(client, rt):
    from orgs import service as orgs_service

    make_county(rt)
    with rt.tx() as s:
        mine = orgs_service.create_partner(s, name="泉心社会企业", now=rt.clock.now())
        other = orgs_service.create_partner(s, name="邻家餐饮", now=rt.clock.now())
    staff_user(rt, "quanxin", "partner", partner_id=mine.id)
    headers = staff_token(client, "quanxin")
    made = client.post(f"/api/v1/partners/{mine.id}/api-keys", json={"name": "财务月报"}, headers=headers)
    assert made.status_code == 201
    key = made.json()["key"]
    listed = client.get(f"/api/v1/partners/{mine.id}/api-keys", headers=headers).json()["items"]
    assert [(k["name"], k["prefix"], k["revoked_at"]) for k in listed] == [("财务月报", key[:10], None)]
    assert key not in str(listed)  # the key itself is shown once, at creation
    # another partner's keys: neither listed, made nor revoked
    for r in (
        client.get(f"/api/v1/partners/{other.id}/api-keys", headers=headers),
        client.post(f"/api/v1/partners/{other.id}/api-keys", json={"name": "x"}, headers=headers),
        client.post(f"/api/v1/partners/{other.id}/api-keys/{listed[0]['id']}/revoke", headers=headers),
    ):
        assert r.status_code == 403 and r.json()["code"] == "county_admins_only"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    r = client.post(f"/api/v1/partners/{mine.id}/api-keys/{listed[0]['id']}/revoke", headers=headers)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    r = client.post(f"/api/v1/partners/{mine.id}/api-keys/999999/revoke", headers=headers)
    assert r.status_code == 404 and r.json()["code"] == "api_key_not_found"


def test_an_unknown_name_costs_the_same_hash_as_a_wrong_password(client, rt, monkeypatch):
    """Staff login answered an unknown name in 3.5 ms and a known one in 100 ms: the time told who
    has an account. Both now verify one argon2 hash."""
    from argon2 import PasswordHasher

    from accounts import service

    class Counting(PasswordHasher):
        verified = 0

        def verify(self, hash, password):
            Counting.verified += 1
            return super().verify(hash, password)

    monkeypatch.setattr(service, "_hasher", Counting(time_cost=1, memory_cost=8, parallelism=1))
    county = make_county(rt)
    staff_user(rt, "county", "admin", org_id=county.base)
    for username, password in (("nobody", PASSWORD), ("county", "wrong " + PASSWORD), ("county", PASSWORD)):
        before = Counting.verified
        r = client.post("/api/v1/auth/tokens", json={"username": username, "password": password})
        assert r.status_code == (201 if password == PASSWORD and username == "county" else 401), r.text
        assert Counting.verified - before == 1, username
