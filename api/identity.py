"""Identity for service records (证件信息): a volunteer gives their number and sees it masked; a
county administrator with the export grant reads it (audited); county admins give that grant."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Id, local_today, require_volunteer
from api.problems import problems
from linli import ratelimit
from linli.errors import LinliError
from linli.runtime import Runtime
from records import identity as records_identity
from records.schemas_identity import ExportGrantCreate, ExportGrantRead, RevealBody, Revealed
from volunteer import identity
from volunteer.schemas_identity import IdentityBody, IdentityRead


class IdentityController(Controller):
    path = "/api/v1"
    tags = ["证件 identity"]
    dependencies = AUTH

    @get(
        "/me/identity",
        operation_id="myIdentity",
        sync_to_thread=True,
        summary="My identity document, masked: whether the number is stored, its type, the last four",
        responses=problems(_403="volunteers_only"),
    )
    def mine(self, principal: NamedDependency[Principal], session: NamedDependency[Session]) -> IdentityRead:
        return IdentityRead.of(identity.view(session, require_volunteer(principal)))

    @put(
        "/me/identity",
        operation_id="putMyIdentity",
        sync_to_thread=True,
        summary="Give or change my identity number for service records (stored encrypted): `id_type`"
        " resident_id, hk_macao_permit, taiwan_permit, passport or foreign_permanent; answered masked",
        responses=problems(_403="volunteers_only", _409="id_number_taken", _429="rate_limited"),
    )
    def give(
        self,
        data: JSONBody[IdentityBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> IdentityRead:
        volunteer_id = require_volunteer(principal)
        # whether a number is registered is not for probing: a few refusals a day per volunteer
        key, now = f"identity-taken:{volunteer_id}", rt.clock.now()
        limit = ratelimit.TAKEN_IDENTITIES_PER_VOLUNTEER
        ratelimit.refuse_if_spent(
            rt.redis,
            key,
            limit,
            now,
            "证件号码冲突次数过多，请联系服务中心 Too many refused numbers; contact your hub",
        )
        try:
            identity.give(
                session,
                rt.signer,
                rt.id_keys,
                volunteer_id,
                id_type=data.id_type,
                id_number=data.id_number,
                today=local_today(rt),
            )
        except LinliError as exc:
            if exc.code == "id_number_taken":
                ratelimit.count(rt.redis, key, limit, now)
            raise
        return IdentityRead.of(identity.view(session, volunteer_id))

    @post(
        "/volunteers/{volunteer_id:int}/identity/reveal",
        operation_id="revealVolunteerIdentity",
        status_code=200,
        sync_to_thread=True,
        summary="A volunteer's full identity number, for a county administrator holding the export"
        " grant, with the purpose (`reason`); every decryption is audit-logged",
        responses=problems(
            _403="staff_only, export_grant_required, outside_your_scope",
            _404="volunteer_not_found, identity_not_given",
            _409="identity_unreadable",
        ),
    )
    def reveal(
        self,
        volunteer_id: Id,
        data: JSONBody[RevealBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> Revealed:
        number = records_identity.reveal(
            session, volunteer_id, actor=principal, reason=data.reason, now=rt.clock.now(), keys=rt.id_keys
        )
        return Revealed(volunteer_id, identity.view(session, volunteer_id).id_type, number)

    @post(
        "/records/export-grants",
        operation_id="grantRecordsExport",
        status_code=201,
        sync_to_thread=True,
        summary="Give a county administrator the export grant over the county (`records_export`):"
        " they may then decrypt identity numbers of the county's volunteers. County admins only",
        responses=problems(_403="staff_only, county_admins_only"),
    )
    def grant_export(
        self,
        data: JSONBody[ExportGrantCreate],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> ExportGrantRead:
        grant = records_identity.grant_export(
            session, giver=principal, user_id=data.staff_user_id, county_id=data.county_id, now=rt.clock.now()
        )
        return ExportGrantRead(grant.id, grant.user_id, grant.org_id, grant.role)
