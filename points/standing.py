"""A volunteer's standing (积分概况): balance, reserved points, service time, star level and
progress, points by expiry date, and their transfers on both ledgers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from points import repository_awards as repo
from points.models import Transfer
from points.rules import DEFAULT_RULE


def standing(session: Session, volunteer_id: int) -> dict:
    """Balance, reserved points, service time, stars and progress, points by expiry date."""
    accounts = repo.accounts_by_key(
        session,
        [
            f"points:volunteer:{volunteer_id}",
            f"service_minutes:volunteer:{volunteer_id}",
            f"service_minutes:volunteer_manual:{volunteer_id}",
        ],
    )
    points = accounts.get(f"points:volunteer:{volunteer_id}")
    minutes = accounts.get(f"service_minutes:volunteer:{volunteer_id}")
    manual = accounts.get(f"service_minutes:volunteer_manual:{volunteer_id}")
    level, star_hours = repo.level_and_star_hours(session, volunteer_id)
    star_hours = star_hours or DEFAULT_RULE["star_hours"]
    served = minutes.balance if minutes else 0
    next_level = None
    if level < len(star_hours):
        hours = star_hours[level]
        next_level = {"level": level + 1, "hours": hours, "minutes_to_go": max(0, hours * 60 - served)}
    expiring = []
    if points is not None:
        expiring = [
            {"expires_at": at, "points": int(n)} for at, n in repo.expiring_points(session, points.id)
        ]
    return {
        "balance": points.balance if points else 0,
        "available": points.available if points else 0,
        "reserved": points.debits_pending if points else 0,
        "service_minutes": served,
        "manual_minutes": manual.balance if manual else 0,
        "star_level": level,
        "next_level": next_level,
        "expiring": expiring,
    }


# what became of a reservation (a shop order's points), by the kind of transfer that resolved it
RESERVATION_STATES = {None: "reserved", "post": "spent", "void": "cancelled", "expire": "expired"}


@dataclass(frozen=True)
class HistoryLine:
    """One line of a volunteer's history: a transfer with its signed amount; a reservation is one
    line that goes from reserved to spent (or cancelled, or expired), with when it did."""

    transfer: Transfer
    amount: int  # + earned, - spent, held or taken back
    state: str | None = None  # reservations only: reserved | spent | cancelled | expired
    resolved_at: datetime | None = None


def transfers_of(session: Session, volunteer_id: int, before_seq: int, limit: int) -> list[HistoryLine]:
    """The volunteer's transfers on both ledgers, newest first: each reservation once, at the
    time it was made, with what became of it (not a second line for its posting or release)."""
    ids = repo.account_ids_of(session, volunteer_id)
    if not ids:
        return []
    rows = repo.transfers_of_accounts(session, ids, before_seq, limit)
    done = repo.resolutions_of(session, [t.id for t in rows if t.kind == "pending"])
    lines = []
    for t in rows:
        sign = 1 if t.credit_account_id in ids else -1
        if t.kind != "pending":
            lines.append(HistoryLine(t, sign * t.amount))
            continue
        end = done.get(t.id)
        kind = end.kind if end else None
        amount = end.amount if kind == "post" else t.amount  # a post may take part of what was held
        lines.append(HistoryLine(t, sign * amount, RESERVATION_STATES[kind], end.created_at if end else None))
    return lines


def star_level(session: Session, volunteer_id: int) -> int:
    return repo.star_level(session, volunteer_id)
