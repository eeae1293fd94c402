"""Login by code or password, tokens, who am I (登录)."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts import service
from accounts.principal import Principal
from accounts.schemas import CodeRequest, CodeRequested, GrantRead, MeRead, TokenRead, TokenRequest
from api.deps import AUTH, client_ip, forget_principal, provide_principal
from api.problems import problems
from linli import ratelimit
from linli.errors import FieldError, LinliError, forbidden, invalid
from linli.runtime import Runtime
from volunteer import service as volunteer_service
from volunteer.schemas import VolunteerRead


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["登录 auth"]

    @post(
        "/codes",
        operation_id="requestLoginCode",
        status_code=202,
        sync_to_thread=True,
        summary="Send a one-time code to a phone (to log in, or to prove it when registering)",
        responses=problems(_429="rate_limited"),
    )
    def request_code(
        self,
        data: JSONBody[CodeRequest],
        request: Request,
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> CodeRequested:
        ttl = rt.settings.login_code_ttl_seconds
        resend_after = service.request_code(
            session,
            rt.signer,
            phone=data.phone,
            client_ip=client_ip(request),
            now=rt.clock.now(),
            ttl=ttl,
        )
        return CodeRequested(sent=True, expires_in=ttl, resend_after=resend_after)

    @post(
        "/tokens",
        operation_id="createToken",
        status_code=201,
        sync_to_thread=True,
        summary="Get a bearer token with phone+code (volunteers, guest reviewers) or username+password (staff)",
        responses=problems(
            _401="invalid_code, invalid_credentials",
            _404="not_registered (only to a caller who proved the phone with its code)",
            _429="rate_limited",
        ),
    )
    def create_token(
        self, data: JSONBody[TokenRequest], request: Request, rt: NamedDependency[Runtime]
    ) -> TokenRead:
        ttl = rt.settings.token_ttl_seconds
        now = rt.clock.now()
        # failed logins are limited per address and per username (shared by every server process);
        # a tablet logging in again and again with the right password is never slowed. A phone has
        # no such limit: its codes wear out after wrong tries (accounts.service), and a limit per
        # phone would let anyone lock its owner out
        limits = [(f"login-ip:{client_ip(request)}", (rt.settings.logins_per_minute, 60))]
        who = (data.username or "").strip()[:64]
        if who:
            limits.append((f"login:{who}", ratelimit.FAILED_LOGINS_PER_ACCOUNT))
        for key, limit in limits:
            ratelimit.refuse_if_spent(
                rt.redis,
                key,
                limit,
                now,
                "登录失败次数过多，请稍后再试 Too many failed logins; try again shortly",
            )
        try:
            issued = _log_in(data, rt, now, ttl)
        except LinliError as exc:
            if exc.status in (401, 404):
                for key, limit in limits:
                    ratelimit.count(rt.redis, key, limit, now)
            raise
        return TokenRead(
            token=issued.token, token_type="Bearer", expires_at=issued.expires_at, kind=issued.kind
        )

    @delete(
        "/tokens/current",
        operation_id="revokeCurrentToken",
        status_code=204,
        sync_to_thread=True,
        dependencies={"principal": Provide(provide_principal, sync_to_thread=False)},
        summary="Log out: revoke the token used for this request",
        responses=problems(_403="not_a_token (API keys are revoked by county administrators)"),
    )
    def revoke(
        self, request: Request, principal: NamedDependency[Principal], rt: NamedDependency[Runtime]
    ) -> None:
        if principal.token_id is None:
            raise forbidden(
                "API 密钥由县级管理员吊销 API keys are revoked by county administrators", "not_a_token"
            )
        with rt.tx() as session:
            service.revoke(session, principal, rt.clock.now())
        forget_principal(request)  # after the commit, so no request can cache it again here


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["我 me"]
    dependencies = AUTH

    @get(
        "",
        operation_id="whoAmI",
        sync_to_thread=True,
    )
    def me(self, principal: NamedDependency[Principal], session: NamedDependency[Session]) -> MeRead:
        if principal.kind == "volunteer":
            volunteer = volunteer_service.get(session, principal.volunteer_id)
            return MeRead(kind="volunteer", volunteer=VolunteerRead.of(volunteer))
        if principal.kind == "api_key":
            return MeRead(kind="api_key", partner_id=principal.partner_id)
        user = service.staff_user(session, principal.staff_user_id)
        return MeRead(
            kind="staff",
            staff_user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            grants=[
                GrantRead(role=g.role, org_id=g.org_id, partner_id=g.partner_id, station_id=g.station_id)
                for g in principal.grants
            ],
        )


def _log_in(data: TokenRequest, rt: Runtime, now, ttl: int):
    """A token for phone+code or username+password; 401 with the reason if neither is right."""
    with rt.tx() as session:
        if data.phone is not None or data.code is not None:
            missing = [f for f in ("phone", "code") if not getattr(data, f)]
            if missing:
                raise invalid([FieldError(f, "required", "必填 Required") for f in missing])
            return service.login_with_code(
                session, rt.signer, phone=data.phone, code=data.code, now=now, ttl=ttl, kind=data.kind
            )
        elif data.username or data.password:
            missing = [f for f in ("username", "password") if not getattr(data, f)]
            if missing:
                raise invalid([FieldError(f, "required", "必填 Required") for f in missing])
            return service.login_with_password(
                session, username=data.username, password=data.password, now=now, ttl=ttl
            )
        else:
            raise invalid(
                [
                    FieldError(
                        "phone",
                        "required",
                        "请提供手机号和验证码，或用户名和密码 Give phone and code, or username and password",
                    )
                ]
            )
