"""Use cases on the organization tree (组织树)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from linli import scope
from linli.errors import FieldError, invalid, not_found
from orgs import repository
from orgs.models import CHILD_KIND, JOIN_MODES, Organization, Partner, Station


def create_root(session: Session, *, name: str, now: datetime) -> Organization:
    return repository.add(session, Organization(kind="base", name=name, path="/", created_at=now))


def create_child(
    session: Session, *, parent_id: int, name: str, join_mode: str | None, now: datetime
) -> Organization:
    """A child one level down: hub under the base, organization under a hub, team under an organization."""
    parent = repository.get(session, parent_id)
    if parent is None:
        raise not_found("上级组织 Parent organization", "organization_not_found")
    kind = CHILD_KIND.get(parent.kind)
    errors = []
    name = name.strip()
    if not 1 <= len(name) <= 100:
        errors.append(FieldError("name", "length", "名称应为1到100个字 Name must be 1 to 100 characters"))
    if kind is None:
        errors.append(
            FieldError("parent_id", "no_children", "志愿服务队下不能再建组织 A team has no sub-units")
        )
    elif kind == "team" and join_mode not in JOIN_MODES:
        errors.append(
            FieldError(
                "join_mode",
                "invalid_choice",
                "加入方式应为 open、approval 或 invitation 之一 Join mode must be open, approval or invitation",
            )
        )
    elif kind != "team" and join_mode is not None:
        errors.append(
            FieldError("join_mode", "not_allowed", "只有志愿服务队有加入方式 Only teams have a join mode")
        )
    if errors:
        raise invalid(errors)
    org = Organization(
        parent_id=parent.id, kind=kind, name=name, path=parent.path, join_mode=join_mode, created_at=now
    )
    return repository.add(session, org)


PHONE = re.compile(r"[0-9][0-9-]{5,18}[0-9]")  # a mobile, or a landline with its area code: 0731-88888888


def set_contacts(
    session: Session, org: Organization, *, person_in_charge: str | None, contact_phone: str | None
) -> Organization:
    """The person in charge and the contact phone printed on the organization's certificates; a
    field left out (None) is kept, "" clears it. 422 field by field, nothing written."""
    errors = []
    person = person_in_charge.strip() if person_in_charge is not None else None
    phone = contact_phone.replace(" ", "") if contact_phone is not None else None
    if person is not None and len(person) > 50:
        errors.append(FieldError("person_in_charge", "length", "负责人姓名最多50个字 At most 50 characters"))
    if phone and not PHONE.fullmatch(phone):
        errors.append(
            FieldError(
                "contact_phone",
                "invalid_phone",
                "联系电话应为手机号或带区号的座机号 A mobile number or a landline with its area code",
            )
        )
    if errors:
        raise invalid(errors)
    if person is not None:
        org.person_in_charge = person or None
    if phone is not None:
        org.contact_phone = phone or None
    session.flush()
    return org


def create_partner(session: Session, *, name: str, now: datetime) -> Partner:
    partner = Partner(name=name, created_at=now)
    session.add(partner)
    session.flush()
    return partner


def create_station(
    session: Session, *, org_id: int, name: str, kind: str, shared: bool, now: datetime
) -> Station:
    if repository.get(session, org_id) is None:
        raise not_found("组织 Organization", "organization_not_found")
    station = Station(org_id=org_id, name=name, kind=kind, shared=shared, created_at=now)
    session.add(station)
    session.flush()
    return station


def get(session: Session, org_id: int) -> Organization:
    org = repository.get(session, org_id)
    if org is None:
        raise not_found("组织 Organization", "organization_not_found")
    return org


def find(session: Session, org_id: int) -> Organization | None:
    return repository.get(session, org_id)


def find_partner(session: Session, partner_id: int) -> Partner | None:
    return repository.get_partner(session, partner_id)


def get_station(session: Session, station_id: int) -> Station:
    station = repository.get_station(session, station_id)
    if station is None:
        raise not_found("站点 Station", "station_not_found")
    return station


def station_paths(session: Session, station_ids: Iterable[int]) -> list[str]:
    """The organization paths of these stations (for `linli.scope`: staff bound to stations)."""
    return [get(session, get_station(session, s).org_id).path for s in station_ids]


def get_team(session: Session, team_id: int) -> Organization:
    org = repository.get(session, team_id)
    if org is None or org.kind != "team":
        raise not_found("志愿服务队 Team", "team_not_found")
    return org


def list_teams(session: Session, *, under: int | None, after_id: int, limit: int) -> list[Organization]:
    path = get(session, under).path if under is not None else None
    return repository.list_teams(session, under_path=path, after_id=after_id, limit=limit)


def list_for_staff(session: Session, *, staff_paths: list[str], kind: str | None, after_id: int, limit: int):
    return repository.list_in_subtrees(session, staff_paths, kind=kind, after_id=after_id, limit=limit)


def stations_for_staff(session: Session, *, staff_paths: list[str], after_id: int, limit: int):
    """The stations staff may name on an activity: their subtree's, and the shared ones."""
    return repository.stations_in_subtrees_or_shared(session, staff_paths, after_id=after_id, limit=limit)


def is_root_path(session: Session, path: str) -> bool:
    """True if the path is a county base's (the top of a tree)."""
    return path.count("/") == 2


def require_staff_of(staff_paths: list[str], org: Organization) -> None:
    scope.require(staff_paths, org.path, f"您无权管理“{org.name}” You do not work for this organization")


def require_admin_of(admin_paths: list[str], org: Organization) -> None:
    scope.require(admin_paths, org.path, f"您无权管理“{org.name}” You do not administer this organization")
