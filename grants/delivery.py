"""What granted projects deliver (项目成效), the rules: activities linked to a project, the people
an activity served, a project's meal points, and a project's figures. See docs/programmes.md
("Delivery"). Services take a session and plain values, check everything before writing, flush and
never commit.

- An activity belongs to at most one project at a time. A hub admin (over the round's hub) or an
  admin of the project's organization links it; the activity must be of that organization or under
  it (409 `activity_outside_project`), held within the project's dates, local days
  (`outside_project_dates`), not cancelled; the project active (`project_closed`). Unlinking keeps
  the link's row with who and when.
- The people an activity served (服务人次), apart from its volunteers: a count entered by staff over
  the activity's organization (0..100000, with an optional JPEG/PNG photo checked as receipts are:
  `grants.money.read_receipt`); a correction is a new entry and the latest counts; and residents'
  diner cards scanned there, each diner once per activity (a second scan answers
  `already_counted`, writing nothing).
- Person-times served of a project = Σ over its linked activities (latest count + diners scanned)
  + meals served (not voided, never reversed) at its meal points within its dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from grants import money, rounds
from grants import repository_delivery as repository
from grants.models import Project
from grants.models_delivery import PHOTO_TYPES, ActivityLink, ProjectMealPoint, ServedCount
from linli import scope
from linli.errors import FieldError, conflict, forbidden, invalid, not_found
from linli.qr import InvalidCode
from meals import service as meals
from orgs import service as orgs
from volunteer import activities
from volunteer.models import Activity

COUNT_RANGE = (0, 100_000)
NOTE_MAX = 200


@dataclass(frozen=True)
class CountInput:
    count: int
    photo: str | None = None  # base64 JPEG or PNG
    note: str = ""


# Who ------------------------------------------------------------------------------------------


def project_for_admin(session: Session, project_id: int, admin_paths) -> Project:
    """The project, for an admin of its organization or of the round's hub (or above either)."""
    return money.project_for_admin(session, project_id, admin_paths)


def project_for_staff(session: Session, project_id: int, staff_paths, now: datetime) -> Project:
    """The project, for staff over its organization (the hub's included): who reads its figures."""
    return rounds.project(session, project_id, staff_paths=staff_paths, now=now)


def activity_for_staff(
    session: Session, activity_id: int, staff_paths, station_ids=None, *, for_update: bool = False
) -> Activity:
    """The activity, for staff over its organization (or bound to its station): who records the
    people it served."""
    activity = activities.get(session, activity_id, for_update=for_update)
    path = orgs.get(session, activity.org_id).path
    if not scope.may_use_station(staff_paths, station_ids, activity.station_id, path):
        raise forbidden(
            "只有活动所属组织的工作人员可以登记 Staff of the activity's organization only", scope.OUTSIDE
        )
    return activity


# Links ----------------------------------------------------------------------------------------


