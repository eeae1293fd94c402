"""Service records (志愿服务记录): a volunteer's own record and its download, and the training and
evaluations staff enter for a volunteer."""

from __future__ import annotations

from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, local_today, next_cursor, page, require_staff, require_volunteer
from api.problems import problems
from linli.runtime import Runtime
from orgs import service as orgs_service
from records import service
from records.schemas import (
    EvaluationBody,
    EvaluationPage,
    EvaluationRead,
    RecordRead,
    TrainingBody,
    TrainingPage,
    TrainingRead,
)
from reports import records as record_files


class MyRecordController(Controller):
    path = "/api/v1/me"
    tags = ["服务记录 records"]
    dependencies = AUTH

    @get(
        "/record",
        operation_id="myRecord",
        sync_to_thread=True,
        summary="My service record: basic information, totals by year, organization and activity kind, "
        "training, commendations, evaluations, and a page of service rows (newest first)",
        responses=problems(_403="volunteers_only"),
    )
    def my_record(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> RecordRead:
        volunteer_id = require_volunteer(principal)
        offset, limit = page(cursor, limit)
        return RecordRead.of(service.record(session, volunteer_id, rt.settings.tz), offset, limit)

    def _download(self, fmt: str, principal: Principal, session: Session, rt: Runtime) -> Response[bytes]:
        volunteer_id = require_volunteer(principal)
        content, media_type = record_files.download(
            service.record(session, volunteer_id, rt.settings.tz), fmt
        )
        name = f"志愿服务记录-{volunteer_id}.{fmt}"
        return Response(
            content,
            media_type=media_type,
            headers={
                "Content-Disposition": f"attachment; filename=\"record-{volunteer_id}.{fmt}\"; filename*=UTF-8''{quote(name)}"
            },
        )

    @get(
        "/record.csv",
        operation_id="myRecordCsv",
        sync_to_thread=True,
        media_type="text/csv; charset=utf-8",
        summary="My service record as CSV (every service row)",
        responses=problems(_403="volunteers_only"),
    )
    def my_record_csv(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response[bytes]:
        return self._download("csv", principal, session, rt)

    @get(
        "/record.xlsx",
        operation_id="myRecordXlsx",
        sync_to_thread=True,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        summary="My service record as XLSX (every service row)",
        responses=problems(_403="volunteers_only"),
    )
    def my_record_xlsx(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response[bytes]:
        return self._download("xlsx", principal, session, rt)


class VolunteerRecordController(Controller):
    path = "/api/v1/volunteers/{volunteer_id:int}"
    tags = ["服务记录 records"]
    dependencies = AUTH

    @post(
        "/trainings",
        operation_id="addTraining",
        status_code=201,
        sync_to_thread=True,
        summary="Record a training the volunteer took at an organization you work for; more than 20 days "
        "after its day only an admin with `late_reason` (marked late)",
        responses=problems(
            _403="staff_only, outside_your_scope, late_entry_admin_only",
            _404="org_not_found, volunteer_not_found",
            _422="validation_failed (future_day, late_reason_required)",
        ),
    )
    def add_training(
        self,
        volunteer_id: Id,
        data: JSONBody[TrainingBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> TrainingRead:
        staff_id = require_staff(principal, "admin", "coordinator")
        t = service.add_training(
            session,
            principal,
            volunteer_id=volunteer_id,
            org_id=data.org_id,
            title=data.title,
            minutes=data.minutes,
            day=data.day,
            late_reason=data.late_reason,
            staff_user_id=staff_id,
            now=rt.clock.now(),
            today=local_today(rt),
        )
        return TrainingRead.of(t, orgs_service.get(session, t.org_id).name)

    @get(
        "/trainings",
        operation_id="listTrainings",
        sync_to_thread=True,
        summary="The volunteer's training at organizations you work for, newest first",
        responses=problems(_403="staff_only, outside_your_scope", _404="volunteer_not_found"),
    )
    def trainings(
        self,
        volunteer_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> TrainingPage:
        require_staff(principal, "admin", "coordinator")
        service.require_staff_reach(session, principal, volunteer_id)
        before, limit = page(cursor, limit)
        rows = service.trainings(
            session, volunteer_id, paths=principal.staff_paths, before_id=before or 2**62, limit=limit
        )
        items = [TrainingRead.of(t, name) for t, name in rows]
        return TrainingPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))

    @post(
        "/evaluations",
        operation_id="addEvaluation",
        status_code=201,
        sync_to_thread=True,
        summary="An organization's evaluation of the volunteer for a period (rating and comment)",
        responses=problems(
            _403="staff_only, outside_your_scope",
            _404="org_not_found, volunteer_not_found",
            _422="validation_failed (before_start, invalid_choice)",
        ),
    )
    def add_evaluation(
        self,
        volunteer_id: Id,
        data: JSONBody[EvaluationBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> EvaluationRead:
        staff_id = require_staff(principal, "admin", "coordinator")
        e = service.add_evaluation(
            session,
            principal,
            volunteer_id=volunteer_id,
            org_id=data.org_id,
            period_start=data.period_start,
            period_end=data.period_end,
            rating=data.rating,
            comment=data.comment,
            staff_user_id=staff_id,
            now=rt.clock.now(),
            today=local_today(rt),
        )
        return EvaluationRead.of(e, orgs_service.get(session, e.org_id).name)

    @get(
        "/evaluations",
        operation_id="listEvaluations",
        sync_to_thread=True,
        summary="The volunteer's evaluations by organizations you work for, newest first",
        responses=problems(_403="staff_only, outside_your_scope", _404="volunteer_not_found"),
    )
    def evaluations(
        self,
        volunteer_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> EvaluationPage:
        require_staff(principal, "admin", "coordinator")
        service.require_staff_reach(session, principal, volunteer_id)
        before, limit = page(cursor, limit)
        rows = service.evaluations(
            session, volunteer_id, paths=principal.staff_paths, before_id=before or 2**62, limit=limit
        )
        items = [EvaluationRead.of(e, name) for e, name in rows]
        return EvaluationPage(items=items, next=next_cursor(items, limit, items[-1].id if items else None))
