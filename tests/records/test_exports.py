"""The export for the national volunteer information system (全国志愿服务信息系统导出): a county
administrator holding the export grant asks, the worker builds the file (one row per counted
attendance, the import's columns in order, numbers decrypted and audited), it is kept encrypted,
given once to whoever asked, and wiped after 7 days. No full number anywhere but the reveal answer
and the file."""

from __future__ import annotations

import csv
import io
import logging
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from accounts import service as accounts_service
from accounts.models import RoleGrant
from integrity.models import AuditEntry
from linli.outbox import OutboxMessage
from orgs.models import Organization
from records import service as record_service
from records.models_exports import RecordExport
from tests.fixtures.builders import (
    file_volunteer,
    make_activity,
    staff_token,
    staff_user,
    valid_id,
    volunteer_token,
)
from tests.fixtures.hub import PHONE, START, TZ, Hub
from tests.fixtures.progress import logged, parsed
from tests.fixtures.runtime import drain
from tests.records.test_identity import _database_text
from volunteer import identity
from volunteer.models import Attendance
from workers import jobs

HEADINGS = [
    "姓名",
    "证件类型",
    "证件号码",
    "手机号",
    "性别",
    "出生日期",
    "组织",
    "活动",
    "开始",
    "结束",
    "时长(小时)",
    "地点",
    "记录人",
]
FEMALE_ID = valid_id("43012119920315124")  # 17th digit 4: female, born 1992-03-15
PASSPORT = "E12345678"
PHONE2, PHONE3 = "13900000002", "13900000003"
BODY = {
    "kind": "service_records",
    "period_start": "2030-06-01",
    "period_end": "2030-06-30",
    "reason": "报送全国系统",
}


@pytest.fixture
def county(client, rt, clock):
    """Hub A's volunteers: V1 (a resident ID) served three times in June 2030 (one annulled, one
    corrected), once in July, and once left unsettled; V2 (a passport) once; V3 (no number) once."""
    clock.at = START - timedelta(days=2)
    h = Hub(client, rt)
    h.v2 = file_volunteer(rt, PHONE2, h.county.open_team, name="李娜")
    h.v3 = file_volunteer(rt, PHONE3, h.county.open_team, name="张伟")
    with rt.tx() as s:
        for vid, kind, number in ((h.volunteer, "resident_id", FEMALE_ID), (h.v2, "passport", PASSPORT)):
            identity.give(s, rt.signer, rt.id_keys, vid, id_type=kind, id_number=number, today=START.date())
    staff_user(rt, "county", "admin", org_id=h.county.base)
    staff_user(rt, "county2", "admin", org_id=h.county.base)
    staff_user(rt, "admin_a", "admin", org_id=h.county.org_a, display_name="陈小燕")
    evening = make_activity(
        rt, h.county.org_a, h.station, START + timedelta(hours=7), hours=2, title="=晚餐助餐"
    )
    july = make_activity(rt, h.county.org_a, h.station, START + timedelta(days=40), hours=3)
    h.a_counted = h.attendance(100)
    h.a_corrected = h.attendance(50, start=START + timedelta(hours=7), activity=evening)
    h.a_annulled = attend(rt, h, h.volunteer, 45, START + timedelta(days=1), activity=evening)
    h.a_july = attend(rt, h, h.volunteer, 60, START + timedelta(days=40), activity=july)
    h.a_pending = attend(rt, h, h.volunteer, 30, START + timedelta(days=2))
    h.a_v2 = attend(rt, h, h.v2, 90, START)
    h.a_v3 = attend(rt, h, h.v3, 75, START + timedelta(hours=7), activity=evening)
    for a in (h.a_counted, h.a_corrected, h.a_annulled, h.a_july, h.a_v2, h.a_v3):
        h.settle(a, now=START + timedelta(days=41))
    clock.at = START + timedelta(days=3)
    admin_a = staff_token(client, "admin_a")
    r = client.post(f"/api/v1/attendances/{h.a_annulled}/annul", json={"reason": "重复签到"}, headers=admin_a)
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/v1/attendances/{h.a_corrected}/correct",
        json={"reason": "签退补正", "minutes": 70},
        headers=admin_a,
    )
    assert r.status_code == 201, r.text
    drain(rt)  # the corrections settled by the ledger
    return h


