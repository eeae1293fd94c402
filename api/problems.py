"""Errors as RFC 9457 problem+json (问题详情), with a stable `code`, and their OpenAPI docs.

No input from a user ever yields a 5xx: domain errors carry their own status; framework errors
(bad JSON, wrong types, unknown routes) become 4xx with a code; a database that is down is 503
`service_unavailable`, a statement past its deadline 503 `database_timeout`, both with Retry-After.
"""

from __future__ import annotations

import logging
import re

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from linli.db import timed_out
from linli.errors import LinliError

log = logging.getLogger("linli.api")

PROBLEM_JSON = "application/problem+json"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class FieldProblem(msgspec.Struct):
    field: str
    code: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details with Linli's stable `code`. Some problems carry members of their own
    besides: `retry_after` (429, 503: seconds), `clash` (activity_clash: the other activity),
    `overlapping` (signup_overlap), `price` (not_enough_points), `already` (limit_reached),
    `filing_status` (filing_already_decided), `file_status` (file_not_ready)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem] = msgspec.field(default_factory=list)
    request_id: str | None = None
    retry_after: int | None = None


def _respond(
    request: Request, status: int, code: str, title: str, detail: str, errors=(), extra=None
) -> Response:
    body = {
        **(extra or {}),  # a problem's own members (`retry_after`, `clash`, ...); never the standard ones
        "type": f"https://linli.example/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = list(errors)
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    headers = {}
    if extra and "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def on_linli_error(request: Request, exc: LinliError) -> Response:
    errors = [{"field": e.field, "code": e.code, "message": e.message} for e in exc.errors]
    return _respond(request, exc.status, exc.code, exc.title, exc.detail, errors, exc.extra)


# What the validator (msgspec, through Litestar) says, as the codes Linli's own checks use, Chinese first.
_VALIDATOR_MESSAGES = [
    (re.compile(r"^Object missing required field `(?P<field>[^`]+)`"), "required", "必填 Required"),
    (
        re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`"),
        "unknown_field",
        "不认识的字段 Unknown field",
    ),
    (re.compile(r"^Expected `(str|array|object)` of length"), "length", "长度不符 Wrong length"),
    (re.compile(r"^Expected `(int|float|number)` [<>]"), "out_of_range", "超出范围 Out of range"),
    (re.compile(r"^Invalid enum value"), "invalid_choice", "不是可选的值 Not one of the choices"),
    (re.compile(r"^Expected `str` matching regex"), "invalid", "格式不对 Wrong format"),
]

_MISSING_PARAMETER = re.compile(
    r"^Missing required (?:query|header|cookie|path) parameter '(?P<field>[^']+)'"
)


def _field_problem(item: dict) -> dict:
    message = str(item.get("message", "无效 invalid"))
    field = str(item.get("key") or item.get("source") or "body")
    for pattern, code, chinese in _VALIDATOR_MESSAGES:
        if found := pattern.match(message):
            if "field" in found.groupdict():
                field = found["field"] if field == "data" else f"{field}.{found['field']}"
            return {"field": field, "code": code, "message": f"{chinese}: {message}"}
    return {"field": field, "code": "invalid", "message": f"无效 Invalid: {message}"}


def on_validation_error(request: Request, exc: ValidationException) -> Response:
    errors = [_field_problem(item) for item in exc.extra or [] if isinstance(item, dict)]
    if not errors and (missing := _MISSING_PARAMETER.match(str(exc.detail))):
        errors.append({"field": missing["field"], "code": "required", "message": "必填 Required"})
    if not errors:
        errors.append({"field": "body", "code": "invalid", "message": str(exc.detail)})
    detail = "；".join(f"{e['field']}: {e['message']}" for e in errors)
    return _respond(
        request,
        422 if errors[0]["field"] != "body" else 400,
        "validation_failed" if errors[0]["field"] != "body" else "bad_request",
        "输入有误 Invalid input",
        detail,
        errors,
    )


def on_http_error(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if status >= 500:
        log.error("http error %s on %s: %s", status, request.url.path, exc.detail)
    code = _HTTP_CODES.get(status, "error" if status < 500 else "internal_error")
    return _respond(request, status, code, str(exc.detail or code), str(exc.detail or code))


def on_database_down(request: Request, exc: Exception) -> Response:
    if timed_out(exc):  # PostgreSQL cancelled a statement past its deadline (Settings.statement_timeout)
        log.warning("database statement past its deadline on %s", request.url.path)
        return _respond(
            request,
            503,
            "database_timeout",
            "数据库繁忙 Database busy",
            "数据库处理超时，请稍后再试 The database took too long; please try again shortly",
            extra={"retry_after": 5},
        )
    log.warning("database unavailable on %s: %s", request.url.path, type(exc).__name__)
    return _respond(
        request,
        503,
        "service_unavailable",
        "暂时无法服务 Service unavailable",
        "数据库暂时不可用，请稍后再试 The database is unavailable; please try again shortly",
        extra={"retry_after": 5},
    )


def on_data_error(request: Request, exc: Exception) -> Response:
    """A value the database cannot hold (a number beyond BIGINT, text beyond a column) that no
    check caught first: the client's input, so 422 and nothing written (the transaction rolled back)."""
    log.warning("value refused by the database on %s: %s", request.url.path, type(exc).__name__)
    return _respond(
        request,
        422,
        "validation_failed",
        "输入有误 Invalid input",
        "有数值超出范围或文字过长 A value is out of range or too long",
        [
            {
                "field": "body",
                "code": "out_of_range",
                "message": "数值超出范围或文字过长 Out of range or too long",
            }
        ],
    )


def on_integrity_error(request: Request, exc: Exception) -> Response:
    """A constraint refused a write the checks let through: another request changed the same thing
    at the same moment (two taps of one button, two admins at once). Nothing was written; 409."""
    log.warning(
        "constraint refused a write on %s: %s", request.url.path, str(getattr(exc, "orig", exc))[:200]
    )
    return _respond(
        request,
        409,
        "concurrent_change",
        "冲突 Conflict",
        "同一内容刚被另一操作修改，请刷新后重试 Changed by another request just now; reload and try again",
    )


def on_unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StatementError) and isinstance(exc.orig, (ValueError, OverflowError)):
        return on_data_error(request, exc)  # a value refused while binding it: the client's input
    if isinstance(exc, (OperationalError, PoolTimeout)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return on_database_down(request, exc)
    log.exception("unexpected error on %s", request.url.path)
    return _respond(
        request,
        500,
        "internal_error",
        "服务器内部错误 Internal error",
        "出错了，我们会尽快修复 Something went wrong on our side",
    )


def on_cleanup_error(request: Request, exc: ExceptionGroup) -> Response:
    """Litestar groups what a dependency's clean-up raised after the handler had raised: the
    session's commit of a failed request's kept writes (`LinliError(commit=True)`, `api.deps`).
    Answered as that error would be on its own, as when the handler committed itself."""
    if len(exc.exceptions) != 1 or not isinstance(exc.exceptions[0], Exception):
        return on_unexpected(request, exc)
    inner = exc.exceptions[0]
    handler = next(EXCEPTION_HANDLERS[c] for c in type(inner).__mro__ if c in EXCEPTION_HANDLERS)
    return handler(request, inner)


EXCEPTION_HANDLERS = {
    LinliError: on_linli_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    OperationalError: on_database_down,
    DataError: on_data_error,
    IntegrityError: on_integrity_error,
    OverflowError: on_data_error,  # SQLite's driver refuses integers beyond 64 bits itself
    PoolTimeout: on_database_down,
    ExceptionGroup: on_cleanup_error,
    Exception: on_unexpected,
}


PROBLEM_CODES = "problem+json, code: "


def problems(**codes_by_status: str) -> dict[int, ResponseSpec]:
    """OpenAPI docs for the errors a route may answer, e.g. problems(_409="phone_taken")."""
    specs = {}
    for key, codes in codes_by_status.items():
        status = int(key.lstrip("_"))
        specs[status] = ResponseSpec(
            data_container=Problem,
            description=PROBLEM_CODES + codes,
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
    return specs


def codes_of(spec: ResponseSpec) -> str | None:
    """The codes a `problems(...)` entry names; None for a response that is not a problem."""
    if spec.data_container is Problem and spec.description.startswith(PROBLEM_CODES):
        return spec.description.removeprefix(PROBLEM_CODES)
    return None
