"""Queries of projects' money in custody (资金代管): tranches, spendings and their receipts, and
the money ledger's accounts read for verification. The transfers themselves are written by the
ledger engine (`points.ledger`)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer

from grants.models import GrantRound, Project
from grants.models_money import Spending, SpendingReversal, Tranche
from points.models import Account

MONEY_LEDGER = "grant_money"


def project(session: Session, project_id: int) -> Project | None:
    return session.get(Project, project_id)


def grant_round(session: Session, round_id: int) -> GrantRound | None:
    return session.get(GrantRound, round_id)


# Tranches -------------------------------------------------------------------------------------


def tranche_by_key(session: Session, project_id: int, key: str) -> Tranche | None:
    return session.scalar(select(Tranche).where(Tranche.project_id == project_id, Tranche.key == key))


def paid_in(session: Session, project_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Tranche.amount), 0)).where(Tranche.project_id == project_id)
        )
    )


def tranches(session: Session, project_id: int) -> list[Tranche]:
    return list(session.scalars(select(Tranche).where(Tranche.project_id == project_id).order_by(Tranche.id)))


# Spendings ------------------------------------------------------------------------------------


def spending_by_key(session: Session, project_id: int, key: str) -> Spending | None:
    return session.scalar(select(Spending).where(Spending.project_id == project_id, Spending.key == key))


def spendings(session: Session, project_id: int, after_id: int, limit: int) -> list[Spending]:
    return list(
        session.scalars(
            select(Spending)
            .where(Spending.project_id == project_id, Spending.id > after_id)
            .order_by(Spending.id)
            .limit(limit)
        )
    )


def spending_with_receipt(session: Session, project_id: int, spending_id: int) -> Spending | None:
    return session.scalar(
        select(Spending)
        .options(undefer(Spending.receipt))
        .where(Spending.id == spending_id, Spending.project_id == project_id)
    )


_NOT_REVERSED = ~select(SpendingReversal.id).where(SpendingReversal.spending_id == Spending.id).exists()


def spent_by_category(session: Session, project_id: int) -> dict[str, int]:
    """Fen spent by category, spendings reversed left out."""
    return {
        category: int(total)
        for category, total in session.execute(
            select(Spending.category, func.sum(Spending.amount))
            .where(Spending.project_id == project_id, _NOT_REVERSED)
            .group_by(Spending.category)
        ).all()
    }


def spent_by_project_and_category(session: Session, project_ids: list[int]) -> list[tuple[int, str, int]]:
    return [
        (p, c, int(t))
        for p, c, t in session.execute(
            select(Spending.project_id, Spending.category, func.sum(Spending.amount))
            .where(Spending.project_id.in_(project_ids), _NOT_REVERSED)
            .group_by(Spending.project_id, Spending.category)
        ).all()
    ]


def projects(session: Session, project_ids: list[int]) -> list[Project]:
    return list(session.scalars(select(Project).where(Project.id.in_(project_ids)).order_by(Project.id)))


# Reversals (冲销) -------------------------------------------------------------------------------


def spending(session: Session, project_id: int, spending_id: int) -> Spending | None:
    return session.scalar(
        select(Spending).where(Spending.id == spending_id, Spending.project_id == project_id)
    )


def reversal_of(session: Session, spending_id: int) -> SpendingReversal | None:
    return session.scalar(select(SpendingReversal).where(SpendingReversal.spending_id == spending_id))


def reversals_of(session: Session, spending_ids: list[int]) -> dict[int, SpendingReversal]:
    if not spending_ids:
        return {}
    rows = session.scalars(select(SpendingReversal).where(SpendingReversal.spending_id.in_(spending_ids)))
    return {r.spending_id: r for r in rows}


def reversed_sums(session: Session, project_id: int | None = None) -> dict[int, int]:
    """Fen of spendings reversed, by project (of this project, or all)."""
    query = select(SpendingReversal.project_id, func.sum(SpendingReversal.amount)).group_by(
        SpendingReversal.project_id
    )
    if project_id is not None:
        query = query.where(SpendingReversal.project_id == project_id)
    return {p: int(t) for p, t in session.execute(query).all()}


# Verification ---------------------------------------------------------------------------------


def tranche_sums(session: Session, project_ids: list[int] | None = None) -> dict[int, int]:
    """Fen paid in, by project (of these projects, or all)."""
    query = select(Tranche.project_id, func.sum(Tranche.amount)).group_by(Tranche.project_id)
    if project_ids is not None:
        query = query.where(Tranche.project_id.in_(project_ids))
    return {p: int(t) for p, t in session.execute(query).all()}


def spending_sums(session: Session) -> dict[int, int]:
    """Fen spent, by project, reversed spendings included (their reversals are counted apart)."""
    return {
        p: int(t)
        for p, t in session.execute(
            select(Spending.project_id, func.sum(Spending.amount)).group_by(Spending.project_id)
        ).all()
    }


def granted(session: Session) -> dict[int, int]:
    """Fen granted, by project."""
    return dict(session.execute(select(Project.id, Project.granted)).all())


def money_accounts(session: Session) -> list[tuple[str, int, int]]:
    """(key, credits posted, debits posted) of every account of the money ledger."""
    return [
        (k, int(c), int(d))
        for k, c, d in session.execute(
            select(Account.key, Account.credits_posted, Account.debits_posted).where(
                Account.ledger == MONEY_LEDGER
            )
        ).all()
    ]
