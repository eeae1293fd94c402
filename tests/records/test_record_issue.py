"""Asking for a 志愿服务记录证明 from the phone (申请证明): the organization that recorded the
service issues it over the counted rows of records.service, annulled attendances left out and
named; a volunteer without a stored number is asked for it first; the PDF carries the full number
(decrypted by records.identity.reveal_own, audited) for the volunteer or an admin of the issuing
organization only; the public check shows it masked; a revoked certificate is not drawn again."""

from __future__ import annotations

import io
import logging
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from integrity.models import AuditEntry
from records.models_certificates import RecordCertificate
from tests.fixtures.builders import file_volunteer, staff_token, staff_user, valid_id, volunteer_token
from tests.fixtures.hub import PHONE, START, Hub

ID_NUMBER = valid_id("43012119900307851")
OTHER_PHONE = "13900000077"
ASK = "/api/v1/me/record/certificates"


@pytest.fixture
def hub(client, rt, clock):
    clock.at = START - timedelta(days=1)
    h = Hub(client, rt)
    staff_user(rt, "admin_a", "admin", org_id=h.county.org_a)
    staff_user(rt, "admin_b", "admin", org_id=h.county.hub_b)
    h.other = file_volunteer(rt, OTHER_PHONE, h.county.open_team, name="李建国")
    h.served = [h.attendance(100), h.attendance(50, start=START + timedelta(hours=3))]
    for a in h.served:
        h.settle(a)
    clock.at = START + timedelta(days=2)
    h.me = volunteer_token(rt, PHONE)
    return h


def body(hub, **changes):
    return {"org_id": hub.county.org_a, "period_start": "2030-06-01", "period_end": "2030-06-04"} | changes


def give_identity(client, token, number=ID_NUMBER):
    r = client.put("/api/v1/me/identity", json={"id_type": "resident_id", "id_number": number}, headers=token)
    assert r.status_code == 200, r.text


def text_of(pdf: bytes) -> str:
    return re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def certificates(rt) -> list:
    with rt.tx() as s:
        return s.scalars(select(RecordCertificate)).all()


def audits(rt, action) -> list:
    with rt.tx() as s:
        return [
            (a.subject, a.staff_user_id, a.detail)
            for a in s.scalars(select(AuditEntry))
            if a.action == action
        ]


def test_asking_without_a_number_is_answered_identity_needed_then_issues(hub, client, rt):
    r = client.post(ASK, json=body(hub), headers=hub.me)
    assert r.status_code == 409 and r.json()["code"] == "identity_needed", r.text
    assert "/api/v1/me/identity" in r.json()["detail"]
    assert certificates(rt) == []

    give_identity(client, hub.me)
    r = client.post(ASK, json=body(hub), headers=hub.me)
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["pdf_url"] == f"/api/v1/record-certificates/{got['id']}.pdf"
    assert got["verify_url"].endswith(f"/verify/{got['id']}")
    assert (got["total_minutes"], got["rows"], got["issuer"], got["left_out"]) == (
        150,
        2,
        "泉塘志愿者协会",
        [],
    )
    [cert] = certificates(rt)
    assert (cert.id_last4, cert.total_minutes, cert.org_id) == (ID_NUMBER[-4:], 150, hub.county.org_a)
    assert ID_NUMBER not in str(cert.rows) and cert.handler.startswith("系统出具")
    assert len(audits(rt, "record_certificate.issued")) == 1

    pdf = client.get(got["pdf_url"], headers=hub.me)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store"
    assert pdf.headers["content-disposition"].startswith("attachment")
    text = text_of(pdf.content)
    for words in (
        "王秀英",
        ID_NUMBER,
        "2小时30分钟",
        "2.50",
        "午餐助餐服务",
        "1.67",
        "0.83",
        "泉塘志愿者协会",
        got["id"],
    ):
        assert words in text, words
    [(subject, staff, detail)] = audits(rt, "identity.revealed_to_self")
    assert (subject, staff, detail["purpose"]) == (
        f"volunteer:{hub.volunteer}",
        None,
        f"record_certificate:{got['id']}",
    )
    assert ID_NUMBER not in str(detail)

    # the public check: masked identity, no full number
    page = client.get(f"/verify/{got['id']}")
    assert page.status_code == 200 and ID_NUMBER not in page.text
    assert f"************{ID_NUMBER[-4:]}" in page.text and "2.5" in page.text