def attend(rt, h, volunteer_id, minutes, start, activity=None) -> int:
    with rt.tx() as s:
        a = Attendance(
            activity_id=activity or h.activity,
            volunteer_id=volunteer_id,
            station_id=h.station,
            state="closed",
            checked_in_at=start,
            checked_out_at=start + timedelta(minutes=minutes),
            minutes=minutes,
            flagged=False,
            created_at=start,
        )
        s.add(a)
        s.flush()
        return a.id


def grant(rt, client, username="county") -> dict:
    """The export grant over the county for a county admin; a fresh token (grants are read at log-in)."""
    with rt.tx() as s:
        user = accounts_service.find_staff(s, username).id
        base = s.scalar(select(Organization.id).where(Organization.path == "/1/"))
        accounts_service.add_export_grant(s, user_id=user, county_id=base, now=rt.clock.now())
    return staff_token(client, username)


def audits(rt, action) -> list[AuditEntry]:
    with rt.tx() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()
        s.expunge_all()
        return list(rows)


def exports_written(rt) -> tuple[int, int]:
    with rt.tx() as s:
        return (
            s.scalar(select(func.count()).select_from(RecordExport)),
            s.scalar(select(func.count()).where(OutboxMessage.event == "record_export.requested")),
        )


def table(fmt: str, content: bytes) -> list[list[str]]:
    if fmt == "csv":
        assert content.startswith("\ufeff".encode())
        return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    ws = load_workbook(io.BytesIO(content)).active
    return [["" if c is None else c for c in row] for row in ws.iter_rows(values_only=True)]


