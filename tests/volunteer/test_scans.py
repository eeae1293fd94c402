"""The scan door: check-in and check-out by card or station code, every refusal explained, double
taps, offline batches, forgotten check-outs, corrections (扫码签到签退)."""

import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import zxingcpp
from freezegun import freeze_time
from PIL import Image
from sqlalchemy import func, select

from linli.outbox import OutboxMessage
from scans.models import Scan
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
from volunteer.models import Attendance, AttendanceCorrection

START = datetime(2030, 6, 3, 2, 30, tzinfo=UTC)  # 10:30 in Asia/Shanghai; the activity runs to 13:00
PHONE = "13900000001"


class World:
    def __init__(self, client, rt):
        self.client, self.rt = client, rt
        self.county = make_county(rt)
        self.station = make_station(rt, self.county.org_a)
        self.other_station = make_station(rt, self.county.org_a, name="活动室")
        self.activity = make_activity(rt, self.county.org_a, self.station, START, hours=2.5, capacity=3)
        self.other_activity = make_activity(
            rt, self.county.org_a, self.other_station, START, title="探访长者"
        )
        staff_user(rt, "counter", "coordinator", org_id=self.county.org_a, station_id=self.station)
        staff_user(rt, "elsewhere", "coordinator", org_id=self.county.org_a, station_id=self.other_station)
        staff_user(rt, "admin_a", "admin", org_id=self.county.hub_a)
        self.volunteer_id = file_volunteer(rt, PHONE, self.county.open_team)

    def card(self, volunteer_id=None, version=1):
        return self.rt.codes.volunteer_card(volunteer_id or self.volunteer_id, version)

    def tablet(self, username="counter"):
        return {**staff_token(self.client, username), "x-device-id": "tablet-1"}

    def scan(self, payload, headers, station_id=None, scan_id=None, **extra):
        body = {
            "payload": payload,
            "station_id": self.station if station_id is None else station_id,
            "scan_id": scan_id or str(uuid.uuid4()),
            **extra,
        }
        r = self.client.post("/api/v1/scans", json=body, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def world(client, rt):
    return World(client, rt)


def count(rt, model, *where):
    with rt.tx() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_card_scan_checks_in_then_out_with_minutes(world):
    with freeze_time(START - timedelta(minutes=10)) as frozen:  # early: counted from the start
        tablet = world.tablet()
        first = world.scan(world.card(), tablet)
        assert first["outcome"] == "checked_in" and first["volunteer"]["name"] == "王秀英"
        assert first["message"].startswith("签到成功")
        frozen.tick(timedelta(seconds=30))
        again = world.scan(world.card(), tablet)  # a double tap
        assert again["outcome"] == "duplicate" and again["attendance_id"] == first["attendance_id"]
        frozen.tick(timedelta(hours=2, minutes=29, seconds=30))  # 12:50 local
        out = world.scan(world.card(), tablet)
        assert out["outcome"] == "checked_out" and out["minutes"] == 140  # 10:30 to 12:50
    with world.rt.tx() as s:
        a = s.scalar(select(Attendance))
        assert a.state == "closed" and a.minutes == 140 and a.checked_in_at == START
        event = s.scalar(select(OutboxMessage).where(OutboxMessage.queue == "points"))
        assert event.event == "attendance.closed" and event.args == [a.id]
    assert count(world.rt, Scan) == 3  # every scan is stored, the duplicate too


def test_phone_scans_the_rotating_station_code(world):
    with freeze_time(START + timedelta(minutes=5)) as frozen:
        me = volunteer_token(world.rt, PHONE)
        code = world.client.get(f"/api/v1/stations/{world.station}/code", headers=world.tablet()).json()
        assert code["payload"].startswith("HTTP://")
        r = world.scan(code["payload"], me, station_id=None)
        assert r["outcome"] == "checked_in" and r["station_id"] == world.station
        photo = code["payload"]
        frozen.tick(timedelta(seconds=65))  # the photo sent home is now two steps old
        r = world.scan(photo, me, station_id=None)
        assert r["outcome"] == "rejected" and r["reason"] == "expired_code"


def test_station_code_png_decodes_to_an_accepted_payload(world):
    with freeze_time(START + timedelta(minutes=5)):
        png = world.client.get(f"/api/v1/stations/{world.station}/code.png", headers=world.tablet()).content
        [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
        r = world.scan(found.text, volunteer_token(world.rt, PHONE), station_id=None)
    assert r["outcome"] == "checked_in"


def test_my_card_png_and_reissue_revokes_the_old_card(world):
    me = volunteer_token(world.rt, PHONE)
    png = world.client.get("/api/v1/me/card.png", headers=me).content
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found.text == world.card()
    assert world.client.get("/api/v1/me/card.svg", headers=me).headers["content-type"].startswith("image/svg")
    new = world.client.post("/api/v1/me/card/reissue", headers=me).json()
    assert new["card_version"] == 2
    with freeze_time(START + timedelta(minutes=5)):
        tablet = world.tablet()
        assert world.scan(found.text, tablet)["reason"] == "revoked_card"
        assert world.scan(new["payload"], tablet)["outcome"] == "checked_in"


@pytest.mark.parametrize(
    "payload",
    [
        "hello",
        "",
        "HTTP://127.0.0.1:8000/Q/V.K1.AAAAAAAAAA",
        "x" * 5000,
        "HTTP://127.0.0.1:8000/Q/V.K9.AAAAAAAAAA.AAAAAAAAAAAAAAAA",
    ],
)
def test_codes_not_ours_are_rejected_stored_and_answered_200(world, payload):
    with freeze_time(START + timedelta(minutes=5)):
        r = world.scan(payload, world.tablet())
    assert r["outcome"] == "rejected" and r["reason"] == "invalid_code"
    with world.rt.tx() as s:
        row = s.scalar(select(Scan))
        assert row.reason == "invalid_code" and len(row.payload) <= 300 and row.device.endswith("tablet-1")


def test_one_character_altered_is_invalid(world):
    card = world.card()
    altered = card[:-3] + ("A" if card[-3] != "A" else "B") + card[-2:]
    with freeze_time(START + timedelta(minutes=5)):
        assert world.scan(altered, world.tablet())["reason"] == "invalid_code"


def test_each_refusal_reason(world):
    rt, _county = world.rt, world.county
    with freeze_time(START - timedelta(hours=2)):
        assert world.scan(world.card(), world.tablet())["reason"] == "outside_window"
    with freeze_time(START + timedelta(minutes=5)):
        tablet = world.tablet()
        assert world.scan(world.card(volunteer_id=999999), tablet)["reason"] == "unknown_person"
        register(world.client, phone="13900000009")
        with rt.tx() as s:
            from volunteer import service

            unfiled = service.find_by_phone(s, "13900000009").id
        assert world.scan(world.card(volunteer_id=unfiled), tablet)["reason"] == "not_filed"
        # the other station's coordinator may not scan at this one
        assert world.scan(world.card(), world.tablet("elsewhere"))["reason"] == "not_allowed_here"
        # checked in at the other station, then scanned here
        world.scan(world.card(), world.tablet("elsewhere"), station_id=world.other_station)
        assert world.scan(world.card(), tablet)["reason"] == "checked_in_elsewhere"
        # a volunteer's phone cannot scan someone's card
        r = world.scan(world.card(), volunteer_token(rt, PHONE))
        assert r["reason"] == "not_allowed_here"


def test_sign_up_only_and_capacity_full(world):
    rt, county = world.rt, world.county
    closed = make_station(rt, county.org_a, name="课堂")
    strict = make_activity(rt, county.org_a, closed, START, capacity=1, walk_ins=False, title="周末课堂")
    staff_user(rt, "teacher", "admin", org_id=county.org_a)
    with freeze_time(START + timedelta(minutes=5)):
        tablet = world.tablet("teacher")
        assert world.scan(world.card(), tablet, station_id=closed)["reason"] == "not_signed_up"
        # walk-ins fill the capacity of the counter's activity (3)
        ids = [file_volunteer(rt, f"1390000010{i}", county.open_team) for i in range(3)]
        for vid in ids:
            assert world.scan(world.card(volunteer_id=vid), world.tablet())["outcome"] == "checked_in"
        assert world.scan(world.card(), world.tablet())["reason"] == "capacity_full"
    assert strict


def test_malformed_body_is_422(world):
    tablet = world.tablet()
    r = world.client.post("/api/v1/scans", json={"payload": "x", "scan_id": "not-a-uuid"}, headers=tablet)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "scan_id"
    r = world.client.post("/api/v1/scans", json={"payload": 5}, headers=tablet)
    assert r.status_code == 422
    assert count(world.rt, Scan) == 0


def test_same_scan_id_twice_returns_the_same_answer(world):
    with freeze_time(START + timedelta(minutes=5)) as frozen:
        tablet = world.tablet()
        sid = str(uuid.uuid4())
        first = world.scan(world.card(), tablet, scan_id=sid)
        frozen.tick(timedelta(minutes=5))
        assert world.scan(world.card(), tablet, scan_id=sid) == first
    assert count(world.rt, Scan) == 1


def test_fifty_concurrent_identical_scans_make_one_attendance(world, live_server):
    headers = world.tablet()
    card = world.card()
    # the live server judges at real time: move the activity around now
    from volunteer import activities

    now = datetime.now(UTC)
    with world.rt.tx() as s:
        activities.move(
            s,
            world.activity,
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(hours=2),
            station_id=None,
            admin_paths=["/"],
            now=now,
        )

    def tap(_):
        with httpx.Client(base_url=live_server.url, timeout=60) as c:
            r = c.post(
                "/api/v1/scans",
                headers=headers,
                json={"payload": card, "station_id": world.station, "scan_id": str(uuid.uuid4())},
            )
            assert r.status_code == 200, r.text
            return r.json()["outcome"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(tap, range(50)))
    assert outcomes.count("checked_in") == 1 and outcomes.count("duplicate") == 49
    assert count(world.rt, Attendance) == 1


def test_a_double_tap_is_answered_while_the_volunteer_is_locked(world, clock, settings):
    """A duplicate needs no lock (`checkin.scan_online`): while another transaction holds
    the volunteer's row (as a scan being judged does), the double tap is still answered at once."""
    if settings.is_sqlite:
        pytest.skip("SQLite has one writer for the whole database: nothing to hold apart")
    clock.at = START + timedelta(minutes=5)
    tablet = world.tablet()
    first = world.scan(world.card(), tablet)
    clock.at += timedelta(seconds=20)
    holder = world.rt.engine.connect()  # a scan of the volunteer being judged: their lock, as it takes it
    holder.exec_driver_sql(f"SELECT id FROM volunteers WHERE id = {world.volunteer_id} FOR NO KEY UPDATE")
    pool = ThreadPoolExecutor(1)
    tap = pool.submit(world.scan, world.card(), tablet)
    try:
        again = tap.result(timeout=10)  # would wait for the lock if it needed it
    finally:
        holder.rollback()
        holder.close()
        pool.shutdown()
    assert again["outcome"] == "duplicate" and again["earlier_scan_id"] == first["scan_id"]
    assert again["attendance_id"] == first["attendance_id"]
    with world.rt.tx() as s:
        stored = s.scalar(select(Scan).where(Scan.scan_id == again["scan_id"]))
        assert (stored.outcome, stored.attendance_id, stored.offline) == (
            "duplicate",
            first["attendance_id"],
            False,
        )


def _hold_volunteer_and_scan(world, tablet):
    """The volunteer's row held by another transaction (as a scan being judged, an offline batch or
    the forgotten check-out job holds it) while a card scan runs in a thread, until that scan waits
    for the lock. Returns the holding connection, the thread pool, the scan's future and the
    statement that waits."""
    holder = world.rt.engine.connect()
    holder.exec_driver_sql(f"SELECT id FROM volunteers WHERE id = {world.volunteer_id} FOR NO KEY UPDATE")
    pool = ThreadPoolExecutor(1)
    tap = pool.submit(world.scan, world.card(), tablet)
    waiting = (
        "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(200):
        with world.rt.engine.connect() as c:
            statement = c.exec_driver_sql(waiting).scalar()
        if statement is not None:
            return holder, pool, tap, statement
        assert not tap.done(), tap.result()
        time.sleep(0.05)
    raise AssertionError("the scan never waited for the volunteer's lock")


def _sign_up(world):
    from volunteer import activities

    with world.rt.tx() as s:
        signup = activities.sign_up(
            s, activity_id=world.activity, volunteer_id=world.volunteer_id, now=START - timedelta(days=1)
        )
        assert signup.status == "confirmed"


def test_a_signed_up_volunteer_checks_in_and_out_with_every_answer_stored(world, clock):
    """The counter's commonest scans (a signed-up volunteer's check-in, double tap and check-out;
    on PostgreSQL each written in one statement, `checkin._settle`): the stored answers name the
    attendance, so a double tap repeats it, and the check-out sends one event to the ledger."""
    _sign_up(world)
    clock.at = START + timedelta(minutes=5)
    tablet = world.tablet()
    first = world.scan(world.card(), tablet)
    assert first["outcome"] == "checked_in" and first["attendance_id"] is not None
    assert first["activity"]["id"] == world.activity
    assert (
        first["activity"]["starts_at"] == START.isoformat()
    )  # in UTC, whatever the database session's time zone
    clock.at += timedelta(seconds=30)
    again = world.scan(world.card(), tablet)
    assert (again["outcome"], again["attendance_id"]) == ("duplicate", first["attendance_id"])
    clock.at += timedelta(minutes=40)
    out = world.scan(world.card(), tablet)
    assert (out["outcome"], out["attendance_id"], out["minutes"]) == (
        "checked_out",
        first["attendance_id"],
        40,
    )
    with world.rt.tx() as s:
        stored = {r.scan_id: r for r in s.scalars(select(Scan))}
        attendance = s.get(Attendance, first["attendance_id"])
    for answer in (first, again, out):  # what is stored is what was answered (the API adds empty fields)
        result = stored[answer["scan_id"]].result
        assert result == {k: answer[k] for k in result} and result["attendance_id"] == first["attendance_id"]
    assert [stored[a["scan_id"]].attendance_id for a in (first, again, out)] == [first["attendance_id"]] * 3
    assert (attendance.state, attendance.minutes, attendance.checked_out_at) == ("closed", 40, clock.at)
    job = f"attendance-closed-{first['attendance_id']}"
    assert count(world.rt, OutboxMessage, OutboxMessage.job_id == job) == 1


def test_a_check_out_whose_attendance_closed_meanwhile_is_judged_again_under_the_lock(world, clock, settings):
    """A check-out is decided on a read without the volunteer's lock (`checkin.scan_online`) and its
    write takes the lock. The attendance was closed meanwhile by the transaction holding the lock:
    it is not closed a second time, no second event goes to the ledger, and the scan is judged
    again under the lock on what is there now (no open attendance: a check-in)."""
    if settings.is_sqlite:
        pytest.skip("SQLite has one writer for the whole database: nothing changes between read and write")
    clock.at = START + timedelta(minutes=5)
    tablet = world.tablet()
    first = world.scan(world.card(), tablet)
    assert first["outcome"] == "checked_in"
    clock.at += timedelta(minutes=30)
    holder, pool, tap, waiting = _hold_volunteer_and_scan(world, tablet)
    assert waiting.startswith("WITH closed AS")  # the check-out's write, decided on the read without the lock
    try:
        holder.exec_driver_sql(
            "UPDATE attendances SET state = 'auto_closed', minutes = 7, checked_out_at = checked_in_at, "
            f"flagged = true WHERE id = {first['attendance_id']}"
        )
        holder.commit()
        answer = tap.result(timeout=10)
    finally:
        holder.close()
        pool.shutdown()
    assert answer["outcome"] == "checked_in" and answer["attendance_id"] != first["attendance_id"]
    with world.rt.tx() as s:
        closed = s.get(Attendance, first["attendance_id"])
        assert (closed.state, closed.minutes) == ("auto_closed", 7)
    job = f"attendance-closed-{first['attendance_id']}"
    assert count(world.rt, OutboxMessage, OutboxMessage.job_id == job) == 0
    assert count(world.rt, Attendance, Attendance.state == "open") == 1


def test_a_check_in_yields_to_an_attendance_opened_while_it_waited(world, clock, settings):
    """A check-in decided without the volunteer's lock (`checkin.scan_online`) waits for it in its
    write; meanwhile the volunteer was checked in at another station. The unique index on a
    volunteer's open attendance refuses the second one, and the scan, judged again under the
    lock, is `checked_in_elsewhere`."""
    if settings.is_sqlite:
        pytest.skip("SQLite has one writer for the whole database: nothing changes between read and write")
    clock.at = START + timedelta(minutes=5)
    _sign_up(world)  # a walk-in is judged in full: its place is counted under the activity's lock
    holder, pool, tap, waiting = _hold_volunteer_and_scan(world, world.tablet())
    assert waiting.startswith("WITH opened AS")  # the check-in's write, decided on the read without the lock
    try:
        holder.exec_driver_sql(
            "INSERT INTO attendances (activity_id, volunteer_id, station_id, state, checked_in_at, flagged, "
            f"created_at) VALUES ({world.other_activity}, {world.volunteer_id}, {world.other_station}, 'open', "
            "now(), false, now())"
        )
        holder.commit()
        answer = tap.result(timeout=10)
    finally:
        holder.close()
        pool.shutdown()
    assert (answer["outcome"], answer["reason"]) == ("rejected", "checked_in_elsewhere")
    assert count(world.rt, Attendance) == 1
    with world.rt.tx() as s:
        stored = s.scalar(select(Scan).where(Scan.scan_id == answer["scan_id"]))
        assert (stored.outcome, stored.reason, stored.attendance_id) == (
            "rejected",
            "checked_in_elsewhere",
            None,
        )


def test_concurrent_check_in_at_two_stations_one_wins(world, live_server):
    from volunteer import activities

    now = datetime.now(UTC)
    with world.rt.tx() as s:
        for a in (world.activity, world.other_activity):
            activities.move(
                s,
                a,
                starts_at=now - timedelta(minutes=5),
                ends_at=now + timedelta(hours=2),
                station_id=None,
                admin_paths=["/"],
                now=now,
            )
    pairs = [(world.tablet(), world.station), (world.tablet("elsewhere"), world.other_station)] * 5
    card = world.card()

    def tap(pair):
        headers, station = pair
        with httpx.Client(base_url=live_server.url, timeout=60) as c:
            return c.post(
                "/api/v1/scans",
                headers=headers,
                json={"payload": card, "station_id": station, "scan_id": str(uuid.uuid4())},
            ).json()

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(tap, pairs))
    assert [a["outcome"] for a in answers].count("checked_in") == 1
    assert {a["reason"] for a in answers if a["outcome"] == "rejected"} <= {"checked_in_elsewhere"}
    assert count(world.rt, Attendance) == 1


def test_offline_batch_in_time_order_and_replay_is_idempotent(world, clock):
    card = world.card()
    scans = [  # sent out of order: the check-out first
        {
            "payload": card,
            "station_id": world.station,
            "scan_id": str(uuid.uuid4()),
            "scanned_at": (START + timedelta(hours=2)).isoformat(),
        },
        {
            "payload": card,
            "station_id": world.station,
            "scan_id": str(uuid.uuid4()),
            "scanned_at": (START + timedelta(minutes=1)).isoformat(),
        },
        {
            "payload": "garbage",
            "station_id": world.station,
            "scan_id": str(uuid.uuid4()),
            "scanned_at": (START + timedelta(minutes=2)).isoformat(),
        },
    ]
    clock.at = START + timedelta(hours=3)
    if True:
        tablet = world.tablet()
        first = world.client.post("/api/v1/scans/batch", json={"scans": scans}, headers=tablet)
        assert first.status_code == 200, first.text
        results = first.json()["results"]
        assert [r["outcome"] for r in results] == ["checked_out", "checked_in", "rejected"]
        assert results[0]["minutes"] == 119
        again = world.client.post("/api/v1/scans/batch", json={"scans": scans}, headers=tablet)
        assert again.json() == first.json()
        # a batch cut off halfway and sent again whole: the same final state
        half = world.client.post("/api/v1/scans/batch", json={"scans": scans[:1]}, headers=tablet)
        assert half.json()["results"][0] == results[0]
    assert count(world.rt, Attendance) == 1 and count(world.rt, Scan) == 3


def test_batch_scans_more_than_a_day_late_are_flagged_not_applied(world, clock):
    scan = {
        "payload": world.card(),
        "station_id": world.station,
        "scan_id": str(uuid.uuid4()),
        "scanned_at": (START + timedelta(minutes=5)).isoformat(),
    }
    clock.at = START + timedelta(days=2)
    r = world.client.post("/api/v1/scans/batch", json={"scans": [scan]}, headers=world.tablet())
    assert r.json()["results"][0]["reason"] == "late_upload"
    with world.rt.tx() as s:
        assert s.scalar(select(Scan.flagged)) is True
    assert count(world.rt, Attendance) == 0


def test_batch_needs_staff_and_scan_times(world):
    me = volunteer_token(world.rt, PHONE)
    r = world.client.post("/api/v1/scans/batch", json={"scans": []}, headers=me)
    assert r.status_code == 403
    r = world.client.post("/api/v1/scans/batch", json={"scans": [{"payload": "x"}]}, headers=world.tablet())
    assert r.status_code == 422


def test_forgotten_check_out_is_closed_capped_and_flagged(world):
    from tests.fixtures.runtime import drain

    with freeze_time(START + timedelta(minutes=10)) as frozen:
        world.scan(world.card(), world.tablet())
        frozen.tick(timedelta(hours=3))  # past the end plus the 30-minute grace
        from workers.jobs import close_forgotten_checkouts

        assert close_forgotten_checkouts() == 1
        drain(world.rt)
        flagged = world.client.get("/api/v1/attendances?flagged=true", headers=world.tablet("admin_a")).json()
    [a] = flagged["items"]
    assert a["state"] == "auto_closed" and a["minutes"] == 140 and a["flag_reason"] == "forgot_checkout"


def test_corrections_are_new_records_and_events(world):
    with freeze_time(START + timedelta(minutes=10)) as frozen:
        tablet = world.tablet()
        first = world.scan(world.card(), tablet)
        r = world.client.post(
            f"/api/v1/attendances/{first['attendance_id']}/correct",
            json={"minutes": 60, "reason": "x"},
            headers=tablet,
        )
        assert r.status_code == 409 and r.json()["code"] == "attendance_open"
        frozen.tick(timedelta(hours=1))
        world.scan(world.card(), tablet)
        r = world.client.post(
            f"/api/v1/attendances/{first['attendance_id']}/correct",
            json={"minutes": 90, "reason": ""},
            headers=tablet,
        )
        assert r.status_code == 422
        r = world.client.post(
            f"/api/v1/attendances/{first['attendance_id']}/correct",
            json={"minutes": 90, "reason": "忘记扫码，实际服务到12点"},
            headers=tablet,
        )
        assert r.status_code == 201 and r.json()["minutes_before"] == 60 and r.json()["minutes_after"] == 90
        r = world.client.post(
            f"/api/v1/attendances/{first['attendance_id']}/annul", json={"reason": "重复登记"}, headers=tablet
        )
        assert r.status_code == 201 and r.json()["annulled"] is True
        r = world.client.post(
            f"/api/v1/attendances/{first['attendance_id']}/annul", json={"reason": "again"}, headers=tablet
        )
        assert r.status_code == 409
    assert count(world.rt, AttendanceCorrection) == 2
    assert count(world.rt, OutboxMessage, OutboxMessage.event == "attendance.corrected") == 2


def test_staff_views_present_and_roster(world):
    with freeze_time(START + timedelta(minutes=10)):
        tablet = world.tablet()
        world.scan(world.card(), tablet)
        present = world.client.get(f"/api/v1/stations/{world.station}/present", headers=tablet).json()
        assert [a["volunteer_name"] for a in present["items"]] == ["王秀英"]
        roster = world.client.get(f"/api/v1/stations/{world.station}/roster", headers=tablet).json()["items"]
        assert (
            roster[0]["activity"]["id"] == world.activity and roster[0]["attendances"][0]["state"] == "open"
        )
        r = world.client.get(f"/api/v1/stations/{world.other_station}/present", headers=tablet)
        assert r.status_code == 403


def test_scans_succeed_with_redis_down(world, rt):
    from litestar.testing import TestClient

    from api.app import create_app
    from linli.queue import redis_from_url
    from linli.runtime import Runtime
    from tests.fixtures.runtime import NO_REDIS

    broken = Runtime(rt.settings, redis=redis_from_url(NO_REDIS))
    with freeze_time(START + timedelta(minutes=10)) as frozen, TestClient(app=create_app(broken)) as c:
        headers = {**staff_token(c, "counter")}
        for expected in ("checked_in", "checked_out"):
            r = c.post(
                "/api/v1/scans",
                headers=headers,
                json={"payload": world.card(), "station_id": world.station, "scan_id": str(uuid.uuid4())},
            )
            assert r.status_code == 200 and r.json()["outcome"] == expected
            frozen.tick(timedelta(minutes=30))
    broken.close()


def test_card_sheet_for_a_team_is_made_by_a_worker_job(world):
    from tests.fixtures.runtime import drain

    admin = world.tablet("admin_a")
    r = world.client.post(f"/api/v1/teams/{world.county.open_team}/card-sheets", headers=admin)
    assert r.status_code == 202 and r.json()["status"] == "pending"
    file_id = r.json()["id"]
    assert world.client.get(f"/api/v1/files/{file_id}/content", headers=admin).status_code == 409
    assert drain(world.rt) == 1
    assert world.client.get(f"/api/v1/files/{file_id}", headers=admin).json()["status"] == "ready"
    sheet = world.client.get(f"/api/v1/files/{file_id}/content", headers=admin)
    assert "size:A4" in sheet.text and "王秀英" in sheet.text and sheet.text.count("<svg") == 1
    assert world.client.get(f"/api/v1/files/{file_id}", headers=world.tablet()).status_code == 404


def test_previous_step_code_is_still_accepted(world):
    other = file_volunteer(world.rt, "13900000077", world.county.open_team, name="李建国")
    assert other
    with freeze_time(START + timedelta(minutes=5, seconds=1)) as frozen:  # early in a 30-second step
        code = world.client.get(f"/api/v1/stations/{world.station}/code", headers=world.tablet()).json()
        frozen.tick(timedelta(seconds=30))  # the next step: the code shown a moment ago still works
        r = world.scan(code["payload"], volunteer_token(world.rt, "13900000077"), station_id=None)
    assert r["outcome"] == "checked_in" and r["volunteer"]["name"] == "李建国"


# --- found in review ------------------------------------------------------------------------------


def test_walk_ins_and_sign_ups_share_the_capacity_and_a_return_keeps_its_place(world):
    rt, county = world.rt, world.county
    counter = make_station(rt, county.org_a, name="小灶")
    activity = make_activity(rt, county.org_a, counter, START, capacity=2, title="小灶助餐")
    signed = file_volunteer(rt, "13900000201", county.open_team)
    with rt.tx() as s:
        from volunteer import activities

        activities.sign_up(s, activity_id=activity, volunteer_id=signed, now=rt.clock.now())
    walkers = [file_volunteer(rt, f"1390000030{i}", county.open_team) for i in range(2)]
    staff_user(rt, "small", "coordinator", org_id=county.org_a, station_id=counter)
    with freeze_time(START + timedelta(minutes=5)) as frozen:
        tablet = world.tablet("small")
        assert (
            world.scan(world.card(volunteer_id=walkers[0]), tablet, station_id=counter)["outcome"]
            == "checked_in"
        )
        # one confirmed sign-up and one walk-in fill capacity 2
        assert (
            world.scan(world.card(volunteer_id=walkers[1]), tablet, station_id=counter)["reason"]
            == "capacity_full"
        )
        assert (
            world.scan(world.card(volunteer_id=signed), tablet, station_id=counter)["outcome"] == "checked_in"
        )
        frozen.tick(timedelta(minutes=2))
        assert (
            world.scan(world.card(volunteer_id=walkers[0]), tablet, station_id=counter)["outcome"]
            == "checked_out"
        )
        frozen.tick(timedelta(minutes=2))  # back from an errand: the place is still theirs
        assert (
            world.scan(world.card(volunteer_id=walkers[0]), tablet, station_id=counter)["outcome"]
            == "checked_in"
        )


def test_admins_book_only_their_own_or_shared_stations(world):
    rt, county = world.rt, world.county
    staff_user(rt, "admin_b", "admin", org_id=county.hub_b)
    body = {
        "org_id": county.org_b,
        "station_id": world.station,
        "title": "借用场地",
        "kind": "other",
        "capacity": 3,
        "starts_at": (START + timedelta(days=1)).isoformat(),
        "ends_at": (START + timedelta(days=1, hours=1)).isoformat(),
    }
    r = world.client.post("/api/v1/activities", json=body, headers=staff_token(world.client, "admin_b"))
    assert r.status_code == 403 and r.json()["code"] == "outside_your_scope"
    shared = make_station(rt, county.hub_a, name="社区活动中心", shared=True)
    r = world.client.post(
        "/api/v1/activities",
        json={**body, "station_id": shared},
        headers=staff_token(world.client, "admin_b"),
    )
    assert r.status_code == 201


def test_scan_at_an_unknown_station_is_stored_and_refused(world):
    with freeze_time(START + timedelta(minutes=5)):
        r = world.scan(world.card(), world.tablet(), station_id=424242)
        assert r["outcome"] == "rejected" and r["reason"] == "not_allowed_here" and r["station_id"] is None
        r = world.scan("garbage", volunteer_token(world.rt, PHONE), station_id=424242)
        assert r["reason"] == "invalid_code"
    assert count(world.rt, Scan) == 2


def test_an_offline_scan_from_before_the_check_in_does_not_close_it(world, clock):
    clock.at = START + timedelta(minutes=10)
    tablet = world.tablet()
    world.scan(world.card(), tablet)  # online check-in at 10:40
    late = {
        "payload": world.card(),
        "station_id": world.station,
        "scan_id": str(uuid.uuid4()),
        "scanned_at": (START + timedelta(minutes=2)).isoformat(),
    }
    clock.at = START + timedelta(minutes=20)
    r = world.client.post("/api/v1/scans/batch", json={"scans": [late]}, headers=tablet).json()
    assert r["results"][0]["outcome"] == "duplicate"
    with world.rt.tx() as s:
        assert s.scalar(select(Attendance.state)) == "open"


def test_a_double_tap_uploaded_after_later_scans_is_still_a_duplicate(world, clock):
    """The other station's tablet uploads first (the volunteer's later session there); then this
    station's batch with a double tap: it repeats the check-in, it does not check out."""

    def scans(station, *minutes):
        return [
            {
                "payload": world.card(),
                "station_id": station,
                "scan_id": str(uuid.uuid4()),
                "scanned_at": (START + timedelta(minutes=m)).isoformat(),
            }
            for m in minutes
        ]

    clock.at = START + timedelta(hours=3)
    later = world.client.post(
        "/api/v1/scans/batch",
        json={"scans": scans(world.other_station, 60, 120)},
        headers=world.tablet("elsewhere"),
    ).json()["results"]
    assert [r["outcome"] for r in later] == ["checked_in", "checked_out"]
    here = world.client.post(
        "/api/v1/scans/batch", json={"scans": scans(world.station, 2, 2.5, 30)}, headers=world.tablet()
    ).json()["results"]
    assert [(r["outcome"], r["minutes"]) for r in here] == [
        ("checked_in", None),
        ("duplicate", None),
        ("checked_out", 28),
    ]


def _offline(world, *minutes, station=None):
    return [
        {
            "payload": world.card(),
            "station_id": station or world.station,
            "scan_id": str(uuid.uuid4()),
            "scanned_at": (START + timedelta(minutes=m)).isoformat(),
        }
        for m in minutes
    ]


def _upload(world, scans, device):
    headers = {**world.tablet(), "x-device-id": device}
    r = world.client.post("/api/v1/scans/batch", json={"scans": scans}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_a_session_split_across_two_offline_tablets_ends_as_if_uploaded_in_time_order(world, clock):
    """Checked in on one offline tablet at 10:32, out on the other at 12:30; the second uploads
    first. When the check-in arrives, the check-out is judged again after it."""
    check_in, check_out = _offline(world, 2), _offline(world, 120)
    clock.at = START + timedelta(hours=3)
    first = _upload(world, check_out, "tablet-2")
    assert first[0]["outcome"] == "checked_in"  # all it knows yet
    assert _upload(world, check_in, "tablet-1")[0]["outcome"] == "checked_in"
    again = _upload(world, check_out, "tablet-2")  # sent again: the answer it has now
    assert (again[0]["outcome"], again[0]["minutes"]) == ("checked_out", 118)
    with world.rt.tx() as s:
        [a] = s.scalars(select(Attendance)).all()
        assert (a.state, a.minutes, a.checked_in_at) == ("closed", 118, START + timedelta(minutes=2))
        assert s.scalar(select(func.count()).select_from(Scan).where(Scan.attendance_id == a.id)) == 2
        events = s.scalars(select(OutboxMessage.args).where(OutboxMessage.queue == "points")).all()
        assert events == [[a.id]]  # closed once, for the ledger


def test_an_earlier_offline_scan_after_the_session_closed_is_held_for_review(world, clock):
    """The other tablet's session (12:30 to 12:50) closed and went to the ledger before this
    tablet's 10:32 scan arrived: that scan makes no second attendance; both are flagged."""
    clock.at = START + timedelta(hours=3)
    later = _upload(world, _offline(world, 120, 140), "tablet-2")
    assert [(r["outcome"], r["minutes"]) for r in later] == [("checked_in", None), ("checked_out", 20)]
    [held] = _upload(world, _offline(world, 2), "tablet-1")
    assert (held["outcome"], held["reason"]) == ("rejected", "held_for_review")
    assert held["message"].startswith("此前的离线扫码")
    with world.rt.tx() as s:
        [a] = s.scalars(select(Attendance)).all()
        assert (a.minutes, a.flagged, a.flag_reason) == (20, True, "earlier_offline_scan")
        assert s.scalar(select(Scan.flagged).where(Scan.scan_id == held["scan_id"])) is True


def test_a_tap_out_on_both_tablets_after_the_session_closed_is_held_not_a_second_session(world, clock):
    """Tablet 2 has the whole session (10:40 to 12:10:30, closed); tablet 1's tap out at 12:10
    arrives after: within that session, so it is held for review, not a new check-in."""
    clock.at = START + timedelta(hours=3)
    whole = _upload(world, _offline(world, 10, 100.5), "tablet-2")
    assert [(r["outcome"], r["minutes"]) for r in whole] == [("checked_in", None), ("checked_out", 90)]
    [tap] = _upload(world, _offline(world, 100), "tablet-1")
    assert (tap["outcome"], tap["reason"]) == ("rejected", "held_for_review")
    with world.rt.tx() as s:
        [a] = s.scalars(select(Attendance)).all()
        assert (a.minutes, a.flagged) == (90, True)


def test_an_online_refusal_does_not_stop_offline_scans_being_put_in_order(world, clock):
    """Tablet 2's offline check-in at 11:30 arrives first; an online tablet at the other station is
    then refused (checked in elsewhere); tablet 1's 10:32 and 11:00 arrive last. In time order
    they are a session of 28 minutes and 11:30 a new check-in; the online refusal stands."""
    clock.at = START + timedelta(minutes=62)
    late = _offline(world, 60)
    assert _upload(world, late, "tablet-2")[0]["outcome"] == "checked_in"
    clock.at = START + timedelta(minutes=65)
    online = world.scan(world.card(), world.tablet("elsewhere"), station_id=world.other_station)
    assert online["reason"] == "checked_in_elsewhere"
    clock.at = START + timedelta(minutes=70)
    early = _upload(world, _offline(world, 2, 30), "tablet-1")
    assert [(r["outcome"], r["minutes"]) for r in early] == [("checked_in", None), ("checked_out", 28)]
    [again] = _upload(world, late, "tablet-2")  # judged again after the session before it
    assert again["outcome"] == "checked_in" and again["attendance_id"] != early[0]["attendance_id"]
    with world.rt.tx() as s:
        states = sorted((a.state, a.minutes) for a in s.scalars(select(Attendance)))
        assert states == [("closed", 28), ("open", None)]
        assert (
            s.scalar(select(Scan.reason).where(Scan.scan_id == online["scan_id"])) == "checked_in_elsewhere"
        )


def test_an_online_answer_stands_when_an_earlier_offline_scan_arrives(world, clock):
    """A phone's check-in at 10:40 was shown at once; the tablet's offline 10:32 scan of the same
    volunteer, uploaded at 10:50, does not turn it into a check-out."""
    clock.at = START + timedelta(minutes=10)
    online = world.scan(world.card(), world.tablet())
    clock.at = START + timedelta(minutes=20)
    [late] = _upload(world, _offline(world, 2), "tablet-2")
    assert late["outcome"] == "duplicate" and late["attendance_id"] == online["attendance_id"]
    with world.rt.tx() as s:
        assert s.scalar(select(Scan.outcome).where(Scan.scan_id == online["scan_id"])) == "checked_in"


def test_batch_rejects_bad_ids_and_times_before_writing_anything(world, clock):
    clock.at = START + timedelta(minutes=10)
    good = {
        "payload": world.card(),
        "station_id": world.station,
        "scan_id": str(uuid.uuid4()),
        "scanned_at": (START + timedelta(minutes=5)).isoformat(),
    }
    for bad in (
        {"scan_id": "urn:uuid:" + "-" * 80 + str(uuid.uuid4())},
        {"scanned_at": "9999-12-31T23:59:59-01:00"},
        {"scanned_at": "0001-01-01T00:00:00+01:00"},
    ):
        r = world.client.post(
            "/api/v1/scans/batch", json={"scans": [good, {**good, **bad}]}, headers=world.tablet()
        )
        assert r.status_code == 422, r.text
    assert count(world.rt, Scan) == 0
    # one UUID spelt two ways is one scan
    braces = "{" + good["scan_id"].upper() + "}"
    first = world.client.post("/api/v1/scans/batch", json={"scans": [good]}, headers=world.tablet()).json()
    again = world.client.post(
        "/api/v1/scans/batch", json={"scans": [{**good, "scan_id": braces}]}, headers=world.tablet()
    ).json()
    assert again == first and count(world.rt, Scan) == 1


def test_query_times_are_checked(world):
    tablet = world.tablet()
    for query in ("starts_from=2026-01-01T10:00:00", "starts_from=0001-01-01T00:00:00%2B01:00"):
        assert world.client.get(f"/api/v1/activities?{query}", headers=tablet).status_code == 422
    r = world.client.get(f"/api/v1/stations/{world.station}/roster?day=0001-01-01", headers=tablet)
    assert r.status_code == 422
    assert world.client.get("/api/v1/activities?cursor=%C2%B2", headers=tablet).status_code == 422


def test_a_coordinator_bound_to_a_station_corrects_only_there(world):
    with freeze_time(START + timedelta(minutes=10)) as frozen:
        a = world.scan(world.card(), world.tablet("elsewhere"), station_id=world.other_station)
        frozen.tick(timedelta(minutes=5))
        world.scan(world.card(), world.tablet("elsewhere"), station_id=world.other_station)
        r = world.client.post(
            f"/api/v1/attendances/{a['attendance_id']}/annul", json={"reason": "试试"}, headers=world.tablet()
        )  # the counter's coordinator, bound to the other station
        assert r.status_code == 403
        r = world.client.post(
            f"/api/v1/attendances/{a['attendance_id']}/annul",
            json={"reason": "重复"},
            headers=world.tablet("elsewhere"),
        )
        assert r.status_code == 201
        listed = world.client.get("/api/v1/attendances", headers=world.tablet()).json()["items"]
        assert listed == []
