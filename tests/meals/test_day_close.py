"""The day's close (日结): it follows the meal point's last slot (a dinner until 23:45 is served at
21:40 and closed only after 23:45), closes are listed per point, made by hand once the last slot
has ended (idempotent) and printed as a PDF sheet to sign."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from integrity.models import AuditEntry
from meals.models import DayClose, MealSlot
from tests.fixtures.builders import staff_token, staff_user
from tests.fixtures.canteen import LUNCH, Canteen
from workers.cron import SCHEDULE
from workers.jobs import close_meal_days

EVENING = datetime(2030, 6, 4, 13, 30, tzinfo=UTC)  # Tuesday 21:30 in Asia/Shanghai


def local(hour, minute, days=0):
    """Tuesday 4 June 2030 (or `days` later) at hour:minute in Asia/Shanghai, as UTC."""
    return datetime(2030, 6, 4, hour, minute, tzinfo=UTC) - timedelta(hours=8) + timedelta(days=days)


@pytest.fixture
def canteen(client, rt, clock):
    clock.at = LUNCH
    return Canteen(rt, client)


def late_dinner(canteen):
    """The canteen serves dinner until 23:45."""
    with canteen.rt.tx() as s:
        s.execute(
            update(MealSlot)
            .where(MealSlot.meal_point_id == canteen.point.id, MealSlot.slot == "dinner")
            .values(ends="23:45")
        )


def closed_days(rt):
    with rt.tx() as s:
        return {(d.meal_point_id, d.service_day.isoformat()) for d in s.scalars(select(DayClose))}


def test_a_dinner_until_2345_is_served_at_2140_and_the_day_closes_only_after_it(canteen, rt, clock):
    late_dinner(canteen)
    clock.at = local(21, 30)
    assert close_meal_days() == 0  # 21:30: the evening run leaves a point whose dinner goes on
    clock.at = local(21, 40)
    served = canteen.scan(canteen.card(canteen.grandma))
    assert (served["outcome"], served["meal"]["slot"]) == ("meal_served", "dinner")
    for hour, minute in ((21, 45), (22, 0), (23, 30)):
        clock.at = local(hour, minute)
        assert close_meal_days() == 0, (hour, minute)
    clock.at = local(23, 44)
    assert canteen.scan(canteen.card(canteen.grandpa))["outcome"] == "meal_served"
    assert closed_days(rt) == set()
    clock.at = local(0, 0, days=1)  # the run after the last slot: Tuesday closes, Wednesday stays open
    assert close_meal_days() == 1
    assert closed_days(rt) == {(canteen.point.id, "2030-06-04")}
    with rt.tx() as s:
        day = s.scalar(select(DayClose))
        assert (day.meals, day.diners) == (2, 2)


def test_a_point_that_ends_at_2000_still_closes_at_2130_and_the_run_is_every_15_minutes(canteen, rt, clock):
    clock.at = local(21, 29)
    assert close_meal_days() == 0  # the evening before 21:30 stays open for voids and late uploads
    clock.at = EVENING
    assert close_meal_days() == 1
    runs = {f.__name__: cron for f, _, cron in SCHEDULE}
    assert runs["close_meal_days"] == "*/15 * * * *"  # so a 23:45 dinner closes by midnight


def test_closes_are_listed_made_by_hand_after_the_last_slot_and_printed(canteen, client, rt, clock):
    from pypdf import PdfReader

    counter = staff_token(client, "counter")
    url = f"/api/v1/meal-points/{canteen.point.id}/day-closes"
    meal = canteen.scan(canteen.card(canteen.grandma))["meal"]
    assert meal["paid"] == 100
    listed = client.get(url, headers=counter)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["items"] == [] and body["next"] is None
    assert (body["today"], body["today_closed"]) == ("2030-06-04", False)
    assert datetime.fromisoformat(body["close_from"]) == local(20, 0)
    assert datetime.fromisoformat(body["closes_at"]) == local(21, 30)

    # during a slot, and before the last slot has ended, the day cannot be closed
    for at in (LUNCH, local(15, 0), local(19, 59)):
        clock.at = at
        refused = client.post(url, json={}, headers=counter)
        assert refused.status_code == 409 and refused.json()["code"] == "slot_open", refused.text
    future = client.post(url, json={"day": "2030-06-05"}, headers=counter)
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "day"
    assert closed_days(rt) == set()

    clock.at = local(20, 5)
    first = client.post(url, json={}, headers=counter)
    assert first.status_code == 200, first.text
    close = first.json()
    assert (close["day"], close["meals"], close["paid_total"], close["subsidy_total"]) == (
        "2030-06-04",
        1,
        100,
        1100,
    )
    assert close["funders"] == [
        {"agreement_id": canteen.government, "funder": "县民政助餐补贴", "amount": 1100, "adjusted": 0}
    ]
    clock.at = local(20, 10)
    again = client.post(url, json={"day": "2030-06-04"}, headers=counter)
    assert again.status_code == 200 and again.json() == close  # idempotent: the close as it was made
    assert close_meal_days() == 0
    late = client.post(  # a closed day takes no more meals, not even a dinner uploaded late
        "/api/v1/scans/batch",
        json={
            "scans": [
                {
                    "payload": canteen.card(canteen.grandpa),
                    "station_id": canteen.station,
                    "scan_id": str(uuid.uuid4()),
                    "scanned_at": local(19, 30).isoformat(),
                }
            ]
        },
        headers=counter,
    ).json()["results"][0]
    assert (late["outcome"], late["reason"]) == ("rejected", "day_closed")
    with rt.tx() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "meal_day.closed")).all()
        assert len(audit) == 1 and audit[0].detail == {"day_close_id": close["id"]}

    # a past day left open is closed by hand too, and the list shows the latest day first
    past = client.post(url, json={"day": "2030-06-03"}, headers=counter)
    assert past.status_code == 200 and past.json()["meals"] == 0
    body = client.get(url, headers=counter).json()
    assert [c["day"] for c in body["items"]] == ["2030-06-04", "2030-06-03"] and body["today_closed"]
    first_page = client.get(url + "?limit=1", headers=counter).json()
    assert [c["day"] for c in first_page["items"]] == ["2030-06-04"] and first_page["next"]
    second = client.get(url + f"?limit=1&cursor={first_page['next']}", headers=counter).json()
    assert [c["day"] for c in second["items"]] == ["2030-06-03"]

    # the sheet: a PDF whose text is the day's numbers in Chinese, with places to sign
    sheet = client.get(f"/api/v1/day-closes/{close['id']}/sheet.pdf", headers=counter)
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(sheet.content)).pages)
    for words in (
        "泉心食堂 日结单",
        "2030年06月04日",
        "供餐人次",
        "长者自付",
        "1.00元",
        "12.00元",
        "县民政助餐补贴",
        "11.00元",
        "签字",
        "助餐点负责人",
    ):
        assert words in text, (words, text)

    # another hub's coordinator sees none of it
    staff_user(rt, "counter_b", "coordinator", org_id=canteen.county.org_b)
    other = staff_token(client, "counter_b")
    assert client.get(url, headers=other).status_code == 403
    assert client.post(url, json={}, headers=other).status_code == 403
    assert client.get(f"/api/v1/day-closes/{close['id']}/sheet.pdf", headers=other).status_code == 403
    assert client.get("/api/v1/day-closes/999999/sheet.pdf", headers=counter).status_code == 404
