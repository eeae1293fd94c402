"""Queries of the points shop (积分超市): items, orders and their stock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from points.models import ShopItem, ShopOrder, Transfer


def visible_items(
    session: Session, now: datetime, hub_id: int | None, after_id: int, limit: int
) -> list[ShopItem]:
    q = select(ShopItem).where(
        ShopItem.id > after_id,
        (ShopItem.visible_from.is_(None)) | (ShopItem.visible_from <= now),
        (ShopItem.visible_until.is_(None)) | (ShopItem.visible_until > now),
    )
    if hub_id is not None:
        q = q.where(ShopItem.hub_id == hub_id)
    return list(session.scalars(q.order_by(ShopItem.id).limit(limit)))


def item(session: Session, item_id: int) -> ShopItem | None:
    return session.get(ShopItem, item_id)


def take_stock(session: Session, item_id: int, quantity: int) -> bool:
    """Take `quantity` from the item's stock if that many are left."""
    return bool(
        session.execute(
            update(ShopItem)
            .where(ShopItem.id == item_id, ShopItem.stock >= quantity)
            .values(stock=ShopItem.stock - quantity)
        ).rowcount
    )


def return_stock(session: Session, item_id: int, quantity: int) -> None:
    session.execute(update(ShopItem).where(ShopItem.id == item_id).values(stock=ShopItem.stock + quantity))


def order(session: Session, order_id: int) -> ShopOrder | None:
    return session.get(ShopOrder, order_id)


def order_by_request(session: Session, request_id: str) -> ShopOrder | None:
    return session.scalar(select(ShopOrder).where(ShopOrder.request_id == request_id))


def quantity_taken(session: Session, volunteer_id: int, item_id: int, since: datetime | None) -> int:
    """How many of the item the volunteer ordered since `since` (None: ever), not counting orders
    cancelled or expired."""
    return session.scalar(
        select(func.coalesce(func.sum(ShopOrder.quantity), 0)).where(
            ShopOrder.volunteer_id == volunteer_id,
            ShopOrder.item_id == item_id,
            ShopOrder.status.in_(("reserved", "fulfilled")),
            *([ShopOrder.created_at >= since] if since else []),
        )
    )


def reserved_orders(session: Session, volunteer_id: int):
    """The volunteer's open orders, newest first."""
    return session.scalars(
        select(ShopOrder)
        .where(ShopOrder.volunteer_id == volunteer_id, ShopOrder.status == "reserved")
        .order_by(ShopOrder.id.desc())
    )


def waiting_orders(session: Session, volunteer_id: int, now: datetime) -> list[tuple[ShopOrder, ShopItem]]:
    """The volunteer's orders still to be handed over (reserved, not past their expiry), oldest first."""
    q = (
        select(ShopOrder, ShopItem)
        .join(ShopItem, ShopItem.id == ShopOrder.item_id)
        .where(
            ShopOrder.volunteer_id == volunteer_id,
            ShopOrder.status == "reserved",
            ShopOrder.expires_at > now,
        )
        .order_by(ShopOrder.id)
    )
    return [(o, i) for o, i in session.execute(q)]


def due_order_ids(session: Session, now: datetime, limit: int) -> list[int]:
    """Open orders past their expiry, soonest first."""
    return list(
        session.scalars(
            select(ShopOrder.id)
            .where(ShopOrder.status == "reserved", ShopOrder.expires_at <= now)
            .order_by(ShopOrder.expires_at)
            .limit(limit)
        )
    )


def pending_transfer(session: Session, transfer_id: str) -> dict:
    """An order's pending transfer, as the ledger reads it."""
    return dict(
        session.connection()
        .execute(select(Transfer.__table__).where(Transfer.id == transfer_id))
        .mappings()
        .one()
    )


def orders_of(
    session: Session, volunteer_id: int, after_id: int, limit: int
) -> list[tuple[ShopOrder, ShopItem]]:
    q = (
        select(ShopOrder, ShopItem)
        .join(ShopItem, ShopItem.id == ShopOrder.item_id)
        .where(ShopOrder.volunteer_id == volunteer_id)
    )
    if after_id:
        q = q.where(ShopOrder.id < after_id)
    return [(o, i) for o, i in session.execute(q.order_by(ShopOrder.id.desc()).limit(limit))]
