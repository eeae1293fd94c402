"""The seed's table out of a round's report (issue 21, item 7): a round of 8 projects built through
the API (opened, proposals submitted, decided, published, in effect after the notice), 40
activities linked to them, 5,032 person-times served (counts entered per activity, a correction
among them, diner cards scanned, meals at the projects' meal points), 320 volunteer person-times
of 64 volunteers, tranches paid in and spendings with receipts; the report `round_summary` asked
for by the hub and by the funding partner, built by the worker, read in JSON, and the same figures
in CSV and XLSX. Who else asks is refused."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from grants.models import Project
from orgs import service as orgs_service
from reports.queries import Column, Scope, Sheet
from reports.rounds import _protect_volunteering
from tests.fixtures.builders import file_volunteer, make_county, staff_token, staff_user, valid_id
from tests.fixtures.grant_money import spending_body
from tests.fixtures.runtime import drain

PROJECTS, ACTIVITIES_EACH, VOLUNTEERS_EACH, COUNT = 8, 5, 8, 125
GRANT, PAID_IN = 500_000, 250_000  # fen per project
SPENT = {"materials": 30_000, "transport": 12_000}  # fen per project


def local(month: int, day: int, hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2027, month, day, h, m, tzinfo=UTC) - timedelta(hours=8)


def cn(n: int) -> str:
    return "".join("零一二三四五六七八九"[int(c)] for c in str(n))


class Seed:
    def __init__(self, client, rt, clock):
        self.client, self.rt, self.clock = client, rt, clock
        clock.at = local(2, 1, "09:00")
        self.county = make_county(rt)
        staff_user(rt, "admin_a", "admin", org_id=self.county.hub_a)
        staff_user(rt, "admin_b", "admin", org_id=self.county.hub_b)
        with rt.tx() as s:
            self.partner = orgs_service.create_partner(s, name="泉心社会企业", now=clock.at).id
            other = orgs_service.create_partner(s, name="别家企业", now=clock.at).id
        staff_user(rt, "partner1", "partner", partner_id=self.partner)
        staff_user(rt, "partner2", "partner", partner_id=other)
        self.admin = staff_token(client, "admin_a")

    def login(self) -> None:
        """A new token after the clock moved on by days (a token lives for hours)."""
        self.admin = staff_token(self.client, "admin_a")

    def call(self, method, path, status=(200, 201), who=None, **kw):
        r = self.client.request(method, path, headers=who or self.admin, **kw)
        assert r.status_code in ((status,) if isinstance(status, int) else status), (path, r.text)
        return r.json()

    def round_of_eight(self) -> list[dict]:
        """The round through the API: 8 organizations propose, the hub decides and publishes, the
        notice passes; the projects with their organization, team and meal point."""
        now = self.clock.now()
        rnd = self.call(
            "POST",
            "/api/v1/rounds",
            json={
                "org_id": self.county.hub_a,
                "name": "2027年泉塘街道公益微创投",
                "call_opens_at": (now - timedelta(hours=1)).isoformat(),
                "call_closes_at": (now + timedelta(days=9)).isoformat(),
                "criteria": [{"name": "需求分析", "weight": 100}],
                "funders": [
                    {"kind": "government", "name": "街道民生资金", "amount": 3_000_000},
                    {
                        "kind": "enterprise",
                        "name": "泉心社会企业",
                        "amount": 2_000_000,
                        "partner_id": self.partner,
                    },
                ],
                "max_grants": PROJECTS,
                "total_limit": PROJECTS * GRANT,
                "grant_limit": GRANT,
            },
        )
        self.round_id = rnd["id"]
        projects = []
        for p in range(PROJECTS):
            org = self.call(
                "POST",
                "/api/v1/organizations",
                json={"parent_id": self.county.hub_a, "name": f"微创投项目{cn(p + 1)}"},
            )
            team = self.call(
                "POST",
                "/api/v1/organizations",
                json={"parent_id": org["id"], "name": f"项目{cn(p + 1)}服务队", "join_mode": "open"},
            )
            proposal = self.call(
                "POST",
                f"/api/v1/rounds/{self.round_id}/proposals",
                json={
                    "org_id": org["id"],
                    "title": f"长者陪伴{cn(p + 1)}",
                    "field": "elderly",
                    "goal_activities": ACTIVITIES_EACH,
                    "goal_served": 600,
                    "goal_volunteer_times": 40,
                    "starts_on": "2027-03-01",
                    "ends_on": "2027-06-30",
                    "budget": [{"item": "物料", "amount": GRANT}],
                },
            )
            self.call("POST", f"/api/v1/proposals/{proposal['id']}/submit")
            projects.append({"org": org["id"], "team": team["id"], "proposal": proposal["id"]})
        self.clock.at = datetime.fromisoformat(rnd["call_closes_at"]) + timedelta(minutes=1)
        self.login()
        self.call("POST", f"/api/v1/rounds/{self.round_id}/close-review")
        for p in projects:
            self.call(
                "POST", f"/api/v1/proposals/{p['proposal']}/approve", json={"amount": GRANT, "reason": "通过"}
            )
        published = self.call("POST", f"/api/v1/rounds/{self.round_id}/publish")
        self.clock.at = datetime.fromisoformat(published["notice_ends_at"]) + timedelta(minutes=1)
        self.login()
        assert self.call("GET", f"/api/v1/rounds/{self.round_id}")["state"] == "granted"
        with self.rt.tx() as s:  # the API names a project by its id; which id each proposal became
            ids = dict(s.execute(select(Project.proposal_id, Project.id)).all())
        for p in projects:
            p["id"] = ids[p["proposal"]]
        return projects

    def deliver(self, projects: list[dict]) -> None:
        client, rt = self.client, self.rt
        self.clock.at = local(3, 1, "09:00")
        self.login()
        for n, p in enumerate(projects):
            point = self.call(
                "POST",
                "/api/v1/meal-points",
                json={
                    "org_id": p["org"],
                    "name": f"项目{cn(n + 1)}助餐点",
                    "address": f"泉塘路{n + 1}号",
                    "daily_capacity": 200,
                    "slots": [{"slot": "lunch", "starts": "11:00", "ends": "13:30", "price": 1200}],
                },
            )
            p["point"], p["station"] = point["id"], point["station_id"]
            self.call("POST", f"/api/v1/projects/{p['id']}/meal-points", json={"meal_point_id": point["id"]})
            p["diners"] = [
                self.call(
                    "POST",
                    "/api/v1/diners",
                    json={
                        "name": f"长者{cn(n)}号{cn(d)}",
                        "birth_date": "1945-05-01",
                        "community": "泉塘社区",
                        "id_number": valid_id(f"43012119450501{n * 10 + d:03d}"),
                        "home_point_id": point["id"],
                        "consent": True,
                    },
                )["id"]
                for d in range(2)
            ]
            p["volunteers"] = [
                file_volunteer(rt, f"1390731{n:02d}{v:02d}", p["team"], name=f"志愿者{cn(n)}{cn(v)}")
                for v in range(VOLUNTEERS_EACH)
            ]
            # money: half the grant paid in, two spendings with their receipts
            self.call("POST", f"/api/v1/projects/{p['id']}/tranches", json={"key": "t1", "amount": PAID_IN})
            for category, amount in SPENT.items():
                self.call(
                    "POST",
                    f"/api/v1/projects/{p['id']}/spending",
                    json=spending_body(category, amount, category=category, spent_on="2027-03-01"),
                )
        self.call(
            "POST",
            "/api/v1/funding-agreements",
            json={
                "name": "街道助餐补贴",
                "funder_kind": "government",
                "stack_order": 1,
                "starts_on": "2027-03-01",
                "ends_on": "2027-12-31",
                "budget_cap": 10_000_000,
                "schedule": [{"categories": ["*"], "slots": ["lunch"], "amount": 300}],
                "meal_point_ids": [p["point"] for p in projects],
            },
        )
        # 2 March: every diner's lunch at its project's meal point (16 meals), uploaded at once
        lunches = [(rt.codes.diner_card(d, 1), p["station"]) for p in projects for d in p["diners"]]
        assert self.batch(lunches, local(3, 2, "11:30"), local(3, 2, "11:31")) == {"meal_served"}
        # 3 to 7 March: an activity a day per project, linked to it; every volunteer in and out;
        # the coordinator enters how many were served (a correction on the first day)
        for day in range(ACTIVITIES_EACH):
            self.clock.at = local(3, 3 + day, "09:00")
            self.login()
            for p in projects:
                activity = self.call(
                    "POST",
                    "/api/v1/activities",
                    json={
                        "org_id": p["org"],
                        "station_id": p["station"],
                        "title": "长者陪伴活动",
                        "kind": "elderly_visit",
                        "starts_at": local(3, 3 + day, "10:30").isoformat(),
                        "ends_at": local(3, 3 + day, "13:00").isoformat(),
                        "capacity": 10,
                    },
                )
                p.setdefault("activities", []).append(activity["id"])
                self.call("PUT", f"/api/v1/activities/{activity['id']}/project", json={"project_id": p["id"]})
            scans = []
            for p in projects:
                for v in p["volunteers"]:
                    card = rt.codes.volunteer_card(v, 1)
                    scans += [
                        (card, p["station"], local(3, 3 + day, "10:30")),
                        (card, p["station"], local(3, 3 + day, "12:30")),
                    ]
            assert self.batch(scans, None, local(3, 3 + day, "13:30")) == {"checked_in", "checked_out"}
            for p in projects:
                a = p["activities"][-1]
                if day == 0:
                    self.call("POST", f"/api/v1/activities/{a}/served", json={"count": COUNT + 40})
                self.call("POST", f"/api/v1/activities/{a}/served", json={"count": COUNT, "note": "核对后"})
        # two residents with diner cards scanned at each project's last activity (one twice)
        for p in projects:
            url = f"/api/v1/activities/{p['activities'][-1]}/served-scans"
            for d in (*p["diners"], p["diners"][0]):
                client.post(url, json={"payload": rt.codes.diner_card(d, 1)}, headers=self.admin)
        drain(rt)  # attendances closed: service minutes and points
        self.clock.at = local(3, 8, "09:00")
        self.login()

    def batch(self, scans, at, upload) -> set[str]:
        self.clock.at = upload
        body = [
            {"payload": c, "station_id": s, "scan_id": str(uuid.uuid4()), "scanned_at": (t or at).isoformat()}
            for c, s, *rest in scans
            for t in [rest[0] if rest else None]
        ]
        results = self.call("POST", "/api/v1/scans/batch", json={"scans": body})["results"]
        assert not any(r.get("held") for r in results), results[:2]
        return {r["outcome"] for r in results}

    def report(self, who: dict, fmt: str, status=(200, 202)):
        r = self.client.post(
            "/api/v1/reports",
            json={"kind": "round_summary", "round_id": self.round_id, "format": fmt},
            headers=who,
        )
        if r.status_code >= 400:
            return r
        assert r.status_code in status, r.text
        drain(self.rt)
        got = self.client.get(f"/api/v1/reports/{r.json()['id']}", headers=who).json()
        assert got["status"] == "done", got
        return self.client.get(got["file"], headers=who)


SERVED = PROJECTS * ACTIVITIES_EACH * COUNT + PROJECTS * 2 + PROJECTS * 2  # counts, scans, meals
EXPECTED_TOTALS = {
    "goal_activities": 40,
    "activities": 40,
    "goal_served": 4_800,
    "served": SERVED,
    "goal_volunteer_times": 320,
    "volunteer_times": 320,
    "volunteers": 64,
    "minutes": 320 * 120,
    "hours": 640.0,
    "granted": PROJECTS * GRANT,
    "paid_in": PROJECTS * PAID_IN,
    "spent": PROJECTS * sum(SPENT.values()),
    "balance": PROJECTS * (PAID_IN - sum(SPENT.values())),
}


def test_the_seed_table_comes_out_of_the_rounds_report(client, rt, clock):
    seed = Seed(client, rt, clock)
    projects = seed.round_of_eight()
    seed.deliver(projects)
    assert SERVED == 5_032

    body = seed.report(seed.admin, "json").json()
    assert body["kind"] == "round_summary" and body["round_id"] == seed.round_id
    assert (body["period_start"], body["period_end"]) == ("2027-03-01", "2027-06-30")
    by_project, by_category = body["sheets"]
    totals = by_project["totals"]
    assert {k: totals[k] for k in EXPECTED_TOTALS} == EXPECTED_TOTALS
    assert len(by_project["rows"]) == PROJECTS
    for row in by_project["rows"]:
        assert (row["activities"], row["served"], row["volunteer_times"], row["volunteers"]) == (
            5,
            629,
            40,
            8,
        )
        assert (row["goal_served"], row["granted"], row["spent"]) == (600, GRANT, 42_000)
    assert by_category["totals"]["materials"] == PROJECTS * 30_000
    assert by_category["totals"]["transport"] == PROJECTS * 12_000
    assert by_category["totals"]["meals"] == 0 and by_category["totals"]["spent"] == totals["spent"]
    # the project page says the same
    one = client.get(f"/api/v1/projects/{projects[0]['id']}/delivery", headers=seed.admin).json()
    assert (one["served"], one["activities_held"], one["volunteer_times"]) == (629, 5, 40)

    # the same figures in CSV (money in yuan) and XLSX
    text = seed.report(seed.admin, "csv").content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    heads = next(row for row in lines if row and row[0] == "项目 project" and len(row) > 9)
    csv_totals = dict(zip(heads, next(row for row in lines if row and row[0] == "合计 total"), strict=True))
    assert csv_totals["服务人次 person-times served"] == str(SERVED)
    assert csv_totals["志愿服务人次 volunteer person-times"] == "320"
    assert csv_totals["志愿者人数 distinct volunteers"] == "64"
    assert csv_totals["服务时长（小时） service hours"] == "640.0"
    assert csv_totals["已支出 spent（元）"] == f"{PROJECTS * 420}.00"
    book = load_workbook(io.BytesIO(seed.report(seed.admin, "xlsx").content), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    xlsx_heads = rows[1]
    xlsx_totals = dict(zip(xlsx_heads, rows[-1], strict=True))
    assert rows[-1][0] == "合计 total" and len(rows) == 2 + PROJECTS + 1
    assert xlsx_totals["开展活动 activities held"] == 40
    assert xlsx_totals["服务人次 person-times served"] == SERVED
    assert xlsx_totals["志愿服务人次 volunteer person-times"] == 320
    assert xlsx_totals["志愿者人数 distinct volunteers"] == 64
    assert float(xlsx_totals["资助金额 granted（元）"]) == PROJECTS * GRANT / 100

    # the funding partner asks for it with its own login; the same figures, suppression applied
    partner = seed.report(staff_token(client, "partner1"), "json").json()
    assert partner["suppressed_below"] == 5
    assert {k: partner["sheets"][0]["totals"][k] for k in EXPECTED_TOTALS} == EXPECTED_TOTALS
    # its dashboard draws the round's goals against actuals: the report's totals
    board = client.get("/api/v1/dashboards/partner", headers=staff_token(client, "partner1")).json()
    goals = next(c for c in board["charts"] if c["key"] == f"round_goals_{seed.round_id}")
    t = partner["sheets"][0]["totals"]
    assert goals["series"][0]["data"] == [t["goal_activities"], t["goal_served"], t["goal_volunteer_times"]]
    assert (
        goals["series"][1]["data"]
        == [t["activities"], t["served"], t["volunteer_times"]]
        == [40, SERVED, 320]
    )
    # a partner that does not fund it, another hub's admin, a project organization's admin: refused
    staff_user(rt, "org_admin", "admin", org_id=projects[0]["org"])
    for who, code in (
        ("partner2", "not_a_funder"),
        ("admin_b", "outside_your_scope"),
        ("org_admin", "outside_your_scope"),
    ):
        r = seed.report(staff_token(client, who), "json")
        assert (r.status_code, r.json()["code"]) == (403, code), r.text
    missing = client.post(
        "/api/v1/reports", json={"kind": "round_summary", "format": "json"}, headers=seed.admin
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "round_id"
    unknown = client.post(
        "/api/v1/reports",
        json={"kind": "round_summary", "round_id": 999_999, "format": "json"},
        headers=seed.admin,
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "round_not_found"


def test_a_projects_few_volunteers_are_hidden_with_another_and_goals_and_money_stay():
    columns = [Column(f"c{i}", f"c{i}") for i in range(15)]
    sheet = Sheet("by_project", "t", columns)
    sheet.rows = [
        ["甲", "组织", 5, 5, 600, 700, 40, 12, 3, 360, 6.0, 100, 50, 10, 40],
        ["乙", "组织", 5, 5, 600, 650, 40, 40, 8, 4800, 80.0, 100, 50, 10, 40],
        ["丙", "组织", 5, 5, 600, 620, 40, 30, 6, 3600, 60.0, 100, 50, 10, 40],
    ]
    sheet.totals = ["合计", "", 15, 15, 1800, 1970, 120, 82, 17, 8760, 146.0, 300, 150, 30, 120]
    _protect_volunteering(sheet, Scope((), (), "/1/", suppress=True))
    assert sheet.rows[0][7:11] == ["<5"] * 4 and sheet.rows[0][:7] == ["甲", "组织", 5, 5, 600, 700, 40]
    assert sheet.rows[2][7:11] == ["<5"] * 4  # the smallest other: 82 - 40 would give 甲's figures
    assert sheet.rows[1][7:11] == [40, 8, 4800, 80.0] and sheet.rows[0][11:] == [100, 50, 10, 40]
    assert sheet.totals[8] == 17