def test_without_the_grant_refused_and_audited_nothing_written(client, rt, county):
    for who in ("county", "admin_a"):
        r = client.post("/api/v1/exports", json=BODY | {"format": "csv"}, headers=staff_token(client, who))
        assert r.status_code == 403 and r.json()["code"] == "export_grant_required", r.text
    r = client.post("/api/v1/exports", json=BODY | {"format": "csv"}, headers=volunteer_token(rt, PHONE))
    assert r.status_code == 403 and r.json()["code"] == "staff_only"
    assert exports_written(rt) == (0, 0)
    refused = audits(rt, "record_export.refused")
    assert [(a.subject, a.detail["why"], a.detail["reason"]) for a in refused] == [
        ("record_export:new", "export_grant_required", "报送全国系统")
    ] * 2
    for url in ("/api/v1/exports", "/api/v1/exports/1"):
        r = client.get(url, headers=staff_token(client, "county"))
        assert r.status_code == 403 and r.json()["code"] == "export_grant_required"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"period_end": "2030-05-31"}, {"period_end": "before_start"}),
        ({"period_start": "2030-01-01", "period_end": "2031-01-02"}, {"period_end": "too_long"}),
        ({"kind": "volunteers"}, {"kind": "invalid_choice"}),
        ({"format": "pdf"}, {"format": "invalid_choice"}),
        ({"reason": None}, {"reason": "length"}),
        (
            {"reason": "  ", "format": "json", "period_start": None},
            {"reason": "length", "format": "invalid_choice", "period_start": "required"},
        ),
    ],
)
def test_bad_fields_field_by_field_and_nothing_written(client, rt, county, change, expected):
    h = grant(rt, client)
    body = {k: v for k, v in (BODY | {"format": "csv"} | change).items() if v is not None}
    r = client.post("/api/v1/exports", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert {e["field"]: e["code"] for e in r.json()["errors"]} == expected
    assert exports_written(rt) == (0, 0)
    # a full year (366 days in a leap year) is allowed
    ok = client.post(
        "/api/v1/exports",
        json=BODY | {"format": "csv", "period_start": "2028-01-01", "period_end": "2028-12-31"},
        headers=h,
    )
    assert ok.status_code == 202, ok.text


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_file_one_row_per_counted_attendance_in_the_imports_order_taken_once(client, rt, county, fmt):
    h = county
    county_h = grant(rt, client)
    r = client.post("/api/v1/exports", json=BODY | {"format": fmt}, headers=county_h)
    assert r.status_code == 202, r.text
    export = r.json()
    assert export["status"] == "queued" and export["file"] is None
    url = f"/api/v1/exports/{export['id']}"
    assert client.get(f"{url}/file", headers=county_h).json()["code"] == "export_not_ready"
    assert drain(rt) >= 1
    got = client.get(url, headers=county_h).json()
    assert got["status"] == "ready", got
    assert (got["rows"], got["missing_identity"]) == (4, 1)
    assert got["expires_at"] is not None and got["downloaded_at"] is None and got["file"] == f"{url}/file"
    listed = client.get("/api/v1/exports", headers=county_h).json()
    assert [e["id"] for e in listed["items"]] == [export["id"]] and listed["next"] is None

    # only the admin who asked, holding the grant, takes it: refusals audited, nothing spent
    other = grant(rt, client, "county2")
    r = client.get(f"{url}/file", headers=other)
    assert r.status_code == 403 and r.json()["code"] == "export_requester_only"
    r = client.get(f"{url}/file", headers=staff_token(client, "admin_a"))
    assert r.status_code == 403 and r.json()["code"] == "export_grant_required"
    assert [a.detail["why"] for a in audits(rt, "record_export.refused")] == [
        "export_requester_only",
        "export_grant_required",
    ]

    r = client.get(f"{url}/file", headers=county_h)
    assert r.status_code == 200, r.text
    assert r.headers["x-checksum-sha256"] == got["sha256"]
    rows = table(fmt, r.content)
    assert rows[0] == HEADINGS
    with rt.tx() as s:
        names = {a: row["hours"] for vid in (h.volunteer, h.v2, h.v3) for a, row in _hours(s, rt, vid)}
        admin_a = accounts_service.find_staff(s, "admin_a").display_name
    org, place = "泉塘志愿者协会", "泉心食堂取餐台"
    assert rows[1:] == [
        [
            "王秀英",
            "居民身份证",
            FEMALE_ID,
            PHONE,
            "女",
            "1992-03-15",
            org,
            "午餐助餐服务",
            "2030-06-03 10:30",
            "2030-06-03 12:10",
            names[h.a_counted],
            place,
            org,
        ],
        [
            "李娜",
            "护照",
            PASSPORT,
            PHONE2,
            "",
            "",
            org,
            "午餐助餐服务",
            "2030-06-03 10:30",
            "2030-06-03 12:00",
            names[h.a_v2],
            place,
            org,
        ],
        [
            "王秀英",
            "居民身份证",
            FEMALE_ID,
            PHONE,
            "女",
            "1992-03-15",
            org,
            "'=晚餐助餐",
            "2030-06-03 17:30",
            "2030-06-03 18:20",
            names[h.a_corrected],
            place,
            admin_a,
        ],
        [
            "张伟",
            "",
            "",
            PHONE3,
            "",
            "",
            org,
            "'=晚餐助餐",
            "2030-06-03 17:30",
            "2030-06-03 18:45",
            names[h.a_v3],
            place,
            org,
        ],
    ]
    assert [names[h.a_counted], names[h.a_corrected], names[h.a_v2]] == ["1.67", "1.17", "1.50"]

    with rt.tx() as s:
        e = s.get(RecordExport, export["id"])
        assert e.file_enc is None and e.downloaded_by == accounts_service.find_staff(s, "county").id
    again = client.get(f"{url}/file", headers=county_h)
    assert again.status_code == 410 and again.json()["code"] == "already_downloaded"
    assert client.get(url, headers=county_h).json()["downloaded_at"] is not None
    steps = [a.action for a in audits(rt, "record_export.requested") + audits(rt, "record_export.built")]
    assert steps == ["record_export.requested", "record_export.built"]
    assert len(audits(rt, "record_export.downloaded")) == 1
    revealed = audits(rt, "identity.revealed")
    assert sorted(a.subject for a in revealed) == [f"volunteer:{h.volunteer}", f"volunteer:{h.v2}"]
    assert all(a.detail["reason"] == "报送全国系统" for a in revealed)


def _hours(s, rt, volunteer_id):
    record = record_service.record(s, volunteer_id, TZ)
    return [(row["id"], row) for row in record["service"]]


def test_the_file_in_the_database_is_not_plaintext_and_expires_after_7_days(client, rt, county, clock):
    county_h = grant(rt, client)
    export = client.post("/api/v1/exports", json=BODY | {"format": "csv"}, headers=county_h).json()
    drain(rt)
    with rt.tx() as s:
        e = s.get(RecordExport, export["id"])
        sealed = bytes(e.file_enc)
        expires = e.expires_at
    assert sealed.startswith(rt.id_keys.current.encode() + b":")
    assert FEMALE_ID.encode() not in sealed and PASSPORT.encode() not in sealed
    dump = _database_text(rt)
    assert FEMALE_ID not in dump and PASSPORT not in dump
    assert expires == clock.at + timedelta(days=7)

    clock.at = expires - timedelta(minutes=1)
    assert jobs.prune()["record_export_files"] == 0
    clock.at = expires
    r = client.get(f"/api/v1/exports/{export['id']}/file", headers=county_h)
    assert r.status_code == 410 and r.json()["code"] == "export_expired"
    assert jobs.prune()["record_export_files"] == 1
    with rt.tx() as s:
        e = s.get(RecordExport, export["id"])
        assert (e.status, e.file_enc, e.downloaded_at) == ("expired", None, None)
    r = client.get(f"/api/v1/exports/{export['id']}/file", headers=county_h)
    assert r.status_code == 410 and r.json()["code"] == "export_expired"


def test_a_grant_lost_before_the_build_fails_the_export(client, rt, county):
    county_h = grant(rt, client)
    export = client.post("/api/v1/exports", json=BODY | {"format": "xlsx"}, headers=county_h).json()
    with rt.tx() as s:
        s.execute(RoleGrant.__table__.delete().where(RoleGrant.role == "records_export"))
    drain(rt)
    with rt.tx() as s:
        e = s.get(RecordExport, export["id"])
        assert (e.status, e.error, e.file_enc) == ("failed", "export_grant_required", None)
    assert audits(rt, "identity.revealed") == []
    assert [a.detail["step"] for a in audits(rt, "record_export.refused")] == ["build"]


def test_the_full_number_is_only_in_the_reveal_answer_and_the_export_file(client, rt, county, caplog):
    caplog.set_level(logging.DEBUG)
    h = county
    answers = []

    def call(method, url, headers, **kw):
        r = client.request(method, url, headers=headers, **kw)
        answers.append((method, url, r.status_code, r.content + str(dict(r.headers)).encode()))
        return r

    county_h = staff_token(client, "county")
    call("POST", "/api/v1/exports", county_h, json=BODY | {"format": "csv"})
    county_h = grant(rt, client)
    reveal = f"/api/v1/volunteers/{h.volunteer}/identity/reveal"
    assert call("POST", reveal, county_h, json={"reason": "出具证明"}).status_code == 200
    export = call("POST", "/api/v1/exports", county_h, json=BODY | {"format": "csv"}).json()
    drain(rt)
    url = f"/api/v1/exports/{export['id']}"
    call("GET", url, county_h)
    call("GET", "/api/v1/exports", county_h)
    assert call("GET", f"{url}/file", county_h).status_code == 200
    call("GET", f"{url}/file", county_h)
    call("GET", "/api/v1/integrity/audit", county_h)
    call("GET", "/api/v1/me/record", volunteer_token(rt, PHONE))
    call("GET", "/api/v1/me/identity", volunteer_token(rt, PHONE))

    holding = [(m, u, st) for m, u, st, body in answers if FEMALE_ID.encode() in body]
    assert holding == [("POST", reveal, 200), ("GET", f"{url}/file", 200)]
    assert [(m, u) for m, u, st, body in answers if PASSPORT.encode() in body] == [("GET", f"{url}/file")]
    dump = _database_text(rt)
    assert FEMALE_ID not in dump and PASSPORT not in dump
    assert FEMALE_ID not in caplog.text and PASSPORT not in caplog.text
    assert all(FEMALE_ID not in str(r.args) and FEMALE_ID not in r.getMessage() for r in caplog.records)
    assert len(caplog.records) > 0


def test_the_build_logs_its_progress_as_commands_show_it(client, rt, county, caplog):
    caplog.set_level(logging.INFO, logger="linli.jobs")
    export = client.post("/api/v1/exports", json=BODY | {"format": "csv"}, headers=grant(rt, client)).json()
    drain(rt)
    label = f"全国系统导出 record export {export['id']}"
    stages = [f"{label} · {s}" for s in ("服务记录 records", "生成文件 render", "加密保存 encrypt and store")]
    assert parsed(logged(caplog, label)) == [
        (label, 0, 0, 3),
        (stages[0], 0, 0, 3),
        (stages[0], 33, 1, 3),
        (stages[1], 33, 1, 3),
        (stages[1], 66, 2, 3),
        (stages[2], 66, 2, 3),
        (stages[2], 100, 3, 3),
    ]
