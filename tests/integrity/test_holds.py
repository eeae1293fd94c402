"""The subsidy defence (docs/integrity.md): the attack a city audit finds, replayed. A coordinator
who obtains diners' card images uploads meals never served as an offline batch, hours late; they
end held for review, no subsidy paid or reported, until a hub admin decides."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from integrity import detect
from integrity.models import AuditEntry, IntegrityFlag
from meals import counter, service
from meals.models import FundingAgreement, Meal, MealSubsidy
from points.models import Award
from tests.fixtures.builders import file_volunteer, make_activity, make_station, staff_token, staff_user
from tests.fixtures.canteen import LUNCH, Canteen
from tests.fixtures.runtime import drain
from volunteer.models import Attendance

DAY = {"period_start": "2030-06-01", "period_end": "2030-06-30"}


@pytest.fixture
def canteen(client, rt, clock):
    clock.at = LUNCH
    canteen = Canteen(rt, client)
    with rt.tx() as s:
        canteen.others = [
            canteen.diner(s, name, "1940", categories=("tekun",), serial=n)
            for n, name in ((1, "张一"), (2, "张二"))
        ]
    return canteen


def batch(canteen, tablet, scans):
    r = canteen.client.post(
        "/api/v1/scans/batch",
        json={
            "scans": [
                {
                    "payload": canteen.card(diner),
                    "station_id": canteen.station,
                    "scan_id": str(uuid.uuid4()),
                    "scanned_at": at.isoformat(),
                }
                for diner, at in scans
            ]
        },
        headers=staff_token(canteen.client, tablet),
    )
    assert r.status_code == 200, r.text
    return r.json()["results"]


def report_totals(canteen, clock, admin):
    clock.at += timedelta(minutes=11)  # a fresh report, not the one built minutes ago
    r = canteen.client.post(
        "/api/v1/reports",
        json={"kind": "meal_usage", "format": "json", **DAY, "internal": True},
        headers=admin,
    )
    assert r.status_code in (200, 202), r.text
    drain(canteen.rt)
    status = canteen.client.get(f"/api/v1/reports/{r.json()['id']}", headers=admin).json()
    body = canteen.client.get(status["file"], headers=admin).json()
    totals = next(s for s in body["sheets"] if s["key"] == "summary")["totals"]
    return totals["meals"], totals["subsidy"]


def test_meals_uploaded_hours_late_from_copied_cards_are_held_not_paid(canteen, clock):
    client, admin = canteen.client, staff_token(canteen.client, "admin_a")
    coordinator = staff_token(client, "counter")
    # a coordinator may not obtain a diner's card image; printing one is an admin's act, audited
    assert client.get(f"/api/v1/diners/{canteen.grandma}/card.png", headers=coordinator).status_code == 403
    assert client.get(f"/api/v1/diners/{canteen.grandma}/card.png", headers=admin).status_code == 200
    with canteen.rt.tx() as s:
        printed = s.scalars(select(AuditEntry).where(AuditEntry.action == "diner_card.printed")).all()
    assert [a.subject for a in printed] == [f"diner:{canteen.grandma}"]
    assert (
        client.get("/api/v1/integrity/audit", headers=admin).json()["items"][0]["action"]
        == "diner_card.printed"
    )

    assert canteen.scan(canteen.card(canteen.grandpa))["outcome"] == "meal_served"  # a real meal at 11:30
    before = report_totals(canteen, clock, admin)
    with canteen.rt.tx() as s:
        used_before = s.get(FundingAgreement, canteen.government).budget_used

    # 19:30: four meals "served offline" at lunch, uploaded eight hours later
    clock.at = LUNCH + timedelta(hours=8)
    claimed = [canteen.grandma, *canteen.others]
    results = batch(
        canteen, "counter", [(d, LUNCH + timedelta(minutes=5 + i)) for i, d in enumerate(claimed)]
    )
    assert [(r["outcome"], r["held"], r["hold_reason"]) for r in results] == [
        ("meal_served", True, "late_upload")
    ] * 3
    assert all(r["meal"]["status"] == "held" for r in results)
    assert canteen.count(Meal, Meal.status == "held") == 3
    assert canteen.count(MealSubsidy, MealSubsidy.held.is_(True)) >= 3
    # not reported: the partner's figures are what they were
    assert report_totals(canteen, clock, admin) == before

    flags = client.get("/api/v1/integrity/flags?status=held", headers=admin).json()["items"]
    assert sorted(f["subject"] for f in flags) == sorted(f"meal:{r['meal']['id']}" for r in results)
    assert {f["kind"] for f in flags} == {"late_upload"} and all(f["held"] for f in flags)
    # the coordinator who uploaded them can neither see nor decide
    assert client.get("/api/v1/integrity/flags", headers=coordinator).status_code == 403
    hold = results[0]["hold_id"]
    assert client.post(f"/api/v1/holds/{hold}/approve", headers=coordinator).status_code == 403

    # rejected (a reason is required): voided, the reserved subsidy back in the budget
    assert client.post(f"/api/v1/holds/{hold}/reject", json={}, headers=admin).status_code == 422
    r = client.post(f"/api/v1/holds/{hold}/reject", json={"note": "当天未到场 not there"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert client.post(f"/api/v1/holds/{hold}/approve", headers=admin).json()["code"] == "hold_decided"
    # approved: paid and reported, by its service day
    r = client.post(f"/api/v1/holds/{results[1]['hold_id']}/approve", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    with canteen.rt.tx() as s:
        assert s.get(Meal, results[0]["meal"]["id"]).status == "voided"
        assert s.get(Meal, results[1]["meal"]["id"]).status == "served"
        used = s.get(FundingAgreement, canteen.government).budget_used
    assert used == used_before + 2 * 1100  # two 特困 meals still reserved or paid; the rejected one back
    meals, subsidy = report_totals(canteen, clock, admin)
    assert meals == before[0] + 1 and subsidy == before[1] + results[1]["meal"]["subsidy"]
    with canteen.rt.tx() as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["flag.rejected", "flag.approved"]


def test_a_scan_claimed_while_its_device_was_online_is_not_an_offline_scan(canteen, clock, client):
    # 11:30 the counter is online; 11:45 its tablet still is (today's numbers)
    assert canteen.scan(canteen.card(canteen.grandpa))["outcome"] == "meal_served"
    clock.at = LUNCH + timedelta(minutes=15)
    assert (
        client.get(
            f"/api/v1/stations/{canteen.station}/meals-today", headers=staff_token(client, "counter")
        ).status_code
        == 200
    )
    clock.at = LUNCH + timedelta(minutes=20)
    held = batch(canteen, "counter", [(canteen.grandma, LUNCH + timedelta(minutes=5))])[0]
    assert (held["held"], held["hold_reason"]) == (True, "device_online")
    # a tablet that really was offline: last heard from before the scan, uploading when back
    clock.at = LUNCH + timedelta(minutes=24)
    paid = batch(canteen, "counter2", [(canteen.others[0], LUNCH + timedelta(minutes=21))])[0]
    assert (paid["outcome"], paid["held"], paid["hold_reason"]) == ("meal_served", False, None)
    assert paid["meal"]["status"] == "served"


def test_a_hub_sets_its_grace_and_only_its_admins_may(canteen, clock, client, rt):
    staff_user(rt, "admin_b", "admin", org_id=canteen.county.hub_b)
    url = f"/api/v1/hubs/{canteen.county.hub_a}/integrity-settings"
    admin = staff_token(client, "admin_a")
    assert client.get(url, headers=admin).json() == {"offline_grace_minutes": 180}
    assert (
        client.put(
            url, json={"offline_grace_minutes": 600}, headers=staff_token(client, "admin_b")
        ).status_code
        == 403
    )
    assert client.put(url, json={"offline_grace_minutes": 1441}, headers=admin).status_code == 422
    assert client.put(url, json={"offline_grace_minutes": 600}, headers=admin).json() == {
        "offline_grace_minutes": 600
    }
    clock.at = LUNCH + timedelta(hours=8)  # 19:30: within 13:30 + 10 h
    r = batch(canteen, "counter", [(canteen.grandma, LUNCH)])[0]
    assert (r["outcome"], r["held"]) == ("meal_served", False)
    # another hub's admin cannot decide this hub's holds
    clock.at = LUNCH + timedelta(hours=20)
    held = batch(canteen, "counter", [(canteen.grandpa, LUNCH + timedelta(minutes=1))])[0]
    assert held["held"] is True
    r = client.post(f"/api/v1/holds/{held['hold_id']}/approve", headers=staff_token(client, "admin_b"))
    assert (r.status_code, r.json()["code"]) == (403, "outside_your_scope")


def test_an_attendance_uploaded_late_earns_nothing_until_approved(client, rt, clock):
    start = datetime(2030, 6, 4, 1, 0, tzinfo=UTC)  # 09:00 local
    clock.at = start - timedelta(days=1)
    canteen = Canteen(rt, client)
    room = make_station(rt, canteen.county.org_a, "活动室")
    make_activity(rt, canteen.county.org_a, room, start, hours=2)
    volunteer = file_volunteer(rt, "13807310021", canteen.county.open_team, name="刘志愿")
    staff_user(rt, "desk", "coordinator", org_id=canteen.county.org_a, station_id=room)
    clock.at = start + timedelta(hours=9)  # 18:00: the activity ended at 11:00, grace 3 h
    card = rt.codes.volunteer_card(volunteer, 1)
    r = client.post(
        "/api/v1/scans/batch",
        json={
            "scans": [
                {
                    "payload": card,
                    "station_id": room,
                    "scan_id": str(uuid.uuid4()),
                    "scanned_at": at.isoformat(),
                }
                for at in (start, start + timedelta(hours=2))
            ]
        },
        headers=staff_token(client, "desk"),
    )
    results = r.json()["results"]
    assert [(x["outcome"], x["held"], x["hold_reason"]) for x in results] == [
        ("checked_in", True, "late_upload"),
        ("checked_out", True, "late_upload"),
    ]
    assert results[0]["hold_id"] == results[1]["hold_id"]  # one hold for the attendance
    drain(rt)
    with rt.tx() as s:
        assert (
            s.scalar(select(func.coalesce(func.sum(Award.points), 0)).where(Award.volunteer_id == volunteer))
            == 0
        )
    admin = staff_token(client, "admin_a")
    assert client.post(f"/api/v1/holds/{results[0]['hold_id']}/approve", headers=admin).status_code == 200
    drain(rt)
    with rt.tx() as s:
        assert s.get(Attendance, results[0]["attendance_id"]).flagged is False
        assert s.scalar(select(func.sum(Award.points)).where(Award.volunteer_id == volunteer)) > 0
        assert s.scalar(select(func.sum(Award.minutes)).where(Award.volunteer_id == volunteer)) == 120


def test_a_correction_longer_than_the_activity_is_refused(client, rt, clock):
    start = datetime(2030, 6, 4, 1, 0, tzinfo=UTC)
    clock.at = start
    canteen = Canteen(rt, client)
    room = make_station(rt, canteen.county.org_a, "活动室")
    make_activity(rt, canteen.county.org_a, room, start, hours=4)
    volunteer = file_volunteer(rt, "13807310022", canteen.county.open_team, name="陈志愿")
    staff_user(rt, "desk", "coordinator", org_id=canteen.county.org_a, station_id=room)
    desk = staff_token(client, "desk")
    card = rt.codes.volunteer_card(volunteer, 1)
    for minutes in (0, 90):
        clock.at = start + timedelta(minutes=minutes)
        r = client.post("/api/v1/scans", json={"payload": card, "station_id": room}, headers=desk)
    attendance = r.json()["attendance_id"]
    r = client.post(
        f"/api/v1/attendances/{attendance}/correct", json={"minutes": 1440, "reason": "补录"}, headers=desk
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "exceeds_activity"
    ok = client.post(
        f"/api/v1/attendances/{attendance}/correct", json={"minutes": 240, "reason": "补录"}, headers=desk
    )
    assert ok.status_code == 201


def test_the_days_sweep_flags_each_anomaly_once(canteen, clock, rt):
    tz = rt.settings.tz
    day = LUNCH.astimezone(tz).date()
    room = make_station(rt, canteen.county.org_a, "活动室")
    with rt.tx() as s:
        other = service.create_meal_point(
            s,
            org_id=canteen.county.org_a,
            name="星沙助餐点",
            address="星沙",
            daily_capacity=300,
            slots=[service.SlotInput("lunch", "11:00", "13:30", 1200)],
            now=LUNCH,
        )
        home = service.get_point(s, canteen.point.id)
        # a usual day is two meals from this tablet, for five days; today it records thirty
        for back in range(1, 6):
            for n in range(2):
                counter.record_unsubsidized(
                    s,
                    diner_id=canteen.grandpa,
                    point=home,
                    at=LUNCH - timedelta(days=back, minutes=n),
                    tz=tz,
                    mode="dine_in",
                    device_label="staff:99 tablet",
                )
        for n in range(30):
            counter.record_unsubsidized(
                s,
                diner_id=canteen.grandpa,
                point=home,
                at=LUNCH + timedelta(minutes=n % 60),
                tz=tz,
                mode="dine_in",
                device_label="staff:99 tablet",
            )
        # one card at two points within the hour
        counter.record_unsubsidized(
            s, diner_id=canteen.grandma, point=home, at=LUNCH, tz=tz, mode="dine_in", device_label="staff:1"
        )
        counter.record_unsubsidized(
            s,
            diner_id=canteen.grandma,
            point=other,
            at=LUNCH + timedelta(minutes=40),
            tz=tz,
            mode="dine_in",
            device_label="staff:2",
        )
        # a meal for a diner who is paused today
        paused = counter.record_unsubsidized(
            s, diner_id=canteen.others[0], point=home, at=LUNCH, tz=tz, mode="dine_in", device_label="staff:1"
        )
        s.get(service.Diner, canteen.others[0]).paused_from = day
    # an attendance longer than its activity (recorded before corrections were bounded)
    activity = make_activity(rt, canteen.county.org_a, room, LUNCH, hours=1)
    volunteer = file_volunteer(rt, "13807310023", canteen.county.open_team, name="黄志愿")
    with rt.tx() as s:
        long = Attendance(
            activity_id=activity,
            volunteer_id=volunteer,
            station_id=room,
            state="closed",
            checked_in_at=LUNCH,
            checked_out_at=LUNCH + timedelta(hours=1),
            minutes=1440,
            flagged=False,
            created_at=LUNCH,
        )
        s.add(long)
        s.flush()
        long_id = long.id
    with rt.tx() as s:
        assert detect.sweep(s, day, now=LUNCH + timedelta(hours=10), tz=tz) == 4
    with rt.tx() as s:
        assert detect.sweep(s, day, now=LUNCH + timedelta(hours=11), tz=tz) == 0  # once
        flags = {f.kind: f for f in s.scalars(select(IntegrityFlag))}
    assert set(flags) == {"coordinator_volume", "card_two_points", "paused_diner", "long_attendance"}
    assert flags["coordinator_volume"].subject == f"staff:99:{day}"
    assert flags["coordinator_volume"].detail["meals"] == 30
    assert flags["card_two_points"].subject == f"diner:{canteen.grandma}:{day}"
    assert flags["paused_diner"].subject == f"meal:{paused.id}"
    assert flags["long_attendance"].subject == f"attendance:{long_id}"
    assert all(f.status == "open" for f in flags.values())
    # looked at: dismissed by a hub admin; an anomaly holds nothing to approve
    admin = staff_token(canteen.client, "admin_a")
    flag_id = flags["paused_diner"].id
    assert canteen.client.post(f"/api/v1/holds/{flag_id}/approve", headers=admin).json()["code"] == "not_held"
    r = canteen.client.post(
        f"/api/v1/integrity/flags/{flag_id}/dismiss", json={"note": "已核实"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["status"] == "dismissed"


def test_a_coordinator_cannot_void_a_held_meal_out_of_the_hubs_review(canteen, clock):
    client = canteen.client
    clock.at = LUNCH + timedelta(hours=8)  # a late upload: held
    [held] = batch(canteen, "counter", [(canteen.grandma, LUNCH)])
    assert held["held"] is True
    r = client.post(
        f"/api/v1/meals/{held['meal']['id']}/void",
        json={"reason": "录错了"},
        headers=staff_token(client, "counter"),
    )
    assert (r.status_code, r.json()["code"]) == (409, "meal_held")
    # the hold is still the admin's to decide
    r = client.post(
        f"/api/v1/holds/{held['hold_id']}/reject",
        json={"note": "未到场"},
        headers=staff_token(client, "admin_a"),
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
