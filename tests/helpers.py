"""Small builders for tests: a county, users, volunteers, tokens."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from accounts import service as accounts_service
from linli.db import Base
from linli.pii import id_check_char
from linli.runtime import Runtime
from orgs import service as orgs_service

PASSWORD = "correct-horse-battery"


def truncate(rt: Runtime) -> None:
    """Empty every table (each test starts from nothing)."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with rt.engine.begin() as conn:
        if rt.settings.is_sqlite:
            # SQLite has no TRUNCATE, and DELETE fires the ledger's append-only triggers: lift them meanwhile
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
            for name, _ in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
            for _, sql in triggers:
                conn.execute(text(sql))
        else:  # the ledger refuses TRUNCATE too: tests lift that for the moment
            conn.execute(text("ALTER TABLE ledger_transfers DISABLE TRIGGER ledger_transfers_no_truncate"))
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            conn.execute(text("ALTER TABLE ledger_transfers ENABLE TRIGGER ledger_transfers_no_truncate"))


def valid_id(first17: str = "43012119800101123") -> str:
    return first17 + id_check_char(first17)


@dataclass
class County:
    base: int
    hub_a: int
    hub_b: int
    org_a: int
    org_b: int
    open_team: int
    approval_team: int
    invitation_team: int
    team_b: int


def make_county(rt: Runtime) -> County:
    """base → hubs A and B → one organization each → teams (A: open, approval, invitation; B: approval)."""
    with rt.tx() as s:
        now = rt.clock.now()
        base = orgs_service.create_root(s, name="长沙县社会组织孵化服务基地", now=now)
        hub_a = orgs_service.create_child(
            s, parent_id=base.id, name="泉塘街道服务中心", join_mode=None, now=now
        )
        hub_b = orgs_service.create_child(
            s, parent_id=base.id, name="星沙街道服务中心", join_mode=None, now=now
        )
        org_a = orgs_service.create_child(
            s, parent_id=hub_a.id, name="泉塘志愿者协会", join_mode=None, now=now
        )
        org_b = orgs_service.create_child(
            s, parent_id=hub_b.id, name="星沙邻里互助会", join_mode=None, now=now
        )
        teams = [
            orgs_service.create_child(s, parent_id=org_a.id, name=n, join_mode=m, now=now)
            for n, m in (
                ("龙舟志愿服务队", "open"),
                ("助餐志愿服务队", "approval"),
                ("周末课堂服务队", "invitation"),
            )
        ]
        team_b = orgs_service.create_child(
            s, parent_id=org_b.id, name="星沙助老服务队", join_mode="approval", now=now
        )
        return County(base.id, hub_a.id, hub_b.id, org_a.id, org_b.id, *(t.id for t in teams), team_b.id)


def staff_user(rt: Runtime, username: str, role: str, **scope) -> int:
    with rt.tx() as s:
        return accounts_service.create_staff_user(
            s, username=username, password=PASSWORD, role=role, now=rt.clock.now(), **scope
        ).id


def staff_token(client, username: str) -> dict:
    r = client.post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def register(client, name: str = "王秀英", phone: str = "13807310001", **extra) -> dict:
    r = client.post("/api/v1/volunteers", json={"name": name, "phone": phone, "consent": True, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def volunteer_token(rt: Runtime, phone: str) -> dict:
    from volunteer import service as volunteer_service

    with rt.tx() as s:
        v = volunteer_service.find_by_phone(s, phone)
        issued = accounts_service.issue_token(s, now=rt.clock.now(), ttl_seconds=3600, volunteer_id=v.id)
    return {"Authorization": f"Bearer {issued.token}"}


def make_station(rt: Runtime, org_id: int, name: str = "泉心食堂取餐台", shared: bool = False) -> int:
    with rt.tx() as s:
        return orgs_service.create_station(
            s, org_id=org_id, name=name, kind="counter", shared=shared, now=rt.clock.now()
        ).id


def make_activity(
    rt: Runtime,
    org_id: int,
    station_id: int,
    starts_at,
    hours: float = 2.5,
    capacity: int = 10,
    walk_ins: bool = True,
    team_ids=None,
    title: str = "午餐助餐服务",
) -> int:
    from datetime import timedelta

    from volunteer import activities

    with rt.tx() as s:
        return activities.create(
            s,
            activities.ActivityInput(
                org_id,
                station_id,
                title,
                "meal_service",
                starts_at,
                starts_at + timedelta(hours=hours),
                capacity,
                walk_ins,
                team_ids,
            ),
            admin_paths=["/"],
            created_by=None,
            now=rt.clock.now(),
        ).id


def file_volunteer(rt: Runtime, phone: str, team_id: int, name: str = "王秀英") -> int:
    """A registered volunteer with an approved filing in a team; returns the volunteer id."""
    from datetime import date

    from volunteer import service as volunteer_service

    with rt.tx() as s:
        v = volunteer_service.find_by_phone(s, phone)
        if v is None:
            v = volunteer_service.register(
                s,
                rt.signer,
                volunteer_service.Registration(name, phone, None, True),
                now=rt.clock.now(),
                today=date.today(),
            )
        f = volunteer_service.apply(s, volunteer_id=v.id, team_id=team_id, now=rt.clock.now())
        if f.status == "pending":
            f.status = "approved"
        return v.id


class Conformance:
    """Answers checked against the app's own OpenAPI document with schemathesis' checks: no 5xx,
    the status code declared, the content type declared, the body and headers as the schema says."""

    def __init__(self, app):
        import schemathesis
        from schemathesis.checks import not_a_server_error
        from schemathesis.specs.openapi.checks import (
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
            status_code_conformance,
        )

        self.checks = [
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            response_headers_conformance,
        ]
        schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
        self.operations = {}
        for result in schema.get_all_operations():
            operation = result.ok()
            self.operations[(operation.method.upper(), operation.path)] = operation

    def problems(self, case, response, headers=None) -> list[str]:
        """What is wrong with `response` to the schemathesis `case`; [] if nothing."""
        from schemathesis.core.failures import FailureGroup

        try:
            case.validate_response(response, checks=self.checks, headers=headers)
        except FailureGroup as group:
            return [failure.title for failure in group.exceptions]
        return []

    def of_route(self, method: str, template: str, response) -> list[str]:
        """The same for a Litestar route template ('/x/{id:int}'); [] for routes not in the document."""
        import re

        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", template)
        operation = self.operations.get((method, path))
        if operation is None:
            return []
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        sent = re.fullmatch(pattern, response.request.url.path)
        return self.problems(operation.Case(path_parameters=sent.groupdict() if sent else {}), response)
