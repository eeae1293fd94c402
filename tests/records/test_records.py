"""Service records (志愿服务记录): a volunteer's record from attendances in two organizations and
years, with the hours the ledger counted and the rule version that counted them; training,
commendations, evaluations; the 20-day rule; corrections keeping the old value; the download."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from points.models import Commendation, CommendationRound
from records.models import LateEntry, Training
from tests.fixtures.builders import (
    make_activity,
    make_station,
    register,
    staff_token,
    staff_user,
    volunteer_token,
)
from tests.fixtures.hub import PHONE, START, Hub
from volunteer import activities
from volunteer.models import AttendanceCorrection

NEXT_YEAR = datetime(2031, 3, 10, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai


@pytest.fixture
def hub(client, rt, clock):
    clock.at = START - timedelta(days=2)
    h = Hub(client, rt)
    # hub A's rule from before the service: half hours, at least 45 minutes, 15 points a day
    h.rule_id = h.rule(START - timedelta(days=1), rounding_minutes=30, minimum_minutes=45, daily_cap=15)
    h.station_b = make_station(rt, h.county.org_b, "星沙活动室")
    with rt.tx() as s:
        h.visit = activities.create(
            s,
            activities.ActivityInput(
                h.county.org_b,
                h.station_b,
                "=探访独居老人",
                "elderly_visit",
                NEXT_YEAR,
                NEXT_YEAR + timedelta(hours=3),
                5,
            ),
            admin_paths=["/"],
            created_by=None,
            now=rt.clock.now(),
        ).id
    staff_user(rt, "admin_a", "admin", org_id=h.county.org_a)
    staff_user(rt, "coord_a", "coordinator", org_id=h.county.org_a)
    staff_user(rt, "admin_b", "admin", org_id=h.county.org_b)
    staff_user(rt, "admin_hub", "admin", org_id=h.county.hub_a)
    return h


def _served(hub, rt, clock):
    """2030 at org A (hub A's rule): 100, 50 and 40 minutes on one day; 2031 at org B (defaults): 120."""
    second = make_activity(
        rt, hub.county.org_a, hub.station, START + timedelta(hours=7), hours=2, title="晚餐助餐"
    )
    ids = [
        hub.attendance(100),
        hub.attendance(50, start=START + timedelta(hours=7), activity=second),
        hub.attendance(40, start=START + timedelta(hours=8), activity=second),
    ]
    for a in ids:
        hub.settle(a)
    with rt.tx() as s:
        from volunteer.models import Attendance

        b = Attendance(
            activity_id=hub.visit,
            volunteer_id=hub.volunteer,
            station_id=hub.station_b,
            state="closed",
            checked_in_at=NEXT_YEAR,
            checked_out_at=NEXT_YEAR + timedelta(minutes=120),
            minutes=120,
            flagged=False,
            created_at=NEXT_YEAR,
        )
        s.add(b)
        s.flush()
        ids.append(b.id)
    hub.settle(ids[-1], now=NEXT_YEAR + timedelta(hours=3))
    return ids


def test_the_record_holds_service_by_rule_training_commendations_and_evaluations(hub, client, rt, clock):
    ids = _served(hub, rt, clock)
    clock.at = NEXT_YEAR + timedelta(days=5)
    today = date(2031, 3, 15)
    r = client.post(
        f"/api/v1/volunteers/{hub.volunteer}/trainings",
        json={
            "org_id": hub.county.org_a,
            "title": "助餐服务安全培训",
            "minutes": 90,
            "day": str(today - timedelta(days=3)),
        },
        headers=staff_token(client, "coord_a"),
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/v1/volunteers/{hub.volunteer}/evaluations",
        json={
            "org_id": hub.county.org_b,
            "period_start": "2031-01-01",
            "period_end": "2031-03-14",
            "rating": "superb",
        },
        headers=staff_token(client, "admin_b"),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "invalid_choice", r.text
    r = client.post(
        f"/api/v1/volunteers/{hub.volunteer}/evaluations",
        json={
            "org_id": hub.county.org_b,
            "period_start": "2031-01-01",
            "period_end": "2031-03-14",
            "rating": "excellent",
            "comment": "耐心细致",
        },
        headers=staff_token(client, "admin_b"),
    )
    assert r.status_code == 201, r.text
    r = client.get(f"/api/v1/volunteers/{hub.volunteer}/evaluations", headers=staff_token(client, "admin_a"))
    assert r.status_code == 200 and r.json() == {"items": [], "next": None}  # org B's, not A's to read
    with rt.tx() as s:
        rnd = CommendationRound(
            hub_id=hub.county.hub_a,
            title="2030年度优秀志愿者",
            period="year",
            period_start=date(2030, 1, 1),
            period_end=date(2030, 12, 31),
            rules={},
            bonus_points=0,
            status="confirmed",
            created_at=clock.at,
        )
        s.add(rnd)
        s.flush()
        s.add(
            Commendation(
                round_id=rnd.id,
                volunteer_id=hub.volunteer,
                org_id=hub.county.org_a,
                minutes=190,
                deliveries=0,
                reason="服务时长",
                status="confirmed",
            )
        )

    r = client.get("/api/v1/me/record?limit=3", headers=volunteer_token(rt, PHONE))
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["volunteer"]["name"] == "王秀英" and record["volunteer"]["volunteer_number"] == str(
        hub.volunteer
    )
    assert [f["team"] for f in record["volunteer"]["filings"]] == ["龙舟志愿服务队"]
    assert record["totals"] == {
        "minutes": 310,
        "hours": "5.17",
        "activities": 4,
        "manual_minutes": 0,
        "training_minutes": 90,
    }
    assert record["by_year"] == [
        {"year": 2030, "minutes": 190, "hours": "3.17"},
        {"year": 2031, "minutes": 120, "hours": "2.00"},
    ]
    assert record["by_org"] == [
        {"org_id": hub.county.org_a, "organization": "泉塘志愿者协会", "minutes": 190, "hours": "3.17"},
        {"org_id": hub.county.org_b, "organization": "星沙邻里互助会", "minutes": 120, "hours": "2.00"},
    ]
    assert record["by_kind"] == [
        {"kind": "meal_service", "minutes": 190, "hours": "3.17"},
        {"kind": "elderly_visit", "minutes": 120, "hours": "2.00"},
    ]
    page = record["service"]
    assert [row["id"] for row in page["items"]] == [ids[3], ids[2], ids[1]] and page["next"] == "3"
    visit, late40, late50 = page["items"]
    assert (visit["organization"], visit["place"], visit["minutes"], visit["points"]) == (
        "星沙邻里互助会",
        "星沙活动室",
        120,
        20,
    )
    assert visit["rule"] == {
        "id": None,
        "version": 0,
        "rounding_minutes": 15,
        "minimum_minutes": 30,
        "daily_cap": 60,
    }
    hub_rule = {
        "id": hub.rule_id,
        "version": 1,
        "rounding_minutes": 30,
        "minimum_minutes": 45,
        "daily_cap": 15,
    }
    # 40 minutes: under the 45-minute minimum, no points; 50 minutes: 30 counted (5 points) but the
    # day's cap of 15 is already used by the 100 minutes (90 counted: 15 points)
    assert (late40["minutes"], late40["points"], late40["rule"]) == (40, 0, hub_rule)
    assert (late50["minutes"], late50["points"], late50["rule"], late50["state"]) == (
        50,
        0,
        hub_rule,
        "counted",
    )
    rest = client.get("/api/v1/me/record?limit=3&cursor=3", headers=volunteer_token(rt, PHONE)).json()[
        "service"
    ]
    assert [row["id"] for row in rest["items"]] == [ids[0]] and rest["next"] is None
    assert (rest["items"][0]["minutes"], rest["items"][0]["points"]) == (100, 15)
    assert [t["title"] for t in record["trainings"]] == ["助餐服务安全培训"] and record["trainings"][0][
        "late"
    ] is None
    assert [c["title"] for c in record["commendations"]] == ["2030年度优秀志愿者"]
    assert [(e["organization"], e["rating"], e["comment"]) for e in record["evaluations"]] == [
        ("星沙邻里互助会", "excellent", "耐心细致")
    ]

    # the download says the same (CSV and XLSX), formula-safe
    r = client.get("/api/v1/me/record.csv", headers=volunteer_token(rt, PHONE))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    start = lines.index(["服务记录 service"])
    head, *rows = lines[start + 1 : start + 7]
    assert head[6] == "分钟 minutes"
    assert [(row[1], row[6], row[7]) for row in rows[:4]] == [
        ("'=探访独居老人", "120", "2.00"),
        ("晚餐助餐", "40", "0.67"),
        ("晚餐助餐", "50", "0.83"),
        ("午餐助餐服务", "100", "1.67"),
    ]
    assert rows[4][6] == "310" and "第1版" in rows[1][9]
    r = client.get("/api/v1/me/record.xlsx", headers=volunteer_token(rt, PHONE))
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content))["服务记录 service"]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert [v[6] for v in values] == [120, 40, 50, 100, 310]
    assert values[0][1] == "'=探访独居老人"


