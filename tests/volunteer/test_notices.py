"""Notices (通知): each cause makes one notice in the volunteer's inbox, in its own transaction;
the SMS goes once, after quiet hours, unless the volunteer switched the kind off; a volunteer
sees only their own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from accounts.sender import DEMO_INBOX_KEY
from points import shop
from tests.fixtures.builders import (
    file_volunteer,
    make_activity,
    make_county,
    make_station,
    register,
    staff_token,
    staff_user,
    volunteer_token,
)
from tests.fixtures.hub import START, Hub
from tests.fixtures.runtime import drain
from volunteer import notices
from volunteer.models import Notice
from workers import jobs

DAY = datetime(2030, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai: not quiet
PHONE, OTHER = "13807310001", "13807310002"


def kinds(rt, volunteer_id=None) -> list[tuple[str, str]]:
    """(kind, sms_state) of the notices (of one volunteer), oldest first."""
    with rt.tx() as s:
        q = select(Notice.kind, Notice.sms_state).order_by(Notice.id)
        if volunteer_id is not None:
            q = q.where(Notice.volunteer_id == volunteer_id)
        return [tuple(r) for r in s.execute(q)]


def texts_sent(rt) -> list[str]:
    return [m.decode() for m in reversed(rt.redis.lrange(DEMO_INBOX_KEY, 0, -1))]


class World:
    def __init__(self, rt, client, clock):
        clock.at = DAY
        self.rt, self.client, self.clock = rt, client, clock
        self.county = make_county(rt)
        self.station = make_station(rt, self.county.org_a, name="泉塘社区活动中心")
        staff_user(rt, "admin_a", "admin", org_id=self.county.hub_a)
        register(client, phone=PHONE)
        register(client, name="李建国", phone=OTHER)

    # tokens issued at the clock's time, which tests move by hours
    @property
    def admin(self):
        return staff_token(self.client, "admin_a")

    @property
    def me(self):
        return volunteer_token(self.rt, PHONE)

    @property
    def other(self):
        return volunteer_token(self.rt, OTHER)

    def apply(self, team, who=None):
        r = self.client.post(f"/api/v1/teams/{team}/filings", headers=who or self.me)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def inbox(self, who=None):
        r = self.client.get("/api/v1/me/notices", headers=who or self.me)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def world(rt, client, clock):
    return World(rt, client, clock)


def test_a_filing_decision_is_noticed_once_and_sent_once(world, rt, client):
    filing = world.apply(world.county.approval_team)
    assert client.post(f"/api/v1/filings/{filing}/approve", json={}, headers=world.admin).status_code == 200
    again = client.post(f"/api/v1/filings/{filing}/approve", json={}, headers=world.admin)
    assert again.status_code == 409
    assert kinds(rt) == [("filing_approved", "pending")]
    assert drain(rt) == 1
    assert drain(rt) == 0  # nothing more to send
    [sms] = texts_sent(rt)
    assert sms.startswith("138****0001 【邻里】您加入“助餐志愿服务队”的申请已通过") and "approved" in sms
    assert kinds(rt) == [("filing_approved", "sent")]
    assert jobs.send_due_notices() == 0  # the sweep finds nothing left

    other = world.apply(world.county.approval_team, world.other)
    r = client.post(f"/api/v1/filings/{other}/reject", json={"reason": "名额已满"}, headers=world.admin)
    assert r.status_code == 200
    [notice] = world.inbox(world.other)["items"]
    assert notice["kind"] == "filing_rejected"
    assert "理由：名额已满" in notice["text"] and "Reason: 名额已满" in notice["text_en"]


def test_sign_ups_moves_and_reminders(world, rt, client, clock):
    file_volunteer(rt, PHONE, world.county.open_team)
    file_volunteer(rt, OTHER, world.county.open_team)
    starts = DAY + timedelta(days=2)  # 2030-06-03 10:00 local
    activity = make_activity(rt, world.county.org_a, world.station, starts, capacity=1, title="周末课堂")
    assert client.post(f"/api/v1/activities/{activity}/signups", headers=world.me).status_code == 201
    waiting = client.post(f"/api/v1/activities/{activity}/signups", headers=world.other)
    assert waiting.json()["status"] == "waitlisted"
    [confirmed] = world.inbox()["items"]
    assert confirmed["kind"] == "signup_confirmed"
    assert "“周末课堂”，6月3日 10:00在泉塘社区活动中心开始" in confirmed["text"]
    assert world.inbox(world.other)["items"] == []  # waiting is not confirmed

    # moved: both are told the new time; the same times again tell nothing
    later = starts + timedelta(hours=4)
    body = {"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=2)).isoformat()}
    assert client.patch(f"/api/v1/activities/{activity}", json=body, headers=world.admin).status_code == 200
    assert client.patch(f"/api/v1/activities/{activity}", json=body, headers=world.admin).status_code == 200
    moved = [n for n in world.inbox()["items"] if n["kind"] == "activity_moved"]
    assert [n["text"] for n in moved] == ["您报名的“周末课堂”已调整为6月3日 14:00在泉塘社区活动中心开始。"]
    assert [n["kind"] for n in world.inbox(world.other)["items"]] == ["activity_moved"]

    # the first cancels: the waiting one moves up and is told
    assert client.post(f"/api/v1/activities/{activity}/signups/cancel", headers=world.me).status_code == 201
    assert [n["kind"] for n in world.inbox(world.other)["items"]] == ["signup_confirmed", "activity_moved"]

    # reminders: only within 24 hours of the start, once per volunteer and activity
    assert jobs.remind_activities() == 0
    clock.at = later - timedelta(hours=23)
    assert jobs.remind_activities() == 1
    assert jobs.remind_activities() == 0
    [reminder] = [n for n in world.inbox(world.other)["items"] if n["kind"] == "activity_reminder"]
    assert reminder["text"].startswith("提醒：您报名的“周末课堂”将于明天14:00在泉塘社区活动中心开始")
    assert all(n["kind"] != "activity_reminder" for n in world.inbox()["items"])  # cancelled: no reminder


def test_points_awarded_once_per_award(client, rt, clock):
    clock.at = START + timedelta(hours=7)
    hub = Hub(client, rt)
    attendance = hub.attendance(120)
    hub.settle(attendance)
    hub.settle(attendance)  # the job delivered twice
    with rt.tx() as s:
        [notice] = s.scalars(select(Notice).where(Notice.kind == "points_awarded")).all()
    assert notice.key == f"award:attendance:{attendance}"
    assert notice.text == "您6月3日的志愿服务（120分钟）获得20积分。"


def test_a_shop_order_is_noticed_ready_once(client, rt, clock):
    clock.at = START + timedelta(hours=7)
    hub = Hub(client, rt)
    hub.settle(hub.attendance(120))
    with rt.tx() as s:
        item = shop.create_item(
            s,
            hub.county.hub_a,
            shop.ItemInput(name="大米", price=10, stock=5, per_volunteer_limit=0, limit_period="month"),
            clock.now(),
        ).id
    me = volunteer_token(rt, "13900000001")
    body = {"item_id": item, "request_id": str(uuid.uuid4())}
    first = client.post("/api/v1/shop/orders", json=body, headers=me)
    assert first.status_code == 201, first.text
    assert client.post("/api/v1/shop/orders", json=body, headers=me).json()["id"] == first.json()["id"]
    ready = [n for n in client.get("/api/v1/me/notices", headers=me).json()["items"] if n["kind"] == "shop_order_ready"]
    assert len(ready) == 1 and ready[0]["text"].startswith("您兑换的“大米”×1（10积分）已备好")


def test_a_commendation_certificate_is_noticed(client, rt, clock):
    clock.at = START + timedelta(hours=7)
    hub = Hub(client, rt)
    hub.settle(hub.attendance(300))
    staff_user(rt, "admin_a", "admin", org_id=hub.county.hub_a)
    admin = staff_token(client, "admin_a")
    r = client.post(
        f"/api/v1/hubs/{hub.county.hub_a}/commendation-rounds",
        json={"title": "2030年6月优秀志愿者", "period": "month", "period_start": "2030-06-01"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    clock.at = datetime(2030, 7, 2, 2, 0, tzinfo=UTC)
    assert client.post(f"/api/v1/commendation-rounds/{r.json()['id']}/confirm", headers=admin).status_code == 200
    me = volunteer_token(rt, "13900000001")
    [cert] = [n for n in client.get("/api/v1/me/notices", headers=me).json()["items"] if n["kind"] == "certificate_issued"]
    assert "“2030年6月优秀志愿者”证书" in cert["text"]


def test_quiet_hours_hold_the_sms_until_they_end(world, rt, client, clock):
    filing = world.apply(world.county.approval_team)
    clock.at = datetime(2030, 6, 1, 14, 30, tzinfo=UTC)  # 22:30 local
    assert client.post(f"/api/v1/filings/{filing}/approve", json={}, headers=world.admin).status_code == 200
    assert drain(rt) == 1 and texts_sent(rt) == []
    with rt.tx() as s:
        notice = s.scalar(select(Notice))
        assert (notice.sms_state, notice.sms_due_at) == ("pending", datetime(2030, 6, 2, 0, 0, tzinfo=UTC))
    assert world.inbox()["unread"] == 1  # the inbox has it at once
    clock.at = datetime(2030, 6, 1, 23, 55, tzinfo=UTC)  # 07:55: still quiet
    assert jobs.send_due_notices() == 0 and texts_sent(rt) == []
    clock.at = datetime(2030, 6, 2, 0, 5, tzinfo=UTC)  # 08:05
    assert jobs.send_due_notices() == 1
    assert jobs.send_due_notices() == 0
    assert len(texts_sent(rt)) == 1 and kinds(rt) == [("filing_approved", "sent")]


def test_the_quiet_window_is_the_volunteers(world, rt, client, clock):
    r = client.put(
        "/api/v1/me/notice-settings",
        json={"quiet_start": "12:00", "quiet_end": "12:00", "sms_off": []},  # none
        headers=world.me,
    )
    assert r.status_code == 200, r.text
    clock.at = datetime(2030, 6, 1, 15, 0, tzinfo=UTC)  # 23:00 local
    filing = world.apply(world.county.approval_team)
    client.post(f"/api/v1/filings/{filing}/approve", json={}, headers=world.admin)
    assert drain(rt) == 1 and len(texts_sent(rt)) == 1


def test_quiet_until():
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    at = lambda h, m=0: datetime(2030, 6, 1, h, m, tzinfo=tz)  # noqa: E731
    assert notices.quiet_until(at(22), "21:00", "08:00", tz) == datetime(2030, 6, 2, 8, tzinfo=tz)
    assert notices.quiet_until(at(7, 59), "21:00", "08:00", tz) == at(8)
    assert notices.quiet_until(at(8), "21:00", "08:00", tz) is None
    assert notices.quiet_until(at(20, 59), "21:00", "08:00", tz) is None
    assert notices.quiet_until(at(13), "12:00", "14:00", tz) == at(14)
    assert notices.quiet_until(at(13), "12:00", "12:00", tz) is None


def test_a_kind_switched_off_stays_in_the_inbox_without_sms(world, rt, client):
    settings = client.get("/api/v1/me/notice-settings", headers=world.me).json()
    assert (settings["quiet_start"], settings["quiet_end"], settings["sms_off"]) == ("21:00", "08:00", [])
    assert "filing_approved" in settings["kinds"]
    bad = client.put(
        "/api/v1/me/notice-settings",
        json={"quiet_start": "25:00", "quiet_end": "8", "sms_off": ["filing_approved", "spam"]},
        headers=world.me,
    )
    assert bad.status_code == 422
    assert sorted(e["field"] for e in bad.json()["errors"]) == ["quiet_end", "quiet_start", "sms_off"]
    assert client.get("/api/v1/me/notice-settings", headers=world.me).json()["sms_off"] == []  # nothing written
    ok = client.put(
        "/api/v1/me/notice-settings",
        json={"quiet_start": "22:00", "quiet_end": "07:00", "sms_off": ["filing_approved"]},
        headers=world.me,
    )
    assert ok.status_code == 200 and ok.json()["sms_off"] == ["filing_approved"]
    filing = world.apply(world.county.approval_team)
    client.post(f"/api/v1/filings/{filing}/approve", json={}, headers=world.admin)
    drain(rt)
    assert texts_sent(rt) == []
    assert [(n["kind"], n["sms_state"]) for n in world.inbox()["items"]] == [("filing_approved", "off")]


def test_switching_a_kind_off_stops_an_sms_still_waiting(world, rt, client, clock):
    filing = world.apply(world.county.approval_team)
    clock.at = datetime(2030, 6, 1, 14, 30, tzinfo=UTC)  # 22:30: held back
    client.post(f"/api/v1/filings/{filing}/approve", json={}, headers=world.admin)
    drain(rt)
    client.put("/api/v1/me/notice-settings", json={"sms_off": ["filing_approved"]}, headers=world.me)
    clock.at = datetime(2030, 6, 2, 0, 5, tzinfo=UTC)
    jobs.send_due_notices()
    assert texts_sent(rt) == [] and kinds(rt) == [("filing_approved", "off")]


def test_a_volunteer_reads_only_their_own_notices(world, rt, client):
    filing = world.apply(world.county.approval_team)
    client.post(f"/api/v1/filings/{filing}/reject", json={"reason": "资料不全"}, headers=world.admin)
    filing = world.apply(world.county.approval_team)  # applied again
    client.post(f"/api/v1/filings/{filing}/approve", json={}, headers=world.admin)
    mine = world.inbox()
    assert [n["kind"] for n in mine["items"]] == ["filing_approved", "filing_rejected"]  # newest first
    assert mine["unread"] == 2
    first = mine["items"][1]["id"]
    # the other volunteer sees none of them and cannot mark them
    assert world.inbox(world.other) == {"items": [], "next": None, "unread": 0}
    refused = client.post(f"/api/v1/me/notices/{first}/read", headers=world.other)
    assert refused.status_code == 404 and refused.json()["code"] == "notice_not_found"
    assert client.post("/api/v1/me/notices/read-all", headers=world.other).json() == {"marked": 0, "unread": 0}
    assert world.inbox()["unread"] == 2
    read = client.post(f"/api/v1/me/notices/{first}/read", headers=world.me)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert world.inbox()["unread"] == 1
    page = client.get("/api/v1/me/notices?limit=1", headers=world.me).json()
    assert len(page["items"]) == 1 and page["next"]
    rest = client.get(f"/api/v1/me/notices?limit=1&cursor={page['next']}", headers=world.me).json()
    assert [n["id"] for n in rest["items"]] == [first]
    assert client.post("/api/v1/me/notices/read-all", headers=world.me).json() == {"marked": 1, "unread": 0}
    staff = client.get("/api/v1/me/notices", headers=world.admin)
    assert staff.status_code == 403 and staff.json()["code"] == "volunteers_only"


def test_a_claimed_sms_is_never_sent_again(world, rt, client, clock):
    """What a worker killed in the middle of sending leaves (`sending`): no job sends it again,
    and the sweep gives it up as `unknown` (tests/faults/test_notice_kill.py kills a real one)."""
    filing = world.apply(world.county.approval_team)
    client.post(f"/api/v1/filings/{filing}/approve", json={}, headers=world.admin)
    with rt.tx() as s:
        notice_id = s.scalar(select(Notice.id))
        assert notices.claim_sms(s, notice_id, now=clock.now(), tz=rt.settings.tz) is not None
    with rt.tx() as s:  # a second claim (another worker, the sweep) gets nothing
        assert notices.claim_sms(s, notice_id, now=clock.now(), tz=rt.settings.tz) is None
    assert drain(rt) == 1 and texts_sent(rt) == []  # its job ran and sent nothing
    assert jobs.send_due_notices() == 0 and kinds(rt) == [("filing_approved", "sending")]
    clock.at += notices.SENDING_GIVEN_UP + timedelta(minutes=1)
    jobs.send_due_notices()
    assert kinds(rt) == [("filing_approved", "unknown")] and texts_sent(rt) == []


class FailingSender:
    def send(self, phone, code):
        raise ConnectionError("gateway down")

    def notify(self, phone, text):
        raise ConnectionError("gateway down")


def test_a_sender_that_fails_is_not_tried_again(world, rt, client, monkeypatch):
    monkeypatch.setenv("LINLI_SMS_SENDER", f"{__name__}:FailingSender")
    filing = world.apply(world.county.approval_team)
    client.post(f"/api/v1/filings/{filing}/approve", json={}, headers=world.admin)
    assert drain(rt) == 1  # the job itself succeeds: the failure is recorded
    with rt.tx() as s:
        notice = s.scalar(select(Notice))
        assert (notice.sms_state, notice.sms_error) == ("failed", "ConnectionError: gateway down")
    assert jobs.send_due_notices() == 0
