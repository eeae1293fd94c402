"""What granted projects deliver over HTTP (项目成效): activities linked to a project, the people an
activity served (counts with history and an optional photo; diner cards scanned, once a diner),
a project's meal points, and its figures. Handlers translate; `grants.delivery` holds the rules.
See docs/programmes.md ("Delivery"). Diner cards come here, never through the scan door
(`POST /api/v1/scans` keeps its contract): they count people served, not meals."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, next_cursor, page, require_staff
from api.grant_money import SPENDING_BODY_BYTES
from api.problems import problems
from grants import delivery
from grants.money import EXTENSIONS
from grants.schemas_delivery import (
    CountBody,
    CountPage,
    CountRead,
    DeliveryRead,
    LinkBody,
    LinkRead,
    MealPointBody,
    MealPointRead,
    ScanBody,
    ScanRead,
)
from linli.runtime import Runtime

REFUSED = "staff_only, role_required, outside_your_scope"


class ActivityDeliveryController(Controller):
    path = "/api/v1/activities"
    tags = ["项目成效 project delivery"]
    dependencies = AUTH

    @put(
        "/{activity_id:int}/project",
        operation_id="linkActivityToProject",
        sync_to_thread=True,
        summary="Link an activity to a granted project (a hub admin or the project organization's admin)",
        responses=problems(
            _403=REFUSED,
            _404="activity_not_found, project_not_found",
            _409="activity_outside_project, outside_project_dates, project_closed, activity_cancelled",
        ),
    )
    def link(
        self,
        activity_id: Id,
        data: JSONBody[LinkBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> LinkRead:
        staff = require_staff(principal, "admin")
        project = delivery.project_for_admin(session, data.project_id, principal.admin_paths)
        row, changed = delivery.link(
            session,
            activity_id,
            project,
            admin_paths=principal.admin_paths,
            staff_user_id=staff,
            now=rt.clock.now(),
            tz=rt.settings.tz,
        )
        return LinkRead.of(row, changed)

    @delete(
        "/{activity_id:int}/project",
        operation_id="unlinkActivityFromProject",
        status_code=200,
        sync_to_thread=True,
        summary="Unlink an activity from its project; the link is kept with who ended it and when",
        responses=problems(_403=REFUSED, _404="activity_not_found, activity_not_linked"),
    )
    def unlink(
        self,
        activity_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> LinkRead:
        staff = require_staff(principal, "admin")
        live = delivery.live_link_for_admin(session, activity_id, principal.admin_paths)
        return LinkRead.of(delivery.unlink(session, live, staff_user_id=staff, now=rt.clock.now()))

    @post(
        "/{activity_id:int}/served",
        operation_id="enterServedCount",
        status_code=201,
        sync_to_thread=True,
        request_max_body_size=SPENDING_BODY_BYTES,
        summary="Enter how many people an activity served, with an optional photo (JPEG or PNG, base64, at most 2 MB); the latest entry counts",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="activity_not_found",
            _409="activity_cancelled, activity_not_started",
            _413="payload_too_large",
            _422="validation_failed",
        ),
    )
    def enter(
        self,
        activity_id: Id,
        data: JSONBody[CountBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> CountRead:
        staff = require_staff(principal)
        activity = delivery.activity_for_staff(
            session, activity_id, principal.staff_paths, principal.bound_station_ids, for_update=True
        )
        row = delivery.enter_count(
            session,
            activity,
            delivery.CountInput(count=data.count, photo=data.photo, note=data.note),
            staff_user_id=staff,
            now=rt.clock.now(),
        )
        return CountRead.of(row, current=True)

    @get(
        "/{activity_id:int}/served",
        operation_id="listServedCounts",
        sync_to_thread=True,
        summary="The counts entered for an activity, oldest first; `current` marks the one that counts",
        responses=problems(_403="staff_only, outside_your_scope", _404="activity_not_found"),
    )
    def entries(
        self,
        activity_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> CountPage:
        require_staff(principal)
        activity = delivery.activity_for_staff(
            session, activity_id, principal.staff_paths, principal.bound_station_ids
        )
        after, limit = page(cursor, limit)
        rows, latest = delivery.entries(session, activity, after, limit)
        return CountPage(
            items=[CountRead.of(r, current=r.id == latest) for r in rows],
            next=next_cursor(rows, limit, rows[-1].id if rows else None),
        )

    @get(
        "/{activity_id:int}/served/{entry_id:int}/photo",
        operation_id="getServedCountPhoto",
        sync_to_thread=True,
        media_type="*/*",
        summary="The photo entered with a count, as recorded",
        responses=problems(_403="staff_only, outside_your_scope", _404="activity_not_found, photo_not_found"),
    )
    def photo(
        self,
        activity_id: Id,
        entry_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
    ) -> Response[bytes]:
        require_staff(principal)
        activity = delivery.activity_for_staff(
            session, activity_id, principal.staff_paths, principal.bound_station_ids
        )
        row = delivery.photo_of(session, activity, entry_id)
        name = f"served-{activity.id}-{row.id}.{EXTENSIONS[row.photo_type]}"
        return Response(
            row.photo,
            media_type=row.photo_type,
            headers={
                "content-disposition": f'attachment; filename="{name}"',
                "content-security-policy": "sandbox",
            },
        )

    @post(
        "/{activity_id:int}/served-scans",
        operation_id="scanServedDiner",
        status_code=201,
        sync_to_thread=True,
        summary="A resident's diner card scanned at an activity: counted once (201); the same diner again answers already_counted (200)",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="activity_not_found, diner_not_found",
            _409="activity_cancelled, activity_not_started, revoked_card",
            _422="validation_failed",
        ),
    )
    def scan(
        self,
        activity_id: Id,
        data: JSONBody[ScanBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response[ScanRead]:
        staff = require_staff(principal)
        activity = delivery.activity_for_staff(
            session, activity_id, principal.staff_paths, principal.bound_station_ids
        )
        answer = delivery.scan_diner(
            session, rt.codes, activity, data.payload, staff_user_id=staff, now=rt.clock.now()
        )
        return Response(
            msgspec.convert(answer, ScanRead), status_code=200 if answer["already_counted"] else 201
        )


class ProjectDeliveryController(Controller):
    path = "/api/v1/projects"
    tags = ["项目成效 project delivery"]
    dependencies = AUTH

    @post(
        "/{project_id:int}/meal-points",
        operation_id="addProjectMealPoint",
        status_code=201,
        sync_to_thread=True,
        summary="Name a meal point whose served meals count for the project (of its organization or under it)",
        responses=problems(
            _403=REFUSED,
            _404="project_not_found, meal_point_not_found",
            _409="meal_point_outside_project, project_closed",
        ),
    )
    def add_meal_point(
        self,
        project_id: Id,
        data: JSONBody[MealPointBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> MealPointRead:
        staff = require_staff(principal, "admin")
        project = delivery.project_for_admin(session, project_id, principal.admin_paths)
        row, added = delivery.add_meal_point(
            session,
            project,
            data.meal_point_id,
            admin_paths=principal.admin_paths,
            staff_user_id=staff,
            now=rt.clock.now(),
        )
        return MealPointRead.of(row, added)

    @get(
        "/{project_id:int}/delivery",
        operation_id="getProjectDelivery",
        sync_to_thread=True,
        summary="A project's delivery: activities held, person-times served, volunteer person-times, distinct volunteers, service minutes",
        responses=problems(_403="staff_only, outside_your_scope", _404="project_not_found"),
    )
    def figures(
        self,
        project_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> DeliveryRead:
        require_staff(principal)
        project = delivery.project_for_staff(session, project_id, principal.staff_paths, rt.clock.now())
        return msgspec.convert(delivery.project_figures(session, project, rt.clock.now()), DeliveryRead)
