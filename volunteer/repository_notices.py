"""Queries of notices and their settings (通知的查询)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from orgs.models import Station
from volunteer.models import Activity, Notice, NoticeSettings, Signup


def existing_keys(session: Session, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(session.scalars(select(Notice.key).where(Notice.key.in_(keys))))


def notice(session: Session, notice_id: int) -> Notice | None:
    return session.get(Notice, notice_id)


def notices_of(session: Session, volunteer_id: int, *, before_id: int | None, limit: int) -> list[Notice]:
    q = select(Notice).where(Notice.volunteer_id == volunteer_id)
    if before_id:
        q = q.where(Notice.id < before_id)
    return list(session.scalars(q.order_by(Notice.id.desc()).limit(limit)))


def unread_count(session: Session, volunteer_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(Notice)
        .where(Notice.volunteer_id == volunteer_id, Notice.read_at.is_(None))
    )


def mark_read(session: Session, volunteer_id: int, notice_id: int | None, now: datetime) -> int:
    """Mark one notice (or, `notice_id` None, every unread one) of the volunteer read."""
    q = update(Notice).where(Notice.volunteer_id == volunteer_id, Notice.read_at.is_(None))
    if notice_id is not None:
        q = q.where(Notice.id == notice_id)
    return session.execute(q.values(read_at=now).execution_options(synchronize_session=False)).rowcount


def move_sms(
    session: Session, notice_id: int, from_state: str, to_state: str, *, due_before: datetime | None = None, **values
) -> bool:
    """Move a notice's SMS from one state to the next, only if it is still in the first (and, with
    `due_before`, due by then): whoever moves it first has it. Returns whether this call did."""
    q = update(Notice).where(Notice.id == notice_id, Notice.sms_state == from_state)
    if due_before is not None:
        q = q.where(Notice.sms_due_at <= due_before)
    result = session.execute(
        q.values(sms_state=to_state, **values).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def due_ids(session: Session, now: datetime, limit: int) -> list[int]:
    return list(
        session.scalars(
            select(Notice.id)
            .where(Notice.sms_state == "pending", Notice.sms_due_at <= now)
            .order_by(Notice.id)
            .limit(limit)
        )
    )


def give_up_sending(session: Session, claimed_before: datetime, now: datetime) -> int:
    """SMS claimed long ago and never marked sent: the worker died while sending. `unknown`, for
    good: whether the text went out cannot be told, and sending it again might send it twice."""
    return session.execute(
        update(Notice)
        .where(Notice.sms_state == "sending", Notice.sms_claimed_at < claimed_before)
        .values(sms_state="unknown", sms_done_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def settings_of(session: Session, volunteer_id: int) -> NoticeSettings | None:
    return session.get(NoticeSettings, volunteer_id)


def signups_starting(session: Session, start: datetime, end: datetime) -> list[tuple]:
    """(volunteer id, activity id, title, starts_at, station name) of confirmed sign-ups to
    activities (not cancelled) starting in [start, end)."""
    q = (
        select(Signup.volunteer_id, Activity.id, Activity.title, Activity.starts_at, Station.name)
        .join(Activity, Activity.id == Signup.activity_id)
        .join(Station, Station.id == Activity.station_id)
        .where(
            Signup.status == "confirmed",
            Activity.cancelled_at.is_(None),
            Activity.starts_at >= start,
            Activity.starts_at < end,
        )
        .order_by(Activity.starts_at, Signup.id)
    )
    return [tuple(row) for row in session.execute(q)]


def station_name(session: Session, station_id: int) -> str:
    return session.scalar(select(Station.name).where(Station.id == station_id)) or ""
