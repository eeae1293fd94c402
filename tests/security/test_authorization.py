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
from meals import counter_day
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
from tests.fixtures.grant_money import b64, make_project, png, spending_body

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
    ("GET", "/admin/rounds"): may(PUBLIC),  # the pages ask the API with the token: the API decides
    ("GET", "/admin/rounds/{round_id:int}"): may(PUBLIC),
    ("GET", "/proposals"): may(PUBLIC),
    ("GET", "/review"): may(PUBLIC),
    ("GET", "/wall/{org_id:int}"): may(PUBLIC),  # the page; its numbers need an admin login
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
    ("GET", "/api/v1/me/invitations"): may(*VOLUNTEERS),
    ("GET", "/api/v1/me/activities"): may(*VOLUNTEERS),
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
    ("GET", "/api/v1/stations"): may(ADMINS, "coord_a", "coord_b"),
    ("POST", "/api/v1/organizations"): may(HUB_A_ADMINS),
    ("PATCH", "/api/v1/organizations/{org_id:int}"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/partners/{partner_id:int}/api-keys/{key_id:int}/revoke"): may("county", "partner_a"),
    ("POST", "/api/v1/activities/{activity_id:int}/signups/cancel"): may(*VOLUNTEERS, hides=True),
    ("GET", "/api/v1/activities"): may(ANY_LOGIN - PARTNER_A - {"partner_b"}),
    ("POST", "/api/v1/activities"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/activities/{activity_id:int}/signups"): may(HUB_A_ADMINS, hides=True),
    ("POST", "/api/v1/activities/{activity_id:int}/signups"): may("vol"),
    ("PATCH", "/api/v1/activities/{activity_id:int}"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/activities/{activity_id:int}/cancel"): may(HUB_A_ADMINS),
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
    ("PATCH", "/api/v1/funding-agreements/{agreement_id:int}"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/funding-agreements/{agreement_id:int}/history"): may(HUB_A_ADMINS),
    ("PATCH", "/api/v1/diners/{diner_id:int}"): may(HUB_A_STAFF, hides=True),
    ("GET", "/api/v1/diners/{diner_id:int}/history"): may(HUB_A_STAFF, hides=True),
    ("PATCH", "/api/v1/meal-points/{point_id:int}"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/meal-points/{point_id:int}/history"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/diners/{diner_id:int}/card.png"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/stations/{station_id:int}/meals-today"): may(HUB_A_STAFF),
    ("GET", "/api/v1/meal-points"): may(ADMINS, "coord_a", "coord_b"),
    ("POST", "/api/v1/meal-points"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/meal-categories"): may(ADMINS, "coord_a", "coord_b"),
    ("POST", "/api/v1/meal-categories"): may("county"),  # county administrators keep the list
    ("PATCH", "/api/v1/meal-categories/{code:str}"): may("county"),
    ("GET", "/api/v1/diners"): may(HUB_A_STAFF),
    ("POST", "/api/v1/diners"): may(HUB_A_STAFF),
    ("GET", "/api/v1/meals/{meal_id:int}"): may(HUB_A_STAFF, hides=True),
    ("POST", "/api/v1/diners/{diner_id:int}/pause"): may(HUB_A_STAFF, hides=True),
    ("POST", "/api/v1/diners/{diner_id:int}/reissue-card"): may(HUB_A_STAFF, hides=True),
    ("POST", "/api/v1/meals/{meal_id:int}/reversal"): may(HUB_A_STAFF, hides=True),
    ("POST", "/api/v1/meals"): may(HUB_A_STAFF),
    ("POST", "/api/v1/meals/{meal_id:int}/void"): may(HUB_A_STAFF, hides=True),
    ("GET", "/api/v1/meal-points/{point_id:int}/day-closes"): may(HUB_A_STAFF),
    ("POST", "/api/v1/meal-points/{point_id:int}/day-closes"): may(HUB_A_STAFF),
    ("GET", "/api/v1/day-closes/{close_id:int}/sheet.pdf"): may(HUB_A_STAFF, hides=True),
    ("GET", "/api/v1/meal-points/{point_id:int}/counter-rules"): may(HUB_A_STAFF),
    ("GET", "/api/v1/meal-points/{point_id:int}/cash-sheet"): may(HUB_A_STAFF),
    ("GET", "/api/v1/meal-points/{point_id:int}/cash-sheet.csv"): may(HUB_A_STAFF),
    ("POST", "/api/v1/meal-points/{point_id:int}/cash-counts"): may(HUB_A_STAFF),
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
    ("GET", "/api/v1/dashboards/partner"): may(PARTNER_A, "partner_b"),
    ("GET", "/api/v1/dashboards/hubs/{org_id:int}"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/dashboards/me"): may(*VOLUNTEERS),
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
    ("POST", "/api/v1/shop/orders/waiting"): may(ADMINS, "coord_a", "coord_b"),  # hub B: none of A's
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
    ("GET", "/api/v1/me/notices"): may(*VOLUNTEERS),
    ("POST", "/api/v1/me/notices/{notice_id:int}/read"): may("vol", hides=True),  # V's filing approved
    ("POST", "/api/v1/me/notices/read-all"): may(*VOLUNTEERS),
    ("GET", "/api/v1/me/notice-settings"): may(*VOLUNTEERS),
    ("PUT", "/api/v1/me/notice-settings"): may(*VOLUNTEERS),
    ("GET", "/api/v1/me/record"): may(*VOLUNTEERS),
    ("GET", "/api/v1/me/record.csv"): may(*VOLUNTEERS),
    ("GET", "/api/v1/me/record.xlsx"): may(*VOLUNTEERS),
    ("POST", "/api/v1/volunteers/{volunteer_id:int}/trainings"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/volunteers/{volunteer_id:int}/trainings"): may(HUB_A_ADMINS, hides=True),
    ("POST", "/api/v1/volunteers/{volunteer_id:int}/evaluations"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/volunteers/{volunteer_id:int}/evaluations"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/projects/{project_id:int}/account"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/projects/{project_id:int}/tranches"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/projects/{project_id:int}/tranches"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/projects/{project_id:int}/spending"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/projects/{project_id:int}/spending"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/projects/{project_id:int}/spending/{spending_id:int}/receipt"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/projects/{project_id:int}/spending/{spending_id:int}/reverse"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/projects/{project_id:int}/meal-points"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/projects/{project_id:int}/delivery"): may(HUB_A_ADMINS),
    ("PUT", "/api/v1/activities/{activity_id:int}/project"): may(HUB_A_ADMINS),
    # after the first admin unlinks, there is no link left: 404 activity_not_linked for everyone
    ("DELETE", "/api/v1/activities/{activity_id:int}/project"): may(HUB_A_ADMINS, hides=True),
    ("POST", "/api/v1/activities/{activity_id:int}/served"): may(HUB_A_STAFF),
    ("GET", "/api/v1/activities/{activity_id:int}/served"): may(HUB_A_STAFF),
    ("GET", "/api/v1/activities/{activity_id:int}/served/{entry_id:int}/photo"): may(HUB_A_STAFF),
    ("POST", "/api/v1/activities/{activity_id:int}/served-scans"): may(HUB_A_STAFF),
    ("GET", "/verify/{certificate_id:str}"): may(PUBLIC),
    ("POST", "/api/v1/record-certificates/{certificate_id:str}/revoke"): may(HUB_A_ADMINS, hides=True),
    # `{id}.pdf`: the volunteer it is for, or an admin of the issuing organization
    ("GET", "/api/v1/record-certificates/{certificate_pdf:str}"): may("vol", HUB_A_ADMINS, hides=True),
    ("POST", "/api/v1/me/record/certificates"): may(*VOLUNTEERS),
    ("POST", "/api/v1/rounds"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/rounds"): may(*STAFF),
    ("GET", "/api/v1/rounds/{round_id:int}"): may(HUB_A_ADMINS, "coord_a", hides=True),  # coord_a reviews it
    ("POST", "/api/v1/rounds/{round_id:int}/reviewers"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/rounds/{round_id:int}/close-review"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/rounds/{round_id:int}/ranking"): may(HUB_A_ADMINS, "coord_a", hides=True),
    ("GET", "/api/v1/rounds/{round_id:int}/review-sheet"): may("coord_a", hides=True),  # its reviewer only
    ("GET", "/api/v1/rounds/{round_id:int}/projects"): may(HUB_A_ADMINS, "coord_a", hides=True),
    ("POST", "/api/v1/rounds/{round_id:int}/publish"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/rounds/{round_id:int}/objections"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/rounds/{round_id:int}/objections"): may(PUBLIC),
    ("POST", "/api/v1/rounds/{round_id:int}/proposals"): may(HUB_A_ADMINS, hides=True),
    ("GET", "/api/v1/rounds/{round_id:int}/proposals"): may(*STAFF, hides=True),
    ("GET", "/api/v1/proposals/{proposal_id:int}"): may(HUB_A_ADMINS, "coord_a", hides=True),
    ("PATCH", "/api/v1/proposals/{proposal_id:int}"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/proposals/{proposal_id:int}/submit"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/proposals/{proposal_id:int}/scores"): may("coord_a"),
    ("GET", "/api/v1/proposals/{proposal_id:int}/scores"): may(HUB_A_ADMINS, "coord_a", hides=True),
    ("POST", "/api/v1/proposals/{proposal_id:int}/approve"): may(HUB_A_ADMINS),
    ("POST", "/api/v1/proposals/{proposal_id:int}/reject"): may(HUB_A_ADMINS),
    ("GET", "/api/v1/projects/{project_id:int}"): may(HUB_A_ADMINS),
    ("GET", "/rounds/{round_id:int}"): may(PUBLIC),
    ("GET", "/schema"): may(PUBLIC),
    ("GET", "/schema/scalar"): may(PUBLIC),
    ("GET", "/schema/{path:str}"): may(PUBLIC),
    ("GET", "/schema/openapi.json"): may(PUBLIC),
    ("GET", "/api/v1/me/identity"): may(*VOLUNTEERS),
    ("PUT", "/api/v1/me/identity"): may(*VOLUNTEERS),
    # a county admin holding the export grant (the world gives "county" one); no one else
    ("POST", "/api/v1/volunteers/{volunteer_id:int}/identity/reveal"): may("county"),
    ("POST", "/api/v1/records/export-grants"): may("county"),
    # the national export: county admins holding the export grant; the file, to the one who asked
    ("POST", "/api/v1/exports"): may("county"),
    ("GET", "/api/v1/exports"): may("county"),
    ("GET", "/api/v1/exports/{export_id:int}"): may("county"),
    ("GET", "/api/v1/exports/{export_id:int}/file"): may("county"),
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
        ("PATCH", "/api/v1/organizations/{org_id:int}"): {
            "person_in_charge": "王主任",
            "contact_phone": "0731-88888888",
        },
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
        ("POST", "/api/v1/activities/{activity_id:int}/cancel"): {"reason": "矩阵"},
        ("POST", "/api/v1/stations/{station_id:int}/shifts"): {"org_id": ids["org_a"], "title": "早餐"},
        ("POST", "/api/v1/scans/batch"): {
            "scans": [
                {
                    "payload": ids["diner_card"],
                    "station_id": ids["station_id"],
                    "scan_id": str(uuid.uuid4()),
                    "scanned_at": ids["now"].isoformat(),
                }
            ]
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
        ("PATCH", "/api/v1/funding-agreements/{agreement_id:int}"): {
            "meal_point_ids": [ids["point_id"]],
            "budget_cap": 20_000_000,
            "reason": "矩阵",
        },
        ("PATCH", "/api/v1/diners/{diner_id:int}"): {
            "home_point_id": ids["point_id"],
            "dietary_notes": "矩阵",
            "reason": "矩阵",
        },
        ("PATCH", "/api/v1/meal-points/{point_id:int}"): {"name": "矩阵食堂", "reason": "矩阵"},
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
        ("POST", "/api/v1/meal-categories"): {"code": "shidu", "name": "失独家庭"},
        ("PATCH", "/api/v1/meal-categories/{code:str}"): {"name": "矩阵"},
        ("POST", "/api/v1/meals/{meal_id:int}/reversal"): {"reason": "矩阵"},
        ("POST", "/api/v1/meals"): {"diner_id": ids["diner_id"], "meal_point_id": ids["point_id"]},
        ("POST", "/api/v1/meals/{meal_id:int}/void"): {"reason": "矩阵"},
        ("POST", "/api/v1/meal-points/{point_id:int}/day-closes"): {"day": ids["closed_day"]},
        ("POST", "/api/v1/meal-points/{point_id:int}/cash-counts"): {"counted": 1200},
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
        ("POST", "/api/v1/shop/orders/waiting"): {"payload": ids["card"]},
        ("POST", "/api/v1/shop/orders"): {"item_id": ids["item_id"]},
        ("POST", "/api/v1/volunteers/{volunteer_id:int}/manual-hours"): {
            "hub_id": ids["hub_id"],
            "minutes": 60,
            "day": str(day),
            "note": "矩阵",
            "request_id": str(uuid.uuid4()),
        },
        ("POST", "/api/v1/volunteers/{volunteer_id:int}/trainings"): {
            "org_id": ids["org_a"],
            "title": "矩阵培训",
            "minutes": 60,
            "day": str(day),
        },
        ("POST", "/api/v1/volunteers/{volunteer_id:int}/evaluations"): {
            "org_id": ids["org_a"],
            "period_start": "2026-01-01",
            "period_end": str(day),
            "rating": "good",
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
        ("POST", "/api/v1/me/record/certificates"): {
            "org_id": ids["org_a"],
            "period_start": "2026-01-01",
            "period_end": str(day),
        },
        ("PUT", "/api/v1/me/notice-settings"): {"quiet_start": "22:00", "quiet_end": "07:00", "sms_off": []},
        ("POST", "/api/v1/projects/{project_id:int}/tranches"): {"key": "matrix", "amount": 100},
        ("PUT", "/api/v1/activities/{activity_id:int}/project"): {"project_id": ids["project_id"]},
        ("POST", "/api/v1/projects/{project_id:int}/meal-points"): {"meal_point_id": ids["point_id"]},
        ("POST", "/api/v1/activities/{activity_id:int}/served"): {"count": 12},
        ("POST", "/api/v1/activities/{activity_id:int}/served-scans"): {"payload": ids["diner_card"]},
        ("POST", "/api/v1/projects/{project_id:int}/spending"): spending_body(
            "matrix", 100, spent_on=str(day)
        ),
        ("POST", "/api/v1/projects/{project_id:int}/spending/{spending_id:int}/reverse"): {"reason": "矩阵"},
        ("POST", "/api/v1/rounds"): {
            "org_id": ids["org_a"],  # an organization, not a hub: 422 for who may open rounds there
            "name": "矩阵微创投",
            "call_opens_at": ids["now"].isoformat(),
            "call_closes_at": later.isoformat(),
            "criteria": [{"name": "需求", "weight": 100}],
            "funders": [
                {"kind": "enterprise", "name": "泉心", "amount": 100_000, "partner_id": ids["partner_id"]}
            ],
            "max_grants": 1,
        },
        ("PUT", "/api/v1/me/identity"): {"id_type": "passport", "id_number": "E12345678"},
        ("POST", "/api/v1/volunteers/{volunteer_id:int}/identity/reveal"): {"reason": "矩阵：导出核对"},
        ("POST", "/api/v1/exports"): {
            "kind": "service_records",
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "format": "csv",
            "reason": "矩阵：报送全国系统",
        },
        ("POST", "/api/v1/records/export-grants"): {
            "staff_user_id": ids["county_user_id"],
            "county_id": ids["county_id"],
        },
        ("POST", "/api/v1/rounds/{round_id:int}/reviewers"): {
            "staff_user_id": ids["reviewer_id"],
            "affiliation_org_id": ids["org_a"],
        },
        ("POST", "/api/v1/rounds/{round_id:int}/objections"): {"text": "矩阵"},
        ("POST", "/api/v1/rounds/{round_id:int}/proposals"): GRANT_PROPOSAL | {"org_id": ids["org_a"]},
        ("PATCH", "/api/v1/proposals/{proposal_id:int}"): {"title": "矩阵"},
        ("POST", "/api/v1/proposals/{proposal_id:int}/scores"): {"scores": {"需求": 5}},
        ("POST", "/api/v1/proposals/{proposal_id:int}/approve"): {"amount": 100},
        ("POST", "/api/v1/proposals/{proposal_id:int}/reject"): {"reason": "矩阵"},
        ("POST", "/api/v1/record-certificates/{certificate_id:str}/revoke"): {"reason": "矩阵"},
    }


GRANT_PROPOSAL = {
    "title": "矩阵项目",
    "field": "other",
    "goal_activities": 1,
    "goal_served": 10,
    "goal_volunteer_times": 2,
    "starts_on": "2027-01-01",
    "ends_on": "2027-02-01",
    "budget": [{"item": "物料", "amount": 50_000}],
}


def grant_round(rt, hub_id: int, now) -> int:
    """A micro-grant round of the hub whose call is open (grants: its path parameter is `round_id`,
    as the commendation rounds' is: `param` tells them apart)."""
    from grants import rounds

    with rt.tx() as s:
        return rounds.open_round(
            s,
            rounds.RoundInput(
                org_id=hub_id,
                name="矩阵",
                call_opens_at=now - timedelta(hours=1),
                call_closes_at=now + timedelta(days=5),
                criteria=[{"name": "需求", "weight": 100}],
                funders=[rounds.FunderInput("government", "街道", 1_000_000)],
                max_grants=3,
            ),
            admin_paths=["/"],
            staff_user_id=None,
            now=now,
        ).id


def record_certificate_of(rt, volunteer_id: int, org_id: int, now) -> str:
    from records import certificates
    from records.certificate_pdf import CertificateData, ServiceRow

    day = now.date()
    data = CertificateData(
        certificate_id="",
        base_url="https://linli.example.cn",
        name="王秀英",
        id_type="居民身份证",
        id_number=valid_id("43012119900307851"),
        volunteer_number="V1",
        total_minutes=60,
        issuer="泉塘志愿者协会",
        person_in_charge="刘建华",
        handler="陈小燕",
        contact_phone="0731-84001234",
        issued_on=day,
        rows=[ServiceRow("助餐", "泉塘志愿者协会", day, day, 60)],
    )
    with rt.tx() as s:
        return certificates.issue(s, volunteer_id=volunteer_id, org_id=org_id, data=data, now=now).id


def national_export_of(rt, county_user_id: int, now) -> int:
    """A national export the county admin asked for (records.exports), still queued."""
    from accounts.principal import Grant, Principal
    from records import exports

    principal = Principal(
        kind="staff",
        staff_user_id=county_user_id,
        grants=(Grant("admin", org_path="/1/"), Grant("records_export", org_path="/1/")),
    )
    ask = exports.ExportAsk("service_records", now.date(), now.date(), "csv", "矩阵：报送全国系统")
    with rt.tx() as s:
        return exports.request(s, principal, ask, now=now).id


def param(template: str, name: str) -> str:
    """The key in `ids` of a path parameter: a grant round's `round_id` is `grant_round_id`."""
    if name == "round_id" and template.startswith(("/api/v1/rounds", "/rounds/")):
        return "grant_round_id"
    return name


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
        agreement_a = meal_service.create_agreement(
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
        ).id
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
    county_user_id = staff_user(rt, "county", "admin", org_id=county.base)
    with rt.tx() as s:  # the export grant: "county" may decrypt identity numbers
        accounts_service.add_export_grant(s, user_id=county_user_id, county_id=county.base, now=now)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    staff_user(rt, "admin_b", "admin", org_id=county.hub_b)
    coord_a = staff_user(rt, "coord_a", "coordinator", org_id=county.org_a, station_id=points["a"].station_id)
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
    yesterday = now.astimezone(rt.settings.tz).date() - timedelta(days=1)
    with rt.tx() as s:  # yesterday closed at A's meal point (today's lunch goes on until 23:59)
        close = counter_day.close_day(s, points["a"].id, yesterday, now).id
    # a micro-grant round of hub A: a submitted proposal of A's organization, coord_a its reviewer, a project
    grant_round_id = grant_round(rt, county.hub_a, now)
    proposal = api(
        "admin_a",
        "POST",
        f"/api/v1/rounds/{grant_round_id}/proposals",
        json=GRANT_PROPOSAL | {"org_id": county.org_a},
    )
    api("admin_a", "POST", f"/api/v1/proposals/{proposal['id']}/submit")
    api("admin_a", "POST", f"/api/v1/rounds/{grant_round_id}/reviewers", json={"staff_user_id": coord_a})
    # a granted project of A's organization, with money paid in and a spending with its receipt
    project = make_project(rt, hub_id=county.hub_a, org_id=county.org_a, granted=100_000)
    api("admin_a", "POST", f"/api/v1/projects/{project}/tranches", json={"key": "t1", "amount": 50_000})
    spending = api(
        "admin_a",
        "POST",
        f"/api/v1/projects/{project}/spending",
        json=spending_body("s1", 1_000, spent_on=str(now.astimezone(rt.settings.tz).date())),
    )["id"]
    # what the activity served: a count entered with a photo
    entry = api(
        "coord_a", "POST", f"/api/v1/activities/{activity}/served", json={"count": 3, "photo": b64(png())}
    )["id"]
    # a service-record certificate A's organization issued to V (records.certificates.issue)
    record_certificate = record_certificate_of(rt, vol_id, county.org_a, now)
    w.ids = {
        "project_id": project,
        "entry_id": entry,
        "spending_id": spending,
        "grant_round_id": grant_round_id,
        "proposal_id": proposal["id"],
        "reviewer_id": coord_a,
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
        "agreement_id": agreement_a,
        "close_id": close,
        "closed_day": str(yesterday),
        "booking_id": booking,
        "report_id": report,
        "run_id": run,
        "order_id": order.json()["id"],
        "hub_id": county.hub_a,
        "org_id": county.hub_a,
        "hold_id": hold,
        "flag_id": hold,
        "volunteer_id": vol_id,
        "county_user_id": county_user_id,
        "county_id": county.base,
        "round_id": round_id,
        "certificate_id": record_certificate,
        "certificate_pdf": f"{record_certificate}.pdf",
        "export_id": national_export_of(rt, county_user_id, now),
        "org_a": county.org_a,
        "now": now,
        "day": now.astimezone(rt.settings.tz).date(),
        "card": rt.codes.volunteer_card(vol_id, 1),
        "diner_card": rt.codes.diner_card(diner.id, 1),
        "item_id": item,
        "notice_id": client.get("/api/v1/me/notices", headers=vol).json()["items"][-1]["id"],
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
            name = param(template, part[1:-1].split(":")[0])
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


# --- what a request names in its body ----------------------------------------------------------
# Every id a request names is checked against the caller's scope, in its body as in its path. The
# operations and their body fields come from the OpenAPI document: a field ending in `_id` or
# `_ids` must be listed here (which of the world's rows it names) or as not naming a row, so a new
# route with an id in its body is walked without editing this test, or fails until it is listed.
NAMES = {  # field or path parameter -> the key of the row in `world.ids` (hub A) and `ids_b` (hub B)
    "volunteer_id": "volunteer_id",
    "diner_id": "diner_id",
    "meal_point_id": "point_id",
    "meal_point_ids": "point_id",
    "home_point_id": "point_id",
    "point_id": "point_id",
    "agreement_id": "agreement_id",
    "partner_id": "partner_id",
    "org_id": "org_a",
    "parent_id": "org_a",
    "hub_id": "hub_id",
    "team_ids": "team_id",
    "station_id": "station_id",
    "activity_id": "activity_id",
    "project_id": "project_id",
    "round_id": "round_id",
    "item_id": "item_id",
    "grant_round_id": "grant_round_id",
    "staff_user_id": "reviewer_id",  # a reviewer granted: the hub's own staff
    "affiliation_org_id": "org_a",
    "county_id": "county_id",  # hub A and hub B share the county: only its admins may name it
}
NOT_ROWS = frozenset({"request_id", "scan_id"})  # a client's own keys for retries
# where a field names another table's row than NAMES says: a report's `round_id` is a grant round
ROUTE_NAMES = {("POST", "/api/v1/reports"): {"round_id": "grant_round_id"}}
# routes for a county's own administrators: hub B's admin has no rows of their own to name there
COUNTY_ONLY = {("POST", "/api/v1/records/export-grants")}


def names_of(method: str, template: str) -> dict:
    return NAMES | ROUTE_NAMES.get((method, template), {})


# The scan door answers a scan at a station the device may not use as a refused scan, stored with
# its reason (the contract: every scan is stored), and writes nothing else.
SCANS = {("POST", "/api/v1/scans"), ("POST", "/api/v1/scans/batch")}


def named_in_bodies(document: dict) -> dict[tuple[str, str], list[tuple]]:
    """(method, path as the document writes it) -> where its request body names an id: a tuple of
    keys and list indexes (`("scans", 0, "station_id")`), for every operation with a JSON body."""

    def schema_of(s):
        while "$ref" in s:
            s = document["components"]["schemas"][s["$ref"].rsplit("/", 1)[1]]
        for alt in s.get("oneOf", s.get("anyOf", [])):
            if alt.get("type") != "null":
                return schema_of(alt)
        return s

    def fields(s, at):
        s = schema_of(s)
        for name, prop in s.get("properties", {}).items():
            if name.endswith(("_id", "_ids")):
                yield (*at, name)
            item = schema_of(prop)
            if item.get("type") == "array" and "properties" in schema_of(item.get("items", {})):
                yield from fields(item["items"], (*at, name, 0))
            elif "properties" in item:
                yield from fields(item, (*at, name))

    found = {}
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                named = list(fields(body["schema"], ()))
                if named:
                    found[(method.upper(), path)] = named
    return found


def _template(routes_of_app, method: str, path: str) -> str:
    """The route table's template (`{point_id:int}`) of a path the document writes `{point_id}`."""
    import re

    return next(t for m, t in routes_of_app if m == method and re.sub(r"\{(\w+):\w+\}", r"{\1}", t) == path)


def _put(body: dict, where: tuple, value) -> dict:
    import copy

    body = copy.deepcopy(body)
    at = body
    for step in where[:-1]:
        at = at[step]
    at[where[-1]] = [value] if where[-1].endswith("_ids") else value
    return body


def _rows(rt) -> dict:
    """Every row of every table, to tell whether a request wrote anything."""
    from sqlalchemy import select

    from linli.db import Base

    with rt.tx() as s:
        return {
            t.name: sorted(map(repr, s.execute(select(t)).all()))
            for t in Base.metadata.sorted_tables
            if t.name != "auth_tokens"  # the tokens this walk issues
        }


@pytest.fixture
def world_b(rt, client, world):
    """The world, and hub B's own rows of every kind a request names (`world.ids_b`): a volunteer
    filed with B's team, a diner at B's meal point, an activity at its counter, a commendation
    round, an item in its shop, and the partner that funds B's point."""
    from sqlalchemy import select

    from orgs.models import Organization, Partner
    from points import recognition
    from tests.fixtures.builders import file_volunteer

    a = world.ids
    now = a["now"]
    with rt.tx() as s:
        point_b = next(p for p in meal_service.points_under(s, ["/"], frozenset()) if p.id != a["point_id"])
        org_b, hub_b = point_b.org_id, s.get(Organization, point_b.org_id).parent_id
        team_b = s.scalar(select(Organization.id).where(Organization.parent_id == org_b))
        partner_b = s.scalar(select(Partner.id).where(Partner.id != a["partner_id"]))
        agreement_b = meal_service.create_agreement(
            s,
            meal_service.AgreementInput(
                name="星沙慈善基金",
                funder_kind="charity",
                stack_order=2,
                starts_on=now.date() - timedelta(days=40),
                ends_on=now.date() + timedelta(days=40),
                budget_cap=1_000_000,
                schedule=[{"categories": ["*"], "slots": ["lunch"], "amount": 100}],
                meal_point_ids=[point_b.id],
                partner_id=partner_b,
            ),
            now,
        ).id
        diner_b = meal_service.register_diner(
            s,
            rt.signer,
            meal_service.DinerInput(
                name="赵桂芝",
                birth_date=datetime(1942, 5, 1).date(),
                community="星沙社区",
                id_number=valid_id("43012119420501123"),
                home_point_id=point_b.id,
                consent=True,
            ),
            created_by=None,
            now=now,
            today=now.date(),
        )
        round_b = recognition.propose_round(
            s,
            hub_id=hub_b,
            title="星沙本月",
            period="month",
            period_start=now.date().replace(day=1),
            rules={},
            bonus_points=0,
            created_by=None,
            now=now,
        ).id
        item_b = shop_service.create_item(
            s,
            hub_b,
            shop_service.ItemInput(
                name="挂面", price=5, stock=5, per_volunteer_limit=0, limit_period="month"
            ),
            now,
        ).id
    vol_b = file_volunteer(rt, "13807310009", team_b, name="赵美玲")
    with rt.tx() as s:
        from accounts.models import StaffUser

        s_coord_b = s.scalar(select(StaffUser.id).where(StaffUser.username == "coord_b"))
    activity_b = make_activity(rt, org_b, point_b.station_id, now - timedelta(minutes=10), hours=19 / 6)
    world.ids_b = {
        **a,
        "org_a": org_b,
        "hub_id": hub_b,
        "team_id": team_b,
        "point_id": point_b.id,
        "agreement_id": agreement_b,
        "station_id": point_b.station_id,
        "diner_id": diner_b.id,
        "diner_card": rt.codes.diner_card(diner_b.id, 1),
        "volunteer_id": vol_b,
        "partner_id": partner_b,
        "activity_id": activity_b,
        "round_id": round_b,
        "item_id": item_b,
        "grant_round_id": grant_round(rt, hub_b, now),
        "reviewer_id": s_coord_b,
        "project_id": make_project(rt, hub_id=hub_b, org_id=org_b, granted=100_000),
    }
    return world


@pytest.mark.slow  # 50 requests, every table read before and after each
def test_no_request_of_hub_b_may_name_a_row_of_hub_a(rt, client, world_b):
    """For every operation whose body names an id: hub B's admin and coordinator send the request
    B's admin may send about B's own rows, with one id (in the body or the path) naming hub A's row
    instead. Each is refused (403, or 404 where the route hides what exists) and writes nothing;
    the same request naming only B's rows passes (so the refusal is the scope's, not the body's)."""
    document = client.get("/schema/openapi.json").json()
    table = routes(client.app)
    a, b = world_b.ids, world_b.ids_b
    unknown, wrong, walked = [], [], 0
    for (method, path), named in sorted(named_in_bodies(document).items()):
        template = _template(table, method, path)
        names = names_of(method, template)
        body = bodies(b).get((method, template))
        if body is None:
            unknown.append(f"{method} {template}: no valid body in bodies()")
            continue
        in_path = [param(template, p.split(":")[0][1:]) for p in template.split("/") if p.startswith("{")]
        fields = [w for w in named if w[-1] not in NOT_ROWS]
        unknown += [f"{method} {template}: {w[-1]} is not in names" for w in fields if w[-1] not in names]
        unknown += [f"{method} {template}: {p} is not in names" for p in in_path if p not in names]
        full = body
        for w in fields:  # the body naming B's row in every id field it has
            if w[-1] in names:
                full = _put(full, w, b[names[w[-1]]])
        for where in [*fields, *in_path]:
            name = where[-1] if isinstance(where, tuple) else where
            if name not in names:
                continue
            ids = {**b, name: a[names[name]]} if isinstance(where, str) else b
            sent = _put(full, where, a[names[name]]) if isinstance(where, tuple) else full
            for who in ("admin_b", "coord_b"):
                walked += 1
                headers = token_for(rt, client, world_b, who)
                for key in (w for w in named if w[-1] in NOT_ROWS):  # a new one each time
                    sent = _put(sent, key, str(uuid.uuid4()))
                before = _rows(rt)
                r = _send(client, method, template, ids, sent, headers)
                after = _rows(rt)
                grew = {t for t in after if after[t] != before[t]}
                what = f"{method} {template} {who} naming A's {name}"
                if (method, template) in SCANS and r.status_code == 200:
                    results = r.json().get("results", [r.json()])
                    # a refused scan is stored (with its key), and the caller's own device marked
                    # online (integrity)
                    if grew - {"scans", "scan_keys", "staff_presence"} or any(
                        x.get("reason") != "not_allowed_here" for x in results
                    ):
                        wrong.append(f"{what}: {r.text[:120]} wrote {sorted(grew)}")
                elif r.status_code not in (403, 404) or grew:
                    wrong.append(f"{what}: {r.status_code} {r.text[:120]} wrote {sorted(grew)}")
                elif "赵美玲" in r.text or "王秀英" in r.text or "王桂英" in r.text:
                    wrong.append(f"{what}: the refusal names a person")
                elif name == "diner_id" and "食堂a" in r.text:
                    wrong.append(f"{what}: the refusal tells where A's diner eats")
        allowed, _ = MATRIX[(method, template)]
        # a route for admins: B's admin about B's own rows (a county's own routes have none)
        if allowed & {"admin_a", "county"} and (method, template) not in COUNTY_ONLY:
            r = _send(client, method, template, b, full, token_for(rt, client, world_b, "admin_b"))
            if r.status_code in (401, 403, 404) or r.status_code >= 500:
                wrong.append(f"{method} {template} admin_b about B's rows: {r.status_code} {r.text[:160]}")
    assert unknown == [], "\n".join(unknown)
    assert wrong == [], "\n".join(wrong)
    assert walked >= 50  # 15 operations, 25 ids in their bodies and paths, two callers each


def _send(client, method: str, template: str, ids: dict, body: dict, headers: dict):
    path = template
    for part in template.split("/"):
        if part.startswith("{"):
            path = path.replace(part, str(ids[param(template, part.split(":")[0][1:])]))
    path += QUERIES.get((method, template), "").format(**ids)
    return client.request(method, path, json=body, headers=headers)
