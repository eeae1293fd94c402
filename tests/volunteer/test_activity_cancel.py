"""A hub cancels an activity (取消活动): everyone signed up is told once, with the reason; the
activity is no longer offered, joinable nor open for check-in, and is shown as cancelled to those
who signed up and on the admin calendar. Refused, with nothing written, twice or once it is over."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from scans.models import Scan
from tests.fixtures.builders import (
    file_volunteer,
    make_activity,
    make_county,
    make_station,
    staff_token,
    staff_user,
    volunteer_token,
)
from volunteer.models import Activity, Attendance, Notice

NOW = datetime(2030, 6, 3, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Asia/Shanghai: not quiet hours
ME, OTHER, THIRD = "13900000001", "13900000002", "13900000003"
REASON = "场地临时停电"


class World:
    def __init__(self, rt, client, clock):
        clock.at = NOW
        self.rt, self.client, self.clock = rt, client, clock
        self.county = make_county(rt)
        self.station = make_station(rt, self.county.org_a, name="泉塘社区活动中心")
        self.far = make_station(rt, self.county.org_b, name="星沙社区服务站")
        staff_user(rt, "admin_a", "admin", org_id=self.county.hub_a)
        staff_user(rt, "admin_b", "admin", org_id=self.county.hub_b)
        staff_user(rt, "counter", "coordinator", org_id=self.county.org_a, station_id=self.station)
        self.ids = {p: file_volunteer(rt, p, self.county.open_team) for p in (ME, OTHER, THIRD)}
        self.starts = NOW + timedelta(days=1)  # 2030-06-04 10:00 local
        self.activity = make_activity(
            rt, self.county.org_a, self.station, self.starts, capacity=1, title="周末课堂"
        )

    def token(self, phone):
        return volunteer_token(self.rt, phone)

    def sign_up(self, phone, activity=None):
        return self.client.post(f"/api/v1/activities/{activity or self.activity}/signups", headers=self.token(phone))

    def cancel(self, reason=REASON, who="admin_a", activity=None):
        return self.client.post(
            f"/api/v1/activities/{activity or self.activity}/cancel",
            json={"reason": reason},
            headers=staff_token(self.client, who),
        )

    def notices(self, phone, kind="activity_cancelled"):
        items = self.client.get("/api/v1/me/notices", headers=self.token(phone)).json()["items"]
        return [n for n in items if n["kind"] == kind]

    def count(self, model, *where):
        with self.rt.tx() as s:
            return s.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def world(rt, client, clock):
    return World(rt, client, clock)


def test_cancel_tells_everyone_signed_up_once_with_time_and_reason(world):
    assert world.sign_up(ME).json()["status"] == "confirmed"
    assert world.sign_up(OTHER).json()["status"] == "waitlisted"
    r = world.cancel(f"  {REASON} ")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cancel_reason"] == REASON and body["cancelled_at"].startswith("2030-06-03T02:00")
    for phone in (ME, OTHER):  # confirmed and waiting alike, one notice each
        [notice] = world.notices(phone)
        assert notice["text"] == f"您报名的“周末课堂”（6月4日 10:00）已取消，理由：{REASON}"
        assert notice["text_en"] == f"周末课堂 (Jun 4 10:00), which you signed up for, is cancelled. Reason: {REASON}"
    assert world.notices(THIRD) == []  # not signed up: not told
    with world.rt.tx() as s:
        a = s.get(Activity, world.activity)
        assert (a.cancel_reason, a.cancelled_by is not None) == (REASON, True)
        assert s.scalar(select(func.count()).select_from(Notice)) == 3  # 1 confirmed + 2 cancelled

    # cancelling again: 409, and nothing more is written
    again = world.cancel("另一个理由")
    assert again.status_code == 409 and again.json()["code"] == "activity_cancelled"
    assert world.count(Notice, Notice.kind == "activity_cancelled") == 2
    with world.rt.tx() as s:
        assert s.get(Activity, world.activity).cancel_reason == REASON


def test_a_cancelled_activity_is_not_offered_nor_joinable_and_shows_as_cancelled(world):
    world.sign_up(ME)
    assert world.cancel().status_code == 200
    # another volunteer: not offered
    offered = world.client.get("/api/v1/me/activities", headers=world.token(THIRD)).json()["items"]
    assert world.activity not in [a["id"] for a in offered]
    refused = world.sign_up(THIRD)
    assert refused.status_code == 409 and refused.json()["code"] == "activity_cancelled"
    assert world.count(Notice, Notice.volunteer_id == world.ids[THIRD]) == 0
    # the one signed up: still in "my upcoming", as cancelled with the reason, no button
    mine = world.client.get("/api/v1/me/activities", params={"signed_up": "true"}, headers=world.token(ME))
    [shown] = [a for a in mine.json()["items"] if a["id"] == world.activity]
    assert shown["cancel_reason"] == REASON and shown["cancelled_at"]
    assert (shown["may_sign_up"], shown["spots_left"]) == (False, 0)
    # the admin calendar lists it, as cancelled
    listed = world.client.get("/api/v1/activities", headers=staff_token(world.client, "admin_a")).json()
    [row] = [a for a in listed["items"] if a["id"] == world.activity]
    assert row["cancel_reason"] == REASON
    # it no longer blocks an overlapping sign-up, nor the station for another activity
    other = make_activity(world.rt, world.county.org_a, world.station, world.starts, title="改期的课堂")
    assert world.sign_up(ME, other).status_code == 201
    # nor can it be moved, and no reminder goes out for it
    later = (world.starts + timedelta(hours=5)).isoformat()
    moved = world.client.patch(
        f"/api/v1/activities/{world.activity}",
        json={"starts_at": later},
        headers=staff_token(world.client, "admin_a"),
    )
    assert moved.status_code == 409 and moved.json()["code"] == "activity_cancelled"


def test_a_check_in_at_a_cancelled_activity_is_refused_with_the_reason(world):
    assert world.sign_up(ME).json()["status"] == "confirmed"  # the fast path's case: confirmed, filed
    assert world.cancel().status_code == 200
    world.clock.at = world.starts + timedelta(minutes=5)
    tablet = {**staff_token(world.client, "counter"), "x-device-id": "tablet-1"}
    for phone in (ME, THIRD):  # signed up, and a walk-in
        body = {
            "payload": world.rt.codes.volunteer_card(world.ids[phone], 1),
            "station_id": world.station,
            "scan_id": str(uuid.uuid4()),
        }
        r = world.client.post("/api/v1/scans", json=body, headers=tablet)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert (answer["outcome"], answer["reason"]) == ("rejected", "activity_cancelled")
        assert answer["message"].startswith("活动已取消")
        assert answer["activity"]["id"] == world.activity
    assert world.count(Attendance) == 0
    assert world.count(Scan, Scan.reason == "activity_cancelled") == 2


def test_an_ended_activity_a_bad_reason_and_another_hub_are_refused_writing_nothing(world):
    world.sign_up(ME)
    blank = world.cancel("   ")
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "reason"
    assert world.cancel("长" * 201).status_code == 422
    assert world.cancel(who="admin_b").status_code == 403
    with world.rt.tx() as s:
        assert s.get(Activity, world.activity).cancelled_at is None
    world.clock.at = world.starts + timedelta(hours=3)  # it ran 10:00-12:30
    over = world.cancel()
    assert over.status_code == 409 and over.json()["code"] == "activity_over"
    assert world.count(Notice, Notice.kind == "activity_cancelled") == 0
    with world.rt.tx() as s:
        assert s.get(Activity, world.activity).cancelled_at is None
