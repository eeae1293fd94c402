"""The points shop (积分超市): items per hub, orders that reserve points and stock, fulfilment at
the counter by scanning the volunteer's card, cancellation and expiry.

Locks, always in this order: the accounts (volunteer's and the hub shop's, in id order, as the
ledger does), then the item's row. The last item in stock goes to exactly one volunteer: stock is
taken with `UPDATE ... WHERE stock >= quantity`, and a CHECK keeps it from going below zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from linli.bounds import plausible
from linli.errors import FieldError, LinliError, conflict, forbidden, invalid, not_found
from points import ledger, notices
from points import repository_shop as repo
from points.ledger import TransferInput
from points.models import (
    ITEM_PRICE,
    ITEM_STOCK,
    LIMIT_PERIODS,
    ORDER_QUANTITY,
    PER_VOLUNTEER_LIMIT,
    ShopItem,
    ShopOrder,
)

ORDER_TTL = timedelta(days=7)  # an order not collected within a week expires and its points come back


@dataclass(frozen=True)
class ItemInput:
    name: str
    price: int
    stock: int
    description: str = ""
    per_volunteer_limit: int = 0
    limit_period: str = "ever"
    visible_from: datetime | None = None
    visible_until: datetime | None = None


def check_item(data: ItemInput) -> None:
    errors = []
    if not 1 <= len((data.name or "").strip()) <= 100:
        errors.append(FieldError("name", "length", "名称1到100字 Name of 1 to 100 characters"))
    if len(data.description or "") > 500:
        errors.append(FieldError("description", "length", "说明最多500字 At most 500 characters"))
    if not ITEM_PRICE[0] <= data.price <= ITEM_PRICE[1]:
        errors.append(
            FieldError("price", "out_of_range", "积分价格应为1到1000000 Price must be 1 to 1000000")
        )
    if not ITEM_STOCK[0] <= data.stock <= ITEM_STOCK[1]:
        errors.append(FieldError("stock", "out_of_range", "库存应为0到1000000 Stock must be 0 to 1000000"))
    if not PER_VOLUNTEER_LIMIT[0] <= data.per_volunteer_limit <= PER_VOLUNTEER_LIMIT[1]:
        errors.append(
            FieldError("per_volunteer_limit", "out_of_range", "限购应为0到1000 Limit must be 0 to 1000")
        )
    if data.limit_period not in LIMIT_PERIODS:
        errors.append(
            FieldError(
                "limit_period",
                "invalid",
                "限购周期应为 day、week、month、year 或 ever 之一 Limit period must be day, week, month, year or ever",
            )
        )
    for name in ("visible_from", "visible_until"):
        value = getattr(data, name)
        if value is not None and value.tzinfo is None:
            errors.append(FieldError(name, "timezone_required", "时间须带时区 Give the time with its offset"))
        elif value is not None and not plausible(value):
            errors.append(FieldError(name, "out_of_range", "时间不合理 Implausible time"))
    if errors:
        raise invalid(errors)
    if data.visible_from and data.visible_until and data.visible_until <= data.visible_from:
        errors.append(
            FieldError("visible_until", "before_start", "下架时间须晚于上架时间 Must be after visible_from")
        )
    if errors:
        raise invalid(errors)


def create_item(session: Session, hub_id: int, data: ItemInput, now: datetime) -> ShopItem:
    check_item(data)
    item = ShopItem(
        hub_id=hub_id,
        name=data.name.strip(),
        description=data.description or "",
        price=data.price,
        stock=data.stock,
        per_volunteer_limit=data.per_volunteer_limit,
        limit_period=data.limit_period,
        visible_from=data.visible_from,
        visible_until=data.visible_until,
        created_at=now,
    )
    session.add(item)
    session.flush()
    return item


def visible_items(
    session: Session, now: datetime, hub_id: int | None, after_id: int, limit: int
) -> list[ShopItem]:
    return repo.visible_items(session, now, hub_id, after_id, limit)


def get_item(session: Session, item_id: int) -> ShopItem:
    item = repo.item(session, item_id)
    if item is None:
        raise not_found("商品 Item", "item_not_found")
    return item


def period_start(period: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    today = now.astimezone(tz).date()
    first = {
        "day": today,
        "week": today - timedelta(days=today.weekday()),
        "month": today.replace(day=1),
        "year": date(today.year, 1, 1),
    }.get(period)
    return None if first is None else datetime.combine(first, time(), tz)


def place_order(
    session: Session,
    *,
    volunteer_id: int,
    item_id: int,
    quantity: int,
    request_id: str | None,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[ShopOrder, bool]:
    """Reserve points and stock. Returns (order, created); a retried request_id returns the first order."""
    if request_id is not None:
        earlier = repo.order_by_request(session, request_id)
        if earlier is not None:
            return _same_request(earlier, volunteer_id, item_id, quantity), False
    if not ORDER_QUANTITY[0] <= quantity <= ORDER_QUANTITY[1]:
        raise invalid([FieldError("quantity", "out_of_range", "数量应为1到100 Quantity must be 1 to 100")])
    item = get_item(session, item_id)
    if (item.visible_from and item.visible_from > now) or (item.visible_until and item.visible_until <= now):
        raise conflict("item_not_available", "该商品当前不可兑换 This item is not available now")
    mine = ledger.volunteer_account(session, "points", volunteer_id, now)
    shop = ledger.hub_account(session, "points", "hub_shop", item.hub_id, now)
    ledger.lock_accounts(session, [mine, shop])  # one volunteer's orders are judged one at a time
    if request_id is not None:  # the same request, sent again while the first was being judged
        earlier = repo.order_by_request(session, request_id)
        if earlier is not None:
            return _same_request(earlier, volunteer_id, item_id, quantity), False
    if item.per_volunteer_limit:
        since = period_start(item.limit_period, now, tz)
        taken = repo.quantity_taken(session, volunteer_id, item.id, since)
        if taken + quantity > item.per_volunteer_limit:
            raise conflict(
                "limit_reached",
                f"每人限兑{item.per_volunteer_limit}件 At most {item.per_volunteer_limit} per volunteer "
                f"({item.limit_period})",
                already=taken,
            )
    if not repo.take_stock(session, item.id, quantity):
        raise conflict("out_of_stock", "库存不足 Out of stock")
    order = ShopOrder(
        request_id=request_id,
        item_id=item.id,
        volunteer_id=volunteer_id,
        hub_id=item.hub_id,
        quantity=quantity,
        points=item.price * quantity,
        status="reserved",
        transfer_id="",
        created_at=now,
        expires_at=now + ORDER_TTL,
    )
    session.add(order)
    session.flush()
    order.transfer_id = f"shop:order:{order.id}"
    [result] = ledger.create_transfers(
        session,
        [
            TransferInput(
                id=order.transfer_id,
                kind="pending",
                debit_account_id=mine,
                credit_account_id=shop,
                amount=order.points,
                expires_at=order.expires_at,
                reason="shop_order",
                reference=f"order:{order.id}",
            )
        ],
        now,
    )
    if result == "exceeds_credits":
        raise conflict("not_enough_points", "积分不足 Not enough points", price=order.points)
    if result != ledger.CREATED:
        raise RuntimeError(f"order {order.id}: ledger said {result}")
    session.flush()
    notices.order_ready(session, order, item.name, now, tz)
    return order, True


def get_order(session: Session, order_id: int) -> ShopOrder:
    order = repo.order(session, order_id)
    if order is None:
        raise not_found("订单 Order", "order_not_found")
    return order


def _same_request(earlier: ShopOrder, volunteer_id: int, item_id: int, quantity: int) -> ShopOrder:
    if (earlier.volunteer_id, earlier.item_id, earlier.quantity) != (volunteer_id, item_id, quantity):
        raise conflict("request_id_taken", "该请求编号已用于另一笔订单 This request_id names another order")
    return earlier


def release_reservations(session: Session, volunteer_id: int, needed: int, now: datetime) -> int:
    """Cancel the volunteer's open orders, newest first, until `needed` points are free (points
    taken back by a correction must not stay reserved). The caller holds the accounts' locks.
    Returns how many orders were cancelled."""
    account = ledger.account_by_key(session, f"points:volunteer:{volunteer_id}")
    if account is None:
        return 0
    session.refresh(account)
    free = account.available
    cancelled = 0
    for order in repo.reserved_orders(session, volunteer_id):
        if free >= needed:
            break
        cancel(session, order.id, volunteer_id=None, staff_user_id=None, now=now)
        free += order.points
        cancelled += 1
    return cancelled


def _order_for_update(session: Session, order_id: int) -> ShopOrder:
    order = get_order(session, order_id)
    ledger.lock_accounts(
        session,
        [
            ledger.volunteer_account(session, "points", order.volunteer_id, order.created_at),
            ledger.hub_account(session, "points", "hub_shop", order.hub_id, order.created_at),
        ],
    )
    session.refresh(order)  # read after the lock: another request may just have resolved it
    return order


def fulfil(
    session: Session, order_id: int, *, volunteer_id: int, staff_user_id: int, now: datetime
) -> ShopOrder:
    """The counter hands the item over: the card scanned must be the orderer's. The points are spent."""
    order = _order_for_update(session, order_id)
    if order.volunteer_id != volunteer_id:
        raise forbidden("这张卡不是下单人的 This card is not the orderer's", "wrong_volunteer")
    if order.status == "fulfilled":
        return order  # a double tap
    _still_reserved(order)
    [result] = ledger.create_transfers(
        session,
        [
            TransferInput(
                id=f"{order.transfer_id}:post",
                kind="post",
                pending_id=order.transfer_id,
                reason="shop_fulfilled",
                reference=f"order:{order.id}",
            )
        ],
        now,
    )
    if result == "pending_transfer_expired":
        _release(session, order, "expired", now, None)
        raise LinliError(
            code="order_expired",
            detail="订单已过期，积分已退回 The order expired; its points are back",
            status=409,
            title="冲突 Conflict",
            commit=True,
        )
    if result != ledger.CREATED:
        raise RuntimeError(f"order {order.id}: ledger said {result}")
    order.status, order.resolved_at, order.resolved_by = "fulfilled", now, staff_user_id
    return order


