"""Each refusal of a round's steps has its own code and writes nothing (docs/programmes.md)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from grants.models import GrantRound, Proposal, RoundFunder
from grants.models_rounds import GrantScore
from orgs.models import Organization
from tests.fixtures.grants import grant_world


@pytest.fixture
def w(rt, client, clock):
    return grant_world(rt, client, clock)


def count(rt, model) -> int:
    with rt.tx() as s:
        return s.scalar(select(func.count()).select_from(model))


def fields(r) -> dict:
    assert r.status_code == 422, r.text
    return {e["field"]: e["code"] for e in r.json()["errors"]}


def test_a_round_is_refused_field_by_field_and_nothing_is_written(w, rt):
    r = w.call("admin_a", "POST", "/api/v1/rounds", json=w.round_body(funders=[]))
    assert fields(r) == {"funders": "no_funders"}
    bad = w.round_body(
        criteria=[{"name": "需求", "weight": 50}, {"name": "能力", "weight": 40}],
        max_grants=None,
        total_limit=None,
        notice_days=0,
    )
    assert fields(w.call("admin_a", "POST", "/api/v1/rounds", json=bad)) == {
        "criteria": "weights_sum",
        "max_grants": "no_limit",
        "notice_days": "out_of_range",
    }
    over = w.round_body(total_limit=20_000_000)
    assert fields(w.call("admin_a", "POST", "/api/v1/rounds", json=over)) == {"total_limit": "over_funds"}
    not_hub = w.round_body(org_id=w.county.org_a)
    assert fields(w.call("org_admin", "POST", "/api/v1/rounds", json=not_hub)) == {"org_id": "not_a_hub"}
    other = w.call("admin_b", "POST", "/api/v1/rounds", json=w.round_body())
    assert other.status_code == 403 and other.json()["code"] == "outside_your_scope"
    assert count(rt, GrantRound) == 0 and count(rt, RoundFunder) == 0
    assert (
        w.call("county", "POST", "/api/v1/rounds", json=w.round_body(org_id=w.county.base)).status_code == 201
    )


def test_proposals_are_refused_late_over_the_limit_and_outside_the_hub(w, rt):
    r = w.open_round()
    rid = r["id"]
    over = w.call(
        "org_admin",
        "POST",
        f"/api/v1/rounds/{rid}/proposals",
        json=w.proposal_body(w.county.org_a, budget=[{"item": "场地", "amount": 5_000_001}]),
    )
    assert fields(over) == {"budget": "over_grant_limit"}
    other_hub = w.call(
        "org_admin_b", "POST", f"/api/v1/rounds/{rid}/proposals", json=w.proposal_body(w.county.org_b)
    )
    assert other_hub.status_code == 404 and other_hub.json()["code"] == "round_not_found"  # not told
    outside = w.call(
        "county", "POST", f"/api/v1/rounds/{rid}/proposals", json=w.proposal_body(w.county.org_b)
    )
    assert outside.status_code == 409 and outside.json()["code"] == "organization_outside_round"
    not_theirs = w.call(
        "org_admin2", "POST", f"/api/v1/rounds/{rid}/proposals", json=w.proposal_body(w.county.org_a)
    )
    assert not_theirs.status_code == 403
    assert count(rt, Proposal) == 0
    p = w.propose(rid, "org_admin", w.county.org_a, submit=False)
    bad_edit = w.call(
        "org_admin",
        "PATCH",
        f"/api/v1/proposals/{p['id']}",
        json={"budget": [{"item": "x", "amount": 9_000_000}]},
    )
    assert fields(bad_edit) == {"budget": "over_grant_limit"}
    # the organization leaves hub A (moved under hub B): its own code, and nothing changes
    with rt.tx() as s:
        hub_b = s.get(Organization, w.county.hub_b).path
        s.execute(
            update(Organization)
            .where(Organization.id == w.county.org_a)
            .values(path=f"{hub_b}{w.county.org_a}/")
        )
    left = w.call("county", "POST", f"/api/v1/proposals/{p['id']}/submit")
    assert left.status_code == 409 and left.json()["code"] == "organization_outside_round"
    with rt.tx() as s:
        s.execute(
            update(Organization)
            .where(Organization.id == w.county.org_a)
            .values(path=f"{s.get(Organization, w.county.hub_a).path}{w.county.org_a}/")
        )
    w.close_call(r)
    late = w.call(
        "org_admin", "POST", f"/api/v1/rounds/{rid}/proposals", json=w.proposal_body(w.county.org_a)
    )
    assert late.status_code == 409 and late.json()["code"] == "call_closed"
    for method, path, body in (
        ("PATCH", f"/api/v1/proposals/{p['id']}", {"title": "迟到"}),
        ("POST", f"/api/v1/proposals/{p['id']}/submit", None),
    ):
        r2 = w.call("org_admin", method, path, json=body)
        assert r2.status_code == 409 and r2.json()["code"] == "call_closed", r2.text
    with rt.tx() as s:
        assert (
            s.scalar(select(Proposal.status)) == "draft"
            and s.scalar(select(Proposal.title)) == "长者助餐志愿服务"
        )
    assert count(rt, Proposal) == 1


def test_scores_are_refused_out_of_scale_and_for_a_member(w, rt):
    r = w.open_round()
    rid = r["id"]
    p = w.propose(rid, "org_admin", w.county.org_a)
    for who in ("r1", "r_member"):
        w.call(
            "admin_a", "POST", f"/api/v1/rounds/{rid}/reviewers", 201, json={"staff_user_id": w.staff[who]}
        )
    outsider = w.call(
        "admin_a", "POST", f"/api/v1/rounds/{rid}/reviewers", 403, json={"staff_user_id": w.staff["admin_b"]}
    )
    assert outsider.json()["code"] == "outside_your_scope"  # another hub's staff: invited as a guest instead
    # a guest who belongs to the applicant, as the hub said
    guest = w.call(
        "admin_a",
        "POST",
        f"/api/v1/rounds/{rid}/reviewers",
        201,
        json={"phone": "13907310008", "name": "周老师", "affiliation_org_id": w.county.org_a},
    ).json()
    token = w.client.post(
        "/api/v1/auth/tokens", json={"username": "13907310008", "password": guest["password"]}
    )
    w.tokens["guest"] = {"Authorization": f"Bearer {token.json()['token']}"}
    w.close_call(r)
    out = w.call(
        "r1",
        "POST",
        f"/api/v1/proposals/{p['id']}/scores",
        json={"scores": {"需求分析": 11, "执行能力": 5, "预算合理": -1}},
    )
    assert fields(out) == {"scores.需求分析": "out_of_scale", "scores.预算合理": "out_of_scale"}
    missing = w.call(
        "r1", "POST", f"/api/v1/proposals/{p['id']}/scores", json={"scores": {"需求分析": 5, "其他": 5}}
    )
    assert missing.status_code == 422
    assert sorted(e["code"] for e in missing.json()["errors"]) == [
        "criterion_missing",
        "criterion_missing",
        "unknown_criterion",
    ]
    for who in ("r_member", "guest"):
        mine = w.score(who, p["id"], [5, 5, 5], status=409)
        assert mine.json()["code"] == "conflict_of_interest"
    stranger = w.score("r2", p["id"], [5, 5, 5], status=403)
    assert stranger.json()["code"] == "not_a_reviewer"
    assert count(rt, GrantScore) == 0


def test_decisions_hold_the_round_totals_and_close_with_the_notice(w, rt):
    r = w.open_round(max_grants=5, total_limit=2_000_000)
    rid = r["id"]
    a = w.propose(rid, "org_admin", w.county.org_a)
    b = w.propose(rid, "org_admin2", w.org_a2)
    w.close_call(r)
    w.call("admin_a", "POST", f"/api/v1/rounds/{rid}/publish", 409)  # review_open
    w.call("admin_a", "POST", f"/api/v1/rounds/{rid}/close-review", 200)
    assert (
        w.call("admin_a", "POST", f"/api/v1/rounds/{rid}/publish", 409).json()["code"] == "nothing_approved"
    )
    w.call("admin_a", "POST", f"/api/v1/proposals/{a['id']}/approve", 200, json={"amount": 1_500_000})
    total = w.call("admin_a", "POST", f"/api/v1/proposals/{b['id']}/approve", 409, json={"amount": 600_000})
    assert total.json()["code"] == "over_round_total" and total.json()["left"] == 500_000
    no_reason = w.call("admin_a", "POST", f"/api/v1/proposals/{b['id']}/reject", json={"reason": " "})
    assert fields(no_reason) == {"reason": "required"}
    w.call("admin_b", "POST", f"/api/v1/proposals/{b['id']}/approve", 403, json={"amount": 100})
    with rt.tx() as s:
        assert s.scalar(select(Proposal.status).where(Proposal.id == b["id"])) == "submitted"
    w.call("admin_a", "POST", f"/api/v1/rounds/{rid}/publish", 200)
    again = w.call("admin_a", "POST", f"/api/v1/rounds/{rid}/publish", 409)
    assert again.json()["code"] == "already_published"
    for action, body in (("approve", {"amount": 100}), ("reject", {"reason": "迟"})):
        late = w.call("admin_a", "POST", f"/api/v1/proposals/{b['id']}/{action}", 409, json=body)
        assert late.json()["code"] == "decisions_closed"
    for n in range(5):
        w.call(None, "POST", f"/api/v1/rounds/{rid}/objections", 201, json={"text": f"异议{n}"})
    limited = w.call(None, "POST", f"/api/v1/rounds/{rid}/objections", 429, json={"text": "再一条"})
    assert limited.json()["code"] == "rate_limited"
    w.clock.at += timedelta(days=8)
    rt.redis.flushdb()  # the address's limit spent above: a new window
    closed = w.call(None, "POST", f"/api/v1/rounds/{rid}/objections", 409, json={"text": "迟了"})
    assert closed.json()["code"] == "notice_not_open"


def test_two_reviewers_submitting_at_once_are_both_recorded(w, rt):
    if rt.settings.is_sqlite:
        pytest.skip("threads racing one another: PostgreSQL (SQLite serializes its writers)")
    r = w.open_round()
    p = w.propose(r["id"], "org_admin", w.county.org_a)
    for who in ("r1", "r2"):
        w.call(
            "admin_a",
            "POST",
            f"/api/v1/rounds/{r['id']}/reviewers",
            201,
            json={"staff_user_id": w.staff[who]},
        )
    headers = {who: w.as_(who) for who in ("r1", "r2")}
    w.close_call(r)
    barrier, answers = threading.Barrier(2), {}

    def send(who, values):
        body = {"scores": dict(zip(["需求分析", "执行能力", "预算合理"], values, strict=True))}
        barrier.wait()
        answers[who] = w.client.post(f"/api/v1/proposals/{p['id']}/scores", json=body, headers=headers[who])

    threads = [threading.Thread(target=send, args=a) for a in (("r1", [9, 9, 9]), ("r2", [3, 4, 5]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {k: v.status_code for k, v in answers.items()} == {"r1": 200, "r2": 200}
    with rt.tx() as s:
        got = sorted(s.execute(select(GrantScore.reviewer_id, GrantScore.weighted)).all())
    assert got == sorted([(w.staff["r1"], 900), (w.staff["r2"], 3 * 40 + 4 * 35 + 5 * 25)])


def test_two_approvals_racing_for_the_last_of_the_round_total_one_wins(w, rt):
    if rt.settings.is_sqlite:
        pytest.skip("threads racing one another: PostgreSQL (SQLite serializes its writers)")
    r = w.open_round(max_grants=5, total_limit=2_000_000)
    a = w.propose(r["id"], "org_admin", w.county.org_a)
    b = w.propose(r["id"], "org_admin2", w.org_a2)
    w.close_call(r)
    w.call("admin_a", "POST", f"/api/v1/rounds/{r['id']}/close-review", 200)
    headers = {"admin_a": w.as_("admin_a"), "county": w.as_("county")}
    barrier, answers = threading.Barrier(2), {}

    def approve(who, proposal_id):
        barrier.wait()
        answers[who] = w.client.post(
            f"/api/v1/proposals/{proposal_id}/approve", json={"amount": 1_500_000}, headers=headers[who]
        )

    threads = [threading.Thread(target=approve, args=x) for x in (("admin_a", a["id"]), ("county", b["id"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v.status_code for v in answers.values()) == [200, 409]
    assert [v.json()["code"] for v in answers.values() if v.status_code == 409] == ["over_round_total"]
    with rt.tx() as s:
        assert (
            s.scalar(select(func.sum(Proposal.decided_amount)).where(Proposal.status == "approved"))
            == 1_500_000
        )
