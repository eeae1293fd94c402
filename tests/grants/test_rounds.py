"""A micro-grant round end to end (docs/programmes.md): opened by the hub, proposals written and
submitted by organizations, scored by reviewers who see only their own scores until the review
closes, ranked with ties explained, decided with who, when and why, published for a notice with
objections, and granted as projects once the notice is over."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from grants import rounds
from grants.models import GrantRound, Project, Proposal
from integrity.models import AuditEntry
from tests.fixtures.grants import grant_world
from workers import jobs


@pytest.fixture
def w(rt, client, clock):
    return grant_world(rt, client, clock)


def test_a_round_from_call_to_projects(w, rt):
    r = w.open_round()
    assert r["state"] == "call" and r["funds"] == 15_000_000 and r["notice_days"] == 7
    rid = r["id"]
    # proposals: two organizations of hub A and a team inside one of them
    a = w.propose(rid, "org_admin", w.county.org_a, title="助餐")
    b = w.propose(
        rid,
        "org_admin2",
        w.org_a2,
        title="护河",
        field="environment",
        budget=[{"item": "物料", "amount": 1_400_000}],
    )
    draft = w.propose(rid, "org_admin", w.county.approval_team, submit=False, title="课堂")
    assert a["status"] == "submitted" and a["budget_total"] == 1_500_000
    edited = w.call(
        "org_admin", "PATCH", f"/api/v1/proposals/{draft['id']}", 200, json={"goal_served": 900}
    ).json()
    assert edited["goal_served"] == 900 and edited["status"] == "draft"
    w.call("org_admin", "POST", f"/api/v1/proposals/{draft['id']}/submit", 200)
    # the hub sees all three; an organization its own; another hub's admin nothing of it
    listed = w.call("admin_a", "GET", f"/api/v1/rounds/{rid}/proposals", 200).json()["items"]
    assert {p["id"] for p in listed} == {a["id"], b["id"], draft["id"]}
    own = w.call("org_admin2", "GET", f"/api/v1/rounds/{rid}/proposals", 200).json()["items"]
    assert [p["id"] for p in own] == [b["id"]]
    w.call("admin_b", "GET", f"/api/v1/rounds/{rid}", 404)
    assert [x["id"] for x in w.call("org_admin2", "GET", "/api/v1/rounds", 200).json()["items"]] == [rid]

    # reviewers: two staff users and a guest invited by phone
    for who in ("r1", "r2"):
        w.call(
            "admin_a", "POST", f"/api/v1/rounds/{rid}/reviewers", 201, json={"staff_user_id": w.staff[who]}
        )
    guest = w.call(
        "admin_a",
        "POST",
        f"/api/v1/rounds/{rid}/reviewers",
        201,
        json={"phone": "13907310009", "name": "李老师"},
    ).json()
    assert guest["guest"] and guest["password"] and guest["username"] != "13907310009"  # masked
    login = w.client.post(
        "/api/v1/auth/tokens", json={"username": "13907310009", "password": guest["password"]}
    )
    assert login.status_code == 201, login.text
    w.tokens["guest"] = {"Authorization": f"Bearer {login.json()['token']}"}
    assert w.call("guest", "GET", "/api/v1/rounds", 200).json()["items"][0]["id"] == rid

    w.score("r1", a["id"], [8, 8, 8], status=409)  # the call is still open: review_not_open
    w.close_call(r)
    assert w.call("admin_a", "GET", f"/api/v1/rounds/{rid}", 200).json()["state"] == "review"
    w.score("r1", a["id"], [9, 8, 7])  # 9*40+8*35+7*25 = 815
    w.score("r2", a["id"], [7, 8, 9])  # 280+280+225 = 785 -> average 8.00
    w.score("r1", b["id"], [8, 8, 8])  # 800
    w.score("r2", b["id"], [8, 8, 8])  # 800 -> 8.00, tied with a; a's top criterion 8.0 = b's 8.0
    w.score("guest", draft["id"], [5, 5, 5])
    w.score("r1", draft["id"], [6, 5, 5])
    # hidden until the review closes: r2 sees only their own; the hub only its own (none)
    seen = w.call("r2", "GET", f"/api/v1/proposals/{a['id']}/scores", 200).json()
    assert [s["reviewer_id"] for s in seen["items"]] == [w.staff["r2"]] and seen["hidden"] == 1
    assert w.call("admin_a", "GET", f"/api/v1/proposals/{a['id']}/scores", 200).json()["hidden"] == 2
    w.call("admin_a", "GET", f"/api/v1/rounds/{rid}/ranking", 409)  # review_open
    w.call("admin_a", "POST", f"/api/v1/proposals/{a['id']}/approve", 409, json={"amount": 1_000_000})

    closed = w.call("admin_a", "POST", f"/api/v1/rounds/{rid}/close-review", 200).json()
    assert closed["review_closed_at"] is not None
    assert w.call("r2", "GET", f"/api/v1/proposals/{a['id']}/scores", 200).json()["hidden"] == 0
    w.score("r2", draft["id"], [5, 5, 5], status=409)  # review_closed
    ranking = w.call("r1", "GET", f"/api/v1/rounds/{rid}/ranking", 200).json()
    order = [(i["proposal_id"], i["weighted_average"], i["tie_broken_by"]) for i in ranking["items"]]
    # a and b tie at 8.00 and on the heaviest criterion (8.0 each): b's smaller budget goes first
    assert order == [(b["id"], 8.0, "budget"), (a["id"], 8.0, "budget"), (draft["id"], 5.2, None)]
    assert "预算" in ranking["rule"] and ranking["scale"] == [0, 10]

    # decisions: who, when, why; round limits hold
    w.call("admin_a", "POST", f"/api/v1/proposals/{a['id']}/approve", 422, json={"amount": 1_500_001})
    ok = w.call(
        "admin_a",
        "POST",
        f"/api/v1/proposals/{a['id']}/approve",
        200,
        json={"amount": 1_400_000, "reason": "排名第一"},
    ).json()
    assert ok["status"] == "approved" and ok["decided_by"] == w.staff["admin_a"] and ok["decided_at"]
    w.call("admin_a", "POST", f"/api/v1/proposals/{b['id']}/approve", 200, json={"amount": 1_400_000})
    third = w.call("admin_a", "POST", f"/api/v1/proposals/{draft['id']}/approve", 409, json={"amount": 100})
    assert third.json()["code"] == "max_grants_reached"
    no = w.call(
        "admin_a", "POST", f"/api/v1/proposals/{draft['id']}/reject", 200, json={"reason": "评分靠后"}
    ).json()
    assert no["status"] == "rejected" and no["decision_reason"] == "评分靠后"
    with rt.tx() as s:
        audited = s.scalars(select(AuditEntry.action).where(AuditEntry.subject.like("proposal:%"))).all()
    assert sorted(audited) == ["proposal.approved", "proposal.approved", "proposal.rejected"]

    # the public notice, before and during
    page = w.client.get(f"/rounds/{rid}")
    assert page.status_code == 200 and "尚未公示" in page.text and "助餐" not in page.text
    w.call(None, "POST", f"/api/v1/rounds/{rid}/objections", 409, json={"text": "早了"})  # notice_not_open
    published = w.call("admin_a", "POST", f"/api/v1/rounds/{rid}/publish", 200).json()
    assert published["state"] == "notice"
    ends = datetime.fromisoformat(published["notice_ends_at"])
    assert ends - datetime.fromisoformat(published["notice_starts_at"]) == timedelta(days=7)
    page = w.client.get(f"/rounds/{rid}")
    assert (
        "助餐" in page.text
        and "护河" in page.text
        and "14000.00" in page.text
        and "泉塘环保协会" in page.text
    )
    assert "课堂" not in page.text  # rejected: not shown
    late = w.call("admin_a", "POST", f"/api/v1/proposals/{draft['id']}/approve", 409, json={"amount": 100})
    assert late.json()["code"] == "decisions_closed"
    w.call(
        None,
        "POST",
        f"/api/v1/rounds/{rid}/objections",
        201,
        json={"text": "护河项目去年已获资助", "contact": "王先生"},
    )
    objections = w.call("admin_a", "GET", f"/api/v1/rounds/{rid}/objections", 200).json()["items"]
    assert [o["text"] for o in objections] == ["护河项目去年已获资助"]
    w.call("admin_b", "GET", f"/api/v1/rounds/{rid}/objections", 403)

    # after the notice: projects, once (the periodic job and the lazy check agree)
    w.clock.at = ends - timedelta(seconds=1)
    assert jobs.grants_take_effect() == 0
    w.clock.at = ends
    assert jobs.grants_take_effect() == 2
    assert jobs.grants_take_effect() == 0
    assert w.call("admin_a", "GET", f"/api/v1/rounds/{rid}", 200).json()["state"] == "granted"
    with rt.tx() as s:
        projects = s.scalars(select(Project).order_by(Project.id)).all()
        assert rounds.take_effect(s, w.clock.now() + timedelta(days=1)) == 0
    assert [(p.proposal_id, p.granted) for p in projects] == [(a["id"], 1_400_000), (b["id"], 1_400_000)]
    got = w.call("org_admin", "GET", f"/api/v1/projects/{projects[0].id}", 200).json()
    assert got["granted"] == 1_400_000 and got["status"] == "active"
    w.call("org_admin2", "GET", f"/api/v1/projects/{projects[0].id}", 403)
    page = w.client.get(f"/rounds/{rid}")
    assert "公示已结束" in page.text and "助餐" in page.text


def test_the_public_page_of_no_round_is_404(w):
    assert w.client.get("/rounds/999").status_code == 404


def test_lazy_grant_when_the_round_is_read(w, rt):
    r = w.open_round(notice_days=1)
    p = w.propose(r["id"], "org_admin", w.county.org_a)
    w.call(
        "admin_a", "POST", f"/api/v1/rounds/{r['id']}/reviewers", 201, json={"staff_user_id": w.staff["r1"]}
    )
    w.close_call(r)
    w.score("r1", p["id"], [5, 5, 5])
    w.call("admin_a", "POST", f"/api/v1/rounds/{r['id']}/close-review", 200)
    w.call("admin_a", "POST", f"/api/v1/proposals/{p['id']}/approve", 200, json={"amount": 1_000_000})
    w.call("admin_a", "POST", f"/api/v1/rounds/{r['id']}/publish", 200)
    w.clock.at += timedelta(days=1)
    assert w.client.get(f"/rounds/{r['id']}").status_code == 200  # read: the notice is over
    with rt.tx() as s:
        assert s.scalar(select(GrantRound.state)) == "granted"
        assert s.scalar(select(func.count()).select_from(Project)) == 1
        assert s.scalar(select(Proposal.status)) == "approved"


def test_a_tie_on_the_average_is_broken_by_the_heaviest_criterion(w):
    r = w.open_round()
    a = w.propose(r["id"], "org_admin", w.county.org_a)
    b = w.propose(r["id"], "org_admin2", w.org_a2)
    w.call(
        "admin_a", "POST", f"/api/v1/rounds/{r['id']}/reviewers", 201, json={"staff_user_id": w.staff["r1"]}
    )
    w.close_call(r)
    w.score("r1", b["id"], [9, 10, 0])  # 360 + 350 + 0 = 710
    w.score("r1", a["id"], [10, 6, 4])  # 400 + 210 + 100 = 710: the heaviest criterion (需求分析, 40) 10 > 9
    w.call("admin_a", "POST", f"/api/v1/rounds/{r['id']}/close-review", 200)
    items = w.call("admin_a", "GET", f"/api/v1/rounds/{r['id']}/ranking", 200).json()["items"]
    assert [(i["proposal_id"], i["rank"], i["weighted_average"], i["tie_broken_by"]) for i in items] == [
        (a["id"], 1, 7.1, "top_criterion"),
        (b["id"], 2, 7.1, "top_criterion"),
    ]
    assert items[0]["criteria"] == {"需求分析": 10.0, "执行能力": 6.0, "预算合理": 4.0}
