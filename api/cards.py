"""Volunteer cards (志愿者卡): my card as PNG or SVG, a lost card reissued, and printable sheets
of a team's cards (generated files)."""

from __future__ import annotations

from litestar import Controller, MediaType, Response, get, post
from litestar.di import NamedDependency
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Id, require_staff, require_volunteer
from api.problems import problems
from linli import qr
from linli.runtime import Runtime
from volunteer import cards
from volunteer import service as volunteer_service
from volunteer.schemas import CardReissued, FileStatus


class CardController(Controller):
    path = "/api/v1"
    tags = ["志愿者卡 cards"]
    dependencies = AUTH

    @get(
        "/me/card.png",
        operation_id="myCardPng",
        sync_to_thread=True,
        media_type="image/png",
        responses=problems(_403="volunteers_only"),
    )
    def card_png(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response:
        return Response(qr.png(self._card(principal, session, rt)), media_type="image/png")

    @get(
        "/me/card.svg",
        operation_id="myCardSvg",
        sync_to_thread=True,
        media_type="image/svg+xml",
        responses=problems(_403="volunteers_only"),
    )
    def card_svg(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Response:
        return Response(qr.svg(self._card(principal, session, rt)), media_type="image/svg+xml")

    @post(
        "/me/card/reissue",
        operation_id="reissueMyCard",
        status_code=200,
        sync_to_thread=True,
        summary="Lost card: a new card; the old one then scans as revoked_card",
        responses=problems(_403="volunteers_only"),
    )
    def reissue(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> CardReissued:
        volunteer_id = require_volunteer(principal)
        volunteer = cards.reissue(session, volunteer_id)
        return CardReissued(
            card_version=volunteer.card_version,
            payload=rt.codes.volunteer_card(volunteer.id, volunteer.card_version),
        )

    def _card(self, principal: Principal, session: Session, rt: Runtime) -> str:
        volunteer_id = require_volunteer(principal)
        volunteer = volunteer_service.get(session, volunteer_id)
        return rt.codes.volunteer_card(volunteer.id, volunteer.card_version)

    @post(
        "/teams/{team_id:int}/card-sheets",
        operation_id="requestCardSheet",
        status_code=202,
        sync_to_thread=True,
        summary="A printable A4 sheet of the team's volunteer cards, made in the background",
        responses=problems(_403="staff_only, outside_your_scope", _404="team_not_found"),
    )
    def request_sheet(
        self,
        team_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> FileStatus:
        staff_id = require_staff(principal, "admin", "coordinator")
        f = cards.request_sheet(
            session,
            team_id=team_id,
            staff_user_id=staff_id,
            staff_paths=principal.staff_paths,
            now=rt.clock.now(),
        )
        return FileStatus.of(f)

    @get(
        "/files/{file_id:int}",
        operation_id="getFile",
        sync_to_thread=True,
        summary="A generated file's status",
        responses=problems(_404="file_not_found"),
    )
    def file_status(
        self, file_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> FileStatus:
        f = cards.own_file(session, principal.staff_user_id, file_id)
        return FileStatus.of(f)

    @get(
        "/files/{file_id:int}/content",
        operation_id="getFileContent",
        sync_to_thread=True,
        media_type=MediaType.HTML,
        responses=problems(_404="file_not_found", _409="file_not_ready"),
    )
    def file_content(
        self, file_id: Id, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> Response:
        f = cards.ready_file(session, principal.staff_user_id, file_id)
        return Response(
            f.content,
            media_type=f.media_type,
            headers={"Content-Disposition": f'inline; filename="{f.filename}"'},
        )
