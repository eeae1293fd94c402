"""What the OpenAPI document says about each operation, completed from what its handler does (接口文档).

`describe(app)` runs once in `create_app`, before the document is first built (Litestar builds it
lazily). For every operation it states, from the handler itself rather than from a list kept by hand:

- security: bearer when the handler takes the caller (`principal`), the very test the guard
  `api.deps.authenticate` applies; nothing for the public routes (registration, login, login codes,
  card bookings, the team list, health);
- the errors any handler of its kind can answer, all `application/problem+json` (`api.problems.Problem`):
  401 `missing_token`/`invalid_token` when it takes the caller; 400 `bad_request` (not JSON),
  413 `payload_too_large` and 422 `validation_failed` when it reads a body; 422 when it takes path or
  query parameters; 503 `service_unavailable` (or `database_timeout`: a statement past its deadline)
  when it uses the database.

Handlers add what only they can answer (403, 404, 409, 410, 429 and their codes) with
`api.problems.problems(...)`; where both name a status, the handler's description wins. Bounds
(`limit` ≤ 200, lengths, choices) live in the parameter and body types (`api.deps`, the `schemas`
modules), so the validator and the document read them from the same place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Operation
from litestar.routes import HTTPRoute

from api.deps import takes_caller
from api.problems import PROBLEM_JSON, codes_of, problems

BEARER = [{"bearer": []}]
AUTH_ERRORS = "missing_token, invalid_token"

# what a handler's signature may hold that is neither a parameter of the request nor a dependency
_NOT_PARAMETERS = frozenset(
    {"self", "request", "data", "body", "state", "scope", "headers", "cookies", "query"}
)


def describe(app: Litestar) -> None:
    """Complete every documented operation of `app` (call before its document is first served)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, _ in route.route_handler_map.values():
            if handler.resolve_include_in_schema():
                _describe(handler, route)


def _describe(handler: HTTPRouteHandler, route: HTTPRoute) -> None:
    signature = set(handler.parsed_fn_signature.parameters)
    dependencies = set(handler.resolve_dependencies())
    caller = takes_caller(handler)
    reads_body = bool(signature & {"data", "body"})
    has_parameters = bool(route.path_parameters) or bool(signature - dependencies - _NOT_PARAMETERS)
    writes = bool(handler.http_methods & {"POST", "PUT", "PATCH", "DELETE"})
    uses_database = bool(signature & {"rt", "session"})
    errors: dict[int, str] = {}
    if reads_body:
        errors[400] = "bad_request (the body is not JSON)"
        errors[413] = "payload_too_large"
    if caller:
        errors[401] = AUTH_ERRORS
    if any(p.type is int for p in route.path_parameters.values()):
        errors[404] = "not_found (no such route: a path id that is not a whole number)"
    if writes and uses_database:
        errors[409] = "concurrent_change (another request changed the same thing at that moment)"
    if reads_body or has_parameters:
        errors[422] = "validation_failed (`errors` names each field)"
    if caller or uses_database:
        errors[503] = (
            "service_unavailable (the database is down), database_timeout (a statement ran past its"
            " deadline); `retry_after`"
        )
    own = dict(handler.responses or {})
    for status, codes in errors.items():
        if status in own and (its := codes_of(own[status])) is not None:
            first = codes.split(" ", 1)[0]
            codes = its if re.search(rf"\b{first}\b", its) else f"{its}; {codes}"
        if status not in own or codes_of(own[status]) is not None:
            own[status] = problems(**{f"_{status}": codes})[status]
    handler.responses = dict(sorted(own.items()))
    if caller:
        handler.security = BEARER
    if handler.operation_class is Operation:
        handler.operation_class = ProblemOperation


@dataclass
class ProblemOperation(Operation):
    """Litestar documents a generic 400 (a JSON `ValidationException`) for every handler with
    parameters; Linli answers invalid parameters 422 as problem+json (`api.problems`), so that 400 is
    dropped where the handler reads no body (where it does, `describe` put the real one in its place)."""

    def __post_init__(self) -> None:
        bad_request = (self.responses or {}).get("400")
        if bad_request is not None and PROBLEM_JSON not in (getattr(bad_request, "content", None) or {}):
            del self.responses["400"]


def answered_as(*media_types: str) -> type[Operation]:
    """The operation class of a handler whose success comes in one of several media types (a report
    as JSON, CSV or XLSX): the document lists each (without parameters such as charset)."""

    @dataclass
    class Alternatives(ProblemOperation):
        def __post_init__(self) -> None:
            super().__post_init__()
            for status, response in (self.responses or {}).items():
                if status.startswith("2") and getattr(response, "content", None):
                    body = next(iter(response.content.values()))
                    response.content = {m.split(";")[0].strip(): body for m in media_types}

    return Alternatives