def _local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def link(
    session: Session,
    activity_id: int,
    project: Project,
    *,
    admin_paths,
    staff_user_id: int,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[ActivityLink, bool]:
    """Link the activity to the project: (the live link, whether it was made now). The same link
    again changes nothing; a link to another project is ended (kept) and this one made."""
    activity = activities.get(session, activity_id, for_update=True)  # one link change at a time
    activity_path = orgs.get(session, activity.org_id).path
    scope.require(admin_paths, activity_path, "您无权管理此活动 Not your activity")
    if project.status != "active":
        raise conflict("project_closed", "项目已结项 The project is closed")
    project_path = orgs.get(session, project.org_id).path
    if not scope.covers([project_path], activity_path):
        raise conflict(
            "activity_outside_project",
            "活动不属于项目所属组织 The activity is not of the project's organization or under it",
        )
    activities.refuse_cancelled(activity)
    if (
        _local_day(activity.starts_at, tz) < project.starts_on
        or _local_day(activity.ends_at, tz) > project.ends_on
    ):
        raise conflict(
            "outside_project_dates",
            f"活动不在项目期间（{project.starts_on} 至 {project.ends_on}）内"
            f" The activity is not within the project's dates ({project.starts_on} to {project.ends_on})",
            starts_on=project.starts_on.isoformat(),
            ends_on=project.ends_on.isoformat(),
        )
    live = repository.live_link(session, activity.id)
    if live is not None and live.project_id == project.id:
        return live, False
    if live is not None:
        live.unlinked_at, live.unlinked_by = now, staff_user_id
        session.flush()
    row = ActivityLink(activity_id=activity.id, project_id=project.id, linked_by=staff_user_id, linked_at=now)
    session.add(row)
    session.flush()
    return row, True


def live_link_for_admin(session: Session, activity_id: int, admin_paths) -> ActivityLink:
    """The activity's live link, for an admin who may link it (404 `activity_not_linked`)."""
    activities.get(session, activity_id, for_update=True)
    live = repository.live_link(session, activity_id)
    if live is None:
        raise not_found("项目关联 Project link", "activity_not_linked")
    project_for_admin(session, live.project_id, admin_paths)
    return live


def unlink(session: Session, live: ActivityLink, *, staff_user_id: int, now: datetime) -> ActivityLink:
    live.unlinked_at, live.unlinked_by = now, staff_user_id
    session.flush()
    return live


def links(session: Session, activity_id: int) -> list[ActivityLink]:
    return repository.links_of(session, activity_id)


# Served: counts entered -------------------------------------------------------------------------


def _photo(encoded: str | None):
    """The photo's bytes and type, read as receipts are (`grants.money.read_receipt`), pictures
    only; the field and codes named `photo`."""
    read = money.read_receipt(encoded)
    if isinstance(read, FieldError):
        message = read.message.replace("票据", "照片").replace("receipt", "photo").replace("Receipt", "Photo")
        return FieldError("photo", read.code.replace("receipt", "photo"), message)
    if read.media_type not in PHOTO_TYPES:
        return FieldError(
            "photo", "photo_type_not_allowed", "照片只能是JPEG或PNG The photo must be a JPEG or PNG"
        )
    return read


def _require_started(activity: Activity, now: datetime) -> None:
    activities.refuse_cancelled(activity)
    if activity.starts_at > now:
        raise conflict("activity_not_started", "活动尚未开始 The activity has not started yet")


def enter_count(
    session: Session, activity: Activity, data: CountInput, *, staff_user_id: int, now: datetime
) -> ServedCount:
    """A count of the people the activity served; the latest entry counts, older ones are kept."""
    errors: list[FieldError] = []
    if not COUNT_RANGE[0] <= data.count <= COUNT_RANGE[1]:
        errors.append(
            FieldError("count", "count_out_of_range", "人次须为0到100000 The count must be 0 to 100000")
        )
    if len(data.note) > NOTE_MAX:
        errors.append(FieldError("note", "too_long", f"备注最多{NOTE_MAX}字 At most {NOTE_MAX} characters"))
    photo = _photo(data.photo) if data.photo else None
    if isinstance(photo, FieldError):
        errors.append(photo)
    if errors:
        raise invalid(errors)
    _require_started(activity, now)
    row = ServedCount(
        activity_id=activity.id,
        count=data.count,
        note=data.note,
        photo_type=photo.media_type if photo else None,
        photo_size=len(photo.content) if photo else None,
        photo_sha256=photo.sha256 if photo else None,
        photo=photo.content if photo else None,
        entered_by=staff_user_id,
        entered_at=now,
    )
    session.add(row)
    session.flush()
    return row


def entries(
    session: Session, activity: Activity, after_id: int, limit: int
) -> tuple[list[ServedCount], int | None]:
    """The counts entered for the activity, oldest first, and the id of the one that counts."""
    return repository.served_counts(session, activity.id, after_id, limit), repository.latest_count_id(
        session, activity.id
    )


def photo_of(session: Session, activity: Activity, entry_id: int) -> ServedCount:
    row = repository.served_count_with_photo(session, activity.id, entry_id)
    if row is None or row.photo is None:
        raise not_found("照片 Photo", "photo_not_found")
    return row


# Served: diner cards ----------------------------------------------------------------------------


def scan_diner(
    session: Session, codes, activity: Activity, payload: str, *, staff_user_id: int, now: datetime
) -> dict:
    """A resident's diner card scanned at the activity: counted once per activity. Answers
    `counted` (new) or `already_counted` (the same diner again, nothing written)."""
    try:
        code = codes.parse(payload)
    except InvalidCode:
        code = None
    if code is None or code.kind != "diner_card":
        raise invalid(
            [FieldError("payload", "not_a_diner_card", "这不是长者助餐卡 This is not a diner card")]
        )
    diner = meals.get_diner(session, code.subject_id)  # 404 diner_not_found
    if code.number != diner.card_version:
        raise conflict("revoked_card", "该卡已作废（已补办新卡） This card was replaced by a newer one")
    _require_started(activity, now)
    new_id = repository.insert_scan(
        session,
        {"activity_id": activity.id, "diner_id": diner.id, "scanned_by": staff_user_id, "scanned_at": now},
    )
    scan = repository.scan_of(session, activity.id, diner.id)
    return {
        "activity_id": activity.id,
        "diner_id": diner.id,
        "outcome": "counted" if new_id is not None else "already_counted",
        "already_counted": new_id is None,
        "scanned_at": scan.scanned_at,
        "diners_scanned": repository.scans_at(session, activity.id),
    }


# Meal points ----------------------------------------------------------------------------------


def add_meal_point(
    session: Session,
    project: Project,
    meal_point_id: int,
    *,
    admin_paths,
    staff_user_id: int,
    now: datetime,
) -> tuple[ProjectMealPoint, bool]:
    """Name a meal point whose meals count for the project: of its organization or under it."""
    point = meals.get_point(session, meal_point_id)  # 404 meal_point_not_found
    point_path = orgs.get(session, point.org_id).path
    scope.require(admin_paths, point_path, "您无权管理此助餐点 Not your meal point")
    if project.status != "active":
        raise conflict("project_closed", "项目已结项 The project is closed")
    project_path = orgs.get(session, project.org_id).path
    if not scope.covers([project_path], point_path):
        raise conflict(
            "meal_point_outside_project",
            "助餐点不属于项目所属组织 The meal point is not of the project's organization or under it",
        )
    existing = repository.meal_point_link(session, project.id, point.id)
    if existing is not None:
        return existing, False
    row = ProjectMealPoint(
        project_id=project.id, meal_point_id=point.id, added_by=staff_user_id, added_at=now
    )
    session.add(row)
    session.flush()
    return row, True


# Figures --------------------------------------------------------------------------------------


def figures(session: Session, project_list: list[Project], now: datetime) -> dict[int, dict]:
    """Each project's delivery: activities held, person-times served (and of what), volunteer
    person-times, distinct volunteers, service minutes, its meal points."""
    ids = [p.id for p in project_list]
    held = repository.held(session, ids, now)
    entered, scanned, meals_ = (
        repository.entered(session, ids),
        repository.scanned(session, ids),
        repository.meals(session, ids),
    )
    volunteering = repository.volunteering(session, ids)
    points = repository.meal_points_of(session, ids)
    out = {}
    for p in ids:
        times, people, minutes = volunteering.get(p, (0, 0, 0))
        parts = {
            "entered": int(entered.get(p) or 0),
            "diner_scans": int(scanned.get(p) or 0),
            "meals": int(meals_.get(p) or 0),
        }
        out[p] = {
            "project_id": p,
            "activities_held": int(held.get(p) or 0),
            "served": sum(parts.values()),
            "served_parts": parts,
            "volunteer_times": times,
            "volunteers": people,
            "service_minutes": minutes,
            "meal_point_ids": points[p],
        }
    return out


def project_figures(session: Session, project: Project, now: datetime) -> dict:
    return figures(session, [project], now)[project.id]


def round_figures(
    session: Session, round_id: int, now: datetime
) -> tuple[list[Project], dict[int, dict], int]:
    """For the round's report: its projects, each one's figures with its goals (`goal_activities`,
    `goal_served`, `goal_volunteer_times`), and the distinct volunteers of all of them together (a
    volunteer of two projects is one person)."""
    project_list = repository.projects_of_round(session, round_id)
    ids = [p.id for p in project_list]
    out = figures(session, project_list, now)
    goals = repository.goals(session, [p.proposal_id for p in project_list])
    for p in project_list:
        held, served, volunteer_times = goals.get(p.proposal_id, (0, 0, 0))
        out[p.id] |= {"goal_activities": held, "goal_served": served, "goal_volunteer_times": volunteer_times}
    return project_list, out, repository.distinct_volunteers(session, ids)


@dataclass(frozen=True)
class RoundSubject:
    """What a report of a round needs before it is built: who may ask for it (the hub's staff, by
    its path; the partners funding it) and the days it covers (its projects' days, or the call's
    while no project has taken effect)."""

    round_id: int
    name: str
    hub_id: int
    hub_path: str
    funder_partner_ids: frozenset[int]
    first_day: date
    last_day: date


def round_subject(session: Session, round_id: int, now: datetime, tz: ZoneInfo) -> RoundSubject:
    row = repository.grant_round(session, round_id)
    if row is None:
        raise not_found("轮次 Round", "round_not_found")
    rounds.take_effect_of(session, row, now)  # as reading the round does: projects made once
    project_list = repository.projects_of_round(session, round_id)
    days = [p.starts_on for p in project_list] + [p.ends_on for p in project_list]
    if not days:
        days = [_local_day(row.call_opens_at, tz), _local_day(row.call_closes_at, tz)]
    return RoundSubject(
        round_id=row.id,
        name=row.name,
        hub_id=row.org_id,
        hub_path=orgs.get(session, row.org_id).path,
        funder_partner_ids=frozenset(repository.funder_partners(session, row.id)),
        first_day=min(days),
        last_day=max(days),
    )


def org_name(session: Session, org_id: int) -> str:
    return orgs.get(session, org_id).name
