"""Every query of rounds, proposals, review and notice (轮次查询)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from grants.models import GrantRound, Project, Proposal, RoundFunder
from grants.models_rounds import GrantObjection, GrantReviewer, GrantScore
from linli.scope import above, within
from orgs.models import Organization


def add(session: Session, row):
    session.add(row)
    session.flush()
    return row


def round_(session: Session, round_id: int, *, for_update: bool = False) -> GrantRound | None:
    q = select(GrantRound).where(GrantRound.id == round_id)
    return session.scalar(q.with_for_update() if for_update else q)


def funders(session: Session, round_id: int) -> list[RoundFunder]:
    return list(
        session.scalars(select(RoundFunder).where(RoundFunder.round_id == round_id).order_by(RoundFunder.id))
    )


def rounds_for(
    session: Session, paths: list[str], staff_user_id: int | None, *, after_id: int, limit: int
) -> list[GrantRound]:
    """Rounds of organizations in or above `paths` (the hub's own, the ones its organizations may
    apply to), and the rounds the staff user reviews."""
    reviews = select(GrantReviewer.round_id).where(GrantReviewer.staff_user_id == staff_user_id)
    q = (
        select(GrantRound)
        .join(Organization, Organization.id == GrantRound.org_id)
        .where(
            or_(
                within(Organization.path, paths),
                Organization.path.in_(above(paths)),
                GrantRound.id.in_(reviews),
            ),
            GrantRound.id > after_id,
        )
        .order_by(GrantRound.id)
        .limit(limit)
    )
    return list(session.scalars(q))


def proposal(session: Session, proposal_id: int, *, for_update: bool = False) -> Proposal | None:
    q = select(Proposal).where(Proposal.id == proposal_id)
    return session.scalar(q.with_for_update() if for_update else q)


def proposals(
    session: Session,
    round_id: int,
    *,
    paths: list[str] | None,
    statuses: tuple[str, ...] | None,
    after_id: int,
    limit: int,
) -> list[Proposal]:
    """A round's proposals: of organizations within `paths` (None: all), or in `statuses`."""
    q = select(Proposal).where(Proposal.round_id == round_id, Proposal.id > after_id)
    if paths is not None:
        mine = Proposal.org_id.in_(select(Organization.id).where(within(Organization.path, paths)))
        q = q.where(or_(mine, Proposal.status.in_(statuses)) if statuses else mine)
    return list(session.scalars(q.order_by(Proposal.id).limit(limit)))


def approved(session: Session, round_id: int) -> list[Proposal]:
    q = select(Proposal).where(Proposal.round_id == round_id, Proposal.status == "approved")
    return list(session.scalars(q.order_by(Proposal.decided_amount.desc(), Proposal.id)))


def approved_totals(session: Session, round_id: int, *, besides: int) -> tuple[int, int]:
    """(how many approved, their amounts) in a round, the proposal `besides` left out."""
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(Proposal.decided_amount), 0)).where(
            Proposal.round_id == round_id, Proposal.status == "approved", Proposal.id != besides
        )
    ).one()
    return int(count), int(total)


def submitted(session: Session, round_id: int) -> list[Proposal]:
    q = select(Proposal).where(Proposal.round_id == round_id, Proposal.submitted_at.is_not(None))
    return list(session.scalars(q.where(Proposal.status != "withdrawn").order_by(Proposal.id)))


def reviewer(session: Session, round_id: int, staff_user_id: int) -> GrantReviewer | None:
    return session.scalar(
        select(GrantReviewer).where(
            GrantReviewer.round_id == round_id, GrantReviewer.staff_user_id == staff_user_id
        )
    )


def score(session: Session, proposal_id: int, reviewer_id: int) -> GrantScore | None:
    return session.scalar(
        select(GrantScore).where(GrantScore.proposal_id == proposal_id, GrantScore.reviewer_id == reviewer_id)
    )


def scores_of(session: Session, proposal_id: int) -> list[GrantScore]:
    return list(
        session.scalars(
            select(GrantScore).where(GrantScore.proposal_id == proposal_id).order_by(GrantScore.id)
        )
    )


def round_scores(session: Session, round_id: int) -> list[GrantScore]:
    return list(session.scalars(select(GrantScore).where(GrantScore.round_id == round_id)))


def objections(session: Session, round_id: int, *, after_id: int, limit: int) -> list[GrantObjection]:
    q = select(GrantObjection).where(GrantObjection.round_id == round_id, GrantObjection.id > after_id)
    return list(session.scalars(q.order_by(GrantObjection.id).limit(limit)))


def notices_ended(session: Session, now: datetime) -> list[GrantRound]:
    q = select(GrantRound).where(GrantRound.state == "notice", GrantRound.notice_ends_at <= now)
    return list(session.scalars(q.order_by(GrantRound.id).with_for_update()))


def project_of(session: Session, proposal_id: int) -> Project | None:
    return session.scalar(select(Project).where(Project.proposal_id == proposal_id))


def project(session: Session, project_id: int) -> Project | None:
    return session.get(Project, project_id)


def org_names(session: Session, org_ids: set[int]) -> dict[int, str]:
    if not org_ids:
        return {}
    rows = session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(org_ids)))
    return {i: n for i, n in rows}


def projects_of_round(
    session: Session, round_id: int, *, paths: list[str] | None, after_id: int, limit: int
) -> list[Project]:
    """A round's projects: of organizations within `paths` (None: all)."""
    q = select(Project).where(Project.round_id == round_id, Project.id > after_id)
    if paths is not None:
        q = q.where(Project.org_id.in_(select(Organization.id).where(within(Organization.path, paths))))
    return list(session.scalars(q.order_by(Project.id).limit(limit)))
