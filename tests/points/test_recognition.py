"""Commendation rounds (proposed by rule, reviewed, confirmed with bonus points and certificates),
service-record certificates, and the public page that verifies a certificate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from orgs import service as orgs_service
from points import awards, ledger, verification
from points.models import Certificate
from tests.fixtures.builders import file_volunteer, make_activity, staff_token, staff_user, volunteer_token
from tests.fixtures.hub import START, TZ, Hub


class Round(Hub):
    def __init__(self, client, rt):
        super().__init__(client, rt)
        with rt.tx() as s:
            org2 = orgs_service.create_child(
                s, parent_id=self.county.hub_a, name="泉塘长者协会", join_mode=None, now=START
            )
            team2 = orgs_service.create_child(
                s, parent_id=org2.id, name="探访队", join_mode="open", now=START
            )
        self.activity2 = make_activity(
            rt, org2.id, self.station, START + timedelta(days=2), hours=6, title="探访长者"
        )
        staff_user(rt, "admin_a", "admin", org_id=self.county.hub_a)
        self.people = {"v0": self.volunteer}
        for i, (name, team) in enumerate(
            [
                ("李建国", self.county.open_team),
                ("张桂兰", self.county.open_team),
                ("刘德华", self.county.open_team),
                ("陈秀珍", team2.id),
            ],
            start=1,
        ):
            self.people[f"v{i}"] = file_volunteer(rt, f"1390000010{i}", team, name=name)

    def serve(self, who, minutes, activity=None, start=START):
        self.volunteer = self.people[who]
        a = self.attendance(minutes, start=start, activity=activity)
        self.settle(a)


@pytest.fixture
def rounds(client, rt, clock):
    clock.at = datetime(2030, 7, 2, 2, 0, tzinfo=UTC)
    world = Round(client, rt)
    for who, minutes in (("v0", 300), ("v1", 200), ("v2", 100), ("v3", 50)):
        world.serve(who, minutes)
    world.serve("v4", 30, activity=world.activity2, start=START + timedelta(days=2))
    with rt.tx() as s:
        for n in range(3):
            awards.award_delivery(
                s,
                volunteer_id=world.people["v3"],
                hub_id=world.county.hub_a,
                delivery_key=f"d{n}",
                at=START + timedelta(hours=n),
                now=START,
                tz=TZ,
            )
    return world


def test_a_round_is_proposed_reviewed_and_confirmed(rounds, client):
    admin = staff_token(client, "admin_a")
    r = client.post(
        f"/api/v1/hubs/{rounds.county.hub_a}/commendation-rounds",
        json={
            "title": "2030年6月优秀志愿者",
            "period": "month",
            "period_start": "2030-06-01",
            "bonus_points": 50,
            "rules": {"top_n_per_org": 2, "min_deliveries": 3},
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["period_end"] == "2030-06-30" and body["status"] == "proposed"
    got = {c["volunteer_name"]: c["reason"] for c in body["commendations"]}
    assert got == {
        "王秀英": "所在组织服务时长前2名",
        "李建国": "所在组织服务时长前2名",
        "刘德华": "送餐满3次",
        "陈秀珍": "所在组织服务时长前2名",  # first in the other organization of the hub
    }
    round_id = body["id"]
    review = f"/api/v1/commendation-rounds/{round_id}/review"
    assert (
        client.post(
            review, json={"volunteer_id": rounds.people["v1"], "include": False}, headers=admin
        ).status_code
        == 200
    )
    no_reason = client.post(
        review, json={"volunteer_id": rounds.people["v2"], "include": True}, headers=admin
    )
    assert no_reason.status_code == 422
    added = client.post(
        review,
        json={"volunteer_id": rounds.people["v2"], "include": True, "reason": "长期照顾独居老人"},
        headers=admin,
    ).json()
    assert {c["volunteer_name"]: c["status"] for c in added["commendations"]}["张桂兰"] == "proposed"
    done = client.post(f"/api/v1/commendation-rounds/{round_id}/confirm", headers=admin)
    assert done.status_code == 200
    status = {
        c["volunteer_name"]: (c["status"], bool(c["certificate"])) for c in done.json()["commendations"]
    }
    assert status == {
        "王秀英": ("confirmed", True),
        "李建国": ("removed", False),
        "张桂兰": ("confirmed", True),
        "刘德华": ("confirmed", True),
        "陈秀珍": ("confirmed", True),
    }
    again = client.post(f"/api/v1/commendation-rounds/{round_id}/confirm", headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "round_confirmed"
    with rounds.rt.tx() as s:
        v2 = ledger.account_by_key(s, f"points:volunteer:{rounds.people['v2']}")
        assert v2.balance == 15 + 50  # 100 minutes of service, and the bonus
        assert verification.verify(s) == []
    mine = client.get("/api/v1/me/certificates", headers=volunteer_token(rounds.rt, "13900000102")).json()[
        "items"
    ]
    assert [(c["kind"], c["minutes"]) for c in mine] == [("commendation", 100)]


def test_a_review_names_only_volunteers_of_the_rounds_hub(rounds, client):
    """Before: any hub's admin could add any volunteer of the county to their own round, and the
    answer carried that volunteer's full name."""
    rt, county = rounds.rt, rounds.county
    staff_user(rt, "admin_b", "admin", org_id=county.hub_b)
    theirs = file_volunteer(rt, "13900000201", county.team_b, name="赵美玲")
    rounds_of = {}
    for admin, hub in (("admin_a", county.hub_a), ("admin_b", county.hub_b)):
        headers = staff_token(client, admin)
        r = client.post(
            f"/api/v1/hubs/{hub}/commendation-rounds",
            json={"title": "六月", "period": "month", "period_start": "2030-06-01"},
            headers=headers,
        )
        rounds_of[admin] = (r.json()["id"], headers)

    def review(admin, volunteer):
        round_id, headers = rounds_of[admin]
        return client.post(
            f"/api/v1/commendation-rounds/{round_id}/review",
            json={"volunteer_id": volunteer, "include": True, "reason": "热心助人"},
            headers=headers,
        )

    for admin, volunteer, name in (
        ("admin_b", rounds.people["v1"], "李建国"),  # filed and served in hub A
        ("admin_b", rounds.people["v4"], "陈秀珍"),
        ("admin_a", theirs, "赵美玲"),  # filed in hub B
    ):
        r = review(admin, volunteer)
        assert r.status_code == 403 and r.json()["code"] == "outside_your_scope", r.text
        assert name not in r.text
    assert review("admin_b", 999_999).json()["code"] == "volunteer_not_found"
    with rt.tx() as s:
        from points.models import Commendation

        assert (
            s.scalars(
                select(Commendation.volunteer_id).where(Commendation.round_id == rounds_of["admin_b"][0])
            ).all()
            == []
        )
    mine = review("admin_b", theirs)  # hub B's own volunteer, who served nowhere yet: filed there
    assert mine.status_code == 200 and [c["volunteer_name"] for c in mine.json()["commendations"]] == [
        "赵美玲"
    ]


