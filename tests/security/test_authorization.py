"""The authorization matrix (权限矩阵): every route of the app, every kind of caller. Each route says
who may pass its guards; everyone else is refused, 401 without a live token and 403 (or 404 where
the route hides what exists) with one. The routes come from the app's own route table, so a route
added without an entry here fails `test_every_route_is_in_the_matrix`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from accounts import service as accounts_service
from api.app import create_app
from integrity import service as integrity_service
from meals import service as meal_service
from orgs import service as orgs_service
from points import ledger
from points import shop as shop_service
from tests.fixtures.builders import (
    PASSWORD,
    Conformance,
    make_activity,
    make_county,
    make_station,
    place_code,
    register,
    staff_token,
    staff_user,
    valid_id,
    volunteer_token,
)

STAFF = ("county", "admin_a", "admin_b", "coord_a", "coord_b", "partner_a", "partner_b")
VOLUNTEERS = ("vol", "vol_w")
LIVE = (*STAFF, *VOLUNTEERS, "key_a")
EVERYONE = ("anon", "revoked", "expired", *LIVE)
PUBLIC = frozenset(EVERYONE)
ANY_LOGIN = frozenset(LIVE)
HUB_A_STAFF = frozenset({"county", "admin_a", "coord_a"})
HUB_A_ADMINS = frozenset({"county", "admin_a"})
ADMINS = frozenset({"county", "admin_a", "admin_b"})
PARTNER_A = frozenset({"partner_a", "key_a"})


def may(*who, hides=False):
    """Who passes a route's guards; `hides`: refusing may be 404 (the route does not tell others
    that a thing exists) as well as 403."""
    allowed = frozenset().union(*(w if isinstance(w, frozenset) else {w} for w in who))
    return allowed, ({403, 404} if hides else {403})


# (method, route template) → who may. Keep in the app's order; a new route needs its line here.
MATRIX = {
    ("GET", "/"): may(PUBLIC),
    ("GET", "/counter"): may(PUBLIC),
    ("GET", "/me"): may(PUBLIC),
    ("GET", "/partner"): may(PUBLIC),
    ("GET", "/admin"): may(PUBLIC),
    ("GET", "/demo/codes"): may(PUBLIC),
    ("GET", "/Q/{code:str}"): may(PUBLIC),
    ("GET", "/q/{code:str}"): may(PUBLIC),
    ("GET", "/static/{file_path:path}"): may(PUBLIC),
    ("GET", "/healthz"): may(PUBLIC),
    ("GET", "/readyz"): may(PUBLIC),
    ("GET", "/metrics"): may(ADMINS),  # and a scraper on the server's machine (tests/test_processes.py)
    ("POST", "/api/v1/auth/tokens"): may(PUBLIC),
    ("POST", "/api/v1/auth/codes"): may(PUBLIC),
    ("DELETE", "/api/v1/auth/tokens/current"): may(*STAFF, *VOLUNTEERS),
    ("GET", "/api/v1/me"): may(ANY_LOGIN),
    ("GET", "/api/v1/me/filings"): may(*VOLUNTEERS),
    ("POST", "/api/v1/volunteers"): may(PUBLIC),
    ("POST", "/api/v1/teams/{team_id:int}/filings"): may(*VOLUNTEERS),
    ("POST", "/api/v1/teams/{team_id:int}/invitations"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/teams"): may(PUBLIC),
    ("POST", "/api/v1/filings/{filing_id:int}/approve"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/filings/{filing_id:int}"): may(HUB_A_ADMINS, "vol", hides=True),
    ("GET", "/api/v1/filings"): may(ADMINS, "coord_a", "coord_b"),
    ("POST", "/api/v1/filings/{filing_id:int}/reject"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/partners/{partner_id:int}/api-keys"): may("county", "partner_a"),
    ("POST", "/api/v1/partners/{partner_id:int}/api-keys"): may("county", "partner_a"),
    ("GET", "/api/v1/organizations"): may(ADMINS, "coord_a", "coord_b"),
    ("POST", "/api/v1/organizations"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/partners/{partner_id:int}/api-keys/{key_id:int}/revoke"): may("county", "partner_a"),
    ("POST", "/api/v1/activities/{activity_id:int}/signups/cancel"): may(*VOLUNTEERS, hides=True),
    ("GET", "/api/v1/activities"): may(ANY_LOGIN - PARTNER_A - {"partner_b"}),
    ("POST", "/api/v1/activities"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/activities/{activity_id:int}/signups"): may(HUB_A_ADMINS, hides=True),
    ("POST", "/api/v1/activities/{activity_id:int}/signups"): may("vol"),
    ("PATCH", "/api/v1/activities/{activity_id:int}"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/stations/{station_id:int}/code"): may(HUB_A_STAFF),
    ("GET", "/api/v1/stations/{station_id:int}/code.png"): may(HUB_A_STAFF),
    ("POST", "/api/v1/stations/{station_id:int}/shifts"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/stations/{station_id:int}/present"): may(HUB_A_STAFF),
    ("GET", "/api/v1/stations/{station_id:int}/roster"): may(HUB_A_STAFF),
    ("POST", "/api/v1/scans/batch"): may(ADMINS, "coord_a", "coord_b"),
    ("POST", "/api/v1/scans"): may(ADMINS, "coord_a", "coord_b", *VOLUNTEERS),
    ("POST", "/api/v1/qr/decode"): may(ANY_LOGIN),
    ("GET", "/api/v1/integrity/flags"): may(ADMINS),
    ("POST", "/api/v1/holds/{hold_id:int}/approve"): may(HUB_A_ADMINS, hides=True),
    ("POST", "/api/v1/holds/{hold_id:int}/reject"): may(HUB_A_ADMINS, hides=True),
    ("POST", "/api/v1/integrity/flags/{flag_id:int}/dismiss"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/integrity/audit"): may(ADMINS),
    ("GET", "/api/v1/hubs/{org_id:int}/integrity-settings"): may(HUB_A_STAFF),
    ("PUT", "/api/v1/hubs/{org_id:int}/integrity-settings"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/attendances/{attendance_id:int}/annul"): may(HUB_A_STAFF, hides=True),
    ("POST", "/api/v1/attendances/{attendance_id:int}/correct"): may(HUB_A_STAFF, hides=True),
    ("GET", "/api/v1/attendances"): may(ADMINS, "coord_a", "coord_b"),
    ("GET", "/api/v1/me/card.png"): may(*VOLUNTEERS),
    ("GET", "/api/v1/me/card.svg"): may(*VOLUNTEERS),
    ("GET", "/api/v1/files/{file_id:int}/content"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/files/{file_id:int}"): may(HUB_A_ADMINS, hides=True),
    ("POST", "/api/v1/me/card/reissue"): may(*VOLUNTEERS),
    ("POST", "/api/v1/teams/{team_id:int}/card-sheets"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/funding-agreements"): may(ADMINS, PARTNER_A, "partner_b"),  # partners: their own
    ("POST", "/api/v1/funding-agreements"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/diners/{diner_id:int}/card.png"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/stations/{station_id:int}/meals-today"): may(HUB_A_STAFF),
    ("GET", "/api/v1/meal-points"): may(ADMINS, "coord_a", "coord_b"),
    ("POST", "/api/v1/meal-points"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/diners"): may(HUB_A_STAFF),
    ("POST", "/api/v1/diners"): may(HUB_A_STAFF),
    ("GET", "/api/v1/meals/{meal_id:int}"): may(HUB_A_STAFF, hides=True),
    ("POST", "/api/v1/diners/{diner_id:int}/pause"): may(HUB_A_STAFF, hides=True),
    ("POST", "/api/v1/diners/{diner_id:int}/reissue-card"): may(HUB_A_STAFF, hides=True),
    ("POST", "/api/v1/meals/{meal_id:int}/reversal"): may(HUB_A_STAFF, hides=True),
    ("POST", "/api/v1/meals"): may(HUB_A_STAFF),
    ("POST", "/api/v1/meals/{meal_id:int}/void"): may(HUB_A_STAFF, hides=True),
    ("POST", "/api/v1/meal-points/{point_id:int}/bookings"): may(HUB_A_STAFF),
    ("POST", "/api/v1/bookings/{booking_id:int}/cancel"): may(HUB_A_STAFF, hides=True),
    ("GET", "/api/v1/meal-points/{point_id:int}/kitchen"): may(HUB_A_STAFF),
    ("POST", "/api/v1/card-bookings"): may(PUBLIC),
    ("POST", "/api/v1/card-bookings/{booking_id:int}/cancel"): may(PUBLIC),
    ("POST", "/api/v1/card-bookings/list"): may(PUBLIC),
    ("GET", "/api/v1/reports/{report_id:int}/file"): may(PARTNER_A, hides=True),
    ("GET", "/api/v1/reports"): may(ADMINS, PARTNER_A, "partner_b"),
    ("POST", "/api/v1/reports"): may(ADMINS, PARTNER_A, "partner_b"),
    ("GET", "/api/v1/reports/{report_id:int}"): may(PARTNER_A, hides=True),
    ("PUT", "/api/v1/partners/{partner_id:int}/webhook"): may(PARTNER_A),
    ("POST", "/api/v1/delivery-runs/{run_id:int}/claim"): may("vol", hides=True),
    ("GET", "/api/v1/delivery-runs"): may(*VOLUNTEERS),
    ("GET", "/api/v1/meal-points/{point_id:int}/delivery-runs"): may(HUB_A_STAFF),
    ("POST", "/api/v1/meal-points/{point_id:int}/delivery-runs"): may(HUB_A_STAFF),
    ("POST", "/api/v1/delivery-runs/{run_id:int}/release"): may("vol", hides=True),
    ("GET", "/api/v1/me/orders"): may(*VOLUNTEERS),
    ("GET", "/api/v1/me/points"): may(*VOLUNTEERS),
    ("GET", "/api/v1/me/points/transfers"): may(*VOLUNTEERS),
    ("POST", "/api/v1/shop/orders/{order_id:int}/cancel"): may("vol", HUB_A_STAFF, hides=True),
    ("GET", "/api/v1/shop/items"): may(*VOLUNTEERS, ADMINS, "coord_a", "coord_b"),
    ("POST", "/api/v1/shop/items"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/shop/orders/{order_id:int}/fulfil"): may(HUB_A_STAFF, hides=True),
    ("POST", "/api/v1/shop/orders"): may(*VOLUNTEERS),
    ("GET", "/api/v1/hubs/{hub_id:int}/points-rules"): may(HUB_A_STAFF),
    ("POST", "/api/v1/hubs/{hub_id:int}/points-rules"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/volunteers/{volunteer_id:int}/manual-hours"): may(HUB_A_ADMINS, hides=True),
    ("POST", "/api/v1/commendation-rounds/{round_id:int}/confirm"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/commendation-rounds/{round_id:int}"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/hubs/{hub_id:int}/commendation-rounds"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/hubs/{hub_id:int}/commendation-rounds"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/commendation-rounds/{round_id:int}/review"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/me/certificates"): may(*VOLUNTEERS),
    ("POST", "/api/v1/me/certificates"): may(*VOLUNTEERS),
    ("GET", "/api/v1/me/certificates/{code:str}/pdf"): may("vol", hides=True),
    ("GET", "/api/v1/me/commendations"): may(*VOLUNTEERS),
    ("GET", "/verify/{certificate_id:str}"): may(PUBLIC),
    ("GET", "/schema"): may(PUBLIC),
    ("GET", "/schema/scalar"): may(PUBLIC),
    ("GET", "/schema/{path:str}"): may(PUBLIC),
    ("GET", "/schema/openapi.json"): may(PUBLIC),
}


def bodies(ids: dict) -> dict:
    """Valid bodies, so that a refusal is the guard's and not the validator's."""
    later = ids["now"] + timedelta(days=2)
    day = ids["day"]
    return {
        ("POST", "/api/v1/auth/tokens"): {"username": "county", "password": PASSWORD},
        ("POST", "/api/v1/auth/codes"): {"phone": "13807310001"},
        ("POST", "/api/v1/holds/{hold_id:int}/reject"): {"note": "未到场"},
        ("PUT", "/api/v1/hubs/{org_id:int}/integrity-settings"): {"offline_grace_minutes": 180},
        ("POST", "/api/v1/volunteers"): {
            "name": "李四",
            "phone": "13807310003",
            "consent": True,
            "code": ids["login_code"],
        },
        ("POST", "/api/v1/teams/{team_id:int}/invitations"): {"phone": "13807310004"},
        ("POST", "/api/v1/filings/{filing_id:int}/reject"): {"reason": "矩阵"},
        ("POST", "/api/v1/partners/{partner_id:int}/api-keys"): {"name": "矩阵"},
        ("POST", "/api/v1/organizations"): {
            "parent_id": ids["org_a"],
            "name": "新服务队",
            "join_mode": "open",
        },
        ("POST", "/api/v1/activities"): {
            "org_id": ids["org_a"],
            "station_id": ids["station_id"],
            "title": "周末课堂",
            "starts_at": later.isoformat(),
            "ends_at": (later + timedelta(hours=2)).isoformat(),
            "capacity": 5,
        },
        ("PATCH", "/api/v1/activities/{activity_id:int}"): {
            "ends_at": (ids["now"] + timedelta(hours=4)).isoformat()
        },
        ("POST", "/api/v1/stations/{station_id:int}/shifts"): {"org_id": ids["org_a"], "title": "早餐"},
        ("POST", "/api/v1/scans/batch"): {
            "scans": [{"payload": ids["diner_card"], "station_id": ids["station_id"]}]
        },
        ("POST", "/api/v1/scans"): {"payload": ids["diner_card"], "station_id": ids["station_id"]},
        ("POST", "/api/v1/attendances/{attendance_id:int}/annul"): {"reason": "矩阵"},
        ("POST", "/api/v1/attendances/{attendance_id:int}/correct"): {"reason": "矩阵", "minutes": 30},
        ("POST", "/api/v1/funding-agreements"): {
            "name": "矩阵补贴",
            "funder_kind": "charity",
            "stack_order": 5,
            "starts_on": str(day),
            "ends_on": str(day + timedelta(days=30)),
            "budget_cap": 1000,
            "schedule": [{"categories": ["*"], "slots": ["lunch"], "amount": 100}],
            "meal_point_ids": [ids["point_id"]],
        },
        ("POST", "/api/v1/meal-points"): {
            "org_id": ids["org_a"],
            "name": "新食堂",
            "address": "泉心路2号",
            "daily_capacity": 50,
            "slots": [{"slot": "lunch", "starts": "11:00", "ends": "13:00", "price": 1000}],
        },
        ("POST", "/api/v1/diners"): {
            "name": "李国华",
            "birth_date": "1950-03-01",
            "community": "泉塘社区",
            "id_number": valid_id("43012119500301123"),
            "home_point_id": ids["point_id"],
            "consent": True,
        },
        ("POST", "/api/v1/meals/{meal_id:int}/reversal"): {"reason": "矩阵"},
        ("POST", "/api/v1/meals"): {"diner_id": ids["diner_id"], "meal_point_id": ids["point_id"]},
        ("POST", "/api/v1/meals/{meal_id:int}/void"): {"reason": "矩阵"},
        ("POST", "/api/v1/meal-points/{point_id:int}/bookings"): {
            "diner_id": ids["diner_id"],
            "day": str(day + timedelta(days=5)),
            "slot": "lunch",
        },
        ("POST", "/api/v1/card-bookings"): {
            "card": ids["diner_card"],
            "day": str(day + timedelta(days=6)),
            "slot": "lunch",
        },
        ("POST", "/api/v1/card-bookings/{booking_id:int}/cancel"): {"card": ids["diner_card"]},
        ("POST", "/api/v1/card-bookings/list"): {"card": ids["diner_card"]},
        ("POST", "/api/v1/reports"): {
            "kind": "meal_usage",
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "format": "json",
        },
        ("PUT", "/api/v1/partners/{partner_id:int}/webhook"): {"url": "https://hooks.example.com/linli"},
        ("POST", "/api/v1/meal-points/{point_id:int}/delivery-runs"): {"day": str(day), "slot": "lunch"},
        ("POST", "/api/v1/shop/items"): {"name": "食用油", "price": 30, "stock": 2},
        ("POST", "/api/v1/shop/orders/{order_id:int}/fulfil"): {"payload": ids["card"]},
        ("POST", "/api/v1/shop/orders"): {"item_id": ids["item_id"]},
        ("POST", "/api/v1/volunteers/{volunteer_id:int}/manual-hours"): {
            "hub_id": ids["hub_id"],
            "minutes": 60,
            "day": str(day),
            "note": "矩阵",
            "request_id": str(uuid.uuid4()),
        },
        ("POST", "/api/v1/hubs/{hub_id:int}/commendation-rounds"): {
            "title": "季度",
            "period": "quarter",
            "period_start": "2026-01-01",
        },
        ("POST", "/api/v1/commendation-rounds/{round_id:int}/review"): {
            "volunteer_id": ids["volunteer_id"],
            "include": True,
            "reason": "矩阵",
        },
        ("POST", "/api/v1/me/certificates"): {"period_start": "2026-01-01", "period_end": "2026-06-30"},
    }


QUERIES = {
    ("GET", "/api/v1/diners"): "?meal_point_id={point_id}&q=王",
    ("GET", "/api/v1/meal-points/{point_id:int}/kitchen"): "?day={day}",
    ("GET", "/api/v1/meal-points/{point_id:int}/delivery-runs"): "?day={day}",
    ("POST", "/api/v1/shop/items"): "?hub_id={hub_id}",
}


def routes(app) -> list[tuple[str, str]]:
    found = []
    for r in app.routes:
        for method in sorted(getattr(r, "methods", ())):
            if method not in ("OPTIONS", "HEAD"):
                found.append((method, r.path))
    return found


@dataclass
class World:
    """Two hubs. A holds the things every route is asked about; B's staff and partner, a second
    volunteer, and tokens revoked or expired, try to reach them."""

    ids: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)


@pytest.fixture
def world(rt, client, clock):
    now = datetime.now(UTC).replace(microsecond=0)
    clock.at = now
    w = World()
    county = make_county(rt)
    with rt.tx() as s:
        points = {}
        for key, org in (("a", county.org_a), ("b", county.org_b)):
            points[key] = meal_service.create_meal_point(
                s,
                org_id=org,
                name=f"食堂{key}",
                address="泉心路1号",
                daily_capacity=300,
                slots=[meal_service.SlotInput("lunch", "00:00", "23:59", 1200)],
                now=now,
            )
        partner_a = orgs_service.create_partner(s, name="泉心社会企业", now=now).id
        partner_b = orgs_service.create_partner(s, name="星沙慈善基金", now=now).id
        meal_service.create_agreement(
            s,
            meal_service.AgreementInput(
                name="泉心社会企业",
                funder_kind="enterprise",
                stack_order=1,
                starts_on=now.date() - timedelta(days=40),
                ends_on=now.date() + timedelta(days=40),
                budget_cap=10_000_000,
                schedule=[{"categories": ["*"], "slots": ["lunch"], "amount": 200}],
                meal_point_ids=[points["a"].id],
                partner_id=partner_a,
            ),
            now,
        )
        diner = meal_service.register_diner(
            s,
            rt.signer,
            meal_service.DinerInput(
                name="王桂英",
                birth_date=datetime(1940, 3, 1).date(),
                community="泉塘社区",
                id_number=valid_id("43012119400301123"),
                home_point_id=points["a"].id,
                consent=True,
                delivery=True,
                address="泉塘社区3栋",
            ),
            created_by=None,
            now=now,
            today=now.date(),
        )
    activity = make_activity(
        rt, county.org_a, points["a"].station_id, now - timedelta(minutes=10), hours=19 / 6
    )
    staff_user(rt, "county", "admin", org_id=county.base)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    staff_user(rt, "admin_b", "admin", org_id=county.hub_b)
    staff_user(rt, "coord_a", "coordinator", org_id=county.org_a, station_id=points["a"].station_id)
    staff_user(rt, "coord_b", "coordinator", org_id=county.org_b, station_id=points["b"].station_id)
    staff_user(rt, "partner_a", "partner", partner_id=partner_a)
    staff_user(rt, "partner_b", "partner", partner_id=partner_b)
    make_station(rt, county.org_b, name="星沙活动室")

    def api(who, method, path, status=(200, 201, 202), **kw):
        r = client.request(method, path, headers=staff_token(client, who), **kw)
        assert r.status_code in status, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    # the volunteer V, filed with hub A's approval team and approved; W, filed nowhere
    for phone in ("13807310001", "13807310002"):
        register(client, phone=phone)
    vol = volunteer_token(rt, "13807310001")
    vol_id = client.get("/api/v1/me", headers=vol).json()["volunteer"]["id"]
    filing = client.post(f"/api/v1/teams/{county.approval_team}/filings", headers=vol).json()["id"]
    api("admin_a", "POST", f"/api/v1/filings/{filing}/approve", json={})
    # V checks in at A's counter; the diner's lunch; a booking; a delivery run V claims
    card = client.get("/api/v1/me/card.svg", headers=vol)
    assert card.status_code == 200
    scan = api(
        "coord_a",
        "POST",
        "/api/v1/scans",
        json={"payload": rt.codes.volunteer_card(vol_id, 1), "station_id": points["a"].station_id},
    )
    assert scan["outcome"] == "checked_in", scan
    meal = api(
        "coord_a",
        "POST",
        "/api/v1/scans",
        json={"payload": rt.codes.diner_card(diner.id, 1), "station_id": points["a"].station_id},
    )
    assert meal["outcome"] == "meal_served", meal
    with rt.tx() as s:  # a flag in A's hub, for the integrity routes
        hold = integrity_service.flag(
            s,
            kind="paused_diner",
            subject=f"meal:{meal['meal']['id']}",
            path=orgs_service.get(s, county.org_a).path,
            detail={},
            now=now,
        )
    booking = api(
        "coord_a",
        "POST",
        f"/api/v1/meal-points/{points['a'].id}/bookings",
        json={"diner_id": diner.id, "day": str(now.date() + timedelta(days=3)), "slot": "lunch"},
    )["id"]
    runs = api(
        "admin_a",
        "POST",
        f"/api/v1/meal-points/{points['a'].id}/delivery-runs",
        json={"day": str(now.astimezone(rt.settings.tz).date()), "slot": "lunch"},
    )
    run = runs["items"][0]["id"] if isinstance(runs, dict) else runs[0]["id"]
    claimed = client.post(f"/api/v1/delivery-runs/{run}/claim", headers=vol)
    assert claimed.status_code == 200, claimed.text
    # points for V, an item and V's order; a commendation round; a card sheet; a report; a key
    with rt.tx() as s:
        issued = ledger.hub_account(s, "points", "hub_issued", county.hub_a, now)
        mine = ledger.volunteer_account(s, "points", vol_id, now)
        ledger.create_transfers(
            s,
            [ledger.TransferInput(id="gift", debit_account_id=issued, credit_account_id=mine, amount=100)],
            now,
        )
        item = shop_service.create_item(
            s,
            county.hub_a,
            shop_service.ItemInput(
                name="大米", price=10, stock=5, per_volunteer_limit=0, limit_period="month"
            ),
            now,
        ).id
    order = client.post("/api/v1/shop/orders", json={"item_id": item}, headers=vol)
    assert order.status_code == 201, order.text
    round_id = api(
        "admin_a",
        "POST",
        f"/api/v1/hubs/{county.hub_a}/commendation-rounds",
        json={"title": "本月", "period": "month", "period_start": str(now.date().replace(day=1))},
    )["id"]
    sheet = api("admin_a", "POST", f"/api/v1/teams/{county.approval_team}/card-sheets")["id"]
    report = api(
        "partner_a",
        "POST",
        "/api/v1/reports",
        json={
            "kind": "meal_usage",
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "format": "json",
        },
    )["id"]
    key = api("partner_a", "POST", f"/api/v1/partners/{partner_a}/api-keys", json={"name": "月报"})
    w.ids = {
        # a login code proving the phone that registers: placed twice, so that after the first
        # registration spends one, every later one is answered `phone_taken`
        "login_code": place_code(rt, "13807310003", code=place_code(rt, "13807310003", code="246810")),
        "code": "S.K1.AAAA",
        "file_path": "linli.css",
        "path": "openapi.yaml",
        "team_id": county.approval_team,
        "filing_id": filing,
        "partner_id": partner_a,
        "key_id": key["id"],
        "activity_id": activity,
        "station_id": points["a"].station_id,
        "attendance_id": scan["attendance_id"],
        "file_id": sheet,
        "diner_id": diner.id,
        "meal_id": meal["meal"]["id"],
        "point_id": points["a"].id,
        "booking_id": booking,
        "report_id": report,
        "run_id": run,
        "order_id": order.json()["id"],
        "hub_id": county.hub_a,
        "org_id": county.hub_a,
        "hold_id": hold,
        "flag_id": hold,
        "volunteer_id": vol_id,
        "round_id": round_id,
        "certificate_id": "1-abc",
        "org_a": county.org_a,
        "now": now,
        "day": now.astimezone(rt.settings.tz).date(),
        "card": rt.codes.volunteer_card(vol_id, 1),
        "diner_card": rt.codes.diner_card(diner.id, 1),
        "item_id": item,
    }
    w.key_a = key["key"]
    w.vol_phone, w.vol_w_phone = "13807310001", "13807310002"
    return w


def token_for(rt, client, world, who: str) -> dict:
    """A fresh credential for each request: a refused request must not spend it, an allowed one may
    (logging out revokes the token it came with)."""
    if who == "anon":
        return {}
    if who == "key_a":  # a new key each time: a request may revoke partner A's keys
        with rt.tx() as s:
            _, key = accounts_service.create_api_key(
                s, partner_id=world.ids["partner_id"], name="矩阵", created_by=None, now=rt.clock.now()
            )
        return {"Authorization": f"Bearer {key}"}
    with rt.tx() as s:
        from sqlalchemy import select

        from accounts.models import StaffUser

        now = rt.clock.now()
        if who in ("vol", "vol_w", "revoked"):
            phone = world.vol_w_phone if who == "vol_w" else world.vol_phone
            from volunteer import service as volunteer_service

            vid = volunteer_service.find_by_phone(s, phone).id
            issued = accounts_service.issue_token(s, now=now, ttl_seconds=600, volunteer_id=vid)
            if who == "revoked":
                accounts_service.revoke(s, accounts_service.authenticate(s, issued.token, now), now)
        else:
            name = "admin_a" if who == "expired" else who
            uid = s.scalar(select(StaffUser.id).where(StaffUser.username == name))
            ttl = 1 if who == "expired" else 600
            issued = accounts_service.issue_token(
                s,
                now=now - timedelta(seconds=60 if who == "expired" else 0),
                ttl_seconds=ttl,
                staff_user_id=uid,
            )
    return {"Authorization": f"Bearer {issued.token}"}


def ask(client, method: str, template: str, ids: dict, headers: dict):
    path = template
    for part in template.split("/"):
        if part.startswith("{"):
            name = part[1:-1].split(":")[0]
            path = path.replace(part, str(ids[name]))
    path += QUERIES.get((method, template), "").format(**ids)
    if template.endswith("/qr/decode"):
        return client.request(
            method, path, content=b"\x89PNG", headers={**headers, "content-type": "image/png"}
        )
    body = bodies(ids).get((method, template))
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = {}
    if body is None:
        return client.request(method, path, headers=headers)
    return client.request(method, path, json=body, headers=headers)


def test_every_route_is_in_the_matrix(rt):
    app = create_app(rt)
    assert sorted(set(routes(app)) - set(MATRIX)) == []  # a new route needs its line in MATRIX
    assert sorted(set(MATRIX) - set(routes(app))) == []


def test_the_document_asks_for_a_token_exactly_where_the_routes_do(client):
    """Public routes (anyone may pass, anonymous included) carry no security requirement in the
    OpenAPI document; every other operation asks for the bearer token."""
    import re

    document = client.get("/schema/openapi.json").json()
    assert "security" not in document  # no global requirement: each operation says its own
    wrong, checked = [], 0
    for (method, template), (allowed, _) in MATRIX.items():
        operation = document["paths"].get(re.sub(r"\{(\w+):\w+\}", r"{\1}", template), {}).get(method.lower())
        if operation is None:
            continue  # pages, static files, metrics: not in the document
        checked += 1
        public = "anon" in allowed
        if operation.get("security") != (None if public else [{"bearer": []}]):
            wrong.append(f"{method} {template}: {operation.get('security')} but public={public}")
        if not public and "401" not in operation["responses"]:
            wrong.append(f"{method} {template}: 401 not declared")
    assert checked == sum(len(ops) for ops in document["paths"].values())  # every operation
    assert wrong == [], "\n".join(wrong)


@pytest.mark.slow  # every route for every role
def test_every_role_gets_what_the_matrix_says_on_every_route(rt, client, world):
    """... and every answer is one the OpenAPI document declares (status, content type, body)."""
    wrong = []
    document = Conformance(client.app)
    for (method, template), (allowed, refusals) in MATRIX.items():
        for who in EVERYONE:
            r = ask(client, method, template, world.ids, token_for(rt, client, world, who))
            wrong += [
                f"{method} {template} {who}: {r.status_code} {p}"
                for p in document.of_route(method, template, r)
            ]
            if who in allowed:
                ok = r.status_code not in (401, 403) and r.status_code < 500
            elif who in ("anon", "revoked", "expired"):
                ok = r.status_code == 401
            else:
                ok = r.status_code in refusals
            if not ok:
                wrong.append(f"{method} {template} {who}: {r.status_code} {r.text[:80]}")
    assert wrong == [], "\n".join(wrong)
