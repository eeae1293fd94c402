"""What handlers receive: the runtime, the principal behind the bearer token, paging (依赖)."""

from __future__ import annotations

from datetime import date

from litestar import Request
from litestar.di import NamedDependency

from accounts import service as accounts_service
from accounts.principal import Principal
from linli.errors import FieldError, forbidden, invalid, unauthorized
from linli.runtime import Runtime


def provide_principal(request: Request, rt: NamedDependency[Runtime]) -> Principal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized(
            "请先登录：缺少 Authorization: Bearer <token> Missing bearer token", "missing_token"
        )
    with rt.tx() as session:
        return accounts_service.authenticate(session, token.strip(), rt.clock.now())


def require_volunteer(principal: NamedDependency[Principal]) -> int:
    if principal.kind != "volunteer" or principal.volunteer_id is None:
        raise forbidden("仅限志愿者 Volunteers only", "volunteers_only")
    return principal.volunteer_id


def require_staff(principal: NamedDependency[Principal], *roles: str) -> int:
    if principal.kind != "staff" or principal.staff_user_id is None:
        raise forbidden("仅限工作人员 Staff only", "staff_only")
    if roles and not principal.has_role(*roles):
        raise forbidden(f"需要角色 {'/'.join(roles)} Requires role {'/'.join(roles)}", "role_required")
    return principal.staff_user_id


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def local_today(rt: NamedDependency[Runtime]) -> date:
    return rt.clock.now().astimezone(rt.settings.tz).date()


def page(cursor: str | None, limit: int) -> tuple[int, int]:
    """(after_id, limit) from a list's `cursor` and `limit`; cursors are opaque to clients."""
    errors = []
    after = 0
    if cursor:
        if not cursor.isdigit():
            errors.append(FieldError("cursor", "invalid", "无效的分页游标 Invalid cursor"))
        else:
            after = int(cursor)
    if not 1 <= limit <= 200:
        errors.append(FieldError("limit", "out_of_range", "每页条数应为1到200 limit must be 1 to 200"))
    if errors:
        raise invalid(errors)
    return after, limit


def next_cursor(items: list, limit: int, last_id) -> str | None:
    return str(last_id) if len(items) == limit and items else None
