"""The API fuzzed from its own OpenAPI document (schemathesis): every operation, generated paths,
queries and bodies, anonymous and as a county administrator, over the demo county's data. No answer
may be a 5xx."""

from __future__ import annotations

import collections

import schemathesis
from hypothesis import HealthCheck, given, settings
from litestar.testing import TestClient

from api.app import create_app
from linli import demo

EXAMPLES = 25  # per operation and caller; the generated query strings are mostly refused (422) before a handler runs, so depth grows slowly


def test_no_generated_request_gets_a_server_error(rt):
    with rt.tx() as s:
        demo.load_small(s, rt)
    app = create_app(rt)
    with TestClient(app=app) as c:
        token = c.post(
            "/api/v1/auth/tokens", json={"username": "county_admin", "password": demo.DEMO_PASSWORD}
        ).json()["token"]
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    errors, calls = collections.defaultdict(list), collections.Counter()
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(operation.as_strategy())
        def call(case):
            for headers in ({}, {"Authorization": f"Bearer {token}"}):
                r = case.call(headers=headers)
                calls[case.operation.label] += 1
                if r.status_code >= 500:
                    errors[case.operation.label].append(
                        (r.status_code, case.path, case.query, case.body, r.text[:300])
                    )

        call()
    assert len(calls) > 90  # every operation was called
    assert dict(errors) == {}
