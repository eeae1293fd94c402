"""Statements of the national export (records.exports): the county's service in a period, who
recorded it, and the export rows themselves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accounts.models import StaffUser
from linli import scope
from orgs.models import Organization, Station
from records.models_exports import RecordExport
from volunteer.models import Activity, Attendance, Volunteer

CHUNK = 1000  # ids in one IN list


def county_service(session: Session, county_path: str, start: datetime, end: datetime) -> list:
    """Every closed, verified (not flagged) and not annulled attendance at an activity of an
    organization in the county whose check-in is in [start, end), oldest first, with the
    volunteer, the activity, its organization, the station (the place) and the activity's author."""
    return list(
        session.execute(
            select(
                Attendance.id,
                Attendance.volunteer_id,
                Attendance.checked_in_at,
                Attendance.checked_out_at,
                Volunteer.name.label("volunteer_name"),
                Volunteer.phone,
                Activity.title,
                Activity.created_by,
                Organization.name.label("org_name"),
                Station.name.label("place"),
            )
            .join(Volunteer, Volunteer.id == Attendance.volunteer_id)
            .join(Activity, Activity.id == Attendance.activity_id)
            .join(Organization, Organization.id == Activity.org_id)
            .join(Station, Station.id == Attendance.station_id)
            .where(
                scope.within(Organization.path, [county_path]),
                Attendance.state.in_(("closed", "auto_closed")),
                Attendance.flagged.is_(False),
                Attendance.checked_in_at >= start,
                Attendance.checked_in_at < end,
            )
            .order_by(Attendance.checked_in_at, Attendance.id)
        )
    )


def staff_names(session: Session, ids: set[int]) -> dict[int, str]:
    ordered = sorted(ids)
    names: dict[int, str] = {}
    for i in range(0, len(ordered), CHUNK):
        q = select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(ordered[i : i + CHUNK]))
        names.update({r[0]: r[1] for r in session.execute(q)})
    return names


def locked(session: Session, export_id: int) -> RecordExport | None:
    return session.get(RecordExport, export_id, with_for_update=True)


def of_counties(session: Session, paths: list[str], after_id: int, limit: int) -> list[RecordExport]:
    return list(
        session.scalars(
            select(RecordExport)
            .where(RecordExport.org_path.in_(paths), RecordExport.id > after_id)
            .order_by(RecordExport.id)
            .limit(limit)
        )
    )


def expire(session: Session, now: datetime) -> int:
    return session.execute(
        update(RecordExport)
        .where(RecordExport.expires_at <= now, RecordExport.status == "ready")
        .values(file_enc=None, status="expired")
        .execution_options(synchronize_session=False)
    ).rowcount
