"""Bookings (订餐): staff book for diners, and a diner or their family books with the diner's card
(the photo of its QR code on a phone is enough, as at the counter: a reissued card stops working);
the kitchen's list per day."""

from __future__ import annotations

from datetime import date

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Id, check_times, local_today
from api.meals import diner_of, staff_at
from api.problems import problems
from linli.runtime import Runtime
from meals import bookings, service
from meals.schemas import BookingBody, BookingPage, BookingRead, CardBody, CardBookingBody, KitchenRead


def _booking_read(b) -> BookingRead:
    return BookingRead(
        id=b.id,
        diner_id=b.diner_id,
        meal_point_id=b.meal_point_id,
        day=b.service_day,
        slot=b.slot,
        mode=b.mode,
        status=b.status,
    )


class BookingController(Controller):
    path = "/api/v1"
    tags = ["订餐 bookings"]
    dependencies = AUTH

    @post(
        "/meal-points/{point_id:int}/bookings",
        operation_id="bookMeal",
        status_code=201,
        sync_to_thread=True,
        summary="Book a meal for a coming day, before 16:00 the day before",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="meal_point_not_found, diner_not_found",
            _409="already_booked",
        ),
    )
    def book(
        self,
        point_id: Id,
        data: JSONBody[BookingBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> BookingRead:
        point = service.get_point(session, point_id)
        staff_id = staff_at(session, principal, point)
        diner = diner_of(session, principal, data.diner_id)
        booking = bookings.book(
            session,
            diner=diner,
            point_id=point.id,
            day=data.day,
            slot=data.slot,
            mode=data.mode,
            staff_user_id=staff_id,
            now=rt.clock.now(),
            tz=rt.settings.tz,
        )
        return _booking_read(booking)

    @post(
        "/bookings/{booking_id:int}/cancel",
        operation_id="cancelBooking",
        status_code=200,
        sync_to_thread=True,
        responses=problems(
            _403="staff_only, outside_your_scope", _404="booking_not_found", _409="past_cutoff"
        ),
    )
    def cancel_booking(
        self,
        booking_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> BookingRead:
        booking = bookings.get(session, booking_id)
        staff_at(session, principal, service.get_point(session, booking.meal_point_id))
        return _booking_read(bookings.cancel(session, booking_id, rt.clock.now(), rt.settings.tz))

    @get(
        "/meal-points/{point_id:int}/kitchen",
        operation_id="kitchenList",
        sync_to_thread=True,
        summary="The kitchen's list for a day: bookings per slot and mode, and diners' dietary needs",
        responses=problems(_403="staff_only, outside_your_scope", _404="meal_point_not_found"),
    )
    def kitchen(
        self,
        point_id: Id,
        day: FromQuery[date],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
    ) -> KitchenRead:
        check_times(day=day)
        point = service.get_point(session, point_id)
        staff_at(session, principal, point)
        return KitchenRead(**bookings.kitchen(session, point.id, day))


class CardBookingController(Controller):
    """For diners and their families, without an account: the diner's card is the key."""

    path = "/api/v1/card-bookings"
    tags = ["订餐 bookings"]

    @post(
        "/",
        operation_id="bookMealWithCard",
        status_code=201,
        sync_to_thread=True,
        summary="A diner or family member books a meal at the diner's meal point with the diner's card",
        responses=problems(_409="already_booked"),
    )
    def book(
        self, data: JSONBody[CardBookingBody], session: NamedDependency[Session], rt: NamedDependency[Runtime]
    ) -> BookingRead:
        diner = bookings.diner_by_card(session, rt.codes, data.card)
        booking = bookings.book(
            session,
            diner=diner,
            point_id=diner.home_point_id,
            day=data.day,
            slot=data.slot,
            mode=data.mode,
            staff_user_id=None,
            now=rt.clock.now(),
            tz=rt.settings.tz,
        )
        return _booking_read(booking)

    @post(
        "/list",
        operation_id="listBookingsWithCard",
        status_code=200,
        sync_to_thread=True,
        summary="The diner's bookings from today on (POST: the card stays out of URLs and logs)",
    )
    def mine(
        self, data: JSONBody[CardBody], session: NamedDependency[Session], rt: NamedDependency[Runtime]
    ) -> BookingPage:
        diner = bookings.diner_by_card(session, rt.codes, data.card)
        return BookingPage([_booking_read(b) for b in bookings.upcoming(session, diner.id, local_today(rt))])

    @post(
        "/{booking_id:int}/cancel",
        operation_id="cancelBookingWithCard",
        status_code=200,
        sync_to_thread=True,
        summary="Cancel one of the diner's bookings, before 16:00 the day before",
        responses=problems(_404="booking_not_found", _409="past_cutoff"),
    )
    def cancel(
        self,
        booking_id: Id,
        data: JSONBody[CardBody],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> BookingRead:
        diner = bookings.diner_by_card(session, rt.codes, data.card)
        bookings.get(session, booking_id, diner_id=diner.id)
        return _booking_read(bookings.cancel(session, booking_id, rt.clock.now(), rt.settings.tz))
