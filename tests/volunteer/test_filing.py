"""Filing with teams (备案): join modes, decisions kept with who/when/why, scoping by subtree."""

from sqlalchemy import func, select

from tests.fixtures.builders import make_county, register, staff_token, staff_user, volunteer_token
from volunteer.models import Filing, FilingDecision


def setup(client, rt):
    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    staff_user(rt, "admin_b", "admin", org_id=county.hub_b)
    staff_user(rt, "coord_a", "coordinator", org_id=county.org_a)
    register(client, name="王秀英", phone="13807310001")
    return county, volunteer_token(rt, "13807310001")


def count(rt, model) -> int:
    with rt.tx() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_open_team_approves_at_once_and_records_the_rule(client, rt):
    county, me = setup(client, rt)
    r = client.post(f"/api/v1/teams/{county.open_team}/filings", headers=me)
    assert r.status_code == 201
    assert r.json()["status"] == "approved" and r.json()["team_name"] == "龙舟志愿服务队"
    detail = client.get(f"/api/v1/filings/{r.json()['id']}", headers=me).json()
    [decision] = detail["decisions"]
    assert decision["decision"] == "approved" and decision["decided_by"] is None and decision["reason"]


def test_approval_team_waits_for_staff_who_is_recorded(client, rt):
    county, me = setup(client, rt)
    filing = client.post(f"/api/v1/teams/{county.approval_team}/filings", headers=me).json()
    assert filing["status"] == "pending"
    admin = staff_token(client, "admin_a")
    listed = client.get("/api/v1/filings?status=pending", headers=admin).json()
    assert [f["id"] for f in listed["items"]] == [filing["id"]]
    assert listed["items"][0]["volunteer_name"] == "王秀英"
    assert listed["items"][0]["volunteer_phone"] == "138****0001"

    r = client.post(f"/api/v1/filings/{filing['id']}/approve", json={"reason": "培训合格"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    detail = client.get(f"/api/v1/filings/{filing['id']}", headers=admin).json()
    [decision] = detail["decisions"]
    admin_id = client.get("/api/v1/me", headers=admin).json()["staff_user_id"]
    assert decision["decided_by"] == admin_id and decision["reason"] == "培训合格" and decision["decided_at"]

    again = client.post(f"/api/v1/filings/{filing['id']}/reject", json={"reason": "改主意"}, headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "filing_already_decided"
    assert count(rt, FilingDecision) == 1


def test_reject_needs_a_reason_and_the_volunteer_may_apply_again(client, rt):
    county, me = setup(client, rt)
    filing = client.post(f"/api/v1/teams/{county.approval_team}/filings", headers=me).json()
    admin = staff_token(client, "admin_a")
    r = client.post(f"/api/v1/filings/{filing['id']}/reject", json={"reason": "  "}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    assert count(rt, FilingDecision) == 0
    r = client.post(f"/api/v1/filings/{filing['id']}/reject", json={"reason": "名额已满"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    mine = client.get("/api/v1/me/filings", headers=me).json()["items"]
    assert [(f["status"]) for f in mine] == ["rejected"]
    r = client.post(f"/api/v1/teams/{county.approval_team}/filings", headers=me)
    assert r.status_code == 201 and r.json()["status"] == "pending"


def test_staff_of_another_hub_can_neither_see_nor_decide(client, rt):
    county, me = setup(client, rt)
    filing = client.post(f"/api/v1/teams/{county.approval_team}/filings", headers=me).json()
    other = staff_token(client, "admin_b")
    assert client.get("/api/v1/filings", headers=other).json()["items"] == []
    r = client.post(f"/api/v1/filings/{filing['id']}/approve", headers=other)
    assert r.status_code == 403 and r.json()["code"] == "outside_your_scope"
    r = client.get(f"/api/v1/filings/{filing['id']}", headers=other)
    assert r.status_code == 403
    with rt.tx() as s:
        assert s.scalar(select(Filing.status)) == "pending"
    assert count(rt, FilingDecision) == 0


def test_coordinator_sees_own_subtree_but_does_not_decide(client, rt):
    county, me = setup(client, rt)
    filing = client.post(f"/api/v1/teams/{county.approval_team}/filings", headers=me).json()
    coord = staff_token(client, "coord_a")
    assert [f["id"] for f in client.get("/api/v1/filings", headers=coord).json()["items"]] == [filing["id"]]
    r = client.post(f"/api/v1/filings/{filing['id']}/approve", headers=coord)
    assert r.status_code == 403 and r.json()["code"] == "role_required"


def test_county_admin_sees_every_hub(client, rt):
    county, me = setup(client, rt)
    staff_user(rt, "county", "admin", org_id=county.base)
    a = client.post(f"/api/v1/teams/{county.approval_team}/filings", headers=me).json()
    b = client.post(f"/api/v1/teams/{county.team_b}/filings", headers=me).json()
    county_admin = staff_token(client, "county")
    assert {f["id"] for f in client.get("/api/v1/filings", headers=county_admin).json()["items"]} == {
        a["id"],
        b["id"],
    }
    admin_a = staff_token(client, "admin_a")
    assert [f["id"] for f in client.get("/api/v1/filings", headers=admin_a).json()["items"]] == [a["id"]]


def test_invitation_only_team(client, rt):
    county, me = setup(client, rt)
    r = client.post(f"/api/v1/teams/{county.invitation_team}/filings", headers=me)
    assert r.status_code == 403 and r.json()["code"] == "invitation_only"
    assert count(rt, Filing) == 0
    r = client.post(
        f"/api/v1/teams/{county.invitation_team}/invitations",
        json={"phone": "13807310001"},
        headers=staff_token(client, "admin_b"),
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/teams/{county.invitation_team}/invitations",
        json={"phone": "13807310001"},
        headers=staff_token(client, "admin_a"),
    )
    assert r.status_code == 201 and r.json()["phone"] == "138****0001"
    r = client.post(f"/api/v1/teams/{county.invitation_team}/filings", headers=me)
    assert r.status_code == 201 and r.json()["status"] == "approved"


def test_several_teams_but_one_live_filing_per_team(client, rt):
    county, me = setup(client, rt)
    assert client.post(f"/api/v1/teams/{county.open_team}/filings", headers=me).status_code == 201
    assert client.post(f"/api/v1/teams/{county.approval_team}/filings", headers=me).status_code == 201
    r = client.post(f"/api/v1/teams/{county.open_team}/filings", headers=me)
    assert r.status_code == 409 and r.json()["code"] == "already_filed"
    assert len(client.get("/api/v1/me/filings", headers=me).json()["items"]) == 2


def test_unknown_team_is_404_and_not_a_team_is_404(client, rt):
    county, me = setup(client, rt)
    r = client.post("/api/v1/teams/999999/filings", headers=me)
    assert r.status_code == 404 and r.json()["code"] == "team_not_found"
    r = client.post(f"/api/v1/teams/{county.hub_a}/filings", headers=me)
    assert r.status_code == 404


def test_staff_cannot_file_and_volunteers_cannot_decide(client, rt):
    county, me = setup(client, rt)
    admin = staff_token(client, "admin_a")
    r = client.post(f"/api/v1/teams/{county.open_team}/filings", headers=admin)
    assert r.status_code == 403 and r.json()["code"] == "volunteers_only"
    filing = client.post(f"/api/v1/teams/{county.approval_team}/filings", headers=me).json()
    r = client.post(f"/api/v1/filings/{filing['id']}/approve", headers=me)
    assert r.status_code == 403 and r.json()["code"] == "staff_only"
    assert client.get("/api/v1/filings", headers=me).status_code == 403


def test_lists_page_with_a_cursor(client, rt):
    county, _ = setup(client, rt)
    for i in range(5):
        phone = f"1390000000{i}"
        register(client, phone=phone)
        client.post(f"/api/v1/teams/{county.approval_team}/filings", headers=volunteer_token(rt, phone))
    admin = staff_token(client, "admin_a")
    first = client.get("/api/v1/filings?limit=3", headers=admin).json()
    assert len(first["items"]) == 3 and first["next"]
    second = client.get(f"/api/v1/filings?limit=3&cursor={first['next']}", headers=admin).json()
    assert len(second["items"]) == 2 and second["next"] is None
    assert not {f["id"] for f in first["items"]} & {f["id"] for f in second["items"]}
    r = client.get("/api/v1/filings?cursor=abc&limit=0", headers=admin)
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"cursor", "limit"}
    r = client.get("/api/v1/filings?status=maybe", headers=admin)
    assert r.status_code == 422


def test_teams_list_is_public_and_scoped_by_under(client, rt):
    county, _ = setup(client, rt)
    everything = client.get("/api/v1/teams").json()["items"]
    assert {t["id"] for t in everything} == {
        county.open_team,
        county.approval_team,
        county.invitation_team,
        county.team_b,
    }
    under_b = client.get(f"/api/v1/teams?under={county.hub_b}").json()["items"]
    assert [t["id"] for t in under_b] == [county.team_b]