def test_an_annulled_attendance_is_left_out_and_named(hub, client, rt):
    give_identity(client, hub.me)
    r = client.post(
        f"/api/v1/attendances/{hub.served[1]}/annul",
        json={"reason": "重复签到"},
        headers=staff_token(client, "admin_a"),
    )
    assert r.status_code == 201, r.text
    r = client.post(ASK, json=body(hub), headers=hub.me)
    assert r.status_code == 201, r.text
    assert r.json()["left_out"] == [{"attendance_id": hub.served[1], "code": "attendance_annulled"}]
    assert (r.json()["total_minutes"], r.json()["rows"]) == (100, 1)
    # a period holding only the annulled one: no service, and it says which was left out
    client.post(
        f"/api/v1/attendances/{hub.served[0]}/annul",
        json={"reason": "误签"},
        headers=staff_token(client, "admin_a"),
    )
    r = client.post(ASK, json=body(hub), headers=hub.me)
    assert r.status_code == 422 and r.json()["code"] == "no_service", r.text
    assert {x["attendance_id"] for x in r.json()["left_out"]} == set(hub.served)
    assert len(certificates(rt)) == 1


@pytest.mark.parametrize(
    "changes, status, fields",
    [
        ({"period_start": "2030-05-01", "period_end": "2030-05-30"}, 422, [("period", "no_service")]),
        ({"period_end": "2030-05-01"}, 422, [("period_end", "before_start")]),
        ({"period_start": "2020-01-01"}, 422, [("period_end", "period_too_long")]),
        ({"period_end": "2030-12-31"}, 422, [("period_end", "future_day")]),
        ({"period_start": "1999-12-31", "period_end": "2030-05-01"}, 422, [("period_start", "out_of_range")]),
    ],
)
def test_bad_periods_are_refused_field_by_field(hub, client, rt, changes, status, fields):
    give_identity(client, hub.me)
    r = client.post(ASK, json=body(hub, **changes), headers=hub.me)
    assert r.status_code == status, r.text
    assert [(e["field"], e["code"]) for e in r.json()["errors"]][: len(fields)] == fields
    assert certificates(rt) == []


def test_unknown_and_never_served_organizations(hub, client, rt):
    give_identity(client, hub.me)
    r = client.post(ASK, json=body(hub, org_id=9_999_999), headers=hub.me)
    assert r.status_code == 404 and r.json()["code"] == "org_not_found", r.text
    r = client.post(ASK, json=body(hub, org_id=hub.county.org_b), headers=hub.me)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "not_served_here", r.text
    # the hub above the organization issues over its organizations' service too
    r = client.post(ASK, json=body(hub, org_id=hub.county.hub_a), headers=hub.me)
    assert r.status_code == 201 and r.json()["total_minutes"] == 150, r.text
    staff = client.post(ASK, json=body(hub), headers=staff_token(client, "admin_a"))
    assert staff.status_code == 403 and staff.json()["code"] == "volunteers_only"


