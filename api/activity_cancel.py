"""Cancelling an activity (取消活动): a hub's admin, with a reason; everyone signed up is told."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Id, require_staff
from api.problems import problems
from linli.runtime import Runtime
from volunteer import activities
from volunteer.schemas import ActivityCancel, ActivityRead


class ActivityCancelController(Controller):
    path = "/api/v1/activities"
    tags = ["活动 activities"]
    dependencies = AUTH

    @post(
        "/{activity_id:int}/cancel",
        operation_id="cancelActivity",
        status_code=200,
        sync_to_thread=True,
        summary="Cancel an activity with a reason; everyone signed up gets a notice",
        responses=problems(
            _403="staff_only, role_required, outside_your_scope",
            _404="activity_not_found",
            _409="activity_cancelled, activity_over",
        ),
    )
    def cancel_activity(
        self,
        activity_id: Id,
        data: JSONBody[ActivityCancel],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ActivityRead:
        staff_id = require_staff(principal, "admin")
        activity = activities.cancel(
            session,
            activity_id,
            reason=data.reason,
            admin_paths=principal.admin_paths,
            staff_user_id=staff_id,
            now=rt.clock.now(),
            tz=rt.settings.tz,
        )
        return ActivityRead.of(activity)
