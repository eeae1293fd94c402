"""Statements of identity numbers (volunteer.identity)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from volunteer.models import Volunteer


def holder(session: Session, hashes: list[str]) -> int | None:
    return session.scalar(select(Volunteer.id).where(Volunteer.id_hash.in_(hashes)).limit(1))


def _not_under(key_id: str):
    return Volunteer.id_number_enc.is_not(None) & (
        Volunteer.id_key_id.is_(None) | (Volunteer.id_key_id != key_id)
    )


def not_under(session: Session, key_id: str, limit: int) -> list[tuple[int, str]]:
    """(volunteer id, value) of up to `limit` values under another key; on PostgreSQL locked,
    skipping rows a writer holds (FOR UPDATE SKIP LOCKED), so batches never wait on writers."""
    q = select(Volunteer.id, Volunteer.id_number_enc).where(_not_under(key_id)).order_by(Volunteer.id)
    q = q.limit(limit).with_for_update(skip_locked=True, of=Volunteer)
    return [(r[0], r[1]) for r in session.execute(q)]


def swap(session: Session, volunteer_id: int, old: str, new: str, key_id: str) -> bool:
    """Replace the value if it is still `old`; whether it was."""
    result = session.execute(
        update(Volunteer)
        .where(Volunteer.id == volunteer_id, Volunteer.id_number_enc == old)
        .values(id_number_enc=new, id_key_id=key_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def count_not_under(session: Session, key_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Volunteer).where(_not_under(key_id)))


def sealed_many(session: Session, volunteer_ids: list[int]) -> list[tuple[int, str | None, str | None]]:
    """(volunteer id, ID type, encrypted value) of the volunteers named."""
    q = select(Volunteer.id, Volunteer.id_type, Volunteer.id_number_enc).where(Volunteer.id.in_(volunteer_ids))
    return [(r[0], r[1], r[2]) for r in session.execute(q)]
