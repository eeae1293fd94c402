"""The lock-free path and the full judgement agree (快速路径与完整判定一致): the same scan
sequences, one volunteer's through the door as it runs (`door.scan_online`: on PostgreSQL the
lock-free path settles check-ins, double taps and check-outs) and a twin's through the full
judgement alone (`door.scan_in_full`), give the same answers and store the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from linli.outbox import OutboxMessage
from scans import door
from scans.models import Scan
from scans.schemas import Device, ScanInput
from tests.fixtures.builders import file_volunteer, make_activity, make_county, make_station
from volunteer import activities
from volunteer.models import Attendance

START = datetime(2030, 6, 3, 2, 30, tzinfo=UTC)  # 10:30 in Asia/Shanghai; the activity runs to 13:00

# (minutes after the start, what is scanned, where): "card" a tablet scans the volunteer's card,
# "code" the volunteer's phone scans the station's code; "here" the activity's station, "there" another
SEQUENCES = {
    "in, double tap, out, double tap, in again": [
        (5, "card", "here"),
        (5.5, "card", "here"),
        (45, "card", "here"),
        (45.3, "card", "here"),
        (50, "card", "here"),
    ],
    "early in, out after the end (minutes within the window)": [
        (-10, "card", "here"),
        (170, "card", "here"),
    ],
    "phone codes: in, double tap, out": [(1, "code", "here"), (1.2, "code", "here"), (60, "code", "here")],
    "a card at another station while checked in": [
        (5, "card", "here"),
        (5.2, "card", "there"),
        (20, "card", "there"),
        (30, "card", "here"),
    ],
    "outside the window, then in": [(-60, "card", "here"), (0, "card", "here")],
}


@pytest.fixture
def twins(rt):
    county = make_county(rt)
    here = make_station(rt, county.org_a)
    there = make_station(rt, county.org_a, name="活动室")
    activity = make_activity(rt, county.org_a, here, START, hours=2.5, capacity=3)
    make_activity(rt, county.org_a, there, START + timedelta(hours=1), title="探访长者")
    volunteers = [file_volunteer(rt, phone, county.open_team) for phone in ("13900000001", "13900000002")]
    with rt.tx() as s:
        for v in volunteers:
            activities.sign_up(s, activity_id=activity, volunteer_id=v, now=START - timedelta(days=1))
    return {"here": here, "there": there}, volunteers


def _scan(rt, scan, volunteer_id, stations, minutes, what, where):
    at = START + timedelta(minutes=minutes)
    station = stations[where]
    if what == "card":
        device = Device(
            "staff", "staff:1 tablet-1", staff_user_id=1, station_ids=frozenset(stations.values())
        )
        item = ScanInput(rt.codes.volunteer_card(volunteer_id, 1), station)
    else:
        device = Device("volunteer", f"phone:{volunteer_id}", volunteer_id=volunteer_id)
        item = ScanInput(rt.codes.station_code(station, at))
    return scan(rt, device, door.check_input(item), received_at=at)


def _lane(rt, volunteer_id, answers):
    """A volunteer's answers and rows with their own ids replaced by their order, so twins compare."""
    with rt.tx() as s:
        attendances = list(
            s.scalars(
                select(Attendance).where(Attendance.volunteer_id == volunteer_id).order_by(Attendance.id)
            )
        )
        scans = list(s.scalars(select(Scan).where(Scan.volunteer_id == volunteer_id).order_by(Scan.id)))
        ids = {a.id: n for n, a in enumerate(attendances)}
        events = list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.job_id.in_([f"attendance-closed-{a}" for a in ids]))
                .order_by(OutboxMessage.id)
            )
        )
        scan_ids = {sc.scan_id: n for n, sc in enumerate(scans)}

        def plain(answer):
            return {
                **answer,
                "scan_id": scan_ids[answer["scan_id"]],
                "volunteer": answer["volunteer"] and answer["volunteer"]["name"],
                "attendance_id": ids.get(answer["attendance_id"]),
                **(
                    {"earlier_scan_id": scan_ids[answer["earlier_scan_id"]]}
                    if answer.get("earlier_scan_id")
                    else {}
                ),
            }

        return {
            "answers": [plain(a) for a in answers],
            "scans": [
                (
                    sc.station_id,
                    sc.code_kind,
                    sc.outcome,
                    sc.reason,
                    sc.scanned_at,
                    sc.received_at,
                    sc.effective_at,
                    sc.offline,
                    sc.flagged,
                    ids.get(sc.attendance_id),
                    plain(sc.result),
                )
                for sc in scans
            ],
            "attendances": [
                (
                    a.activity_id,
                    a.station_id,
                    a.state,
                    a.checked_in_at,
                    a.checked_out_at,
                    a.minutes,
                    a.flagged,
                    a.flag_reason,
                    a.created_at,
                )
                for a in attendances
            ],
            "events": [
                (e.event, e.queue, [ids[e.args[0]]], ids[int(e.job_id.rsplit("-", 1)[1])]) for e in events
            ],
        }


@pytest.mark.parametrize("sequence", list(SEQUENCES), ids=list(SEQUENCES))
def test_the_lock_free_path_and_the_full_judgement_give_the_same_answers_and_rows(
    rt, twins, sequence, monkeypatch
):
    stations, (fast_one, full_one) = twins
    judged_in_full = []
    in_full = door.scan_in_full

    def spy(rt, device, item, received_at):
        judged_in_full.append(item.payload)
        return in_full(rt, device, item, received_at)

    monkeypatch.setattr(door, "scan_in_full", spy)
    fast_answers = [_scan(rt, door.scan_online, fast_one, stations, *step) for step in SEQUENCES[sequence]]
    settled_without_lock = len(SEQUENCES[sequence]) - len(judged_in_full)
    full_answers = [_scan(rt, in_full, full_one, stations, *step) for step in SEQUENCES[sequence]]

    assert _lane(rt, fast_one, fast_answers) == _lane(rt, full_one, full_answers)
    accepted = sum(a["outcome"] != "rejected" for a in fast_answers)
    if rt.settings.is_sqlite:
        assert settled_without_lock == 0  # one writer: every scan is judged in full
    else:  # every accepted scan of these sequences is one the lock-free path settles
        assert settled_without_lock == accepted > 0