def test_who_may_download_and_a_revoked_certificate(hub, client, rt):
    give_identity(client, hub.me)
    got = client.post(ASK, json=body(hub), headers=hub.me).json()
    url = got["pdf_url"]
    other = volunteer_token(rt, OTHER_PHONE)
    for headers in (other, staff_token(client, "admin_b")):
        r = client.get(url, headers=headers)
        assert r.status_code == 404 and r.json()["code"] == "certificate_not_found", r.text
        assert ID_NUMBER not in r.text
    assert client.get(url).status_code == 401
    assert client.get(f"/api/v1/record-certificates/{got['id']}.txt", headers=hub.me).status_code == 404
    assert client.get("/api/v1/record-certificates/R0000000000000000.pdf", headers=hub.me).status_code == 404
    # the issuing organization's admin draws it too, audited under their name
    r = client.get(url, headers=staff_token(client, "admin_a"))
    assert r.status_code == 200 and ID_NUMBER in text_of(r.content)
    [(subject, staff, detail)] = audits(rt, "identity.revealed_for_certificate")
    assert subject == f"volunteer:{hub.volunteer}" and staff is not None and detail["by"] == "staff"
    assert audits(rt, "identity.revealed_to_self") == []  # the refused tries decrypted nothing

    r = client.post(
        f"/api/v1/record-certificates/{got['id']}/revoke",
        json={"reason": "期间填错"},
        headers=staff_token(client, "admin_a"),
    )
    assert r.status_code == 200, r.text
    r = client.get(url, headers=hub.me)
    assert r.status_code == 409 and r.json()["code"] == "certificate_revoked", r.text
    assert audits(rt, "identity.revealed_to_self") == []
    page = client.get(f"/verify/{got['id']}")
    assert "期间填错" in page.text


def test_the_full_number_is_only_in_the_pdf(hub, client, rt, caplog):
    """The certificate PDF is the one more place the full number goes (besides the reveal answer):
    not in the ask answer, the verify page, the database or the logs."""
    from tests.records.test_identity import _database_text

    caplog.set_level(logging.DEBUG)
    give_identity(client, hub.me)
    asked = client.post(ASK, json=body(hub), headers=hub.me)
    pdf = client.get(asked.json()["pdf_url"], headers=hub.me)
    page = client.get(f"/verify/{asked.json()['id']}")
    record = client.get("/api/v1/me/record", headers=hub.me)
    assert ID_NUMBER in text_of(pdf.content)
    for r in (asked, page, record):
        assert ID_NUMBER not in r.text + str(dict(r.headers))
    assert ID_NUMBER not in _database_text(rt)
    assert all(ID_NUMBER not in str(r.args) and ID_NUMBER not in r.getMessage() for r in caplog.records)
    assert len(caplog.records) > 0


def test_the_issuers_person_in_charge_and_phone_are_printed_once_its_admin_sets_them(hub, client, rt):
    """负责人 and 联系电话 come from the organization (PATCH by its admins); "—" until then."""
    admin = staff_token(client, "admin_a")
    url = f"/api/v1/organizations/{hub.county.org_a}"
    bad = client.patch(url, json={"person_in_charge": "王" * 51, "contact_phone": "打电话"}, headers=admin)
    assert bad.status_code == 422, bad.text
    assert {e["field"]: e["code"] for e in bad.json()["errors"]} == {
        "person_in_charge": "length",
        "contact_phone": "invalid_phone",
    }
    outside = client.patch(url, json={"person_in_charge": "李四"}, headers=staff_token(client, "admin_b"))
    assert outside.status_code == 403
    ok = client.patch(url, json={"person_in_charge": " 周明华 ", "contact_phone": "0731-8845 6677"}, headers=admin)
    assert ok.status_code == 200, ok.text
    assert (ok.json()["person_in_charge"], ok.json()["contact_phone"]) == ("周明华", "0731-88456677")
    kept = client.patch(url, json={}, headers=admin)  # nothing sent: nothing changes
    assert kept.json()["person_in_charge"] == "周明华"

    give_identity(client, hub.me)
    got = client.post(ASK, json=body(hub), headers=hub.me).json()
    text = text_of(client.get(got["pdf_url"], headers=hub.me).content)
    assert "周明华" in text and "0731-88456677" in text
