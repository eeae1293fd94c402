"""Bookings: for coming days before 16:00 the day before, the kitchen's list, served by the card
scan, no-shows counted when the day closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from meals.models import Booking, DayClose
from tests.helpers import staff_token
from tests.meals.test_counter import LUNCH, Canteen

EVE = datetime(2030, 6, 3, 7, 0, tzinfo=UTC)  # 15:00 local on Monday: booking for Tuesday still open


def test_book_the_kitchen_list_served_and_no_shows(client, rt, clock):
    clock.at = EVE
    canteen = Canteen(rt, client)
    counter = staff_token(client, "counter")
    url = f"/api/v1/meal-points/{canteen.point.id}/bookings"
    tuesday = LUNCH.date().isoformat()
    r = client.post(url, json={"diner_id": canteen.grandma, "day": tuesday, "slot": "lunch"}, headers=counter)
    assert r.status_code == 201 and r.json()["status"] == "booked"
    again = client.post(
        url, json={"diner_id": canteen.grandma, "day": tuesday, "slot": "lunch"}, headers=counter
    )
    assert again.status_code == 409 and again.json()["code"] == "already_booked"
    r2 = client.post(
        url,
        json={"diner_id": canteen.grandpa, "day": tuesday, "slot": "lunch", "mode": "delivery"},
        headers=counter,
    )
    assert r2.status_code == 201
    bad = client.post(
        url,
        json={"diner_id": canteen.grandpa, "day": tuesday, "slot": "brunch", "mode": "x"},
        headers=counter,
    )
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"slot", "mode"}
    kitchen = client.get(
        f"/api/v1/meal-points/{canteen.point.id}/kitchen?day={tuesday}", headers=counter
    ).json()
    assert kitchen["slots"] == {"lunch": {"dine_in": 1, "delivery": 1}}
    assert kitchen["needs"] == [
        {"slot": "lunch", "name": "王桂英", "dietary_notes": "低盐", "allergies": "花生"}
    ]
    clock.at = EVE + timedelta(hours=1, minutes=1)  # 16:01: past the cut-off
    late = client.post(
        url, json={"diner_id": canteen.grandpa, "day": tuesday, "slot": "dinner"}, headers=counter
    )
    assert late.status_code == 422 and late.json()["errors"][0]["code"] == "past_cutoff"
    cancel = client.post(f"/api/v1/bookings/{r2.json()['id']}/cancel", headers=counter)
    assert cancel.status_code == 409 and cancel.json()["code"] == "past_cutoff"
    clock.at = LUNCH
    assert canteen.scan(canteen.card(canteen.grandma))["outcome"] == "meal_served"
    clock.at = datetime(2030, 6, 4, 13, 30, tzinfo=UTC)
    from workers.jobs import close_meal_days

    close_meal_days()
    with rt.tx() as s:
        statuses = {b.diner_id: b.status for b in s.scalars(select(Booking))}
        day = s.scalar(select(DayClose))
    assert statuses == {canteen.grandma: "served", canteen.grandpa: "no_show"}
    assert day.no_shows == 1 and day.meals == 1
