"""What the points package tells volunteers (积分相关通知), through their inbox and SMS
(`volunteer.notices`): points awarded for service, a shop order waiting at the counter, a
certificate issued, and points about to expire (30 days ahead, once per lot).

Each is made in the transaction of its cause, with a key naming the cause, so it is made once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from points import repository
from points.models import Award, Certificate, ShopOrder
from volunteer import notices as inbox

AHEAD = timedelta(days=30)


def points_awarded(session: Session, awards: list[Award], now: datetime) -> None:
    """A service award with points (an attendance closed and settled)."""
    for award in awards:
        if award.kind != "service" or award.points <= 0:
            continue
        inbox.notify(
            session,
            volunteer_id=award.volunteer_id,
            kind="points_awarded",
            key=f"award:{award.key}",
            text=f"您{award.day.month}月{award.day.day}日的志愿服务（{award.minutes}分钟）获得{award.points}积分。",
            text_en=f"You earned {award.points} points for {award.minutes} minutes of service on {award.day}.",
            now=now,
        )


def order_ready(session: Session, order: ShopOrder, item_name: str, now: datetime, tz: ZoneInfo) -> None:
    """An order placed: its points and stock are reserved and it waits at the hub's counter for
    the hand-over (the shop has no separate "ready" step: an order is ready when placed)."""
    zh, en = inbox.when(order.expires_at, tz)
    inbox.notify(
        session,
        volunteer_id=order.volunteer_id,
        kind="shop_order_ready",
        key=f"shop-order:{order.id}",
        text=(
            f"您兑换的“{item_name}”×{order.quantity}（{order.points}积分）已备好，"
            f"请于{zh}前凭志愿者证到积分超市领取。"
        ),
        text_en=(
            f"Your order of {item_name} x{order.quantity} ({order.points} points) is ready: "
            f"collect it with your volunteer card before {en}."
        ),
        now=now,
    )


def certificate_issued(session: Session, cert: Certificate, now: datetime) -> None:
    inbox.notify(
        session,
        volunteer_id=cert.volunteer_id,
        kind="certificate_issued",
        key=f"certificate:{cert.id}",
        text=f"您获得“{cert.title}”证书（{cert.period_start}至{cert.period_end}），可在“我的”页面查看。",
        text_en=f"You were awarded the certificate “{cert.title}” ({cert.period_start} to {cert.period_end}).",
        now=now,
    )


def emit_expiry_notices(session: Session, now: datetime, tz: ZoneInfo, ahead: timedelta = AHEAD) -> int:
    """For lots expiring within `ahead` whose holder was not told yet: mark them told and make one
    notice per account and expiry. Returns how many notices were made."""
    conn = session.connection()
    rows = repository.lots_to_tell(conn, now, ahead)
    if rows:
        repository.mark_lots_told(conn, now, ahead)
    for volunteer_id, account_id, expires_at, points in rows:
        points_expiring(
            session, volunteer_id, f"points-expiring-{account_id}-{expires_at:%Y%m%d%H%M}",
            int(points), expires_at, now, tz,
        )
    return len(rows)


def points_expiring(
    session: Session, volunteer_id: int, key: str, points: int, expires_at: datetime, now: datetime, tz: ZoneInfo
) -> None:
    last_day = (expires_at.astimezone(tz) - timedelta(seconds=1)).date()
    inbox.notify(
        session,
        volunteer_id=volunteer_id,
        kind="points_expiring",
        key=key,
        text=f"您有{points}积分将于{last_day:%Y年%m月%d日}后过期，请及时到积分超市兑换。",
        text_en=f"{points} points expire after {last_day.isoformat()}.",
        now=now,
    )
