"""What a granted project delivers (项目成效, docs/programmes.md "Delivery"): activities linked to a
project and unlinked with the links kept, the people an activity served (counts entered with
history and a photo, diner cards scanned once a diner, racing scans included), meals at the
project's meal points, the project's figures; every refusal writes nothing. PostgreSQL and SQLite."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from grants import delivery
from grants.models_delivery import ActivityLink, ProjectMealPoint, ServedCount, ServedScan
from linli.errors import LinliError
from meals.models import Meal
from orgs import service as orgs_service
from tests.fixtures.builders import (
    file_volunteer,
    make_activity,
    make_county,
    make_station,
    staff_token,
    staff_user,
    valid_id,
)
from tests.fixtures.grant_money import PDF, b64, jpeg, make_project
from tests.fixtures.runtime import drain


def local(month: int, day: int, hhmm: str, year: int = 2026) -> datetime:
    """A local time in Asia/Shanghai, as UTC."""
    h, m = map(int, hhmm.split(":"))
    return datetime(year, month, day, h, m, tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture
def w(rt, client, clock):
    clock.at = local(3, 2, "08:00")
    county = make_county(rt)
    staff_user(rt, "hub_admin", "admin", org_id=county.hub_a)
    staff_user(rt, "org_admin", "admin", org_id=county.org_a)
    staff_user(rt, "coord", "coordinator", org_id=county.org_a)
    staff_user(rt, "other_hub", "admin", org_id=county.hub_b)
    station = make_station(rt, county.org_a, name="泉塘活动室")
    world = {
        "rt": rt,
        "clock": clock,
        "county": county,
        "project": make_project(rt, hub_id=county.hub_a, org_id=county.org_a, granted=500_000),
        "station": station,
        "activity": make_activity(rt, county.org_a, station, local(3, 2, "10:00")),  # until 12:30
    }
    for who in ("hub_admin", "org_admin", "coord", "other_hub"):
        world[who] = staff_token(client, who)
    return world


def counts(rt) -> tuple[int, ...]:
    with rt.tx() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m))
            for m in (ActivityLink, ServedCount, ServedScan, ProjectMealPoint)
        )


def link(client, w, activity, project=None, who="hub_admin"):
    return client.put(
        f"/api/v1/activities/{activity}/project",
        json={"project_id": project or w["project"]},
        headers=w[who],
    )


def figures(client, w, project=None, who="org_admin") -> dict:
    r = client.get(f"/api/v1/projects/{project or w['project']}/delivery", headers=w[who])
    assert r.status_code == 200, r.text
    return r.json()


def test_an_activity_is_linked_unlinked_and_moved_with_every_link_kept(client, rt, w):
    a = w["activity"]
    first = link(client, w, a)
    assert first.status_code == 200, first.text
    assert first.json()["project_id"] == w["project"] and first.json()["changed"] is True
    assert link(client, w, a, who="org_admin").json()["changed"] is False  # the same link again
    gone = client.delete(f"/api/v1/activities/{a}/project", headers=w["org_admin"])
    assert gone.status_code == 200 and gone.json()["unlinked_at"] is not None, gone.text
    again = client.delete(f"/api/v1/activities/{a}/project", headers=w["org_admin"])
    assert again.status_code == 404 and again.json()["code"] == "activity_not_linked"
    assert link(client, w, a).status_code == 200
    second = make_project(rt, hub_id=w["county"].hub_a, org_id=w["county"].org_a, granted=100_000)
    moved = link(client, w, a, project=second, who="org_admin")
    assert moved.status_code == 200 and moved.json()["project_id"] == second
    with rt.tx() as s:
        rows = delivery.links(s, a)
    assert [(r.project_id, r.unlinked_at is None) for r in rows] == [
        (w["project"], False),
        (w["project"], False),
        (second, True),
    ]
    assert all(r.linked_by for r in rows) and rows[0].unlinked_by and rows[1].unlinked_by
    w["clock"].at = local(3, 2, "13:00")
    assert figures(client, w, second)["activities_held"] == 1
    assert figures(client, w)["activities_held"] == 0


def test_refusals_have_their_codes_and_write_nothing(client, rt, w):
    county, before = w["county"], counts(rt)
    with rt.tx() as s:  # another organization of hub A: the hub's admin manages it, not the project's
        sibling = orgs_service.create_child(
            s, parent_id=county.hub_a, name="泉塘环保协会", join_mode=None, now=rt.clock.now()
        ).id
    other = make_activity(rt, sibling, make_station(rt, sibling), local(3, 2, "10:00"))
    of_b = make_activity(rt, county.org_b, make_station(rt, county.org_b), local(3, 2, "10:00"))
    later = make_activity(rt, county.org_a, w["station"], local(1, 5, "10:00", year=2027))
    closed = make_project(rt, hub_id=county.hub_a, org_id=county.org_a, granted=1_000, status="closed")
    cases = [
        (link(client, w, other), 409, "activity_outside_project"),
        (link(client, w, other, who="org_admin"), 403, "outside_your_scope"),
        (link(client, w, of_b), 403, "outside_your_scope"),
        (link(client, w, later), 409, "outside_project_dates"),
        (link(client, w, w["activity"], project=closed), 409, "project_closed"),
        (link(client, w, w["activity"], who="other_hub"), 403, "outside_your_scope"),
        (link(client, w, w["activity"], who="coord"), 403, "role_required"),
        (link(client, w, w["activity"], project=999_999), 404, "project_not_found"),
        (link(client, w, 999_999), 404, "activity_not_found"),
    ]
    served = f"/api/v1/activities/{w['activity']}/served"
    scans = f"/api/v1/activities/{w['activity']}/served-scans"
    w["clock"].at = local(3, 2, "09:00")  # before the activity starts
    cases.append((client.post(served, json={"count": 3}, headers=w["coord"]), 409, "activity_not_started"))
    w["clock"].at = local(3, 2, "12:00")
    for body, field_code in (
        ({"count": 100_001}, "count_out_of_range"),
        ({"count": -1}, "count_out_of_range"),
        ({"count": 3, "photo": b64(PDF)}, "photo_type_not_allowed"),
        ({"count": 3, "photo": "not base64!"}, "photo_not_base64"),
    ):
        r = client.post(served, json=body, headers=w["coord"])
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == field_code, r.text
    cases.append((client.post(served, json={"count": 3}, headers=w["other_hub"]), 403, "outside_your_scope"))
    for payload in (rt.codes.volunteer_card(1, 1), "HELLO"):
        r = client.post(scans, json={"payload": payload}, headers=w["coord"])
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "not_a_diner_card", r.text
    unknown = client.post(scans, json={"payload": rt.codes.diner_card(999_999, 1)}, headers=w["coord"])
    cases.append((unknown, 404, "diner_not_found"))
    point, diners = canteen(client, w, 1)
    stale = client.post(scans, json={"payload": rt.codes.diner_card(diners[0], 2)}, headers=w["coord"])
    cases.append((stale, 409, "revoked_card"))
    sibling_point = client.post(
        "/api/v1/meal-points", json=point_body(sibling, "环保协会助餐点"), headers=w["hub_admin"]
    ).json()
    b_point = client.post(
        "/api/v1/meal-points", json=point_body(county.org_b, "星沙助餐点"), headers=w["other_hub"]
    ).json()
    mp = f"/api/v1/projects/{w['project']}/meal-points"
    cases += [
        (
            client.post(mp, json={"meal_point_id": sibling_point["id"]}, headers=w["hub_admin"]),
            409,
            "meal_point_outside_project",
        ),
        (
            client.post(mp, json={"meal_point_id": b_point["id"]}, headers=w["hub_admin"]),
            403,
            "outside_your_scope",
        ),
        (
            client.post(mp, json={"meal_point_id": 999_999}, headers=w["hub_admin"]),
            404,
            "meal_point_not_found",
        ),
        (
            client.post(mp, json={"meal_point_id": point["id"]}, headers=w["other_hub"]),
            403,
            "outside_your_scope",
        ),
        (
            client.get(f"/api/v1/projects/{w['project']}/delivery", headers=w["other_hub"]),
            403,
            "outside_your_scope",
        ),
    ]
    with rt.tx() as s:
        from volunteer.models import Activity

        s.get(Activity, w["activity"]).cancelled_at = w["clock"].now()
    cases += [
        (client.post(served, json={"count": 3}, headers=w["coord"]), 409, "activity_cancelled"),
        (
            client.post(scans, json={"payload": rt.codes.diner_card(diners[0], 1)}, headers=w["coord"]),
            409,
            "activity_cancelled",
        ),
        (link(client, w, w["activity"]), 409, "activity_cancelled"),
    ]
    for r, status, code in cases:
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert counts(rt) == before


def point_body(org_id: int, name: str) -> dict:
    return {
        "org_id": org_id,
        "name": name,
        "address": "泉塘路1号",
        "daily_capacity": 200,
        "slots": [{"slot": "lunch", "starts": "11:00", "ends": "13:30", "price": 1200}],
    }


def canteen(client, w, n: int) -> tuple[dict, list[int]]:
    """A meal point of the project's organization and `n` diners whose home it is."""
    point = client.post(
        "/api/v1/meal-points", json=point_body(w["county"].org_a, "泉塘助餐点"), headers=w["hub_admin"]
    )
    assert point.status_code == 201, point.text
    diners = []
    for d in range(n):
        r = client.post(
            "/api/v1/diners",
            json={
                "name": f"长者{'甲乙丙丁'[d]}",
                "birth_date": "1945-05-01",
                "community": "泉塘社区",
                "id_number": valid_id(f"43012119450501{d:03d}"),
                "home_point_id": point.json()["id"],
                "consent": True,
            },
            headers=w["hub_admin"],
        )
        assert r.status_code == 201, r.text
        diners.append(r.json()["id"])
    agreement = client.post(
        "/api/v1/funding-agreements",
        json={
            "name": "街道助餐补贴",
            "funder_kind": "government",
            "stack_order": 1,
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
            "budget_cap": 10_000_000,
            "schedule": [{"categories": ["*"], "slots": ["lunch"], "amount": 300}],
            "meal_point_ids": [point.json()["id"]],
        },
        headers=w["hub_admin"],
    )
    assert agreement.status_code == 201, agreement.text
    return point.json(), diners


