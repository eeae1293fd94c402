"""Every list answers the contract's envelope, `{"items": [...], "next": <cursor or null>}`, and
following `next` gives each item once. The first test walks the OpenAPI document, so a list route
added later with a bare array fails it; the others page through the five lists that answered bare
arrays before (funding agreements, meal points, a partner's API keys, a station's roster, a hub's
commendation rounds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from meals import service as meals
from orgs import service as orgs_service
from tests.fixtures.builders import make_activity, make_county, make_station, staff_token, staff_user


def test_no_list_in_the_openapi_document_answers_a_bare_array(app):
    document = app.openapi_schema.to_schema()
    schemas = document["components"]["schemas"]

    def resolved(schema: dict) -> dict:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    wrong, lists = [], 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answer = operation.get("responses", {}).get("200", {}).get("content", {})
            if method not in ("get", "post") or "application/json" not in answer:
                continue
            schema = resolved(answer["application/json"]["schema"])
            fields = schema.get("properties", {})
            if schema.get("type") == "array":
                wrong.append(f"{method.upper()} {path}: a bare array")
            elif "items" in fields:
                lists += 1
                nullable = {t.get("type") for t in fields.get("next", {}).get("oneOf", [])}
                if resolved(fields["items"]).get("type") != "array" or nullable != {"string", "null"}:
                    wrong.append(f"{method.upper()} {path}: items without a nullable next")
    assert not wrong, wrong
    assert lists >= 20  # the walk saw the lists (a change in the document's shape would hide them)


def pages(client, url: str, headers: dict, limit: int) -> list[list[dict]]:
    """Every page of a list, following `next` until it is null."""
    got, cursor = [], None
    while True:
        sep = "&" if "?" in url else "?"
        r = client.get(f"{url}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next"}, body
        got.append(body["items"])
        cursor = body["next"]
        if cursor is None:
            return got
        assert len(got) < 10


def ids(listed: list[list[dict]]) -> list[int]:
    return [item["id"] for page in listed for item in page]


def three_points(rt, org_id: int) -> list[int]:
    with rt.tx() as s:
        return [
            meals.create_meal_point(
                s,
                org_id=org_id,
                name=f"食堂{n}",
                address="泉塘街道",
                daily_capacity=100,
                slots=[meals.SlotInput("lunch", "11:00", "13:30", 1200)],
                now=rt.clock.now(),
            ).id
            for n in (3, 1, 2)
        ]


def test_meal_points_and_funding_agreements_come_in_pages(client, rt):
    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    admin = staff_token(client, "admin_a")
    points = three_points(rt, county.org_a)
    today = rt.clock.now().date()
    with rt.tx() as s:
        agreements = [
            meals.create_agreement(
                s,
                meals.AgreementInput(
                    name=f"补贴{n}",
                    funder_kind="government",
                    stack_order=n,
                    starts_on=today,
                    ends_on=today + timedelta(days=30 * n),
                    budget_cap=100_000,
                    schedule=[{"categories": ["tekun"], "slots": ["lunch"], "amount": 300}],
                    meal_point_ids=points[: n + 1],
                ),
                rt.clock.now(),
            ).id
            for n in (1, 2, 3)
        ]
    listed = pages(client, "/api/v1/meal-points", admin, 2)
    assert [len(p) for p in listed] == [2, 1] and ids(listed) == sorted(points)
    listed = pages(client, "/api/v1/funding-agreements", admin, 2)
    assert [len(p) for p in listed] == [2, 1] and ids(listed) == sorted(agreements, reverse=True)
    # each agreement still names every point it pays at, on whichever page it is
    assert [a["meal_point_ids"] for p in listed for a in p] == [
        sorted(points[:3]),
        sorted(points[:3]),
        sorted(points[:2]),
    ]
    staff_user(rt, "admin_b", "admin", org_id=county.hub_b)
    assert pages(client, "/api/v1/meal-points", staff_token(client, "admin_b"), 2) == [[]]


def test_a_partners_api_keys_come_in_pages(client, rt):
    county = make_county(rt)
    with rt.tx() as s:
        partner = orgs_service.create_partner(s, name="泉心社会企业", now=rt.clock.now()).id
    staff_user(rt, "county", "admin", org_id=county.base)
    admin = staff_token(client, "county")
    made = [
        client.post(f"/api/v1/partners/{partner}/api-keys", json={"name": f"k{n}"}, headers=admin).json()[
            "id"
        ]
        for n in range(3)
    ]
    listed = pages(client, f"/api/v1/partners/{partner}/api-keys", admin, 2)
    assert [len(p) for p in listed] == [2, 1] and ids(listed) == made[::-1]  # newest first
    assert all("key" not in k for p in listed for k in p)


def test_a_stations_roster_comes_in_pages(client, rt):
    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    admin = staff_token(client, "admin_a")
    station = make_station(rt, county.org_a, "活动室")
    day = datetime(2030, 6, 4, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
    made = [make_activity(rt, county.org_a, station, day + timedelta(hours=3 * n), hours=2) for n in range(3)]
    make_activity(rt, county.org_a, station, day + timedelta(days=1))  # another day
    listed = pages(client, f"/api/v1/stations/{station}/roster?day=2030-06-04", admin, 2)
    assert [len(p) for p in listed] == [2, 1]
    assert [e["activity"]["id"] for p in listed for e in p] == made


def test_a_hubs_commendation_rounds_come_in_pages(client, rt):
    county = make_county(rt)
    staff_user(rt, "admin_a", "admin", org_id=county.hub_a)
    admin = staff_token(client, "admin_a")
    made = []
    for start in ("2030-04-01", "2030-05-01", "2030-06-01"):
        r = client.post(
            f"/api/v1/hubs/{county.hub_a}/commendation-rounds",
            json={"title": start, "period": "month", "period_start": start},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    listed = pages(client, f"/api/v1/hubs/{county.hub_a}/commendation-rounds", admin, 2)
    assert [len(p) for p in listed] == [2, 1] and ids(listed) == made[::-1]
