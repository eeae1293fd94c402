"""Meal service (助餐): meal points, diners and their cards, funding agreements, meals recorded by
hand and voided. Counter scans go through `POST /api/v1/scans` like every QR code."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, MAX_ID, Cursor, Id, Limit, local_today, next_cursor, page, require_staff
from api.problems import problems
from integrity import service as integrity
from linli import qr, scope
from linli.errors import FieldError, forbidden, invalid, not_found
from linli.runtime import Runtime
from meals import counter, counter_day, edits, service
from meals.models import Diner, Meal, MealPoint
from meals.schemas import (
    AdjustmentRead,
    CounterToday,
    DinerBody,
    DinerPage,
    DinerRead,
    MealPointBody,
    MealPointPage,
    MealPointRead,
    MealRead,
    PauseBody,
    PriceVersion,
    SlotRead,
    SlotToday,
    UnsubsidizedBody,
    VoidBody,
)
from orgs import service as orgs_service


def _works_at(session, principal: Principal, point: MealPoint) -> bool:
    """Staff of the point's organization subtree, or a coordinator bound to its counter."""
    org = orgs_service.get(session, point.org_id)
    return scope.may_use_station(
        principal.staff_paths, principal.bound_station_ids, point.station_id, org.path
    )


def staff_at(session, principal: Principal, point: MealPoint, *roles: str) -> int:
    """The staff member's id if they work at the point (`_works_at`), else 403."""
    staff_id = require_staff(principal, *(roles or ("admin", "coordinator")))
    if _works_at(session, principal, point):
        return staff_id
    raise forbidden(f"您无权管理“{point.name}” You do not work at this meal point", scope.OUTSIDE)


def diner_of(session, principal: Principal, diner_id: int) -> Diner:
    """A diner a request names, in its path or its body: 404 `diner_not_found`, and 403
    `outside_your_scope` unless the caller works at the diner's home point (the answer does not
    say where someone else's diner eats)."""
    require_staff(principal, "admin", "coordinator")
    diner = service.get_diner(session, diner_id)
    if not _works_at(session, principal, service.get_point(session, diner.home_point_id)):
        raise forbidden("该长者不在您服务的助餐点 You do not serve this diner", scope.OUTSIDE)
    return diner


def _meal_here(session, principal: Principal, meal_id: int) -> tuple[Meal, int]:
    """A meal of a point the staff member works at (404 or 403 otherwise), and their id."""
    meal = service.get_meal(session, meal_id)
    return meal, staff_at(session, principal, service.get_point(session, meal.meal_point_id))


def point_read(session, point: MealPoint, today) -> MealPointRead:
    """A meal point with its slots: today's prices, and those set for later days."""
    return MealPointRead(
        id=point.id,
        org_id=point.org_id,
        name=point.name,
        address=point.address,
        station_id=point.station_id,
        daily_capacity=point.daily_capacity,
        slots=[
            SlotRead(s.slot, s.starts, s.ends, price, [PriceVersion(v.effective_from, v.price) for v in later])
            for s, price, later in edits.slots_today(session, point.id, today)
        ],
    )


def audit(session, rt: Runtime, action: str, subject: str, org_id: int, staff_id: int, detail: dict) -> None:
    """A set-up row made or edited, kept in the audit log: its history."""
    path = orgs_service.get(session, org_id).path
    integrity.audit(session, action, subject, path, staff_id, rt.clock.now(), detail)