def batch(client, w, cards, station, at, upload):
    w["clock"].at = upload
    scans = [
        {"payload": c, "station_id": station, "scan_id": str(uuid.uuid4()), "scanned_at": at.isoformat()}
        for c in cards
    ]
    r = client.post("/api/v1/scans/batch", json={"scans": scans}, headers=w["hub_admin"])
    assert r.status_code == 200, r.text
    return [x["outcome"] if x["outcome"] != "rejected" else x.get("reason") for x in r.json()["results"]]


def test_a_projects_people_served_volunteers_and_meals_are_counted(client, rt, w):
    a, coord = w["activity"], w["coord"]
    assert link(client, w, a).status_code == 200
    point, diners = canteen(client, w, 4)
    # two volunteers check in and out at the activity
    volunteers = [file_volunteer(rt, f"1380731000{n}", w["county"].open_team, name="志愿者") for n in (1, 2)]
    cards = [rt.codes.volunteer_card(v, 1) for v in volunteers]
    assert (
        batch(client, w, cards, w["station"], local(3, 2, "10:00"), local(3, 2, "10:05"))
        == ["checked_in"] * 2
    )
    # four lunches at the meal point, uploaded at once (a device heard online meanwhile is held);
    # one voided the same day, one reversed the next: neither counts
    meals = [rt.codes.diner_card(d, 1) for d in diners]
    assert (
        batch(client, w, meals, point["station_id"], local(3, 2, "11:30"), local(3, 2, "11:31"))
        == ["meal_served"] * 4
    )
    with rt.tx() as s:
        meal_ids = list(s.scalars(select(Meal.id).order_by(Meal.id)))
    voided = client.post(f"/api/v1/meals/{meal_ids[0]}/void", json={"reason": "误刷"}, headers=w["hub_admin"])
    assert voided.status_code == 200, voided.text
    assert (
        batch(client, w, cards, w["station"], local(3, 2, "12:00"), local(3, 2, "12:05"))
        == ["checked_out"] * 2
    )
    # the coordinator enters a count with a photo, then corrects it: the latest counts
    photo = jpeg()
    first = client.post(
        f"/api/v1/activities/{a}/served", json={"count": 30, "photo": b64(photo)}, headers=coord
    )
    assert first.status_code == 201 and first.json()["photo_type"] == "image/jpeg", first.text
    fixed = client.post(
        f"/api/v1/activities/{a}/served", json={"count": 25, "note": "重复登记"}, headers=coord
    )
    assert fixed.status_code == 201
    listed = client.get(f"/api/v1/activities/{a}/served?limit=1", headers=w["hub_admin"]).json()
    assert [(e["count"], e["current"]) for e in listed["items"]] == [(30, False)] and listed["next"]
    rest = client.get(f"/api/v1/activities/{a}/served?cursor={listed['next']}", headers=coord).json()
    assert [(e["count"], e["current"], e["note"]) for e in rest["items"]] == [(25, True, "重复登记")]
    assert rest["items"][0]["entered_by"] and rest["next"] is None
    got = client.get(first.json()["photo_url"], headers=coord)
    assert got.status_code == 200 and got.content == photo and got.headers["content-type"] == "image/jpeg"
    # two diners' cards scanned at the activity, one of them twice: counted once
    url = f"/api/v1/activities/{a}/served-scans"
    answers = [
        client.post(url, json={"payload": rt.codes.diner_card(d, 1)}, headers=coord)
        for d in (diners[0], diners[1], diners[0])
    ]
    assert [(r.status_code, r.json()["outcome"]) for r in answers] == [
        (201, "counted"),
        (201, "counted"),
        (200, "already_counted"),
    ]
    assert answers[2].json()["already_counted"] and answers[2].json()["diners_scanned"] == 2
    # the project names the meal point: its meals within the project's dates count
    mp = client.post(
        f"/api/v1/projects/{w['project']}/meal-points",
        json={"meal_point_id": point["id"]},
        headers=w["org_admin"],
    )
    assert mp.status_code == 201 and mp.json()["added"] is True, mp.text
    # an activity linked then unlinked counts nothing
    b = make_activity(rt, w["county"].org_a, w["station"], local(3, 3, "10:00"))
    link(client, w, b)
    w["clock"].at = local(3, 3, "11:00")
    client.post(f"/api/v1/activities/{b}/served", json={"count": 100}, headers=coord)
    client.delete(f"/api/v1/activities/{b}/project", headers=w["hub_admin"])
    drain(rt)
    w["clock"].at = local(3, 4, "09:00")
    reversed_ = client.post(
        f"/api/v1/meals/{meal_ids[1]}/reversal", json={"reason": "重复刷卡"}, headers=w["hub_admin"]
    )
    assert reversed_.status_code == 201, reversed_.text
    got = figures(client, w)
    minutes = got.pop("service_minutes")
    assert got == {
        "project_id": w["project"],
        "activities_held": 1,
        "served": 25 + 2 + 2,
        "served_parts": {"entered": 25, "diner_scans": 2, "meals": 2},
        "volunteer_times": 2,
        "volunteers": 2,
        "meal_point_ids": [point["id"]],
    }
    assert minutes == 2 * 120
    project = client.get(f"/api/v1/projects/{w['project']}", headers=w["hub_admin"]).json()
    assert project["delivery"]["served"] == 29 and project["delivery"]["activities_held"] == 1


def test_two_scans_of_one_diner_at_once_count_once(client, rt, w):
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("a race needs PostgreSQL's concurrent transactions")
    _, diners = canteen(client, w, 1)
    w["clock"].at = local(3, 2, "11:00")
    barrier, results = threading.Barrier(2), []
    payload = rt.codes.diner_card(diners[0], 1)

    def scan() -> None:
        barrier.wait()
        try:
            with rt.tx() as s:
                activity = delivery.activity_for_staff(s, w["activity"], ["/"])
                answer = delivery.scan_diner(
                    s, rt.codes, activity, payload, staff_user_id=1, now=rt.clock.now()
                )
            results.append(answer["outcome"])
        except LinliError as e:
            results.append(e.code)

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["already_counted", "counted"]
    assert counts(rt)[2] == 1
