"""Queries on organizations, partners and stations."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from linli import scope
from orgs.models import Organization, Partner, Station


def get(session: Session, org_id: int) -> Organization | None:
    return session.get(Organization, org_id)


def get_partner(session: Session, partner_id: int) -> Partner | None:
    return session.get(Partner, partner_id)


def get_station(session: Session, station_id: int) -> Station | None:
    return session.get(Station, station_id)


def list_in_subtrees(
    session: Session, paths: list[str], *, kind: str | None = None, after_id: int = 0, limit: int = 50
) -> list[Organization]:
    if not paths:
        return []
    q = select(Organization).where(scope.within(Organization.path, paths))
    if kind:
        q = q.where(Organization.kind == kind)
    return list(session.scalars(q.where(Organization.id > after_id).order_by(Organization.id).limit(limit)))


def stations_in_subtrees_or_shared(
    session: Session, paths: list[str], *, after_id: int, limit: int
) -> list[Station]:
    """Stations of the organizations under `paths`, and every shared one (anyone may book it)."""
    q = (
        select(Station)
        .join(Organization, Organization.id == Station.org_id)
        .where(or_(Station.shared, scope.within(Organization.path, paths)), Station.id > after_id)
    )
    return list(session.scalars(q.order_by(Station.id).limit(limit)))


def list_teams(session: Session, *, under_path: str | None, after_id: int, limit: int) -> list[Organization]:
    q = select(Organization).where(Organization.kind == "team", Organization.id > after_id)
    if under_path:
        q = q.where(scope.within(Organization.path, [under_path]))
    return list(session.scalars(q.order_by(Organization.id).limit(limit)))


def add(session: Session, org: Organization) -> Organization:
    session.add(org)
    session.flush()  # the id is part of the path
    org.path = (org.path or "/") + f"{org.id}/"
    return org
