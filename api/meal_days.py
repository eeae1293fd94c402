"""The day's close at a meal point (日结): today's and past closes, a close by hand, and the close
printed as a sheet to sign. The rules are in `meals.counter_day`; the evening run is a cron job."""

from __future__ import annotations

from datetime import date

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, check_times, local_today
from api.meals import staff_at
from api.problems import problems
from integrity import service as integrity
from linli.runtime import Runtime
from meals import counter_day, day_sheet, service
from meals.schemas import DayCloseBody, DayClosePage, DayCloseRead
from orgs import service as orgs_service


def _read(session, row) -> DayCloseRead:
    return DayCloseRead(**counter_day.close_view(session, row))


class MealDayController(Controller):
    path = "/api/v1"
    tags = ["助餐 meals"]
    dependencies = AUTH

    @get(
        "/meal-points/{point_id:int}/day-closes",
        operation_id="listDayCloses",
        sync_to_thread=True,
        summary="A meal point's closed days, the latest first, and when today closes",
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="meal_point_not_found"),
    )
    def closes(
        self,
        point_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> DayClosePage:
        point = service.get_point(session, point_id)
        staff_at(session, principal, point)
        # the cursor is the last day's ordinal: days before it come next
        before = date.fromordinal(min(int(cursor), date.max.toordinal())) if cursor and int(cursor) else None
        rows = counter_day.closes_of(session, point.id, before=before, limit=limit)
        today = local_today(rt)
        close_from, closes_at = counter_day.today_times(session, point.id, today, rt.settings.tz)
        return DayClosePage(
            items=[_read(session, r) for r in rows],
            next=str(rows[-1].service_day.toordinal()) if len(rows) == limit else None,
            today=today,
            today_closed=counter_day.is_closed(session, point.id, today),
            close_from=close_from,
            closes_at=closes_at,
        )

    @post(
        "/meal-points/{point_id:int}/day-closes",
        operation_id="closeMealDay",
        status_code=200,
        sync_to_thread=True,
        summary="Close a day by hand (today by default) once its last slot has ended; a closed day"
        " is answered as it was closed",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="meal_point_not_found",
            _409="slot_open",
        ),
    )
    def close(
        self,
        point_id: Id,
        data: JSONBody[DayCloseBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> DayCloseRead:
        point = service.get_point(session, point_id)
        staff_id = staff_at(session, principal, point)
        day = data.day or local_today(rt)
        check_times(day=day)
        now = rt.clock.now()
        row, made = counter_day.close_by_hand(session, point.id, day, now, rt.settings.tz)
        if made:  # who closed the day by hand is kept
            integrity.audit(
                session,
                "meal_day.closed",
                f"meal_point:{point.id}:{day.isoformat()}",
                orgs_service.get(session, point.org_id).path,
                staff_id,
                now,
                {"day_close_id": row.id},
            )
        return _read(session, row)

    @get(
        "/day-closes/{close_id:int}/sheet.pdf",
        operation_id="dayCloseSheetPdf",
        sync_to_thread=True,
        media_type="application/pdf",
        summary="A closed day as an A4 sheet to print and sign (PDF)",
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="day_close_not_found"),
    )
    def sheet(
        self,
        close_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response[bytes]:
        row = counter_day.get_close(session, close_id)
        point = service.get_point(session, row.meal_point_id)
        staff_at(session, principal, point)
        content = day_sheet.pdf(
            point.name, counter_day.close_view(session, row), rt.clock.now(), rt.settings.tz
        )
        return Response(
            content,
            media_type="application/pdf",
            headers={
                "content-disposition": f'attachment; filename="day-close-{point.id}-{row.service_day.isoformat()}.pdf"'
            },
        )