class MealController(Controller):
    path = "/api/v1"
    tags = ["助餐 meals"]
    dependencies = AUTH

    @post(
        "/meal-points",
        operation_id="createMealPoint",
        status_code=201,
        sync_to_thread=True,
        summary="A meal point with its slots and prices; its counter station is made with it",
        responses=problems(_404="organization_not_found", _403="staff_only, outside_your_scope"),
    )
    def create_point(
        self,
        data: JSONBody[MealPointBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> MealPointRead:
        require_staff(principal, "admin")
        orgs_service.require_admin_of(principal.admin_paths, orgs_service.get(session, data.org_id))
        point = service.create_meal_point(
            session,
            org_id=data.org_id,
            name=data.name,
            address=data.address,
            daily_capacity=data.daily_capacity,
            slots=[service.SlotInput(s.slot, s.starts, s.ends, s.price) for s in data.slots],
            now=rt.clock.now(),
        )
        audit(session, rt, "meal_point.created", f"meal_point:{point.id}", point.org_id, principal.staff_user_id, {})
        return point_read(session, point, local_today(rt))

    @get(
        "/meal-points",
        operation_id="listMealPoints",
        sync_to_thread=True,
        summary="Meal points in the staff member's part of the tree, with their slots",
        responses=problems(_403="staff_only, role_required"),
    )
    def list_points(
        self,
        principal: NamedDependency[Principal],
        reads: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> MealPointPage:
        require_staff(principal, "admin", "coordinator")
        after, limit = page(cursor, limit)
        points = service.points_under(
            reads, principal.staff_paths, principal.bound_station_ids, after_id=after, limit=limit
        )
        items = [point_read(reads, p, local_today(rt)) for p in points]
        return MealPointPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @post(
        "/diners",
        operation_id="registerDiner",
        status_code=201,
        sync_to_thread=True,
        summary="Register a diner (staff of the meal point): birth date and sex read from the ID number"
        " (a typed birth date must agree: 422 `id_number_mismatch`); ID number kept as a keyed hash and last four",
        responses=problems(
            _403="staff_only, outside_your_scope", _404="meal_point_not_found", _409="id_number_taken"
        ),
    )
    def register(
        self,
        data: JSONBody[DinerBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> DinerRead:
        point = service.get_point(session, data.home_point_id)
        staff_id = staff_at(session, principal, point)
        diner = service.register_diner(
            session,
            rt.signer,
            service.DinerInput(
                name=data.name,
                birth_date=data.birth_date,
                community=data.community,
                id_number=data.id_number,
                home_point_id=data.home_point_id,
                consent=data.consent,
                phone=data.phone,
                guardian_name=data.guardian_name,
                dietary_notes=data.dietary_notes,
                allergies=data.allergies,
                categories=tuple(data.categories),
                delivery=data.delivery,
                address=data.address,
                residence=data.residence,
            ),
            created_by=staff_id,
            now=rt.clock.now(),
            today=local_today(rt),
        )
        audit(session, rt, "diner.created", f"diner:{diner.id}", point.org_id, staff_id, {})
        return DinerRead.of(diner)

    @get(
        "/diners",
        operation_id="findDiners",
        sync_to_thread=True,
        summary="Find a diner who forgot the card: by name, or the last four digits of phone or ID",
        responses=problems(_404="meal_point_not_found", _403="staff_only, outside_your_scope"),
    )
    def find(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        meal_point_id: Annotated[int, QueryParameter(ge=1, le=MAX_ID)],
        q: FromQuery[str | None] = None,
        last4: FromQuery[str | None] = None,
    ) -> DinerPage:
        if (
            (not q and not last4)
            or (q and len(q) > 20)
            or (last4 and not (len(last4) == 4 and last4.isascii() and last4.isalnum()))
        ):
            raise invalid(
                [FieldError("q", "required", "请输入姓名或手机/身份证后四位 A name or four last digits")]
            )
        point = service.get_point(session, meal_point_id)
        staff_at(session, principal, point)
        items = [DinerRead.of(d) for d in service.find_diners(session, [point.id], q, last4)]
        return DinerPage(items=items, next=None)

    @get(
        "/diners/{diner_id:int}/card.png",
        operation_id="dinerCardPng",
        sync_to_thread=True,
        media_type="image/png",
        summary="The diner's card (QR, static, signed; reissuing revokes it): admins only, audited",
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="diner_not_found"),
    )
    def card(
        self,
        diner_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response[bytes]:
        # printing a card is an admin's act, kept in the audit log: a card's image is a meal's
        # proof at the counter, and a coordinator holding one could claim meals never served
        staff_id = require_staff(principal, "admin")
        diner = diner_of(session, principal, diner_id)
        integrity.audit(
            session,
            "diner_card.printed",
            f"diner:{diner.id}",
            orgs_service.get(session, service.get_point(session, diner.home_point_id).org_id).path,
            staff_id,
            rt.clock.now(),
            {"card_version": diner.card_version},
        )
        payload = rt.codes.diner_card(diner.id, diner.card_version)
        return Response(qr.png(payload), media_type="image/png")

    @post(
        "/diners/{diner_id:int}/pause",
        operation_id="pauseDiner",
        status_code=200,
        sync_to_thread=True,
        summary="Pause meals from a date until a date (both empty: resume now)",
        responses=problems(_403="staff_only, outside_your_scope", _404="diner_not_found"),
    )
    def pause(
        self,
        diner_id: Id,
        data: JSONBody[PauseBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
    ) -> DinerRead:
        diner_of(session, principal, diner_id)
        return DinerRead.of(service.pause(session, diner_id, data.paused_from, data.paused_until))

    @post(
        "/diners/{diner_id:int}/reissue-card",
        operation_id="reissueDinerCard",
        status_code=200,
        sync_to_thread=True,
        summary="A lost card: a new one, and the old stops working",
        responses=problems(_403="staff_only, outside_your_scope", _404="diner_not_found"),
    )
    def reissue(
        self, diner_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> DinerRead:
        diner_of(session, principal, diner_id)
        return DinerRead.of(service.reissue_card(session, diner_id))

    @post(
        "/meals",
        operation_id="recordUnsubsidizedMeal",
        status_code=201,
        sync_to_thread=True,
        summary="A meal at full price, recorded on purpose (e.g. after `already_served`)",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="diner_not_found, meal_point_not_found",
            _409="outside_window, day_closed",
        ),
    )
    def unsubsidized(
        self,
        data: JSONBody[UnsubsidizedBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> MealRead:
        if data.mode not in ("dine_in", "pick_up", "delivery"):
            raise invalid(
                [
                    FieldError(
                        "mode",
                        "invalid",
                        "就餐方式应为 dine_in、pick_up 或 delivery 之一 Mode must be dine_in, pick_up or delivery",
                    )
                ]
            )
        point = service.get_point(session, data.meal_point_id)
        staff_id = staff_at(session, principal, point)
        diner_of(session, principal, data.diner_id)
        meal = counter.record_unsubsidized(
            session,
            diner_id=data.diner_id,
            point=point,
            at=rt.clock.now(),
            tz=rt.settings.tz,
            mode=data.mode,
            device_label=f"staff:{staff_id}",
        )
        return MealRead.of(meal)

    @post(
        "/meals/{meal_id:int}/void",
        operation_id="voidMeal",
        status_code=200,
        sync_to_thread=True,
        summary="Void a meal the same day, with a reason: its subsidy goes back to the budgets",
        responses=problems(
            _403="staff_only, outside_your_scope", _404="meal_not_found", _409="meal_voided, meal_held, meal_day_past"
        ),
    )
    def void(
        self,
        meal_id: Id,
        data: JSONBody[VoidBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> MealRead:
        _, staff_id = _meal_here(session, principal, meal_id)
        return MealRead.of(
            counter_day.void(
                session,
                meal_id,
                reason=data.reason,
                staff_user_id=staff_id,
                now=rt.clock.now(),
                tz=rt.settings.tz,
            )
        )

    @post(
        "/meals/{meal_id:int}/reversal",
        operation_id="reverseMeal",
        status_code=201,
        sync_to_thread=True,
        summary="Reverse a meal of a past or closed day: the meal stays, the reversal counts on the next open day",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="meal_not_found",
            _409="meal_voided, meal_held, meal_day_open, meal_adjusted",
        ),
    )
    def reverse(
        self,
        meal_id: Id,
        data: JSONBody[VoidBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> AdjustmentRead:
        _, staff_id = _meal_here(session, principal, meal_id)
        adjustment = counter_day.reverse(
            session,
            meal_id,
            reason=data.reason,
            staff_user_id=staff_id,
            now=rt.clock.now(),
            tz=rt.settings.tz,
        )
        return msgspec.convert(counter_day.adjustment_view(adjustment), AdjustmentRead)

    @get(
        "/stations/{station_id:int}/meals-today",
        operation_id="counterToday",
        sync_to_thread=True,
        summary="At a meal point's counter: today's slots with meals served and bookings",
        responses=problems(_403="staff_only, outside_your_scope", _404="meal_point_not_found"),
    )
    def counter_today(
        self,
        station_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> CounterToday:
        found = counter.point_at_station(session, station_id, local_today(rt))
        if found is None:
            raise not_found("助餐点 Meal point", "meal_point_not_found")
        point, _, slots, _ = found
        staff_at(session, principal, point)
        integrity.heard(rt, principal.staff_user_id, rt.clock.now(), session)  # the counter is online now
        day = local_today(rt)
        return CounterToday(
            day=day,
            meal_point_id=point.id,
            name=point.name,
            slots=[SlotToday(**s) for s in counter.today_at(session, point, slots, day)],
        )

    @get(
        "/meals/{meal_id:int}",
        operation_id="getMeal",
        sync_to_thread=True,
        summary="A meal as recorded, with its subsidy split, its void and its reversal (who, when, why)",
        responses=problems(_403="staff_only, outside_your_scope", _404="meal_not_found"),
    )
    def meal(
        self, meal_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> dict:
        meal, _ = _meal_here(session, principal, meal_id)
        return counter_day.meal_record(session, meal)
