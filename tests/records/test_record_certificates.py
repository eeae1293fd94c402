"""Service-record certificates (志愿服务记录证明): issued through records.certificates.issue (a
snapshot with the ID masked), drawn by records.certificate_pdf, checked in public at /verify/{id}
next to the commendation certificates, revoked by an admin of the issuing organization."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from linli.errors import LinliError
from records import certificates
from records.certificate_pdf import CertificateData, ServiceRow, render
from records.models_certificates import RecordCertificate
from tests.fixtures.builders import staff_token, staff_user, volunteer_token
from tests.fixtures.hub import PHONE, TZ, Hub

ID_NUMBER = "430121199003078515"
NOW = datetime(2030, 7, 2, 2, 0, tzinfo=UTC)


def sample(**changes) -> CertificateData:
    rows = [
        ServiceRow("助餐点配餐", "泉塘志愿者协会", date(2030, 6, 3), date(2030, 6, 3), 150),
        ServiceRow("独居长者探访", "泉塘志愿者协会", date(2030, 6, 10), date(2030, 6, 12), 95),
    ]
    data = CertificateData(
        certificate_id="",
        base_url="https://linli.example.cn",
        name="王秀英",
        id_type="居民身份证",
        id_number=ID_NUMBER,
        volunteer_number="V4301210001",
        total_minutes=245,
        issuer="泉塘志愿者协会",
        person_in_charge="刘建华",
        handler="陈小燕",
        contact_phone="0731-84001234",
        issued_on=date(2030, 7, 2),
        period_start=date(2030, 6, 1),
        period_end=date(2030, 6, 30),
        rows=rows,
    )
    return replace(data, **changes)


class World(Hub):
    def __init__(self, client, rt):
        super().__init__(client, rt)
        staff_user(rt, "admin_org", "admin", org_id=self.county.org_a)
        staff_user(rt, "admin_hub", "admin", org_id=self.county.hub_a)
        staff_user(rt, "admin_b", "admin", org_id=self.county.hub_b)

    def issue(self, **changes) -> RecordCertificate:
        with self.rt.tx() as s:
            cert = certificates.issue(
                s, volunteer_id=self.volunteer, org_id=self.county.org_a, data=sample(**changes), now=NOW
            )
            s.expunge(cert)
            return cert


@pytest.fixture
def world(client, rt, clock):
    clock.at = NOW
    return World(client, rt)


def test_issuing_keeps_a_masked_snapshot_and_the_pdf_says_everything(world, rt):
    cert = world.issue()
    assert certificates.is_code(cert.id) and len(cert.id) == 16
    assert (cert.id_type, cert.id_last4, cert.total_minutes) == ("居民身份证", "8515", 245)
    assert (cert.period_start, cert.period_end) == (date(2030, 6, 1), date(2030, 6, 30))
    with rt.tx() as s:
        row = s.scalars(select(RecordCertificate)).one()
        stored = " ".join(str(getattr(row, c.key)) for c in RecordCertificate.__table__.columns)
        assert ID_NUMBER not in stored and "19900307" not in stored  # only the last four are kept
        data = certificates.data_of(row, id_number=ID_NUMBER, base_url="https://linli.example.cn", tz=TZ)
    assert data.certificate_id == cert.id and [r.minutes for r in data.rows] == [150, 95]
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(render(data))).pages))
    for words in (
        "志愿服务记录证明",
        "王秀英",
        "居民身份证",
        ID_NUMBER,
        "V4301210001",
        "4小时5分钟",
        "助餐点配餐",
        "独居长者探访",
        "2030-06-10至2030-06-12",
        "2.50",
        "1.58",
        "出具单位",
        "泉塘志愿者协会",
        "刘建华",
        "陈小燕",
        "0731-84001234",
        cert.id,
        "2030年07月02日",
        "盖章",
        f"https://linli.example.cn/verify/{cert.id}",
    ):
        assert words in text, words


def test_a_certificate_number_is_random_and_issued_once(world):
    codes = {certificates.new_code() for _ in range(200)}
    assert len(codes) == 200 and all(certificates.is_code(c) for c in codes)
    taken = world.issue().id
    with pytest.raises(LinliError) as e:
        world.issue(certificate_id=taken)
    assert (e.value.status, e.value.code) == (409, "certificate_exists")


@pytest.mark.parametrize(
    "changes, field, code",
    [
        ({"rows": [], "total_minutes": 0}, "rows", "no_service"),
        ({"total_minutes": 999}, "total_minutes", "mismatch"),
        ({"id_number": ""}, "id_number", "missing"),
        ({"certificate_id": "1042-4f1c2a9b07d3e8aa"}, "certificate_id", "invalid"),
    ],
)
def test_bad_data_is_refused_and_nothing_is_written(world, rt, changes, field, code):
    with pytest.raises(LinliError) as e:
        world.issue(**changes)
    assert e.value.status == 422 and [(f.field, f.code) for f in e.value.errors] == [(field, code)]
    with rt.tx() as s:
        assert s.scalars(select(RecordCertificate)).all() == []


def test_the_public_check_shows_the_masked_identity_hours_and_issuer(world, client):
    cert = world.issue()
    other = world.issue(name="李建国", id_number="43012119851111123X", issuer="星沙邻里互助会")
    page = client.get(f"/verify/{cert.id}")  # no login
    assert page.status_code == 200
    html = page.text
    for words in (
        "证书真实有效",
        "王*英",
        "居民身份证",
        "8515",
        "4.08",
        "泉塘志愿者协会",
        "2030-07-02",
        "志愿服务记录证明",
    ):
        assert words in html, words
    for secret in (
        ID_NUMBER,
        "王秀英",
        "V4301210001",
        "助餐点配餐",
        "0731-84001234",
        "李*国",
        "123X",
        other.id,
    ):
        assert secret not in html, secret
    assert "撤销" not in html


def test_unknown_and_forged_ids_answer_a_clear_404(world, client):
    cert = world.issue()
    for wrong in (
        "R0000000000000000",
        "R" + "0" * 15,
        cert.id.lower(),
        cert.id[:-1] + "Z" if cert.id[-1] != "Z" else cert.id[:-1] + "Y",
        "1042-4f1c2a9b07d3e8aa",
        "x",
    ):
        page = client.get(f"/verify/{wrong}")
        assert page.status_code == 404, wrong
        assert "未找到该证书" in page.text and "王*英" not in page.text


def test_revoking_takes_an_admin_of_the_issuer_and_a_reason(world, client):
    cert = world.issue()
    url = f"/api/v1/record-certificates/{cert.id}/revoke"
    body = {"reason": "服务记录有误，已重新出具"}
    assert client.post(url, json=body).status_code == 401
    volunteer = volunteer_token(world.rt, PHONE)
    assert client.post(url, json=body, headers=volunteer).json()["code"] == "staff_only"
    coordinator = staff_token(client, "counter")
    assert client.post(url, json=body, headers=coordinator).status_code == 403
    elsewhere = staff_token(client, "admin_b")
    r = client.post(url, json=body, headers=elsewhere)
    assert (r.status_code, r.json()["code"]) == (403, "outside_your_scope")
    admin = staff_token(client, "admin_org")
    r = client.post(url, json={"reason": "  "}, headers=admin)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert client.post(url, json={"reason": "x" * 201}, headers=admin).status_code == 422
    r = client.post("/api/v1/record-certificates/R0000000000000000/revoke", json=body, headers=admin)
    assert (r.status_code, r.json()["code"]) == (404, "certificate_not_found")
    assert client.get(f"/verify/{cert.id}").text.count("撤销") == 0  # nothing written so far
    r = client.post(url, json=body, headers=admin)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["revoke_reason"] == "服务记录有误，已重新出具" and done["revoked_at"]
    assert done["id_last4"] == "8515" and ID_NUMBER not in r.text
    r = client.post(url, json=body, headers=staff_token(client, "admin_hub"))  # the hub above may too
    assert (r.status_code, r.json()["code"]) == (409, "certificate_revoked")
    page = client.get(f"/verify/{cert.id}")
    assert page.status_code == 200
    assert "该证明已于2030-07-02撤销" in page.text and "服务记录有误，已重新出具" in page.text
    assert "证书真实有效" not in page.text


def test_the_hub_above_the_issuer_may_revoke(world, client):
    cert = world.issue()
    r = client.post(
        f"/api/v1/record-certificates/{cert.id}/revoke",
        json={"reason": "重复出具"},
        headers=staff_token(client, "admin_hub"),
    )
    assert r.status_code == 200, r.text


def test_a_commendation_certificate_still_verifies(world, client):
    world.settle(world.attendance(120))
    me = volunteer_token(world.rt, PHONE)
    r = client.post(
        "/api/v1/me/certificates", json={"period_start": "2030-06-01", "period_end": "2030-06-30"}, headers=me
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    world.issue()
    page = client.get(f"/verify/{code}")
    assert page.status_code == 200 and "证书真实有效" in page.text and "王*英" in page.text
    assert "8515" not in page.text and "撤销" not in page.text
