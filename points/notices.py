"""Telling volunteers their points will expire (积分到期提醒), 30 days ahead, once per lot.

The nightly run marks the lots told and emits `points.expiring` per account and day; its job
sends the text below through the configured sender.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from linli.outbox import emit
from points import repository
from volunteer import service as volunteer_service

AHEAD = timedelta(days=30)


def emit_expiry_notices(session: Session, now: datetime, ahead: timedelta = AHEAD) -> int:
    """For lots expiring within `ahead` whose holder was not told yet: mark them told and emit one
    `points.expiring` per account and expiry. Returns how many notices were emitted."""
    conn = session.connection()
    rows = repository.lots_to_tell(conn, now, ahead)
    if rows:
        repository.mark_lots_told(conn, now, ahead)
    for volunteer_id, account_id, expires_at, points in rows:
        emit(
            session,
            event="points.expiring",
            job_id=f"points-expiring-{account_id}-{expires_at:%Y%m%d%H%M}",
            args=[volunteer_id, int(points), expires_at.isoformat()],
            now=now,
        )
    return len(rows)


def expiry_text(
    session: Session, volunteer_id: int, points: int, expires_at: str, tz: ZoneInfo
) -> tuple[str, str] | None:
    """(phone, text) of the notice, or None if the volunteer is gone."""
    phone = volunteer_service.phone_of(session, volunteer_id)
    if phone is None:
        return None
    last_day = (datetime.fromisoformat(expires_at).astimezone(tz) - timedelta(seconds=1)).date()
    return phone, (
        f"【邻里】您有{points}积分将于{last_day:%Y年%m月%d日}后过期，请及时到积分超市兑换。"
        f" {points} points expire after {last_day.isoformat()}."
    )