def test_a_service_record_certificate_verifies_and_a_forged_one_does_not(rounds, client):
    me = volunteer_token(rounds.rt, "13900000001")
    too_late = client.post(
        "/api/v1/me/certificates", json={"period_start": "2030-01-01", "period_end": "2031-01-01"}, headers=me
    )
    assert too_late.status_code == 422
    r = client.post(
        "/api/v1/me/certificates", json={"period_start": "2030-01-01", "period_end": "2030-06-30"}, headers=me
    )
    assert r.status_code == 201 and r.json()["minutes"] == 300
    code = r.json()["code"]
    assert r.json()["verify_url"].endswith(f"/verify/{code}")
    page = client.get(f"/verify/{code}")
    assert (
        page.status_code == 200
        and "证书真实有效" in page.text
        and "王*英" in page.text
        and "王秀英" not in page.text
    )
    assert "5.0 小时" in page.text
    number, mac = code.split("-")
    for forged in (
        f"{int(number) + 1}-{mac}",
        f"{number}-{mac[:-1]}{'0' if mac[-1] != '0' else '1'}",
        "1",
        "x-y",
        "9" * 40,
    ):
        assert client.get(f"/verify/{forged}").status_code == 404, forged
    pdf = client.get(f"/api/v1/me/certificates/{code}/pdf", headers=me)
    assert (
        pdf.status_code == 200
        and pdf.content.startswith(b"%PDF-")
        and pdf.headers["content-type"] == "application/pdf"
    )
    other = volunteer_token(rounds.rt, "13900000101")
    assert client.get(f"/api/v1/me/certificates/{code}/pdf", headers=other).status_code == 404
    with rounds.rt.tx() as s:
        assert s.scalar(select(Certificate.holder_name)) == "王秀英"


def test_round_input_is_checked_field_by_field(rounds, client):
    r = client.post(
        f"/api/v1/hubs/{rounds.county.hub_a}/commendation-rounds",
        json={
            "title": "",
            "period": "quarter",
            "period_start": "2030-05-01",
            "bonus_points": -1,
            "rules": {"top": 1},
        },
        headers=staff_token(client, "admin_a"),
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"title", "period_start", "rules", "bonus_points"}


def test_points_summary_shows_stars_progress_and_expiry(rounds, client):
    me = volunteer_token(rounds.rt, "13900000001")
    p = client.get("/api/v1/me/points", headers=me).json()
    assert p["service_minutes"] == 300 and p["balance"] == 50 and p["star_level"] == 0
    assert p["next_level"] == {"level": 1, "hours": 100, "minutes_to_go": 6000 - 300}
    # earned in 2030, spendable to the end of 2031 in Asia/Shanghai
    assert p["expiring"] == [{"expires_at": "2031-12-31T16:00:00Z", "points": 50}]


