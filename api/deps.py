"""What handlers receive: the runtime, the request's session, the principal behind the bearer
token, paging (依赖)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated

import anyio
from anyio.lowlevel import RunVar
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import SerializationException
from litestar.handlers import BaseRouteHandler
from litestar.params import PathParameter, QueryParameter
from sqlalchemy.orm import Session

from accounts import service as accounts_service
from accounts.principal import Principal
from linli.bounds import MAX_ID
from linli.errors import FieldError, forbidden, invalid, unauthorized
from linli.runtime import Runtime, end_read, end_unit
from reports.service import partner_of

# Principals are kept a few seconds per process: a tablet scanning every second costs one lookup,
# not one per scan. A revoked token stops working in this process at once and in others within
# PRINCIPAL_TTL seconds (so do changed grants); expiry is checked against the clock every time.
PRINCIPAL_TTL = 5.0
_principals: dict[str, tuple[Principal, float, Runtime]] = {}


class JsonRequest(Request):
    """A request whose JSON body nested too deeply for the decoder (thousands of `[`, sent to any
    route, even without a token) is a 400 `bad_request` like any malformed body, not a
    RecursionError and a 500."""

    async def json(self):
        try:
            return await super().json()
        except RecursionError:
            raise SerializationException("JSON 嵌套过深 JSON nested too deeply") from None


def takes_caller(handler: BaseRouteHandler) -> bool:
    """Whether a route needs a live bearer token: its handler takes the caller (`principal`). The
    guard below and the OpenAPI document's security (`api.openapi`) both ask this; the answer is
    kept per route (Litestar would resolve the route's scope again on every request)."""
    needs = _takes_caller.get(handler.fn)
    if needs is None:
        needs = _takes_caller[handler.fn] = "principal" in handler.resolve_dependencies()
    return needs


_takes_caller: dict = {}  # by handler function: the same in every app built from the routes


async def authenticate(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A guard on every route: a handler that takes the caller (`principal`) learns who it is here,
    before its query and body are read, so a request without a live token is answered 401 whatever
    else is wrong with it."""
    if not takes_caller(handler):
        return
    connection.state.principal = await caller(connection)


async def caller(connection: ASGIConnection) -> Principal:
    """Who sent the request, by its bearer token (401 without a live one)."""
    rt = connection.app.state["runtime"]
    token = _bearer(connection.headers.get("authorization", ""))
    principal = _cached(token, rt)
    if principal is None:  # a database look-up: off the event loop
        door = connection.scope.get("path") == DOOR_PATH
        principal = await anyio.to_thread.run_sync(
            _look_up, token, rt, limiter=door_threads() if door else None
        )
    return principal


async def local_or_admin(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A guard for what is for operators (/metrics): a peer on this machine (a scraper beside the
    server), or an admin's token. The peer is the connection's own address; a forwarded one only
    from LINLI_TRUSTED_PROXIES (`linli serve`). A request that came through a proxy is never
    local, even from a proxy on this machine that nobody named as trusted."""
    host = connection.client.host if connection.client else ""
    proxied = "x-forwarded-for" in connection.headers or "forwarded" in connection.headers
    try:
        if ipaddress.ip_address(host).is_loopback and not proxied:
            return
    except ValueError:
        pass
    if not (await caller(connection)).has_role("admin"):
        raise forbidden("仅限管理员 Administrators only", "role_required")


def provide_principal(request: Request, rt: NamedDependency[Runtime]) -> Principal:
    """The caller, set by `authenticate`, which guards every route. (`rt` is not used: taking it
    makes Litestar resolve the two one after the other, instead of starting a task group for them
    on every request.)"""
    return request.state.principal


# A scan (a counter's queue of older people, a phone at the station) runs on threads of its own:
# it never waits for a thread behind list pages, delivery runs or a wave of phones opening `me`.
# One limiter per event loop; about the door's connections (`runtime.DOOR_POOL`).
DOOR_PATH = "/api/v1/scans"
_DOOR: RunVar[anyio.CapacityLimiter] = RunVar("linli_door")
DOOR_THREADS = 16


def _limiter(var: RunVar[anyio.CapacityLimiter], tokens: int) -> anyio.CapacityLimiter:
    """The event loop's limiter kept in `var`, made with `tokens` the first time."""
    try:
        return var.get()
    except LookupError:
        var.set(limiter := anyio.CapacityLimiter(tokens))
        return limiter


def door_threads() -> anyio.CapacityLimiter:
    return _limiter(_DOOR, DOOR_THREADS)


# Sessions end (commit, roll back, close) in worker threads, never on the event loop, counted
# apart from the handlers' threads: a session holding a connection never waits for a thread behind
# handlers that wait for a connection. One limiter per event loop; about the pool's size.
_ENDING: RunVar[anyio.CapacityLimiter] = RunVar("linli_session_ends")
SESSION_ENDS = 32


def _ending() -> anyio.CapacityLimiter:
    return _limiter(_ENDING, SESSION_ENDS)


@asynccontextmanager
async def _unit(rt: Runtime) -> AsyncIterator[Session]:
    session = rt.session_factory()  # no connection yet: the first statement takes one
    try:
        yield session
    except BaseException as exc:
        await anyio.to_thread.run_sync(end_unit, session, exc, limiter=_ending())
        raise
    await anyio.to_thread.run_sync(end_unit, session, None, limiter=_ending())


async def provide_session(rt: NamedDependency[Runtime]) -> AsyncIterator[Session]:
    """The request's unit of work, as `rt.tx()` is (`linli.runtime.end_unit`): a handler that
    takes `session` queries with it and never commits. Litestar ends it after the handler and
    after the answer is built from what it returned, before the answer is sent: committed when the
    handler returned, rolled back when it raised (a `LinliError(commit=True)` keeps its writes). A
    commit that fails is answered as the error it is (409 `concurrent_change`, 503), nothing sent
    before. Handlers that must do something after their commit (forget a cached principal, talk
    to Redis) open `rt.tx()` themselves."""
    async with _unit(rt) as session:
        yield session


async def provide_session_after_principal(
    principal: NamedDependency[Principal], rt: NamedDependency[Runtime]
) -> AsyncIterator[Session]:
    """`provide_session` where the caller is known: resolved after it, so Litestar resolves the
    two one after the other (see `provide_principal`)."""
    async with _unit(rt) as session:
        yield session


async def provide_reads_after_principal(
    principal: NamedDependency[Principal], rt: NamedDependency[Runtime]
) -> AsyncIterator[Session]:
    """A read that may lag a little (`Runtime.read`: the read replica while it is healthy), for
    list pages and dashboards that write nothing: a handler takes `reads` instead of `session`."""
    session = await anyio.to_thread.run_sync(rt.read_session)
    try:
        yield session
    finally:
        await anyio.to_thread.run_sync(end_read, session, limiter=_ending())


# a controller's `dependencies`: its handlers take the caller as `principal` (and the session
# after it, or `reads`)
AUTH = {
    "principal": Provide(provide_principal, sync_to_thread=False),
    "session": Provide(provide_session_after_principal),
    "reads": Provide(provide_reads_after_principal),
}


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized(
            "请先登录：缺少 Authorization: Bearer <token> Missing bearer token", "missing_token"
        )
    return token


def _cached(token: str, rt: Runtime) -> Principal | None:
    cached = _principals.get(token)
    if cached is not None and cached[1] > time.monotonic() and cached[2] is rt:
        principal = cached[0]
        if principal.expires_at is None or principal.expires_at > rt.clock.now():
            return principal
    return None


def _look_up(token: str, rt: Runtime) -> Principal:
    with rt.tx() as session:
        principal = accounts_service.authenticate(session, token, rt.clock.now())
    if len(_principals) > 10_000:
        _principals.clear()
    _principals[token] = (principal, time.monotonic() + PRINCIPAL_TTL, rt)
    return principal


def forget_principal(request: Request) -> None:
    _principals.pop(request.headers.get("authorization", "").partition(" ")[2].strip(), None)


def forget_api_keys(partner_id: int) -> None:
    """After a partner's key is revoked: its keys are looked up again here at once (elsewhere within
    PRINCIPAL_TTL seconds)."""
    for token, (principal, *_) in list(_principals.items()):
        if principal.kind == "api_key" and principal.partner_id == partner_id:
            _principals.pop(token, None)


def require_volunteer(principal: Principal) -> int:
    if principal.kind != "volunteer" or principal.volunteer_id is None:
        raise forbidden("仅限志愿者 Volunteers only", "volunteers_only")
    return principal.volunteer_id


def refuse_partners(principal: Principal) -> None:
    """Lists meant for volunteers and staff: a partner enterprise sees reports, not the daily work."""
    if partner_of(principal) is not None and not principal.has_role("admin", "coordinator"):
        raise forbidden("合作企业只能查看报表 Partners see reports only", "partners_see_reports_only")


def require_staff(principal: Principal, *roles: str) -> int:
    if principal.kind != "staff" or principal.staff_user_id is None:
        raise forbidden("仅限工作人员 Staff only", "staff_only")
    if roles and not principal.has_role(*roles):
        raise forbidden(f"需要 {'/'.join(roles)} 角色 Requires role {'/'.join(roles)}", "role_required")
    return principal.staff_user_id


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def local_today(rt: Runtime) -> date:
    return rt.clock.now().astimezone(rt.settings.tz).date()


# Path and query parameters, bounds included: Litestar checks them (422 `validation_failed`, every
# field at once) and the OpenAPI document states them, from these same types.
MAX_PAGE = 200
Id = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
IdFilter = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description=f"items per page, 1 to {MAX_PAGE}")]
Cursor = Annotated[
    str | None,
    QueryParameter(pattern=r"^[0-9]{0,18}$", description="the `next` of the page before; opaque to clients"),
]


def page(cursor: str | None, limit: int) -> tuple[int, int]:
    """(after_id, limit) from a list's `cursor` and `limit` (both already checked by their types)."""
    return int(cursor) if cursor else 0, limit


def next_cursor(items: list, limit: int, last_id) -> str | None:
    return str(last_id) if len(items) == limit and items else None


def check_times(**values) -> None:
    """Query-string times: with an offset, between 2000 and 2100 (422 otherwise)."""
    from linli.bounds import plausible

    errors = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            if value.tzinfo is None:
                errors.append(
                    FieldError(name, "timezone_required", "时间须带时区 Give the time with its offset")
                )
            elif not plausible(value):
                errors.append(FieldError(name, "out_of_range", "时间不合理 Implausible time"))
        elif not 2000 <= value.year < 2100:
            errors.append(FieldError(name, "out_of_range", "日期不合理 Implausible date"))
    if errors:
        raise invalid(errors)
