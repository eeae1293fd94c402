"""Home delivery (送餐上门): a meal point's delivery runs per slot, planned by its staff and claimed
by volunteers; each door is confirmed by scanning the diner's card through `POST /api/v1/scans`."""

from __future__ import annotations

from datetime import date

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Id, check_times, local_today, require_volunteer
from api.meals import staff_at
from api.problems import problems
from linli.runtime import Runtime
from meals import delivery, service
from meals.models import DeliveryRun
from meals.schemas import PlanBody, RunPage, RunRead
from volunteer import service as volunteer_service


def _runs(session, runs: list[DeliveryRun], *, with_stops: bool) -> list[RunRead]:
    """The runs as answered, with the names of the volunteers who took them."""
    names = volunteer_service.names_of(session, {r.volunteer_id for r in runs if r.volunteer_id})
    return msgspec.convert(delivery.runs_view(session, runs, names, with_stops=with_stops), list[RunRead])


class DeliveryController(Controller):
    path = "/api/v1"
    tags = ["送餐 delivery"]
    dependencies = AUTH

    @post(
        "/meal-points/{point_id:int}/delivery-runs",
        operation_id="planDeliveryRuns",
        status_code=200,
        sync_to_thread=True,
        summary="Plan a slot's delivery runs, one per community (again: runs for new communities are added)",
        responses=problems(_403="staff_only, outside_your_scope", _404="meal_point_not_found"),
    )
    def plan(
        self,
        point_id: Id,
        data: JSONBody[PlanBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RunPage:
        point = service.get_point(session, point_id)
        staff_at(session, principal, point)
        runs = delivery.plan(session, point.id, data.day, data.slot, rt.clock.now())
        return RunPage(_runs(session, runs, with_stops=True))

    @get(
        "/meal-points/{point_id:int}/delivery-runs",
        operation_id="listDeliveryRuns",
        sync_to_thread=True,
        summary="A day's delivery runs at a meal point: who took each, each stop and whether it was delivered",
        responses=problems(_403="staff_only, outside_your_scope", _404="meal_point_not_found"),
    )
    def runs(
        self,
        point_id: Id,
        day: FromQuery[date],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
    ) -> RunPage:
        check_times(day=day)
        point = service.get_point(session, point_id)
        staff_at(session, principal, point)
        return RunPage(_runs(session, delivery.runs_at(session, point.id, day), with_stops=True))

    @get(
        "/delivery-runs",
        operation_id="myDeliveryRuns",
        sync_to_thread=True,
        summary="For a volunteer: a day's runs still open at meal points of their organizations, and their own (with stops)",
        responses=problems(_403="volunteers_only"),
    )
    def open_runs(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        day: FromQuery[date | None] = None,
    ) -> RunPage:
        volunteer_id = require_volunteer(principal)
        check_times(day=day)
        runs = delivery.open_runs_for(
            session,
            volunteer_id,
            volunteer_service.team_paths(session, volunteer_id),
            day or local_today(rt),
        )
        mine = [r for r in runs if r.volunteer_id == volunteer_id]
        others = [r for r in runs if r.volunteer_id != volunteer_id]
        # addresses only for the runs the volunteer took
        return RunPage(_runs(session, mine, with_stops=True) + _runs(session, others, with_stops=False))

    @post(
        "/delivery-runs/{run_id:int}/claim",
        operation_id="claimDeliveryRun",
        status_code=200,
        sync_to_thread=True,
        summary="Take a delivery run (the first volunteer to claim it gets it)",
        responses=problems(
            _403="volunteers_only, not_filed", _404="run_not_found", _409="run_taken, run_past"
        ),
    )
    def claim(
        self,
        run_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> RunRead:
        volunteer_id = require_volunteer(principal)
        run = delivery.claim(
            session,
            run_id,
            volunteer_id,
            volunteer_service.team_paths(session, volunteer_id),
            rt.clock.now(),
            rt.settings.tz,
        )
        return _runs(session, [run], with_stops=True)[0]

    @post(
        "/delivery-runs/{run_id:int}/release",
        operation_id="releaseDeliveryRun",
        status_code=200,
        sync_to_thread=True,
        summary="Give a run back; deliveries already made stay",
        responses=problems(_403="volunteers_only", _404="run_not_found"),
    )
    def release(
        self, run_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> RunRead:
        volunteer_id = require_volunteer(principal)
        run = delivery.release(session, run_id, volunteer_id)
        return _runs(session, [run], with_stops=False)[0]
