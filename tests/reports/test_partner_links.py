"""Who may link a partner to an agreement (关联合作企业): its reports then cover the agreement's meal
points, so only an admin over every meal point the partner already funds (a county's admins) may;
and the partner sees who linked it and when."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from meals import service
from meals.models import AgreementPoint, FundingAgreement
from reports import queries
from tests.fixtures.builders import staff_token, staff_user
from tests.fixtures.month import Month


@pytest.fixture
def month(client, rt, clock):
    m = Month(rt, client, clock)
    with rt.tx() as s:
        m.point_b = service.create_meal_point(
            s,
            org_id=m.county.org_b,
            name="星沙食堂",
            address="星沙街道1号",
            daily_capacity=100,
            slots=[service.SlotInput("lunch", "11:00", "13:30", 1200)],
            now=rt.clock.now(),
        ).id
    staff_user(rt, "admin_b", "admin", org_id=m.county.hub_b)
    staff_user(rt, "county_admin", "admin", org_id=m.county.base)
    return m


def agreement(point_id, partner_id, name):
    return {
        "name": name,
        "funder_kind": "enterprise",
        "stack_order": 4,
        "starts_on": "2030-06-01",
        "ends_on": "2030-12-31",
        "budget_cap": 100_000,
        "schedule": [{"categories": ["*"], "slots": ["lunch"], "amount": 100}],
        "meal_point_ids": [point_id],
        "partner_id": partner_id,
    }


def counts(rt):
    with rt.tx() as s:
        return (
            s.scalar(select(func.count()).select_from(FundingAgreement)),
            s.scalar(select(func.count()).select_from(AgreementPoint)),
        )


def covered(rt, partner_id):
    with rt.tx() as s:
        return set(queries.resolve_scope(s, {"partner_id": partner_id}).meal_point_ids)


def test_a_hub_cannot_link_another_hubs_partner_and_the_county_can(month, client, rt):
    before = counts(rt)
    hub_b = staff_token(client, "admin_b")
    r = client.post(
        "/api/v1/funding-agreements", json=agreement(month.point_b, month.partner, "星沙助餐"), headers=hub_b
    )
    assert r.status_code == 403 and r.json()["code"] == "outside_your_scope", r.text
    assert counts(rt) == before  # nothing written
    # partner A's report does not cover hub B's meal point, nor name the agreement
    assert covered(rt, month.partner) == {month.point.id}
    _, got = month.report(staff_token(client, "partner1"))
    assert "星沙助餐" not in got.text and [r["funder"] for r in got.json()["sheets"][-1]["rows"]] == [
        "泉心社会企业"
    ]
    # hub B still makes its own agreements, with no partner
    alone = client.post(
        "/api/v1/funding-agreements", json=agreement(month.point_b, None, "星沙自筹"), headers=hub_b
    )
    assert alone.status_code == 201, alone.text

    # hub A's admin may: the partner funds only in hub A
    hub_a = client.post(
        "/api/v1/funding-agreements",
        json=agreement(month.point.id, month.partner, "泉心加餐"),
        headers=staff_token(client, "admin_a"),
    )
    assert hub_a.status_code == 201 and hub_a.json()["partner_id"] == month.partner, hub_a.text

    # the county's admin may link it to hub B's point; then hub A's admin no longer may
    county = client.post(
        "/api/v1/funding-agreements",
        json=agreement(month.point_b, month.partner, "星沙助餐"),
        headers=staff_token(client, "county_admin"),
    )
    assert county.status_code == 201, county.text
    assert covered(rt, month.partner) == {month.point.id, month.point_b}
    _, got = month.report(staff_token(client, "partner1"), format="csv")
    assert "星沙助餐" in got.content.decode("utf-8-sig")
    again = client.post(
        "/api/v1/funding-agreements",
        json=agreement(month.point.id, month.partner, "泉心再加餐"),
        headers=staff_token(client, "admin_a"),
    )
    assert again.status_code == 403 and again.json()["code"] == "outside_your_scope"


def test_the_partner_sees_who_linked_it_and_when(month, client, rt):
    county = client.post(
        "/api/v1/funding-agreements",
        json=agreement(month.point_b, month.partner, "星沙助餐"),
        headers=staff_token(client, "county_admin"),
    )
    assert county.status_code == 201, county.text
    key = client.post(
        f"/api/v1/partners/{month.partner}/api-keys",
        json={"name": "对账"},
        headers=staff_token(client, "county_admin"),
    ).json()["key"]
    for who in (staff_token(client, "partner1"), {"Authorization": f"Bearer {key}"}):
        r = client.get("/api/v1/funding-agreements", headers=who)
        assert r.status_code == 200, r.text
        listed = {a["name"]: a for a in r.json()["items"]}
        # its own agreements only (not the government's or the other partner's at the same point)
        assert set(listed) == {"泉心社会企业", "星沙助餐"}
        linked = listed["星沙助餐"]
        assert (linked["linked_by"], linked["partner_id"], linked["meal_point_ids"]) == (
            "county_admin",
            month.partner,
            [month.point_b],
        )
        assert datetime.fromisoformat(linked["linked_at"]) == rt.clock.now()
        assert listed["泉心社会企业"]["linked_by"] is None  # made before links were recorded
    other = client.get("/api/v1/funding-agreements", headers=staff_token(client, "partner2")).json()["items"]
    assert [a["name"] for a in other] == ["星沙慈善基金"]
    # hub admins see the link on their agreements too
    hub_b = client.get("/api/v1/funding-agreements", headers=staff_token(client, "admin_b")).json()["items"]
    assert [(a["name"], a["linked_by"]) for a in hub_b] == [("星沙助餐", "county_admin")]
