"""The micro-grant round's shape, generated through the API and read back exactly: 8 projects, 40
activities, 5,200 meals served (served person-times) and 320 volunteer person-times; the volunteer
contribution a partner sees; the monthly reports and the partner's signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import func, select

from linli.outbox import OutboxMessage
from orgs import service as orgs_service
from points.models import Award
from reports.models import Report
from tests.fixtures.builders import make_county, register, staff_token, staff_user, valid_id, volunteer_token
from tests.fixtures.runtime import drain

PROJECTS, ACTIVITIES_EACH, VOLUNTEERS_EACH, DINERS_EACH, MEAL_DAYS = 8, 5, 8, 25, 13


def local(day: int, hhmm: str) -> datetime:
    """A time on a day of June 2030 in Asia/Shanghai, as UTC."""
    h, m = map(int, hhmm.split(":"))
    return datetime(2030, 6, day, h, m, tzinfo=UTC) - timedelta(hours=8)


def cn(n: int) -> str:
    """A number in Chinese digits: names must be Chinese characters."""
    return "".join("零一二三四五六七八九"[int(c)] for c in str(n))


def scan(payload, station, at, **extra):
    return {
        "payload": payload,
        "station_id": station,
        "scan_id": str(uuid.uuid4()),
        "scanned_at": at.isoformat(),
        **extra,
    }


class Round:
    def __init__(self, client, rt, clock):
        self.client, self.rt = client, rt
        clock.at = local(1, "09:00")
        self.county = make_county(rt)
        staff_user(rt, "admin_a", "admin", org_id=self.county.hub_a)
        with rt.tx() as s:
            self.partner = orgs_service.create_partner(s, name="泉心社会企业", now=clock.at).id
        staff_user(rt, "partner1", "partner", partner_id=self.partner)
        admin = self.admin = staff_token(client, "admin_a")
        self.orgs, self.points, self.volunteers, self.diners = [], [], {}, {}
        for p in range(PROJECTS):
            org = client.post(
                "/api/v1/organizations",
                json={"parent_id": self.county.hub_a, "name": f"微创投项目{p + 1}"},
                headers=admin,
            ).json()
            team = client.post(
                "/api/v1/organizations",
                json={"parent_id": org["id"], "name": f"项目{p + 1}服务队", "join_mode": "open"},
                headers=admin,
            ).json()
            point = client.post(
                "/api/v1/meal-points",
                json={
                    "org_id": org["id"],
                    "name": f"项目{p + 1}助餐点",
                    "address": f"泉塘路{p + 1}号",
                    "daily_capacity": 500,
                    "slots": [
                        {"slot": "lunch", "starts": "11:00", "ends": "13:30", "price": 1200},
                        {"slot": "dinner", "starts": "17:00", "ends": "19:00", "price": 1000},
                    ],
                },
                headers=admin,
            ).json()
            self.orgs.append(org["id"])
            self.points.append(point)
            self.volunteers[p] = []
            for v in range(VOLUNTEERS_EACH):
                phone = f"1380731{p:02d}{v:02d}"
                me = register(client, name=f"志愿者{cn(p)}{'甲乙丙丁戊己庚辛'[v]}", phone=phone)
                assert (
                    client.post(
                        f"/api/v1/teams/{team['id']}/filings", headers=volunteer_token(rt, phone)
                    ).status_code
                    == 201
                )
                self.volunteers[p].append(me["id"])
            self.diners[p] = []
            for d in range(DINERS_EACH):
                r = client.post(
                    "/api/v1/diners",
                    json={
                        "name": f"长者{cn(p)}号{cn(d)}",
                        "birth_date": "1945-05-01",
                        "community": "泉塘社区",
                        "id_number": valid_id(f"43012119450501{p * 40 + d:03d}"),
                        "home_point_id": point["id"],
                        "consent": True,
                    },
                    headers=admin,
                )
                assert r.status_code == 201, r.text
                self.diners[p].append(r.json()["id"])
        r = client.post(
            "/api/v1/funding-agreements",
            json={
                "name": "泉心社会企业助餐补贴",
                "funder_kind": "enterprise",
                "stack_order": 1,
                "starts_on": "2030-06-01",
                "ends_on": "2030-12-31",
                "budget_cap": 100_000_000,
                "schedule": [{"categories": ["*"], "slots": ["lunch", "dinner"], "amount": 300}],
                "meal_point_ids": [pt["id"] for pt in self.points],
                "partner_id": self.partner,
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
        # 5 activities per project, one a day, at the project's counter; everyone checks in and out
        for day in range(ACTIVITIES_EACH):
            clock.at = local(3 + day, "09:00")
            batch = []
            for p, point in enumerate(self.points):
                r = client.post(
                    "/api/v1/activities",
                    json={
                        "org_id": self.orgs[p],
                        "station_id": point["station_id"],
                        "title": "午餐助餐服务",
                        "kind": "meal_service",
                        "starts_at": local(3 + day, "10:30").isoformat(),
                        "ends_at": local(3 + day, "13:00").isoformat(),
                        "capacity": 10,
                    },
                    headers=admin,
                )
                assert r.status_code == 201, r.text
                for v in self.volunteers[p]:
                    card = rt.codes.volunteer_card(v, 1)
                    batch.append(scan(card, point["station_id"], local(3 + day, "10:30")))
                    batch.append(scan(card, point["station_id"], local(3 + day, "12:30")))
            clock.at = local(3 + day, "13:30")
            results = client.post("/api/v1/scans/batch", json={"scans": batch}, headers=admin).json()[
                "results"
            ]
            assert {r["outcome"] for r in results} == {"checked_in", "checked_out"}, results[:2]
        # meals: every diner, lunch and dinner, 13 days, uploaded by the tablets after each slot
        # (within the hub's offline grace: paid without review, docs/integrity.md)
        for day in range(MEAL_DAYS):
            for hhmm, upload in (("11:30", "13:20"), ("17:30", "20:00")):
                batch = [
                    scan(rt.codes.diner_card(d, 1), point["station_id"], local(3 + day, hhmm))
                    for p, point in enumerate(self.points)
                    for d in self.diners[p]
                ]
                clock.at = local(3 + day, upload)
                results = client.post("/api/v1/scans/batch", json={"scans": batch}, headers=admin).json()[
                    "results"
                ]
                assert {(r["outcome"], r["held"]) for r in results} == {("meal_served", False)}, results[:2]
        drain(rt)  # service minutes and points for the attendances
        clock.at = local(30, "21:00") + timedelta(days=2)

    def report(self, who, **ask):
        r = self.client.post(
            "/api/v1/reports",
            json={"period_start": "2030-06-01", "period_end": "2030-06-30", "format": "json", **ask},
            headers=who,
        )
        assert r.status_code in (200, 202), r.text
        drain(self.rt)
        status = self.client.get(f"/api/v1/reports/{r.json()['id']}", headers=who).json()
        assert status["status"] == "done", status
        return self.client.get(status["file"], headers=who).json()


@pytest.mark.slow  # a month of a micro-grant round at full size: thousands of scans
def test_the_micro_grant_round_is_counted_exactly(client, rt, clock):
    world = Round(client, rt, clock)
    # three volunteers spend 15 points each in the hub's shop on 20 June, one order cancelled
    from points import shop

    back = clock.at
    clock.at = local(20, "10:00")
    with rt.tx() as s:
        item = shop.create_item(
            s, world.county.hub_a, shop.ItemInput(name="大米", price=15, stock=10), clock.at
        )
        for n, v in enumerate(world.volunteers[0][:4]):
            order, _ = shop.place_order(
                s,
                volunteer_id=v,
                item_id=item.id,
                quantity=1,
                request_id=None,
                now=clock.at,
                tz=rt.settings.tz,
            )
            if n < 3:
                shop.fulfil(s, order.id, volunteer_id=v, staff_user_id=None, now=clock.at)
            else:
                shop.cancel(s, order.id, volunteer_id=v, staff_user_id=None, now=clock.at)
    clock.at = back
    body = world.report(staff_token(client, "admin_a"), kind="programme_summary")
    projects = body["sheets"][0]
    # the county's other organization did nothing this month: a row of zeros, not suppressed
    assert [r for r in projects["rows"] if not r["organization"].startswith("微创投")] == [
        {
            "organization": "泉塘志愿者协会",
            "activities": 0,
            "served": 0,
            "volunteer_times": 0,
            "volunteers": 0,
            "minutes": 0,
            "points_awarded": 0,
        }
    ]
    projects["rows"] = [r for r in projects["rows"] if r["organization"].startswith("微创投")]
    assert len(projects["rows"]) == PROJECTS
    totals = projects["totals"]
    assert (totals["activities"], totals["served"], totals["volunteer_times"], totals["volunteers"]) == (
        40,
        5200,
        320,
        64,
    )
    assert totals["minutes"] == 320 * 120
    with rt.tx() as s:
        awarded = s.scalar(select(func.sum(Award.points)).where(Award.attendance_id.is_not(None)))
    assert totals["points_awarded"] == awarded > 0
    assert body["sheets"][1]["rows"] == [
        {
            "what": "兑换积分（枢纽积分商城） points redeemed (hub shops)",
            "points": 45,
        }  # the cancelled order is not
    ]
    for row in projects["rows"]:
        assert (row["activities"], row["served"], row["volunteer_times"], row["volunteers"]) == (
            5,
            650,
            40,
            8,
        )

    # the partner that funds the eight points sees the volunteers' contribution there, aggregated
    partner = staff_token(client, "partner1")
    body = world.report(partner, kind="volunteer_contribution")
    by_point = body["sheets"][0]
    assert len(by_point["rows"]) == PROJECTS
    assert by_point["totals"]["person_times"] == 320 and by_point["totals"]["volunteers"] == 64
    types = body["sheets"][2]
    assert [(r["activity_type"], r["person_times"]) for r in types["rows"]] == [
        ("助餐服务 meal service", 320)
    ]
    assert "志愿者" not in json.dumps(body, ensure_ascii=False).replace("志愿者人数", "").replace(
        "送餐志愿者", ""
    )
    usage = world.report(partner, kind="meal_usage")
    assert usage["sheets"][0]["totals"]["meals"] == 5200
    own = [k for k in usage["sheets"][0]["totals"] if k.startswith("funder_")]
    assert len(own) == 1 and usage["sheets"][0]["totals"][own[0]] == 5200 * 300


class Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_monthly_reports_reach_partners_with_a_signed_notice(client, rt, clock):
    from workers.jobs import monthly_reports

    clock.at = datetime(2030, 6, 3, 1, 0, tzinfo=UTC)
    county = make_county(rt)
    with rt.tx() as s:
        partner = orgs_service.create_partner(s, name="泉心社会企业", now=clock.at).id
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    staff_user(rt, "partner1", "partner", partner_id=partner)
    admin = staff_token(client, "admin_a")
    point = client.post(
        "/api/v1/meal-points",
        json={
            "org_id": county.org_a,
            "name": "泉心食堂",
            "address": "泉塘路1号",
            "daily_capacity": 100,
            "slots": [{"slot": "lunch", "starts": "11:00", "ends": "13:30", "price": 1200}],
        },
        headers=admin,
    ).json()
    assert (
        client.post(
            "/api/v1/funding-agreements",
            json={
                "name": "泉心社会企业助餐补贴",
                "funder_kind": "enterprise",
                "stack_order": 1,
                "starts_on": "2030-06-01",
                "ends_on": "2030-12-31",
                "budget_cap": 1_000_000,
                "schedule": [{"categories": ["*"], "slots": ["lunch"], "amount": 300}],
                "meal_point_ids": [point["id"]],
                "partner_id": partner,
            },
            headers=admin,
        ).status_code
        == 201
    )
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hook.received = []
    partner_token = staff_token(client, "partner1")
    bad = client.put(f"/api/v1/partners/{partner}/webhook", json={"url": "ftp://x"}, headers=partner_token)
    assert bad.status_code == 422
    assert (
        client.put(
            f"/api/v1/partners/{partner + 1}/webhook",
            json={"url": "https://x.example/h"},
            headers=partner_token,
        ).status_code
        == 403
    )
    hook = client.put(
        f"/api/v1/partners/{partner}/webhook",
        json={"url": f"http://127.0.0.1:{server.server_port}/linli"},
        headers=partner_token,
    ).json()

    clock.at = datetime(2030, 6, 29, 18, 0, tzinfo=UTC)  # 02:00 on 30 June: not the first
    assert monthly_reports() == 0
    clock.at = datetime(2030, 6, 30, 18, 0, tzinfo=UTC)  # 02:00 on 1 July in Asia/Shanghai
    made = monthly_reports()
    assert made == 2 + 2 * 3  # the partner's two, and three for each of the two hubs
    assert monthly_reports() == 0  # asked again: nothing more
    drain(rt)
    drain(rt)
    server.shutdown()
    listed = client.get("/api/v1/reports", headers=partner_token).json()["items"]
    assert sorted(r["kind"] for r in listed) == ["meal_usage", "volunteer_contribution"]
    assert {(r["period_start"], r["period_end"], r["format"], r["status"]) for r in listed} == {
        ("2030-06-01", "2030-06-30", "xlsx", "done")
    }
    assert len(Hook.received) == 2
    for headers, body in Hook.received:
        sent = int(headers["X-Linli-Signature"].split(",")[0].removeprefix("t="))
        assert abs(sent - clock.now().timestamp()) < 60  # signed with the time it was sent
        mac = hmac.new(hook["secret"].encode(), f"{sent}.".encode() + body, hashlib.sha256).hexdigest()
        assert headers["X-Linli-Signature"] == f"t={sent},v1={mac}"
        notice = json.loads(body)
        assert notice["event"] == "report.ready" and notice["report_id"] in {r["id"] for r in listed}
    with rt.tx() as s:
        assert s.scalar(select(func.count()).select_from(Report).where(Report.status == "done")) == 8
        # the deliveries went on a queue of their own: a slow partner holds up no other work
        queues = s.scalars(select(OutboxMessage.queue).where(OutboxMessage.event == "report.ready")).all()
        assert queues == ["webhooks", "webhooks"]


def test_attendances_count_in_the_month_of_their_local_day_and_files_open(client, rt, clock):
    import csv
    import io

    import openpyxl

    from tests.fixtures.builders import file_volunteer, make_activity, make_station
    from volunteer.models import Attendance

    clock.at = datetime(2030, 6, 1, 1, 0, tzinfo=UTC)
    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    station = make_station(rt, county.org_a, name="泉塘社区活动室")
    volunteers = [file_volunteer(rt, f"1380731{n:04d}", county.open_team, name="王秀英") for n in range(6)]
    # 23:00 on 30 June and 07:00 on 1 July, local time: both on 30 June in UTC
    late_june = make_activity(rt, county.org_a, station, local(30, "22:30"), hours=1, title="夜间巡访")
    early_july = make_activity(
        rt, county.org_a, station, local(30, "22:30") + timedelta(hours=8), hours=2, title="早间送餐"
    )
    with rt.tx() as s:
        for activity, start in (
            (late_june, local(30, "23:00")),
            (early_july, local(30, "23:00") + timedelta(hours=8)),
        ):
            for v in volunteers:
                s.add(
                    Attendance(
                        activity_id=activity,
                        volunteer_id=v,
                        station_id=station,
                        state="closed",
                        checked_in_at=start,
                        checked_out_at=start + timedelta(minutes=30),
                        minutes=30,
                        created_at=start,
                    )
                )
    clock.at = datetime(2030, 7, 10, 2, 0, tzinfo=UTC)
    admin = staff_token(client, "admin_a")

    def ask(period_start, period_end, fmt, kind="volunteer_contribution"):
        r = client.post(
            "/api/v1/reports",
            json={"kind": kind, "period_start": period_start, "period_end": period_end, "format": fmt},
            headers=admin,
        )
        drain(rt)
        return client.get(f"/api/v1/reports/{r.json()['id']}/file", headers=admin)

    june = ask("2030-06-01", "2030-06-30", "csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(june)))
    by_type = rows[rows.index(["按活动类型 by activity type"]) + 2 :]
    assert by_type[0][1:] == ["180", "6", "6"]  # the 23:00 visit only: 6 × 30 minutes
    july = openpyxl.load_workbook(io.BytesIO(ask("2030-07-01", "2030-07-31", "xlsx").content))
    assert july.sheetnames == [
        "按助餐点 by meal point",
        "按组织和服务队 by organization or team",
        "按活动类型 by activity type",
    ]
    last = list(july["按活动类型 by activity type"].iter_rows(values_only=True))[-1]
    assert last == ("合计 total", 180, 6, 6)
    programme = openpyxl.load_workbook(
        io.BytesIO(ask("2030-07-01", "2030-07-31", "xlsx", "programme_summary").content)
    )
    values = list(programme.worksheets[0].iter_rows(values_only=True))
    assert values[1][:4] == (
        "组织（项目） organization (project)",
        "开展活动 activities held",
        "服务人次 person-times served",
        "志愿服务人次 volunteer person-times",
    )
    assert values[-1][:4] == ("合计 total", 1, 0, 6)
