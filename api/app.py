"""The HTTP application (应用): create_app(runtime) wires controllers, errors, OpenAPI and metrics."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusController

from api.accounts import AuthController, MeController
from api.activities import ActivityController, AttendanceController, StationController
from api.activity_cancel import ActivityCancelController
from api.bookings import BookingController, CardBookingController
from api.cards import CardController
from api.dashboards import DashboardController
from api.deliveries import DeliveryController
from api.deps import JsonRequest, authenticate, local_or_admin, provide_session
from api.exports import ExportController
from api.grant_money import ProjectMoneyController
from api.health import healthz, readyz
from api.identity import IdentityController
from api.integrity import IntegrityController
from api.meal_cash import MealCashController
from api.meal_categories import MealCategoryController
from api.meal_days import MealDayController
from api.meal_setup import MealSetupController
from api.meals import MealController
from api.notices import MyNoticesController
from api.observability import register_queue_collector, request_id_middleware
from api.openapi import describe
from api.orgs import OrganizationController
from api.pages import ROUTES as PAGES
from api.pages import TEMPLATES
from api.points import HubPointsController, MyPointsController, ShopController
from api.problems import EXCEPTION_HANDLERS
from api.project_delivery import ActivityDeliveryController, ProjectDeliveryController
from api.proposals import ProposalController
from api.recognition import (
    CommendationController,
    MyCertificatesController,
    MyCommendationsController,
    verify_page,
)
from api.record_certificates import MyRecordCertificateController, RecordCertificateController
from api.records import MyRecordController, VolunteerRecordController
from api.reports import ReportController
from api.rounds import RoundController, notice_page
from api.scans import QrController, ScanController
from api.volunteers import FilingController, TeamController, VolunteerController
from linli.runtime import Runtime


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
    guards = [local_or_admin]  # operators only: a scraper on this machine, or an admin


MAX_BODY_BYTES = 1024 * 1024  # an offline tablet's batch of a few hundred scans fits many times over


def create_app(runtime: Runtime) -> Litestar:
    register_queue_collector(runtime)
    app = Litestar(
        route_handlers=[
            *PAGES,
            healthz,
            readyz,
            MetricsController,
            AuthController,
            MeController,
            VolunteerController,
            TeamController,
            FilingController,
            OrganizationController,
            ActivityController,
            ActivityCancelController,
            StationController,
            ScanController,
            IntegrityController,
            IdentityController,
            ExportController,
            QrController,
            AttendanceController,
            CardController,
            MealController,
            MealSetupController,
            MealDayController,
            MealCashController,
            MealCategoryController,
            BookingController,
            CardBookingController,
            ReportController,
            DashboardController,
            DeliveryController,
            MyPointsController,
            ShopController,
            HubPointsController,
            CommendationController,
            MyCertificatesController,
            MyCommendationsController,
            MyNoticesController,
            MyRecordController,
            VolunteerRecordController,
            ProjectMoneyController,
            ProjectDeliveryController,
            ActivityDeliveryController,
            RecordCertificateController,
            MyRecordCertificateController,
            verify_page,
            RoundController,
            ProposalController,
            notice_page,
        ],
        dependencies={
            "rt": Provide(lambda: runtime, use_cache=True, sync_to_thread=False),
            "session": Provide(provide_session),  # the request's unit of work (api/deps.py)
        },
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=JsonRequest,
        middleware=[request_id_middleware],
        request_max_body_size=MAX_BODY_BYTES,  # 413 payload_too_large beyond (a camera frame: 2 MB)
        guards=[authenticate],
        template_config=TEMPLATES,
        openapi_config=OpenAPIConfig(
            title="邻里 Linli",
            version="1.0.0",
            description="社区志愿服务与长者助餐引擎 Community volunteering and meal assistance engine. "
            "Errors are application/problem+json with a stable `code`.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
            components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
        ),
        state={"runtime": runtime},
        logging_config=None,  # linli.logs: JSON lines, phones masked
        debug=False,
    )
    describe(app)  # per operation: bearer or public, and the errors it can answer (api/openapi.py)
    return app
