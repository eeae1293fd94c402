"""The transactional outbox (发件箱): work that must follow a database change.

A service calls `emit(event=...)` inside its transaction; the row commits (or rolls back) with
the change. An event is a name in the past tense ("attendance.closed"); which job follows it is
the workers' business (`workers.registry`), so no domain names a function of the workers. The relay
(`workers.relay`) moves committed rows to RQ, so a Redis outage delays work but never loses it. Job ids are deterministic: the same cause always gives the same job id, and
`job_runs` lets a job's effects happen once even if RQ delivers it twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import JSON, Integer, String, Text, bindparam, delete, func, insert, literal_column, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from linli.db import Base, BigId, UTCDateTime


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(200))  # what happened: a name in workers.registry
    args: Mapped[list] = mapped_column(JSON)
    queue: Mapped[str] = mapped_column(String(40), default="default")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class JobRun(Base):
    """A job whose effects are committed. Inserted in the job's own transaction."""

    __tablename__ = "job_runs"

    job_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)


_INSERT = insert(OutboxMessage)


def emit(
    session: Session,
    *,
    event: str,
    job_id: str,
    args: list,
    now: datetime,
    queue: str = "default",
    known_new: bool = False,
) -> None:
    """Record work to run after commit. Emitting the same job id twice records it once; a caller
    whose cause happens only once (known_new) skips the look-up."""
    if (
        not known_new
        and session.scalar(select(OutboxMessage.id).where(OutboxMessage.job_id == job_id)) is not None
    ):
        return
    session.connection().execute(
        _INSERT,
        {"job_id": job_id, "event": event, "args": args, "queue": queue, "created_at": now, "attempts": 0},
    )


def pending(session: Session, limit: int, queues: tuple[str, ...]) -> list[OutboxMessage]:
    """Committed rows for the given queues not yet on RQ, oldest first; locked so two relays never
    take the same row. Rows for other queues wait until a consumer for them exists."""
    q = (
        select(OutboxMessage)
        .where(OutboxMessage.enqueued_at.is_(None), OutboxMessage.queue.in_(queues))
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return list(session.scalars(q.with_for_update(skip_locked=True)))


def pending_count(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.enqueued_at.is_(None))
    )


def already_ran(session: Session, job_id: str) -> bool:
    return session.get(JobRun, job_id) is not None


def mark_ran(session: Session, job_id: str, now: datetime) -> None:
    session.add(JobRun(job_id=job_id, finished_at=now))


def prune(session: Session, now: datetime) -> dict[str, int]:
    """Housekeeping: rows on RQ for a week, job marks older than 30 days (RQ gives up on a job
    long before)."""
    return {
        "outbox": session.execute(
            delete(OutboxMessage).where(OutboxMessage.enqueued_at < now - timedelta(days=7))
        ).rowcount,
        "job_runs": session.execute(
            delete(JobRun).where(JobRun.finished_at < now - timedelta(days=30))
        ).rowcount,
    }


def emitted_with(source):
    """`emit` for a change written in one statement (PostgreSQL): a CTE inserting one row per row
    of `source` (none if the change did not happen); `emit`'s arguments are its parameters
    outbox_event, outbox_job_id, outbox_args, outbox_queue and outbox_now."""
    columns = OutboxMessage.__table__.c
    return (
        insert(OutboxMessage)
        .from_select(
            ["event", "job_id", "args", "queue", "created_at", "attempts"],
            select(
                *(
                    bindparam(f"outbox_{n}", type_=columns[n].type)
                    for n in ("event", "job_id", "args", "queue")
                ),
                bindparam("outbox_now", type_=columns.created_at.type),
                literal_column("0"),
            ).select_from(source),
        )
        .cte("event")
    )