def test_only_admins_see_a_round_and_a_confirmed_round_stays_as_confirmed(rounds, client):
    staff_user(rounds.rt, "counter_a", "coordinator", org_id=rounds.county.org_a)
    admin = staff_token(client, "admin_a")
    r = client.post(
        f"/api/v1/hubs/{rounds.county.hub_a}/commendation-rounds",
        json={"title": "六月", "period": "month", "period_start": "2030-06-01"},
        headers=admin,
    ).json()
    assert (
        client.get(
            f"/api/v1/commendation-rounds/{r['id']}", headers=staff_token(client, "counter_a")
        ).status_code
        == 403
    )
    assert client.post(f"/api/v1/commendation-rounds/{r['id']}/confirm", headers=admin).status_code == 200
    late = client.post(
        f"/api/v1/commendation-rounds/{r['id']}/review",
        json={"volunteer_id": rounds.people["v0"], "include": False},
        headers=admin,
    )
    assert late.status_code == 409 and late.json()["code"] == "round_confirmed"
    long_reason = client.post(
        f"/api/v1/hubs/{rounds.county.hub_a}/commendation-rounds",
        json={"title": "七月", "period": "month", "period_start": "2030-07-01"},
        headers=admin,
    ).json()
    added = client.post(
        f"/api/v1/commendation-rounds/{long_reason['id']}/review",
        json={"volunteer_id": rounds.people["v2"], "include": True, "reason": "长" * 200},
        headers=admin,
    )
    assert added.status_code == 200


def test_a_hubs_rounds_are_listed_newest_first_for_its_admins_only(rounds, client):
    admin = staff_token(client, "admin_a")
    for title, start in (("五月", "2030-05-01"), ("六月", "2030-06-01")):
        r = client.post(
            f"/api/v1/hubs/{rounds.county.hub_a}/commendation-rounds",
            json={"title": title, "period": "month", "period_start": start},
            headers=admin,
        )
        assert r.status_code == 201
    listed = client.get(f"/api/v1/hubs/{rounds.county.hub_a}/commendation-rounds", headers=admin).json()[
        "items"
    ]
    assert [r["title"] for r in listed] == ["六月", "五月"]
    assert all(r["commendations"] is not None for r in listed)
    staff_user(rounds.rt, "admin_b", "admin", org_id=rounds.county.hub_b)
    other = client.get(
        f"/api/v1/hubs/{rounds.county.hub_a}/commendation-rounds", headers=staff_token(client, "admin_b")
    )
    assert other.status_code == 403 and other.json()["code"] == "outside_your_scope"


def test_a_round_proposes_no_one_under_its_minimum_hours(rounds, client):
    """Before: no such setting (422 for `floor_minutes`), and the top of each organization was
    proposed whatever they served (a December round listed 31 minutes of service)."""
    r = client.post(
        f"/api/v1/hubs/{rounds.county.hub_a}/commendation-rounds",
        json={
            "title": "六月",
            "period": "month",
            "period_start": "2030-06-01",
            "rules": {"top_n_per_org": 3, "min_deliveries": 3, "floor_minutes": 120},
        },
        headers=staff_token(client, "admin_a"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["rules"]["floor_minutes"] == 120
    # 张桂兰 (100 minutes), 刘德华 (50, and 3 deliveries) and 陈秀珍 (30, first of her organization) are under it
    assert {c["volunteer_name"]: c["minutes"] for c in r.json()["commendations"]} == {
        "王秀英": 300,
        "李建国": 200,
    }


def test_a_round_is_confirmed_only_after_its_period_ends_with_the_whole_periods_hours(rounds, client, clock):
    """Before: a round was confirmed during its period, with the hours served so far."""
    admin = staff_token(client, "admin_a")
    clock.at = datetime(2030, 6, 10, 2, 0, tzinfo=UTC)
    r = client.post(
        f"/api/v1/hubs/{rounds.county.hub_a}/commendation-rounds",
        json={"title": "六月", "period": "month", "period_start": "2030-06-01", "bonus_points": 5},
        headers=admin,
    ).json()
    assert {c["volunteer_name"]: c["minutes"] for c in r["commendations"]}["张桂兰"] == 100
    rounds.serve("v2", 120, start=START + timedelta(hours=3))  # more service, after the proposal
    confirm = f"/api/v1/commendation-rounds/{r['id']}/confirm"
    for at in (datetime(2030, 6, 10, 2, 0, tzinfo=UTC), datetime(2030, 6, 30, 15, 59, tzinfo=UTC)):
        clock.at = at  # the last minute of June in Asia/Shanghai included
        early = client.post(confirm, headers=admin)
        assert early.status_code == 409, early.text
        assert early.json()["code"] == "round_not_over" and early.json()["period_end"] == "2030-06-30"
    with rounds.rt.tx() as s:
        assert s.scalar(select(Certificate.id)) is None
    clock.at = datetime(2030, 6, 30, 16, 0, tzinfo=UTC)  # 1 July, 00:00 in Asia/Shanghai
    done = client.post(confirm, headers=admin)
    assert done.status_code == 200, done.text
    got = {c["volunteer_name"]: (c["status"], c["minutes"]) for c in done.json()["commendations"]}
    assert got["张桂兰"] == ("confirmed", 220)
