"""Bookings: for coming days before 16:00 the day before, the kitchen's list, served by the card
scan, no-shows counted when the day closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from meals import service
from meals.models import Booking, DayClose
from tests.fixtures.builders import staff_token
from tests.fixtures.canteen import LUNCH, Canteen

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
        json={"diner_id": canteen.grandpa, "day": tuesday, "slot": "lunch", "mode": "pick_up"},
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
    assert kitchen["slots"] == {"lunch": {"dine_in": 1, "pick_up": 1}}
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


def test_a_family_books_with_the_diners_card_and_a_replaced_card_stops_working(client, rt, clock):
    clock.at = EVE
    canteen = Canteen(rt, client)
    card = "https://linli.example/c/" + canteen.card(canteen.grandma)  # the URL a phone opens
    tuesday = LUNCH.date().isoformat()
    r = client.post("/api/v1/card-bookings", json={"card": card, "day": tuesday, "slot": "lunch"})
    assert r.status_code == 201, r.text
    assert (r.json()["diner_id"], r.json()["meal_point_id"]) == (canteen.grandma, canteen.point.id)
    listed = client.post("/api/v1/card-bookings/list", json={"card": card}).json()["items"]
    assert [b["id"] for b in listed] == [r.json()["id"]]
    # someone else's card cannot see or cancel it
    other = canteen.card(canteen.grandpa)
    assert client.post("/api/v1/card-bookings/list", json={"card": other}).json()["items"] == []
    stranger = client.post(f"/api/v1/card-bookings/{r.json()['id']}/cancel", json={"card": other})
    assert stranger.status_code == 404
    cancelled = client.post(f"/api/v1/card-bookings/{r.json()['id']}/cancel", json={"card": card})
    assert cancelled.json()["status"] == "cancelled"
    # a forged or a station's code is not a card; after a reissue the old card is refused
    forged = client.post(
        "/api/v1/card-bookings", json={"card": card[:-2] + "AA", "day": tuesday, "slot": "lunch"}
    )
    assert forged.status_code == 422 and forged.json()["errors"][0]["code"] == "invalid_code"
    with rt.tx() as s:
        service.reissue_card(s, canteen.grandma)
    old = client.post("/api/v1/card-bookings", json={"card": card, "day": tuesday, "slot": "dinner"})
    assert old.status_code == 422 and old.json()["errors"][0]["code"] == "revoked_card"
    with rt.tx() as s:
        assert [b.status for b in s.scalars(select(Booking))] == ["cancelled"]
