"""The API fuzzed from its own OpenAPI document (schemathesis): every operation, generated paths,
queries and bodies, anonymous, as a county administrator and as a volunteer, over the demo county's
data. No answer may be a 5xx, and every answer must be one the document declares: its status code,
its content type, its body's schema and its headers (schemathesis' conformance checks).

Requests that fit the document (positive) and requests that do not (negative, fewer). Generated ids
are folded into the demo data's range (1 to 64), so that most reach a real station, activity or diner
rather than stopping at 404."""

from __future__ import annotations

import collections
import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import service as accounts_service
from api.app import create_app
from cli import demo
from volunteer import service as volunteer_service

pytestmark = pytest.mark.slow  # thousands of generated requests: left out of `make test-quick`

POSITIVE = int(os.environ.get("LINLI_FUZZ_EXAMPLES", "25"))  # per operation; each is sent by every caller
NEGATIVE = max(POSITIVE // 3, 1)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
LOG_OUT = "DELETE /api/v1/auth/tokens/current"
DEMO_IDS = 64


def _fold(values):
    """Ids into the demo data's range: `station_id=48151623` becomes a station that may exist."""
    if not isinstance(values, dict):
        return values
    return {
        k: (v - 1) % DEMO_IDS + 1 if k.endswith("id") and type(v) is int and v > DEMO_IDS else v
        for k, v in values.items()
    }


def test_every_generated_request_gets_a_declared_answer(rt):
    with rt.tx() as s:
        demo.load_small(s, rt)
        admin = accounts_service.find_staff(s, "county_admin").id
        volunteer = volunteer_service.find_by_phone(s, "13807310000").id

    def tokens() -> dict[str, str]:
        with rt.tx() as s:
            issue = accounts_service.issue_token
            return {
                "county admin": issue(s, now=rt.clock.now(), ttl_seconds=3600, staff_user_id=admin).token,
                "volunteer": issue(s, now=rt.clock.now(), ttl_seconds=3600, volunteer_id=volunteer).token,
            }

    bearer = tokens()
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", create_app(rt))
    failures, calls, statuses = collections.defaultdict(dict), collections.Counter(), collections.Counter()
    passed = collections.Counter()
    started = time.monotonic()

    def send(case):
        nonlocal bearer
        case.path_parameters = _fold(case.path_parameters)
        case.query = _fold(case.query)
        case.body = _fold(case.body)
        for caller in ("anonymous", *bearer):
            headers = {"Authorization": f"Bearer {bearer[caller]}"} if caller in bearer else {}
            r = case.call(headers=headers)
            calls[case.operation.label] += 1
            statuses[r.status_code] += 1
            if caller == "county admin" and case.meta.generation.mode is GenerationMode.POSITIVE:
                passed[case.operation.label] += r.status_code not in (400, 422)  # got past validation
            try:
                case.validate_response(r, checks=CHECKS, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    failures[case.operation.label].setdefault(
                        (caller, failure.title),
                        (r.status_code, case.path_parameters, case.query, case.body, r.text[:300]),
                    )
        if case.operation.label == LOG_OUT:
            bearer = tokens()  # they just logged out

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, examples in ((GenerationMode.POSITIVE, POSITIVE), (GenerationMode.NEGATIVE, NEGATIVE)):
            if mode is GenerationMode.NEGATIVE and not (
                operation.body.items or any(operation.iter_parameters())
            ):
                continue  # nothing to get wrong: no parameters, no body
            settings(
                max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
            )(given(operation.as_strategy(generation_mode=mode))(send))()
    print(
        f"\n{sum(calls.values())} calls in {time.monotonic() - started:.0f} s; "
        f"statuses {dict(sorted(statuses.items()))}; never past validation (county admin, positive): "
        f"{sorted(label for label in calls if not passed[label])}"
    )
    assert len(calls) > 90  # every operation was called
    report = [
        f"{label} as {caller}: {title}; e.g. {example}"
        for label, found in failures.items()
        for (caller, title), example in found.items()
    ]
    assert not report, "\n".join(report)
