"""Activities: clash detection at a station, sign-ups with capacity and waitlist, overlap, shifts."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.builders import (
    file_volunteer,
    make_activity,
    make_county,
    make_station,
    staff_token,
    staff_user,
    volunteer_token,
)

NOON = datetime(2030, 6, 3, 3, 30, tzinfo=UTC)  # a Monday, 11:30 in Asia/Shanghai


@pytest.fixture
def world(client, rt):
    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    staff_user(rt, "admin_b", "admin", org_id=county.hub_b)
    station = make_station(rt, county.org_a)
    return county, station, staff_token(client, "admin_a"), staff_token(client, "admin_b")


def body(org_id, station, starts_at, hours=2, **extra):
    return {
        "org_id": org_id,
        "station_id": station,
        "title": "午餐助餐服务",
        "kind": "meal_service",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=hours)).isoformat(),
        "capacity": 2,
        **extra,
    }


def test_clash_at_the_same_station_names_the_other_activity(client, rt, world):
    county, station, admin_a, _admin_b = world
    first = client.post("/api/v1/activities", json=body(county.org_a, station, NOON), headers=admin_a)
    assert first.status_code == 201, first.text
    # another hub books the same place half an hour later: the county's old problem
    staff_user(rt, "county", "admin", org_id=county.base)
    r = client.post(
        "/api/v1/activities",
        json=body(county.org_b, station, NOON + timedelta(minutes=30)),
        headers=staff_token(client, "county"),
    )
    assert r.status_code == 409 and r.json()["code"] == "activity_clash"
    assert r.json()["clash"]["id"] == first.json()["id"] and r.json()["clash"]["title"] == "午餐助餐服务"
    # back to back is fine
    r = client.post(
        "/api/v1/activities", json=body(county.org_a, station, NOON + timedelta(hours=2)), headers=admin_a
    )
    assert r.status_code == 201
    # moving onto the first one clashes too
    r = client.patch(
        f"/api/v1/activities/{r.json()['id']}",
        json={
            "starts_at": (NOON + timedelta(hours=1)).isoformat(),
            "ends_at": (NOON + timedelta(hours=3)).isoformat(),
        },
        headers=admin_a,
    )
    assert r.status_code == 409 and r.json()["clash"]["id"] == first.json()["id"]


def test_a_shared_venue_is_not_booked_twice_at_once_whatever_the_organizations(client, rt, world):
    """Before: a shared station skipped the clash check, so two hubs' organizations booking
    泉塘社区活动中心 at overlapping times were both saved (the case report's clash)."""
    county, _, admin_a, admin_b = world
    centre = make_station(rt, county.hub_a, name="泉塘社区活动中心", shared=True)
    first = client.post(
        "/api/v1/activities",
        json=body(county.org_a, centre, NOON, kind="weekend_class", description="周末课堂：书法"),
        headers=admin_a,
    )
    assert first.status_code == 201, first.text
    assert first.json()["description"] == "周末课堂：书法" and first.json()["kind"] == "weekend_class"
    other = client.post(
        "/api/v1/activities", json=body(county.org_b, centre, NOON + timedelta(hours=1)), headers=admin_b
    )
    assert other.status_code == 409 and other.json()["code"] == "activity_clash", other.text
    assert other.json()["clash"]["id"] == first.json()["id"]
    same_org = client.post("/api/v1/activities", json=body(county.org_a, centre, NOON), headers=admin_a)
    assert same_org.status_code == 409 and same_org.json()["code"] == "activity_clash"
    # before or after it, the centre is anyone's
    later = client.post(
        "/api/v1/activities", json=body(county.org_b, centre, NOON + timedelta(hours=2)), headers=admin_b
    )
    assert later.status_code == 201, later.text
    # a move onto the first is refused too
    moved = client.patch(
        f"/api/v1/activities/{later.json()['id']}",
        json={"starts_at": NOON.isoformat(), "ends_at": (NOON + timedelta(hours=1)).isoformat()},
        headers=admin_b,
    )
    assert moved.status_code == 409 and moved.json()["clash"]["id"] == first.json()["id"]
    # what the admin page asks before saving: whatever holds the centre in a window
    window = client.get(
        "/api/v1/activities",
        params={
            "station_id": centre,
            "starts_before": (NOON + timedelta(hours=1, minutes=30)).isoformat(),
            "ends_after": (NOON + timedelta(hours=1)).isoformat(),
        },
        headers=admin_b,
    )
    assert [a["id"] for a in window.json()["items"]] == [first.json()["id"]]


def test_an_activity_says_what_volunteers_do_there_in_at_most_500_characters(client, world):
    county, station, admin_a, _ = world
    r = client.post(
        "/api/v1/activities",
        json=body(county.org_a, station, NOON, description="长" * 501, team_ids=[county.open_team]),
        headers=admin_a,
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["description"]
    r = client.post(
        "/api/v1/activities",
        json=body(county.org_a, station, NOON, description=" 打饭、收餐盘 ", team_ids=[county.open_team]),
        headers=admin_a,
    )
    assert r.status_code == 201 and r.json()["description"] == "打饭、收餐盘"
    assert r.json()["team_ids"] == [county.open_team]
    listed = client.get("/api/v1/activities", headers=admin_a).json()["items"]
    assert [a["description"] for a in listed] == ["打饭、收餐盘"]


def test_staff_list_the_stations_they_may_book_by_name(client, rt, world):
    """The admin page picks a place by name: its own stations and every shared one, not another
    hub's own."""
    county, station, admin_a, admin_b = world
    centre = make_station(rt, county.hub_a, name="泉塘社区活动中心", shared=True)
    make_station(rt, county.org_b, name="星沙食堂取餐台")
    listed = client.get("/api/v1/stations", headers=admin_b).json()
    assert listed["next"] is None
    assert {(s["name"], s["shared"]) for s in listed["items"]} == {
        ("泉塘社区活动中心", True),
        ("星沙食堂取餐台", False),
    }
    mine = client.get("/api/v1/stations?limit=1", headers=admin_a).json()
    assert [s["id"] for s in mine["items"]] == [station] and mine["next"]
    rest = client.get(f"/api/v1/stations?limit=1&cursor={mine['next']}", headers=admin_a).json()
    assert [s["id"] for s in rest["items"]] == [centre]


def test_activity_validation_and_scope(client, rt, world):
    county, station, admin_a, admin_b = world
    r = client.post(
        "/api/v1/activities",
        json=body(county.org_a, station, NOON, hours=-1, capacity=0, kind="x"),
        headers=admin_a,
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"ends_at", "capacity", "kind"}
    r = client.post("/api/v1/activities", json=body(county.org_a, station, NOON), headers=admin_b)
    assert r.status_code == 403 and r.json()["code"] == "outside_your_scope"
    r = client.post(
        "/api/v1/activities",
        json={**body(county.org_a, station, NOON), "starts_at": "2030-06-03T11:30:00"},
        headers=admin_a,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "timezone_required"


def test_sign_up_within_capacity_then_waitlist_and_promotion(client, rt, world):
    county, station, _, _ = world
    activity = make_activity(rt, county.org_a, station, NOON, capacity=2)
    tokens = []
    for i in range(3):
        file_volunteer(rt, f"1390000000{i}", county.open_team)
        tokens.append(volunteer_token(rt, f"1390000000{i}"))
    statuses = [
        client.post(f"/api/v1/activities/{activity}/signups", headers=t).json()["status"] for t in tokens
    ]
    assert statuses == ["confirmed", "confirmed", "waitlisted"]
    r = client.post(f"/api/v1/activities/{activity}/signups", headers=tokens[0])
    assert r.status_code == 409 and r.json()["code"] == "already_signed_up"
    r = client.post(f"/api/v1/activities/{activity}/signups/cancel", headers=tokens[0])
    assert r.status_code == 201 or r.status_code == 200
    listed = client.get(
        f"/api/v1/activities/{activity}/signups", headers=staff_token(client, "admin_a")
    ).json()
    assert [s["status"] for s in listed["items"]] == ["confirmed", "confirmed"]


def test_no_two_overlapping_sign_ups(client, rt, world):
    county, station, _, _ = world
    other_station = make_station(rt, county.org_a, name="活动室")
    a = make_activity(rt, county.org_a, station, NOON)
    b = make_activity(rt, county.org_a, other_station, NOON + timedelta(hours=1), title="探访长者")
    file_volunteer(rt, "13900000001", county.open_team)
    me = volunteer_token(rt, "13900000001")
    assert client.post(f"/api/v1/activities/{a}/signups", headers=me).status_code == 201
    r = client.post(f"/api/v1/activities/{b}/signups", headers=me)
    assert (
        r.status_code == 409 and r.json()["code"] == "signup_overlap" and r.json()["overlapping"]["id"] == a
    )


def test_sign_up_needs_filing_and_named_teams(client, rt, world):
    county, station, _, _ = world
    only_approval = make_activity(rt, county.org_a, station, NOON, team_ids=[county.approval_team])
    from tests.fixtures.builders import register

    register(client, phone="13900000002")
    r = client.post(f"/api/v1/activities/{only_approval}/signups", headers=volunteer_token(rt, "13900000002"))
    assert r.status_code == 403 and r.json()["code"] == "not_filed"
    file_volunteer(rt, "13900000002", county.open_team)
    r = client.post(f"/api/v1/activities/{only_approval}/signups", headers=volunteer_token(rt, "13900000002"))
    assert r.status_code == 403 and r.json()["code"] == "not_allowed_here"


def test_recurring_shift_generates_weekday_activities_once(client, rt, world):
    county, station, _, _ = world
    from freezegun import freeze_time

    with freeze_time("2030-06-02 16:00:00"):  # Monday 00:00 in Asia/Shanghai
        admin_a = staff_token(client, "admin_a")
        r = client.post(
            f"/api/v1/stations/{station}/shifts",
            json={
                "org_id": county.org_a,
                "title": "午餐服务",
                "weekdays": "12345",
                "start_time": "10:30",
                "end_time": "13:00",
                "capacity": 4,
                "days_ahead": 7,
            },
            headers=admin_a,
        )
        assert r.status_code == 201, r.text
        generated = r.json()["generated"]
        assert len(generated) == 5
        first = datetime.fromisoformat(generated[0]["starts_at"].replace("Z", "+00:00"))
        assert first == datetime(2030, 6, 3, 2, 30, tzinfo=UTC)  # 10:30 in Asia/Shanghai
        from tests.fixtures.runtime import drain

        drain(rt)  # nothing queued; the daily job below is what cron runs
        from workers.jobs import generate_shift_activities

        assert generate_shift_activities(days=7) == 0  # idempotent
        assert generate_shift_activities(days=14) == 5
