"""Finding and joining from the phone (找活动、报名): `GET /api/v1/me/activities` lists what a volunteer
may join by start time, with the place, the organization and the places left, and says what they
can do about each; `GET /api/v1/me/invitations` tells the page which invitation-only teams will
take them."""

from __future__ import annotations

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

NOW = datetime(2030, 6, 3, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Asia/Shanghai
ME, OTHER = "13900000001", "13900000002"


@pytest.fixture
def world(rt, clock):
    clock.at = NOW
    county = make_county(rt)
    canteen = make_station(rt, county.org_a, name="泉心食堂取餐台")
    hall = make_station(rt, county.org_a, name="泉塘社区活动中心")
    home = make_station(rt, county.org_a, name="长者之家")
    far = make_station(rt, county.org_b, name="星沙社区服务站")
    file_volunteer(rt, ME, county.open_team)
    file_volunteer(rt, OTHER, county.open_team, name="李国华")
    day = timedelta(days=1)
    # made out of time order: the list is by start time, not by id
    ids = {
        "later": make_activity(rt, county.org_a, canteen, NOW + 2 * day, capacity=1, title="周三午餐"),
        "lunch": make_activity(rt, county.org_a, canteen, NOW + day, capacity=2, title="周二午餐"),
        "class": make_activity(
            rt, county.org_a, hall, NOW + day, team_ids=[county.invitation_team], title="周末课堂"
        ),
        "visit": make_activity(rt, county.org_a, home, NOW + day + timedelta(hours=1), title="探访长者"),
        "elsewhere": make_activity(rt, county.org_b, far, NOW + day, title="星沙助老"),
        "over": make_activity(rt, county.org_a, hall, NOW - day, title="昨天的活动"),
    }
    return county, ids


def listing(client, rt, phone=ME, **params):
    r = client.get("/api/v1/me/activities", params=params, headers=volunteer_token(rt, phone))
    assert r.status_code == 200, r.text
    return r.json()


def test_upcoming_activities_by_time_with_place_organization_and_places_left(client, rt, world):
    _, ids = world
    items = listing(client, rt)["items"]
    # by start time; not another hub's, not one that is over
    assert [a["id"] for a in items] == [ids["lunch"], ids["class"], ids["visit"], ids["later"]]
    lunch = items[0]
    assert lunch["station_name"] == "泉心食堂取餐台" and lunch["org_name"] == "泉塘志愿者协会"
    assert (lunch["kind"], lunch["capacity"], lunch["spots_left"]) == ("meal_service", 2, 2)
    assert (lunch["signup"], lunch["may_sign_up"], lunch["why_not"]) == (None, True, None)
    assert lunch["station_id"] and lunch["starts_at"] and lunch["ends_at"]  # ActivityRead's fields kept
    # for named teams only: listed with the reason, no sign-up offered (the API would answer 403)
    named = items[1]
    assert (named["may_sign_up"], named["why_not"]) == (False, "not_allowed_here")
    refused = client.post(f"/api/v1/activities/{ids['class']}/signups", headers=volunteer_token(rt, ME))
    assert refused.status_code == 403 and refused.json()["code"] == "not_allowed_here"


def test_sign_up_shows_in_my_activities_takes_a_place_and_blocks_an_overlap_then_cancel(client, rt, world):
    _, ids = world
    me = volunteer_token(rt, ME)
    assert listing(client, rt, signed_up="true")["items"] == []
    r = client.post(f"/api/v1/activities/{ids['lunch']}/signups", headers=me)
    assert r.status_code == 201 and r.json()["status"] == "confirmed"
    mine = listing(client, rt, signed_up="true")["items"]
    assert [(a["id"], a["signup"], a["may_sign_up"], a["spots_left"]) for a in mine] == [
        (ids["lunch"], "confirmed", False, 1)
    ]
    found = {a["id"]: a for a in listing(client, rt)["items"]}
    assert found[ids["lunch"]]["signup"] == "confirmed"
    # the visit starts an hour into the lunch: the API would answer 409 signup_overlap
    assert (found[ids["visit"]]["may_sign_up"], found[ids["visit"]]["why_not"]) == (False, "signup_overlap")
    assert client.post(f"/api/v1/activities/{ids['visit']}/signups", headers=me).json()["code"] == (
        "signup_overlap"
    )
    # another volunteer sees the place taken
    theirs = {a["id"]: a for a in listing(client, rt, OTHER)["items"]}
    assert theirs[ids["lunch"]]["spots_left"] == 1 and theirs[ids["lunch"]]["signup"] is None
    assert theirs[ids["visit"]]["may_sign_up"] is True
    # cancelled: gone from my activities, the place is back, the visit may be joined again
    assert client.post(f"/api/v1/activities/{ids['lunch']}/signups/cancel", headers=me).status_code == 201
    assert listing(client, rt, signed_up="true")["items"] == []
    found = {a["id"]: a for a in listing(client, rt)["items"]}
    assert found[ids["lunch"]]["spots_left"] == 2 and found[ids["visit"]]["may_sign_up"] is True


def test_a_full_activity_offers_the_waitlist(client, rt, world):
    _, ids = world
    taken = client.post(f"/api/v1/activities/{ids['later']}/signups", headers=volunteer_token(rt, OTHER))
    assert taken.json()["status"] == "confirmed"
    later = next(a for a in listing(client, rt)["items"] if a["id"] == ids["later"])
    assert (later["spots_left"], later["may_sign_up"]) == (0, True)
    r = client.post(f"/api/v1/activities/{ids['later']}/signups", headers=volunteer_token(rt, ME))
    assert r.json()["status"] == "waitlisted"
    mine = listing(client, rt, signed_up="true")["items"]
    assert [(a["id"], a["signup"]) for a in mine] == [(ids["later"], "waitlisted")]


def test_pages_go_on_by_time_and_only_volunteers_ask(client, rt, world):
    _, ids = world
    first = listing(client, rt, limit=3)
    second = listing(client, rt, limit=3, cursor=first["next"])
    assert [a["id"] for a in first["items"] + second["items"]] == [
        ids["lunch"],
        ids["class"],
        ids["visit"],
        ids["later"],
    ]
    assert second["next"] is None
    staff_user(rt, "admin_a", "admin", org_id=world[0].hub_a)
    r = client.get("/api/v1/me/activities", headers=staff_token(client, "admin_a"))
    assert r.status_code == 403 and r.json()["code"] == "volunteers_only"


def test_a_volunteer_not_filed_anywhere_sees_nothing_to_join(client, rt, world):
    from tests.fixtures.builders import register

    register(client, "张秀兰", "13900000009")
    assert listing(client, rt, "13900000009") == {"items": [], "next": None}


def test_my_invitations_name_the_teams_that_will_take_my_phone(client, rt, world):
    county, _ = world
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    admin = staff_token(client, "admin_a")
    r = client.post(f"/api/v1/teams/{county.invitation_team}/invitations", json={"phone": ME}, headers=admin)
    assert r.status_code == 201, r.text
    mine = client.get("/api/v1/me/invitations", headers=volunteer_token(rt, ME)).json()["items"]
    assert [i["team_id"] for i in mine] == [county.invitation_team]
    assert client.get("/api/v1/me/invitations", headers=volunteer_token(rt, OTHER)).json()["items"] == []
    # the other volunteer is refused, as the page says (仅限受邀); the invited one joins, and the
    # invitation is used up
    other = client.post(f"/api/v1/teams/{county.invitation_team}/filings", headers=volunteer_token(rt, OTHER))
    assert other.status_code == 403 and other.json()["code"] == "invitation_only"
    joined = client.post(f"/api/v1/teams/{county.invitation_team}/filings", headers=volunteer_token(rt, ME))
    assert joined.status_code == 201 and joined.json()["status"] == "approved"
    assert client.get("/api/v1/me/invitations", headers=volunteer_token(rt, ME)).json()["items"] == []