def cancel(
    session: Session, order_id: int, *, volunteer_id: int | None, staff_user_id: int | None, now: datetime
) -> ShopOrder:
    """The volunteer (their own order) or staff cancel: points and stock come back."""
    order = _order_for_update(session, order_id)
    if volunteer_id is not None and order.volunteer_id != volunteer_id:
        raise not_found("订单 Order", "order_not_found")
    if order.status == "cancelled":
        return order
    _still_reserved(order)
    [result] = ledger.create_transfers(
        session,
        [
            TransferInput(
                id=f"{order.transfer_id}:void",
                kind="void",
                pending_id=order.transfer_id,
                reason="shop_cancelled",
                reference=f"order:{order.id}",
            )
        ],
        now,
    )
    if result not in (ledger.CREATED, "pending_transfer_expired"):
        raise RuntimeError(f"order {order.id}: ledger said {result}")
    _release(session, order, "cancelled" if result == ledger.CREATED else "expired", now, staff_user_id)
    return order


def _still_reserved(order: ShopOrder) -> None:
    if order.status != "reserved":
        raise conflict(
            f"order_{order.status}",
            {
                "fulfilled": "订单已领取 Already collected",
                "cancelled": "订单已取消 Cancelled",
                "expired": "订单已过期 Expired",
            }[order.status],
        )


