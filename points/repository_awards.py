"""Queries of earning (积分获取): rule versions, awards, star levels and a volunteer's standing."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from points.models import Account, Award, Lot, PointsRule, StarLevel, Transfer

# Rules ----------------------------------------------------------------------------------------


def rule_in_force(session: Session, hub_id: int, at: datetime) -> PointsRule | None:
    return session.scalar(
        select(PointsRule)
        .where(PointsRule.hub_id == hub_id, PointsRule.created_at <= at)
        .order_by(PointsRule.version.desc())
        .limit(1)
    )


def latest_rule(session: Session, hub_id: int) -> PointsRule | None:
    return session.scalar(
        select(PointsRule).where(PointsRule.hub_id == hub_id).order_by(PointsRule.version.desc()).limit(1)
    )


def rules_of(session: Session, hub_id: int) -> list[PointsRule]:
    return list(
        session.scalars(select(PointsRule).where(PointsRule.hub_id == hub_id).order_by(PointsRule.version))
    )


def rules_of_hubs(session: Session, hub_ids: set[int]) -> list[PointsRule]:
    """Every version of these hubs' rules, oldest first."""
    return list(
        session.scalars(select(PointsRule).where(PointsRule.hub_id.in_(hub_ids)).order_by(PointsRule.version))
    )


# Awards ---------------------------------------------------------------------------------------


def award_by_key(session: Session, key: str) -> Award | None:
    return session.scalar(select(Award).where(Award.key == key))


def award_exists(session: Session, key: str) -> bool:
    return session.scalar(select(Award.id).where(Award.key == key)) is not None


def keys_awarded(session: Session, keys: list[str]) -> set[str]:
    return set(session.scalars(select(Award.key).where(Award.key.in_(keys))))


def earned_by_attendance(session: Session, attendance_ids: set[int]) -> dict[int, list[int]]:
    """attendance id -> [minutes, points] awarded for it so far."""
    return {
        a: [int(m), int(p)]
        for a, m, p in session.execute(
            select(Award.attendance_id, func.sum(Award.minutes), func.sum(Award.points))
            .where(Award.attendance_id.in_(attendance_ids))
            .group_by(Award.attendance_id)
        )
    }


def points_by_day(session: Session, volunteer_ids: set[int], days: set[date], kinds) -> list:
    """(volunteer, day, attendance, points) awarded of these kinds on these days."""
    return session.execute(
        select(Award.volunteer_id, Award.day, Award.attendance_id, func.sum(Award.points))
        .where(Award.volunteer_id.in_(volunteer_ids), Award.day.in_(days), Award.kind.in_(kinds))
        .group_by(Award.volunteer_id, Award.day, Award.attendance_id)
    ).all()


def points_on_day(session: Session, volunteer_id: int, day: date, kinds) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(Award.points), 0)).where(
            Award.volunteer_id == volunteer_id, Award.day == day, Award.kind.in_(kinds)
        )
    )


def minutes_on_day(session: Session, volunteer_id: int, day: date) -> int:
    """Service minutes awarded to the volunteer for this day, of every kind and hub."""
    return session.scalar(
        select(func.coalesce(func.sum(Award.minutes), 0)).where(
            Award.volunteer_id == volunteer_id, Award.day == day
        )
    )


def transfer_ids(session: Session, ids: list[str]) -> set[str]:
    """Which of these transfers exist."""
    return set(session.scalars(select(Transfer.id).where(Transfer.id.in_(ids))))


# Stars ----------------------------------------------------------------------------------------


def served_minutes(session: Session, volunteer_ids) -> dict[int, int]:
    """Verified service minutes by volunteer (those with an account)."""
    return dict(
        session.execute(
            select(Account.volunteer_id, Account.credits_posted - Account.debits_posted).where(
                Account.key.in_([f"service_minutes:volunteer:{v}" for v in volunteer_ids])
            )
        ).all()
    )


def star_levels_of(session: Session, volunteer_ids) -> set[tuple[int, int]]:
    """(volunteer, level) of each level these volunteers reached."""
    return set(
        session.execute(
            select(StarLevel.volunteer_id, StarLevel.level).where(StarLevel.volunteer_id.in_(volunteer_ids))
        ).all()
    )


def insert_star_levels(session: Session, rows: list[dict]) -> None:
    session.execute(insert(StarLevel), rows)


def star_level(session: Session, volunteer_id: int) -> int:
    return session.scalar(
        select(func.coalesce(func.max(StarLevel.level), 0)).where(StarLevel.volunteer_id == volunteer_id)
    )


# A volunteer's standing ---------------------------------------------------------------------


def accounts_by_key(session: Session, keys: list[str]) -> dict[str, Account]:
    return {a.key: a for a in session.scalars(select(Account).where(Account.key.in_(keys)))}


def level_and_star_hours(session: Session, volunteer_id: int) -> tuple[int, list | None]:
    """In one round trip: the level reached, and the star thresholds of the rule behind the last
    award (None if there is none)."""
    last_rule = (
        select(Award.rule_id).where(Award.volunteer_id == volunteer_id).order_by(Award.id.desc()).limit(1)
    ).scalar_subquery()
    return session.execute(
        select(
            select(func.coalesce(func.max(StarLevel.level), 0))
            .where(StarLevel.volunteer_id == volunteer_id)
            .scalar_subquery(),
            select(PointsRule.star_hours).where(PointsRule.id == last_rule).scalar_subquery(),
        )
    ).one()


def expiring_points(session: Session, account_id: int) -> list:
    """(expires_at, points) of the account's first five expiry dates."""
    return session.execute(
        select(Lot.expires_at, func.sum(Lot.remaining))
        .where(Lot.account_id == account_id, Lot.remaining > 0, Lot.expires_at.is_not(None))
        .group_by(Lot.expires_at)
        .order_by(Lot.expires_at)
        .limit(5)
    ).all()


def account_ids_of(session: Session, volunteer_id: int) -> list[int]:
    return list(session.scalars(select(Account.id).where(Account.volunteer_id == volunteer_id)))


def transfers_of_accounts(session: Session, ids: list[int], before_seq: int, limit: int) -> list[Transfer]:
    """Transfers in or out of these accounts, newest first, before `before_seq` (0: from the newest);
    a reservation's resolution (post, void, expire) is not listed: see `resolutions_of`."""
    q = select(Transfer).where(
        Transfer.debit_account_id.in_(ids) | Transfer.credit_account_id.in_(ids),
        Transfer.pending_id.is_(None),
    )
    if before_seq:
        q = q.where(Transfer.seq < before_seq)
    return list(session.scalars(q.order_by(Transfer.seq.desc()).limit(limit)))


def resolutions_of(session: Session, pending_ids: list[str]) -> dict[str, Transfer]:
    """The post, void or expire that resolved each of these reservations (a reservation is
    resolved once), by the reservation's id."""
    if not pending_ids:
        return {}
    return {
        t.pending_id: t for t in session.scalars(select(Transfer).where(Transfer.pending_id.in_(pending_ids)))
    }