def test_the_twenty_day_rule_refuses_late_entries_but_an_admins_with_a_reason(hub, client, rt, clock):
    ids = _served(hub, rt, clock)
    first = ids[0]
    clock.at = START + timedelta(days=10)
    r = client.post(
        f"/api/v1/attendances/{first}/correct",
        json={"minutes": 90, "reason": "签退晚了十分钟"},
        headers=staff_token(client, "coord_a"),
    )
    assert r.status_code == 201, r.text  # within 20 days: a coordinator may
    clock.at = START + timedelta(days=31)
    coord, admin = staff_token(client, "coord_a"), staff_token(client, "admin_a")
    with rt.tx() as s:
        before = (
            s.scalar(select(func.count(AttendanceCorrection.id))),
            s.scalar(select(func.count(LateEntry.id))),
        )
    r = client.post(
        f"/api/v1/attendances/{first}/correct", json={"minutes": 80, "reason": "纸质签到表"}, headers=coord
    )
    assert r.status_code == 403 and r.json()["code"] == "late_entry_admin_only", r.text
    r = client.post(
        f"/api/v1/attendances/{first}/correct", json={"minutes": 80, "reason": " "}, headers=admin
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "late_reason_required", r.text
    day = str(date(2030, 6, 1))
    training = {"org_id": hub.county.org_a, "title": "急救培训", "minutes": 120, "day": day}
    r = client.post(f"/api/v1/volunteers/{hub.volunteer}/trainings", json=training, headers=coord)
    assert r.status_code == 403 and r.json()["code"] == "late_entry_admin_only"
    r = client.post(f"/api/v1/volunteers/{hub.volunteer}/trainings", json=training, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0] == {
        "field": "late_reason",
        "code": "late_reason_required",
        "message": r.json()["errors"][0]["message"],
    }
    with rt.tx() as s:  # nothing of the refusals written
        assert (
            s.scalar(select(func.count(AttendanceCorrection.id))),
            s.scalar(select(func.count(LateEntry.id))),
        ) == before
        assert s.scalar(select(func.count(Training.id))) == 0
    r = client.post(
        f"/api/v1/attendances/{first}/correct",
        json={"minutes": 80, "reason": "纸质签到表补录"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/v1/volunteers/{hub.volunteer}/trainings",
        json={**training, "late_reason": "培训签到表迟交"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/v1/volunteers/{hub.volunteer}/manual-hours",
        json={
            "hub_id": hub.county.hub_a,
            "minutes": 60,
            "day": day,
            "note": "纸质签到表",
            "request_id": "late-1",
        },
        headers=staff_token(client, "admin_hub"),
    )
    assert r.status_code == 201, r.text
    for minutes in (90, 80):
        hub.settle(first, f"correction:{r_id(rt, first, minutes)}", now=clock.at)

    record = client.get("/api/v1/me/record?limit=200", headers=volunteer_token(rt, PHONE)).json()
    row = next(x for x in record["service"]["items"] if x["id"] == first)
    # corrections keep the old value, who and why; the late one is marked
    assert [(c["minutes_before"], c["minutes_after"], c["reason"]) for c in row["corrections"]] == [
        (100, 90, "签退晚了十分钟"),
        (90, 80, "纸质签到表补录"),
    ]
    assert row["corrections"][0]["late"] is None
    late = row["corrections"][1]["late"]
    assert (late["days_late"], late["reason"]) == (11, "纸质签到表补录") and row["late"] == late
    assert row["minutes"] == 80
    assert record["trainings"][0]["late"]["reason"] == "培训签到表迟交"
    assert record["totals"]["manual_minutes"] == 60
    with rt.tx() as s:
        kinds = sorted(s.scalars(select(LateEntry.kind)))
    assert kinds == ["correction", "manual_hours", "training"]


def r_id(rt, attendance_id, minutes_after):
    with rt.tx() as s:
        return s.scalar(
            select(AttendanceCorrection.id).where(
                AttendanceCorrection.attendance_id == attendance_id,
                AttendanceCorrection.minutes_after == minutes_after,
            )
        )


def test_a_volunteer_with_no_hours_has_an_empty_record(client, rt, clock):
    answer = register(client, phone="13807310077")
    headers = {"Authorization": f"Bearer {answer['token']}"}
    r = client.get("/api/v1/me/record", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totals"] == {
        "minutes": 0,
        "hours": "0.00",
        "activities": 0,
        "manual_minutes": 0,
        "training_minutes": 0,
    }
    assert body["service"] == {"items": [], "next": None}
    assert body["by_year"] == body["trainings"] == body["commendations"] == body["evaluations"] == []
    r = client.get("/api/v1/me/record.csv", headers=headers)
    assert r.status_code == 200 and "合计 total" in r.content.decode("utf-8-sig")
    r = client.get("/api/v1/me/record", headers=staff_token(client, staff_login(rt)))
    assert r.status_code == 403 and r.json()["code"] == "volunteers_only"


def staff_login(rt):
    from tests.fixtures.builders import make_county

    county = make_county(rt)
    staff_user(rt, "hub_admin", "admin", org_id=county.hub_a)
    return "hub_admin"