def _release(
    session: Session, order: ShopOrder, status: str, now: datetime, staff_user_id: int | None
) -> None:
    repo.return_stock(session, order.item_id, order.quantity)
    order.status, order.resolved_at, order.resolved_by = status, now, staff_user_id
    session.flush()


def expire_orders(session: Session, now: datetime, limit: int = 500) -> int:
    """Orders not collected in time: their points and stock come back. Returns how many."""
    ids = repo.due_order_ids(session, now, limit)
    orders = [get_order(session, i) for i in ids]
    ledger.lock_accounts(  # every account at once, in id order: no cycle with a volunteer's order
        session,
        [
            account
            for o in orders
            for account in (
                ledger.volunteer_account(session, "points", o.volunteer_id, now),
                ledger.hub_account(session, "points", "hub_shop", o.hub_id, now),
            )
        ],
    )
    done = 0
    for order_id in ids:
        order = _order_for_update(session, order_id)
        if order.status != "reserved":
            continue
        pending = repo.pending_transfer(session, order.transfer_id)
        [result] = ledger.create_transfers(session, [ledger.expire_input(pending)], now)
        if result in (ledger.CREATED, ledger.EXISTS):
            _release(session, order, "expired", now, None)
            done += 1
    return done


def waiting_orders(session: Session, volunteer_id: int, now: datetime) -> list[tuple[ShopOrder, ShopItem]]:
    """What the counter may hand this volunteer now: their reserved orders, not yet expired."""
    return repo.waiting_orders(session, volunteer_id, now)


def orders_of(
    session: Session, volunteer_id: int, after_id: int, limit: int
) -> list[tuple[ShopOrder, ShopItem]]:
    return repo.orders_of(session, volunteer_id, after_id, limit)
