"""Domain errors (错误). Each has a stable snake_case `code`; the API turns them into problem+json.

Domains raise these (or subclasses); they never import the web framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    field: str
    code: str
    message: str  # Chinese first, for the person at the screen


@dataclass
class LinliError(Exception):
    code: str
    detail: str
    status: int = 400
    title: str = "请求有误 Bad request"
    errors: list[FieldError] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    commit: bool = False  # keep the transaction's writes even though the request fails (e.g. a failed try)

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


def invalid(errors: list[FieldError]) -> LinliError:
    return LinliError(
        code="validation_failed",
        detail="；".join(f"{e.field}: {e.message}" for e in errors),
        status=422,
        title="输入有误 Invalid input",
        errors=errors,
    )


def not_found(what: str, code: str = "not_found") -> LinliError:
    """`what` in both languages, "活动 Activity": "活动不存在 Activity not found"."""
    zh, _, en = what.partition(" ")
    return LinliError(
        code=code, detail=f"{zh}不存在 {en or zh} not found", status=404, title="未找到 Not found"
    )


def forbidden(detail: str, code: str = "forbidden") -> LinliError:
    return LinliError(code=code, detail=detail, status=403, title="无权操作 Forbidden")


def conflict(code: str, detail: str, **extra) -> LinliError:
    return LinliError(code=code, detail=detail, status=409, title="冲突 Conflict", extra=extra)


def unauthorized(detail: str = "请先登录 Please log in", code: str = "unauthorized") -> LinliError:
    return LinliError(code=code, detail=detail, status=401, title="未登录 Unauthorized")


def too_many(detail: str, retry_after: int) -> LinliError:
    return LinliError(
        code="rate_limited",
        detail=detail,
        status=429,
        title="请求过于频繁 Too many requests",
        extra={"retry_after": retry_after},
    )


class Refused(Exception):
    """A scan refused (扫码被拒): `reason` is one of the contract's scan reasons; `context` is what
    the answer may still name (the volunteer, the activity, the diner, the meal, the price). Not an
    error of the request: the scan door stores it and answers 200 `rejected`."""

    def __init__(self, reason: str, **context) -> None:
        super().__init__(reason)
        self.reason = reason
        self.context = context
