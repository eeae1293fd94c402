"""Points (积分): a volunteer's balance and history, the points shop, a hub's earning rules and
hours added by hand."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import (
    AUTH,
    MAX_ID,
    Cursor,
    Id,
    IdFilter,
    Limit,
    local_today,
    next_cursor,
    page,
    refuse_partners,
    require_staff,
    require_volunteer,
)
from api.problems import problems
from linli import scope
from linli.errors import FieldError, conflict, forbidden, invalid, not_found
from linli.qr import InvalidCode
from linli.runtime import Runtime
from orgs import service as orgs_service
from orgs.models import Organization
from points import awards, rules, shop, standing
from points.schemas import (
    AwardRead,
    ExpiringPoints,
    FulfilBody,
    ItemBody,
    ItemPage,
    ItemRead,
    ManualHoursBody,
    NextLevel,
    OrderBody,
    OrderPage,
    OrderRead,
    PointsSummary,
    RuleBody,
    RulePage,
    RuleRead,
    TransferPage,
    TransferRead,
    WaitingOrders,
)
from records import service as records_service
from volunteer import service as volunteer_service


def _hub(session, hub_id: int) -> Organization:
    org = orgs_service.get(session, hub_id)
    if org.kind != "hub":
        raise not_found("服务中心 Hub", "hub_not_found")
    return org


def _require_hub_staff(session, principal: Principal, hub: Organization) -> int:
    """Admins over the hub, and coordinators working inside it (a counter's included)."""
    staff_id = require_staff(principal, "admin", "coordinator")
    stations = orgs_service.station_paths(session, principal.bound_station_ids or ())
    if not scope.works_in(principal.staff_paths, stations, hub.path):
        raise forbidden(f"您无权管理“{hub.name}” You do not work for this hub", scope.OUTSIDE)
    return staff_id


def _card_holder(session, rt: Runtime, payload: str, *, current: bool = True) -> int:
    """The volunteer a card scanned at the counter names: 422 `invalid_card` for anything else,
    409 `revoked_card` for a card replaced since (unless `current` is False: the caller checks)."""
    try:
        card = rt.codes.parse(payload)
    except InvalidCode:
        card = None
    if card is None or card.kind != "volunteer_card":
        raise invalid(
            [FieldError("payload", "invalid_card", "不是有效的志愿者卡 Not a valid volunteer card")]
        )
    if current and not volunteer_service.card_is_current(session, card.subject_id, card.number):
        raise conflict("revoked_card", "此卡已挂失或补办 This card was replaced")
    return card.subject_id


class MyPointsController(Controller):
    path = "/api/v1/me"
    tags = ["积分 points"]
    dependencies = AUTH

    @get(
        "/points",
        operation_id="myPoints",
        sync_to_thread=True,
        summary="My points, service time, star level and progress to the next",
        responses=problems(_403="volunteers_only"),
    )
    def my_points(
        self, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> PointsSummary:
        volunteer_id = require_volunteer(principal)
        s = standing.standing(session, volunteer_id)
        return PointsSummary(
            **{
                **s,
                "next_level": NextLevel(**s["next_level"]) if s["next_level"] else None,
                "expiring": [ExpiringPoints(**e) for e in s["expiring"]],
            }
        )

    @get(
        "/points/transfers",
        operation_id="myTransfers",
        sync_to_thread=True,
        summary="My transfers on both ledgers, newest first; a shop order once, reserved then spent",
        responses=problems(_403="volunteers_only"),
    )
    def my_transfers(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> TransferPage:
        volunteer_id = require_volunteer(principal)
        before, limit = page(cursor, limit)
        rows = standing.transfers_of(session, volunteer_id, before, limit)
        items = [
            TransferRead(
                id=line.transfer.id,
                ledger=line.transfer.ledger,
                kind=line.transfer.kind,
                amount=line.amount,
                reason=line.transfer.reason,
                reference=line.transfer.reference,
                created_at=line.transfer.created_at,
                state=line.state,
                resolved_at=line.resolved_at,
            )
            for line in rows
        ]
        return TransferPage(
            items=items, next=next_cursor(rows, limit, rows[-1].transfer.seq if rows else None)
        )

    @get(
        "/orders",
        operation_id="myOrders",
        sync_to_thread=True,
        responses=problems(_403="volunteers_only"),
    )
    def my_orders(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> OrderPage:
        volunteer_id = require_volunteer(principal)
        before, limit = page(cursor, limit)
        items = [OrderRead.of(o, i) for o, i in shop.orders_of(session, volunteer_id, before, limit)]
        return OrderPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))


class ShopController(Controller):
    path = "/api/v1/shop"
    tags = ["积分超市 shop"]
    dependencies = AUTH

    @get(
        "/items",
        operation_id="listShopItems",
        sync_to_thread=True,
        summary="Items on offer now",
        responses=problems(_403="partners_see_reports_only"),
    )
    def items(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        hub_id: IdFilter = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ItemPage:
        refuse_partners(principal)
        after, limit = page(cursor, limit)
        items = [ItemRead.of(i) for i in shop.visible_items(session, rt.clock.now(), hub_id, after, limit)]
        return ItemPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @post(
        "/items",
        operation_id="createShopItem",
        status_code=201,
        sync_to_thread=True,
        summary="Put an item in a hub's shop (hub admins)",
        responses=problems(_403="staff_only, outside_your_scope", _404="hub_not_found"),
    )
    def create_item(
        self,
        data: JSONBody[ItemBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        hub_id: Annotated[int, QueryParameter(ge=1, le=MAX_ID, description="the hub whose shop")],
    ) -> ItemRead:
        require_staff(principal, "admin")
        hub = _hub(session, hub_id)
        orgs_service.require_admin_of(principal.admin_paths, hub)
        item = shop.create_item(
            session,
            hub.id,
            shop.ItemInput(**{f: getattr(data, f) for f in data.__struct_fields__}),
            rt.clock.now(),
        )
        return ItemRead.of(item)

    @post(
        "/orders",
        operation_id="placeOrder",
        status_code=201,
        sync_to_thread=True,
        summary="Order an item: its points are reserved until the counter hands it over",
        responses=problems(
            _403="volunteers_only",
            _404="item_not_found",
            _409="not_enough_points, out_of_stock, limit_reached, item_not_available, request_id_taken",
        ),
    )
    def place_order(
        self,
        data: JSONBody[OrderBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> OrderRead:
        volunteer_id = require_volunteer(principal)
        if data.request_id is not None and not 1 <= len(data.request_id) <= 64:
            raise invalid([FieldError("request_id", "length", "请求编号1到64字符 1 to 64 characters")])
        order, _ = shop.place_order(
            session,
            volunteer_id=volunteer_id,
            item_id=data.item_id,
            quantity=data.quantity,
            request_id=data.request_id,
            now=rt.clock.now(),
            tz=rt.settings.tz,
        )
        return OrderRead.of(order, shop.get_item(session, order.item_id))

    @post(
        "/orders/waiting",
        operation_id="listWaitingOrders",
        status_code=200,
        sync_to_thread=True,
        summary="At the counter, the scanned volunteer card's orders waiting to be handed over (reserved,"
        " not expired), in the shops of hubs the staff member works for (POST: the card stays out of URLs)",
        responses=problems(
            _403="staff_only, role_required",
            _409="revoked_card",
            _422="validation_failed, invalid_card",
        ),
    )
    def waiting(
        self,
        data: JSONBody[FulfilBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> WaitingOrders:
        require_staff(principal, "admin", "coordinator")
        volunteer_id = _card_holder(session, rt, data.payload)
        stations = orgs_service.station_paths(session, principal.bound_station_ids or ())
        hubs: dict[int, bool] = {}  # hub id -> whether the caller works for it

        def ours(hub_id: int) -> bool:
            if hub_id not in hubs:
                path = orgs_service.get(session, hub_id).path
                hubs[hub_id] = scope.works_in(principal.staff_paths, stations, path)
            return hubs[hub_id]

        orders = shop.waiting_orders(session, volunteer_id, rt.clock.now())
        return WaitingOrders(
            volunteer_id=volunteer_id,
            volunteer_name=volunteer_service.get(session, volunteer_id).name,
            items=[OrderRead.of(o, i) for o, i in orders if ours(o.hub_id)],
            next=None,
        )

    @post(
        "/orders/{order_id:int}/fulfil",
        operation_id="fulfilOrder",
        status_code=200,
        sync_to_thread=True,
        summary="Hand the item over at the counter, scanning the volunteer's card: the points are spent",
        responses=problems(
            _403="staff_only, outside_your_scope, wrong_volunteer",
            _404="order_not_found",
            _409="order_expired, order_cancelled",
            _422="validation_failed, invalid_card",
        ),
    )
    def fulfil(
        self,
        order_id: Id,
        data: JSONBody[FulfilBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> OrderRead:
        _card_holder(session, rt, data.payload, current=False)  # a bad card: 422 before anything else
        order = shop.get_order(session, order_id)
        staff_id = _require_hub_staff(session, principal, _hub(session, order.hub_id))
        volunteer_id = _card_holder(session, rt, data.payload)
        order = shop.fulfil(
            session, order_id, volunteer_id=volunteer_id, staff_user_id=staff_id, now=rt.clock.now()
        )
        return OrderRead.of(order, shop.get_item(session, order.item_id))

    @post(
        "/orders/{order_id:int}/cancel",
        operation_id="cancelOrder",
        status_code=200,
        sync_to_thread=True,
        summary="Cancel an order (the volunteer, or staff of the hub): its points and stock come back",
        responses=problems(
            _403="outside_your_scope", _404="order_not_found", _409="order_fulfilled, order_expired"
        ),
    )
    def cancel(
        self,
        order_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> OrderRead:
        volunteer_id = staff_id = None
        if principal.kind == "volunteer":
            volunteer_id = principal.volunteer_id
        else:
            staff_id = _require_hub_staff(
                session, principal, _hub(session, shop.get_order(session, order_id).hub_id)
            )
        order = shop.cancel(
            session, order_id, volunteer_id=volunteer_id, staff_user_id=staff_id, now=rt.clock.now()
        )
        return OrderRead.of(order, shop.get_item(session, order.item_id))


class HubPointsController(Controller):
    path = "/api/v1"
    tags = ["积分规则 points rules"]
    dependencies = AUTH

    @get(
        "/hubs/{hub_id:int}/points-rules",
        operation_id="listPointsRules",
        sync_to_thread=True,
        summary="Every version of a hub's earning rules, oldest first",
        responses=problems(_403="staff_only, outside_your_scope", _404="hub_not_found"),
    )
    def rules(
        self, hub_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> RulePage:
        _require_hub_staff(session, principal, _hub(session, hub_id))
        return RulePage(items=[RuleRead.of(r) for r in rules.rules_of(session, hub_id)], next=None)

    @post(
        "/hubs/{hub_id:int}/points-rules",
        operation_id="createPointsRule",
        status_code=201,
        sync_to_thread=True,
        summary="A new version of a hub's earning rules (hub admins); awards already made keep theirs",
        responses=problems(_403="staff_only, outside_your_scope", _404="hub_not_found"),
    )
    def create_rule(
        self,
        hub_id: Id,
        data: JSONBody[RuleBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RuleRead:
        staff_id = require_staff(principal, "admin")
        hub = _hub(session, hub_id)
        orgs_service.require_admin_of(principal.admin_paths, hub)
        return RuleRead.of(
            rules.create_rule(session, hub.id, data.given(), created_by=staff_id, now=rt.clock.now())
        )

    @post(
        "/volunteers/{volunteer_id:int}/manual-hours",
        operation_id="addManualHours",
        status_code=201,
        sync_to_thread=True,
        summary="Hours added by hand (e.g. from a paper sheet) for a volunteer of the hub: kept apart from verified service, no points; a past or present day, at most 24 hours a day in all",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="hub_not_found, volunteer_not_found",
            _422="validation_failed (future_day, over_day_limit)",
        ),
    )
    def manual_hours(
        self,
        volunteer_id: Id,
        data: JSONBody[ManualHoursBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> AwardRead:
        staff_id = require_staff(principal, "admin")
        errors = []
        if not 1 <= data.minutes <= 24 * 60:
            errors.append(
                FieldError("minutes", "out_of_range", "分钟数应为1到1440 Minutes must be 1 to 1440")
            )
        if not 1 <= len(data.note.strip()) <= 200:
            errors.append(
                FieldError("note", "length", "请说明来源（1到200字） Say where the hours come from")
            )
        if not 1 <= len(data.request_id) <= 64:
            errors.append(FieldError("request_id", "length", "请求编号1到64字符 1 to 64 characters"))
        if not 2000 <= data.day.year < 2100:
            errors.append(FieldError("day", "out_of_range", "日期不合理 Implausible date"))
        if errors:
            raise invalid(errors)
        hub = _hub(session, data.hub_id)
        orgs_service.require_admin_of(principal.admin_paths, hub)
        volunteer_service.require_reached(session, volunteer_id, [hub.path])
        key = f"manual:{hub.id}:{data.request_id}"
        existing = awards.award_by_key(session, key)
        award = existing or awards.add_manual_hours(
            session,
            volunteer_id=volunteer_id,
            hub_id=hub.id,
            minutes=data.minutes,
            day=data.day,
            note=data.note.strip(),
            key=key,
            now=rt.clock.now(),
            tz=rt.settings.tz,
            today=local_today(rt),
        )
        if award.volunteer_id != volunteer_id:
            raise conflict("request_id_taken", "该请求编号已被使用 This request_id is taken")
        if existing is None:  # a day past the 20-day window is marked late (the note is the reason)
            records_service.mark_manual_hours(session, award, staff_user_id=staff_id, today=local_today(rt))
        return AwardRead.of(award)
